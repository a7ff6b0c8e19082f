import type { SerializeFrom } from "@remix-run/node";
import { expect, test } from "vitest";

import { verifyPassword } from "~/auth/password.server";
import { getDb } from "~/db.server";
import { getUserByEmail } from "~/models/user.server";

import {
  browserCookies,
  createTestUser,
  flashOf,
  formRequest,
  pageRequest,
  responseOf,
  sessionUserIdOf,
} from "../../tests/support/requests";
import { renderRoute, tagWithId, textOfId } from "../../tests/support/render";

import SignUpPage, { action, loader } from "./inscription";

const PASSWORD = "une phrase de passe solide";

test("sign-up stores the email trimmed and lower-cased with a scrypt hash, and logs the user in", async () => {
  const response = await signUp({
    email: "  Nouvelle.Cliente@Exemple.TEST ",
    password: PASSWORD,
  });

  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toBe("/compte");
  const user = await getUserByEmail(
    await getDb(),
    "nouvelle.cliente@exemple.test",
  );
  expect(user?.email).toBe("nouvelle.cliente@exemple.test");
  expect(user?.password_hash).toMatch(/^scrypt\$\d+\$\d+\$\d+\$/);
  expect(user?.password_hash).not.toContain(PASSWORD);
  expect(await verifyPassword(PASSWORD, user?.password_hash ?? "")).toBe(true);
  expect(response.headers.get("Set-Cookie")).toContain("__dictia_session=");
  expect(await sessionUserIdOf(response)).toBe(user?.id);
});

test.each([
  ["/checkout/dictia-8?period=yearly", "/checkout/dictia-8?period=yearly"],
  ["https://evil.example/compte", "/compte"],
  ["//evil.example", "/compte"],
])("after sign-up, redirectTo %s leads to %s", async (redirectTo, location) => {
  const response = await signUp({
    email: uniqueEmail(),
    password: PASSWORD,
    redirectTo,
  });

  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toBe(location);
});

test("an email already registered is refused, whatever its case, and the account is left as it was", async () => {
  const existing = await createTestUser({ email: "deja@exemple.test" });

  const response = await signUp({
    email: " DEJA@exemple.test",
    password: PASSWORD,
  });

  expect(response.status).toBe(400);
  const data = await dataOf(response);
  expect(data.errors.email).toMatch(/ne peut pas être utilisée/);
  expect(data.values.email).toBe(" DEJA@exemple.test");
  expect(await sessionUserIdOf(response)).toBeNull();
  const stored = await getUserByEmail(await getDb(), "deja@exemple.test");
  expect(stored?.password_hash).toBe(existing.password_hash);
});

test("a password under 10 characters is refused and nothing is written", async () => {
  const email = uniqueEmail();

  const response = await signUp({ email, password: "court123" });

  expect(response.status).toBe(400);
  const data = await dataOf(response);
  expect(data.errors).toEqual({
    password: "Le mot de passe doit compter au moins 10 caractères.",
  });
  expect(data.values).toEqual({ email });
  expect(await getUserByEmail(await getDb(), email)).toBeUndefined();
});

test("a password over 200 characters is refused and nothing is written", async () => {
  const email = uniqueEmail();

  const response = await signUp({ email, password: "a".repeat(201) });

  expect(response.status).toBe(400);
  expect((await dataOf(response)).errors.password).toMatch(/au plus 200/);
  expect(await getUserByEmail(await getDb(), email)).toBeUndefined();
});

test.each(["pas-une-adresse", "nom@", "", "   "])(
  "the email %j is refused with a French error and nothing is written",
  async (email) => {
    const before = await countUsers();

    const response = await signUp({ email, password: PASSWORD });

    expect(response.status).toBe(400);
    const data = await dataOf(response);
    expect(data.errors.email).toMatch(/^Entrez (une|votre) adresse courriel/);
    expect(data.errors.password).toBeUndefined();
    expect(data.values.email).toBe(email);
    expect(await countUsers()).toBe(before);
  },
);

