import type { SerializeFrom } from "@remix-run/node";
import { expect, test, vi } from "vitest";

import { verifyPassword } from "~/auth/password.server";
import { getDb } from "~/db.server";
import { deleteUser } from "~/models/user.server";

import {
  browserCookies,
  createTestUser,
  flashOf,
  formRequest,
  pageRequest,
  responseOf,
  sessionUserIdOf,
  TEST_PASSWORD,
} from "../../tests/support/requests";
import { renderRoute, tagWithId } from "../../tests/support/render";

import LoginPage, { action, loader } from "./connexion";

// The real function, watched: the unknown-address test counts its calls.
vi.mock("~/auth/password.server", async (importOriginal) => {
  const original =
    await importOriginal<typeof import("~/auth/password.server")>();
  return { ...original, verifyPassword: vi.fn(original.verifyPassword) };
});

const INVALID_CREDENTIALS = "Adresse courriel ou mot de passe incorrect.";

test("the right email and password log the user in and lead to their account", async () => {
  const user = await createTestUser({ email: "marie@exemple.test" });

  const response = await logIn({
    email: "  Marie@Exemple.TEST ",
    password: TEST_PASSWORD,
  });

  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toBe("/compte");
  expect(await sessionUserIdOf(response)).toBe(user.id);
});

test("a wrong password and an unknown email get the same answer, and nobody is logged in", async () => {
  const user = await createTestUser();

  const wrongPassword = await logIn({
    email: user.email,
    password: "pas-le-bon-mot-de-passe",
  });
  const unknownEmail = await logIn({
    email: "personne@exemple.test",
    password: TEST_PASSWORD,
  });

  expect(wrongPassword.status).toBe(400);
  expect(unknownEmail.status).toBe(400);
  const wrongPasswordData = await dataOf(wrongPassword);
  const unknownEmailData = await dataOf(unknownEmail);
  expect(wrongPasswordData.errors).toEqual({ form: INVALID_CREDENTIALS });
  expect(unknownEmailData.errors).toEqual(wrongPasswordData.errors);
  expect(await sessionUserIdOf(wrongPassword)).toBeNull();
  expect(await sessionUserIdOf(unknownEmail)).toBeNull();
});

test("an unknown email still costs one scrypt verification", async () => {
  const watched = vi.mocked(verifyPassword);
  watched.mockClear();

  await logIn({ email: "inconnu@exemple.test", password: TEST_PASSWORD });

  expect(watched).toHaveBeenCalledTimes(1);
  const [password, hash] = watched.mock.calls[0] ?? [];
  expect(password).toBe(TEST_PASSWORD);
  expect(hash).toMatch(/^scrypt\$32768\$8\$1\$/);
});

test.each([
  ["/checkout/dictia-16?period=yearly", "/checkout/dictia-16?period=yearly"],
  ["/compte", "/compte"],
  ["https://evil.example", "/compte"],
  ["//evil.example", "/compte"],
  ["/\\evil.example", "/compte"],
])("redirectTo %s in the form leads to %s", async (redirectTo, location) => {
  const user = await createTestUser();

  const response = await logIn({
    email: user.email,
    password: TEST_PASSWORD,
    redirectTo,
  });

  expect(response.headers.get("Location")).toBe(location);
  expect(await sessionUserIdOf(response)).toBe(user.id);
});

test.each([
  [
    "%2Fcheckout%2Fdictia-8%3Fperiod%3Dmonthly",
    "/checkout/dictia-8?period=monthly",
  ],
  ["https%3A%2F%2Fevil.example", "/compte"],
  ["%2F%2Fevil.example", "/compte"],
])(
  "without the hidden field, redirectTo=%s in the address leads to %s",
  async (query, location) => {
    const user = await createTestUser();

    const response = await logIn(
      { email: user.email, password: TEST_PASSWORD },
      `/connexion?redirectTo=${query}`,
    );

    expect(response.headers.get("Location")).toBe(location);
  },
);

