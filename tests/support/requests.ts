import { hashPassword } from "~/auth/password.server";
import { commitCsrfToken } from "~/auth/csrf.server";
import { commitSession, getSession } from "~/auth/session.server";
import { getDb } from "~/db.server";
import type { UserRow } from "~/db/schema";
import { createUser } from "~/models/user.server";

export const TEST_PASSWORD = "motdepasse-solide-42";

let userCount = 0;

/** A user in the test database, with a known password. */
export async function createTestUser(
  overrides: { email?: string; password?: string } = {},
): Promise<UserRow> {
  userCount += 1;
  const email =
    overrides.email ?? `client${userCount}-${Date.now()}@exemple.test`;
  const user = await createUser(await getDb(), {
    email,
    passwordHash: await hashPassword(overrides.password ?? TEST_PASSWORD),
  });
  if (!user) throw new Error(`Test user ${email} already exists`);
  return user;
}

/** Cookie name=value pairs out of Set-Cookie headers. */
function cookiePairs(setCookies: string[]): string[] {
  return setCookies.map((header) => header.split(";")[0] ?? "");
}

/**
 * A browser's cookies: a CSRF cookie, and a session for `userId` when given.
 * Returns the Cookie header and the token the page's forms would carry.
 */
export async function browserCookies(
  userId?: number,
): Promise<{ cookie: string; csrfToken: string }> {
  const blank = new Request("https://dictia.test/");
  const [csrfToken, csrfCookie] = await commitCsrfToken(blank);
  const setCookies = csrfCookie ? [csrfCookie] : [];
  if (userId !== undefined) {
    const session = await getSession(blank);
    session.set("userId", userId);
    setCookies.push(await commitSession(session));
  }
  return { cookie: cookiePairs(setCookies).join("; "), csrfToken };
}

/** A form POST as a browser sends it, CSRF token included unless given. */
export function formRequest(
  url: string,
  fields: Record<string, string>,
  options: { cookie?: string; csrfToken?: string } = {},
): Request {
  const body = new URLSearchParams(fields);
  if (options.csrfToken !== undefined && !("csrf" in fields)) {
    body.set("csrf", options.csrfToken);
  }
  const headers = new Headers({
    "Content-Type": "application/x-www-form-urlencoded",
  });
  if (options.cookie) headers.set("Cookie", options.cookie);
  return new Request(new URL(url, "https://dictia.test"), {
    method: "POST",
    headers,
    body,
  });
}

/** A GET as a browser sends it. */
export function pageRequest(url: string, options: { cookie?: string } = {}) {
  const headers = new Headers();
  if (options.cookie) headers.set("Cookie", options.cookie);
  return new Request(new URL(url, "https://dictia.test"), { headers });
}

/**
 * The flash message a response set, read back through the app's own session
 * storage.
 */
export async function flashOf(response: Response) {
  const setCookies = response.headers.getSetCookie();
  const cookie = cookiePairs(setCookies).join("; ");
  const session = await getSession(
    new Request("https://dictia.test/", { headers: { Cookie: cookie } }),
  );
  return session.get("flash") ?? null;
}

/** The user id of the session a response set, or null when it sets none. */
export async function sessionUserIdOf(
  response: Response,
): Promise<number | null> {
  const cookie = cookiePairs(response.headers.getSetCookie()).join("; ");
  const session = await getSession(
    new Request("https://dictia.test/", { headers: { Cookie: cookie } }),
  );
  return session.get("userId") ?? null;
}

/** Calls a loader or action and returns the Response it returned or threw. */
export async function responseOf(
  run: () => Promise<unknown>,
): Promise<Response> {
  try {
    const result = await run();
    if (result instanceof Response) return result;
    throw new Error(`Expected a Response, got ${typeof result}`);
  } catch (thrown) {
    if (thrown instanceof Response) return thrown;
    throw thrown;
  }
}