test.each([
  ["missing", undefined],
  ["wrong", "jeton-invente"],
])(
  "a %s CSRF token sends the form back with a message and writes nothing",
  async (_case, token) => {
    const { cookie, csrfToken } = await browserCookies();
    const email = uniqueEmail();
    const request = formRequest(
      "/inscription",
      { email, password: PASSWORD },
      { cookie, csrfToken: token },
    );
    expect(token).not.toBe(csrfToken);

    const response = await responseOf(() =>
      action({ request, params: {}, context: {} }),
    );

    expect(response.status).toBe(303);
    expect(response.headers.get("Location")).toBe("/inscription");
    expect((await flashOf(response))?.message).toMatch(
      /Le formulaire a expiré/,
    );
    expect(await sessionUserIdOf(response)).toBeNull();
    expect(await getUserByEmail(await getDb(), email)).toBeUndefined();
  },
);

test("a filled honeypot field is refused and nothing is written", async () => {
  const email = uniqueEmail();

  const response = await signUp({
    email,
    password: PASSWORD,
    name__confirm: "robot",
  });

  expect(response.status).toBe(400);
  expect((await dataOf(response)).errors.form).toMatch(/pas pu être traitée/);
  expect(await getUserByEmail(await getDb(), email)).toBeUndefined();
});

test("a logged-in visitor who opens the sign-up page is sent to their account", async () => {
  const user = await createTestUser();
  const { cookie } = await browserCookies(user.id);

  const response = await responseOf(() =>
    loader({
      request: pageRequest("/inscription", { cookie }),
      params: {},
      context: {},
    }),
  );

  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toBe("/compte");
});

test("the sign-up page keeps a safe redirectTo and drops an unsafe one", async () => {
  const safe = await loadPage("/inscription?redirectTo=%2Fcheckout%2Fdictia-8");
  const unsafe = await loadPage(
    "/inscription?redirectTo=https%3A%2F%2Fevil.example",
  );

  expect(await safe.json()).toEqual({ redirectTo: "/checkout/dictia-8" });
  expect(await unsafe.json()).toEqual({ redirectTo: "/compte" });
});

test("the page marks the first invalid field, focuses it and keeps the typed email", async () => {
  const response = await signUp({ email: "Nom@", password: "court" });
  const html = renderRoute({
    url: "/inscription",
    Component: SignUpPage,
    loaderData: { redirectTo: "/compte" },
    actionData: await dataOf(response),
  });

  const email = tagWithId(html, "inscription-email");
  expect(email).toContain('aria-invalid="true"');
  expect(email).toContain('aria-describedby="inscription-email-erreur"');
  expect(email).toContain("autofocus");
  expect(email).toContain('value="Nom@"');
  expect(textOfId(html, "inscription-email-erreur")).toMatch(
    /adresse courriel valide/,
  );
  const password = tagWithId(html, "inscription-password");
  expect(password).toContain('aria-invalid="true"');
  expect(password).not.toContain("autofocus");
  expect(password).not.toContain("value=");
  expect(html).toMatch(/<label for="inscription-email">Adresse courriel/);
  expect(html).toMatch(/<label for="inscription-password">Mot de passe/);
});

test("with only the password wrong, focus goes to the password field", async () => {
  const response = await signUp({ email: uniqueEmail(), password: "court" });
  const html = renderRoute({
    url: "/inscription",
    Component: SignUpPage,
    loaderData: { redirectTo: "/compte" },
    actionData: await dataOf(response),
  });

  expect(tagWithId(html, "inscription-email")).not.toContain("aria-invalid");
  const password = tagWithId(html, "inscription-password");
  expect(password).toContain("autofocus");
  expect(password).toContain(
    'aria-describedby="inscription-password-erreur inscription-password-aide"',
  );
  expect(textOfId(html, "inscription-password-erreur")).toMatch(
    /au moins 10 caractères/,
  );
});

let emailCount = 0;

function uniqueEmail(): string {
  emailCount += 1;
  return `inscription${emailCount}-${Date.now()}@exemple.test`;
}

async function signUp(fields: Record<string, string>): Promise<Response> {
  const { cookie, csrfToken } = await browserCookies();
  const request = formRequest("/inscription", fields, { cookie, csrfToken });
  return responseOf(() => action({ request, params: {}, context: {} }));
}

async function loadPage(url: string): Promise<Response> {
  return responseOf(() =>
    loader({ request: pageRequest(url), params: {}, context: {} }),
  );
}

async function countUsers(): Promise<number> {
  const db = await getDb();
  const { count } = await db
    .selectFrom("users")
    .select((eb) => eb.fn.countAll<number>().as("count"))
    .executeTakeFirstOrThrow();
  return Number(count);
}

async function dataOf(response: Response) {
  return (await response.json()) as SerializeFrom<typeof action>;
}
