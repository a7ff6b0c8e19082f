import { createElement } from "react";
import { expect, test } from "vitest";

import App, { Layout, loader as rootLoader } from "~/root";

import {
  browserCookies,
  createTestUser,
  flashOf,
  formRequest,
  pageRequest,
  responseOf,
  sessionUserIdOf,
} from "../../tests/support/requests";
import { renderDocument } from "../../tests/support/render";

import { action, loader } from "./deconnexion";

test("logging out by POST ends the session and says so on /tarifs", async () => {
  const user = await createTestUser();
  const { cookie, csrfToken } = await browserCookies(user.id);

  const response = await responseOf(() =>
    action({
      request: formRequest("/deconnexion", {}, { cookie, csrfToken }),
      params: {},
      context: {},
    }),
  );

  expect(response.status).toBe(303);
  expect(response.headers.get("Location")).toBe("/tarifs");
  expect(await sessionUserIdOf(response)).toBeNull();
  expect(await flashOf(response)).toEqual({
    kind: "success",
    message: "Vous êtes déconnecté.",
  });
});

test("the next page shows the logout message to a visitor who is no longer logged in", async () => {
  const user = await createTestUser();
  const { cookie, csrfToken } = await browserCookies(user.id);
  const logout = await responseOf(() =>
    action({
      request: formRequest("/deconnexion", {}, { cookie, csrfToken }),
      params: {},
      context: {},
    }),
  );

  const page = await responseOf(() =>
    rootLoader({
      request: pageRequest("/tarifs", {
        cookie: replaceCookies(cookie, logout),
      }),
      params: {},
      context: {},
    }),
  );

  const data = await page.json();
  expect(data.user).toBeNull();
  expect(data.flash?.message).toBe("Vous êtes déconnecté.");
});

test.each([
  ["missing", undefined],
  ["wrong", "jeton-invente"],
])("a %s CSRF token keeps the user logged in", async (_case, token) => {
  const user = await createTestUser();
  const { cookie } = await browserCookies(user.id);

  const response = await responseOf(() =>
    action({
      request: formRequest("/deconnexion", {}, { cookie, csrfToken: token }),
      params: {},
      context: {},
    }),
  );

  expect(response.status).toBe(303);
  expect(response.headers.get("Location")).toBe("/deconnexion");
  expect((await flashOf(response))?.kind).toBe("error");
  // The session sent back still holds the user: only a flash was added.
  expect(await sessionUserIdOf(response)).toBe(user.id);
});

test("a GET never logs out: a logged-in user is sent to their account", async () => {
  const user = await createTestUser();
  const { cookie } = await browserCookies(user.id);

  const response = await responseOf(() =>
    loader({
      request: pageRequest("/deconnexion", { cookie }),
      params: {},
      context: {},
    }),
  );

  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toBe("/compte");
  expect(response.headers.get("Set-Cookie")).toBeNull();
});

test("a GET from a visitor who is not logged in leads to /tarifs", async () => {
  const response = await responseOf(() =>
    loader({ request: pageRequest("/deconnexion"), params: {}, context: {} }),
  );

  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toBe("/tarifs");
});

test("the header's logout button posts to /deconnexion with the page's CSRF token", async () => {
  const user = await createTestUser();
  const { cookie, csrfToken } = await browserCookies(user.id);
  const page = await responseOf(() =>
    rootLoader({
      request: pageRequest("/compte", { cookie }),
      params: {},
      context: {},
    }),
  );

  const html = renderDocument({
    url: "/",
    Root: () => createElement(Layout, { children: createElement(App) }),
    rootData: await page.json(),
  });

  const form = html.match(/<form [^>]*action="\/deconnexion"[^>]*>.*?<\/form>/);
  expect(form).not.toBeNull();
  expect(form?.[0]).toContain('method="post"');
  expect(form?.[0]).toContain(
    `<input type="hidden" name="csrf" value="${csrfToken}"/>`,
  );
  expect(form?.[0]).toContain("Se déconnecter");
});

/** The browser's cookies after it applied a response's Set-Cookie headers. */
function replaceCookies(cookie: string, response: Response): string {
  const jar = new Map(
    cookie.split("; ").map((pair) => [pair.split("=")[0], pair] as const),
  );
  for (const header of response.headers.getSetCookie()) {
    const pair = header.split(";")[0] ?? "";
    jar.set(pair.split("=")[0], pair);
  }
  return [...jar.values()].join("; ");
}