test("empty fields get one French error each", async () => {
  const response = await logIn({ email: "", password: "" });

  expect(response.status).toBe(400);
  expect((await dataOf(response)).errors).toEqual({
    email: "Entrez votre adresse courriel.",
    password: "Entrez votre mot de passe.",
  });
});

test.each([
  ["missing", undefined],
  ["wrong", "jeton-invente"],
])(
  "a %s CSRF token sends the form back and logs nobody in",
  async (_case, token) => {
    const user = await createTestUser();
    const { cookie } = await browserCookies();
    const request = formRequest(
      "/connexion?redirectTo=%2Ftarifs",
      { email: user.email, password: TEST_PASSWORD },
      { cookie, csrfToken: token },
    );

    const response = await responseOf(() =>
      action({ request, params: {}, context: {} }),
    );

    expect(response.status).toBe(303);
    expect(response.headers.get("Location")).toBe(
      "/connexion?redirectTo=%2Ftarifs",
    );
    expect((await flashOf(response))?.kind).toBe("error");
    expect(await sessionUserIdOf(response)).toBeNull();
  },
);

test("a logged-in visitor who opens the login page is sent to their account", async () => {
  const user = await createTestUser();
  const { cookie } = await browserCookies(user.id);

  const response = await loadPage("/connexion?redirectTo=%2Ftarifs", cookie);

  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toBe("/compte");
});

test("a session whose user was deleted gets the login form, not a redirect loop", async () => {
  const user = await createTestUser();
  const { cookie } = await browserCookies(user.id);
  await deleteUser(await getDb(), user.id);

  const response = await loadPage("/connexion", cookie);

  expect(response.status).toBe(200);
});

test.each([
  ["%2Fcheckout%2Fdictia-8", "/checkout/dictia-8"],
  ["https%3A%2F%2Fevil.example", "/compte"],
  ["%2F%2Fevil.example", "/compte"],
])("the login page carries redirectTo=%s as %s", async (query, redirectTo) => {
  const response = await loadPage(`/connexion?redirectTo=${query}`);

  expect(await response.json()).toEqual({ redirectTo });
});

test("after wrong credentials the page shows the message once, marks both fields and keeps the email", async () => {
  const response = await logIn({
    email: "Quelqu.un@exemple.test",
    password: "pas-le-bon-mot-de-passe",
  });
  const html = renderRoute({
    url: "/connexion?redirectTo=%2Fcheckout%2Fdictia-8",
    Component: LoginPage,
    loaderData: { redirectTo: "/checkout/dictia-8" },
    actionData: await dataOf(response),
  });

  expect(html.split(INVALID_CREDENTIALS)).toHaveLength(2);
  expect(tagWithId(html, "connexion-erreur")).toContain('role="alert"');
  const email = tagWithId(html, "connexion-email");
  expect(email).toContain('aria-invalid="true"');
  expect(email).toContain('aria-describedby="connexion-erreur"');
  expect(email).toContain("autofocus");
  expect(email).toContain('value="Quelqu.un@exemple.test"');
  const password = tagWithId(html, "connexion-password");
  expect(password).toContain('aria-invalid="true"');
  expect(password).not.toContain("value=");
  expect(html).toContain(
    '<input type="hidden" name="redirectTo" value="/checkout/dictia-8"/>',
  );
});

async function logIn(
  fields: Record<string, string>,
  url = "/connexion",
): Promise<Response> {
  const { cookie, csrfToken } = await browserCookies();
  const request = formRequest(url, fields, { cookie, csrfToken });
  return responseOf(() => action({ request, params: {}, context: {} }));
}

async function loadPage(url: string, cookie?: string): Promise<Response> {
  return responseOf(() =>
    loader({ request: pageRequest(url, { cookie }), params: {}, context: {} }),
  );
}

async function dataOf(response: Response) {
  return (await response.json()) as SerializeFrom<typeof action>;
}
