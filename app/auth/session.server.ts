import { createCookieSessionStorage, redirect } from "@remix-run/node";
import { safeRedirect } from "remix-utils/safe-redirect";

import { getDb } from "~/db.server";
import type { UserRow } from "~/db/schema";
import { getEnv } from "~/env.server";
import { getUserById } from "~/models/user.server";

type SessionData = { userId: number };
type SessionFlash = { flash: Flash };

export type Flash = { kind: "success" | "error" | "info"; message: string };

function sessionStorage() {
  const env = getEnv();
  return createCookieSessionStorage<SessionData, SessionFlash>({
    cookie: {
      name: "__dictia_session",
      httpOnly: true,
      sameSite: "lax",
      path: "/",
      // Signed with the first secret, still read with the older ones.
      secrets: env.SESSION_SECRET,
      secure: env.APP_URL.startsWith("https://"),
      maxAge: 60 * 60 * 24 * 30,
    },
  });
}

export async function getSession(request: Request) {
  return sessionStorage().getSession(request.headers.get("Cookie"));
}

export async function commitSession(
  session: Awaited<ReturnType<typeof getSession>>,
) {
  return sessionStorage().commitSession(session);
}

export async function destroySession(
  session: Awaited<ReturnType<typeof getSession>>,
) {
  return sessionStorage().destroySession(session);
}

export async function getUserId(request: Request): Promise<number | null> {
  const session = await getSession(request);
  const userId = session.get("userId");
  return typeof userId === "number" ? userId : null;
}

export async function getUser(request: Request): Promise<UserRow | null> {
  const userId = await getUserId(request);
  if (userId === null) return null;
  return (await getUserById(await getDb(), userId)) ?? null;
}

/** Where the visitor was going, as a path safe to redirect to. */
export function currentPath(request: Request): string {
  const url = new URL(request.url);
  return `${url.pathname}${url.search}`;
}

/** The logged-in user, or a redirect to log in and come back. */
export async function requireUser(
  request: Request,
  redirectTo: string = currentPath(request),
): Promise<UserRow> {
  const user = await getUser(request);
  if (user) return user;
  const params = new URLSearchParams({ redirectTo: safeRedirect(redirectTo) });
  throw redirect(`/connexion?${params}`);
}

/** A redirect that carries a message shown once on the next page. */
export async function redirectWithFlash(
  request: Request,
  to: string,
  flash: Flash,
  init: { status?: number; headers?: HeadersInit } = {},
) {
  const session = await getSession(request);
  session.flash("flash", flash);
  const headers = new Headers(init.headers);
  headers.append("Set-Cookie", await commitSession(session));
  return redirect(to, { status: init.status ?? 302, headers });
}

/**
 * Ends the session and redirects (303) with a message shown once.
 * destroySession would expire the cookie, and the flash with it. A session
 * read from no cookie at all holds nothing of the old one: committing it
 * with only the flash replaces the whole cookie, which is what destroying a
 * cookie session amounts to. A copy of the old cookie still works until it
 * expires: a cookie session keeps no record on the server to revoke.
 */
export async function endSessionWithFlash(
  request: Request,
  to: string,
  flash: Flash,
) {
  const fresh = await getSession(new Request(request.url));
  fresh.flash("flash", flash);
  return redirect(to, {
    status: 303,
    headers: { "Set-Cookie": await commitSession(fresh) },
  });
}

/** Logs the user in and sends them on, keeping nothing of the old session. */
export async function createUserSession(
  request: Request,
  userId: number,
  redirectTo: string,
) {
  const session = await getSession(request);
  session.unset("userId");
  session.set("userId", userId);
  return redirect(safeRedirect(redirectTo, "/compte"), {
    headers: { "Set-Cookie": await commitSession(session) },
  });
}
