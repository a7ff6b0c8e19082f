import { createCookie } from "@remix-run/node";
import { CSRF, CSRFError } from "remix-utils/csrf/server";

import { currentPath, redirectWithFlash } from "~/auth/session.server";
import { getEnv } from "~/env.server";

function csrf() {
  const env = getEnv();
  return new CSRF({
    cookie: createCookie("__dictia_csrf", {
      httpOnly: true,
      sameSite: "lax",
      path: "/",
      secrets: env.SESSION_SECRET,
      secure: env.APP_URL.startsWith("https://"),
    }),
    secret: env.SESSION_SECRET[0],
  });
}

/**
 * The token for forms, and the Set-Cookie header when it is new. The token
 * lives in its own cookie and is reused while it exists, so every tab of one
 * browser shares it.
 */
export async function commitCsrfToken(
  request: Request,
): Promise<readonly [token: string, setCookie: string | null]> {
  return csrf().commitToken(request);
}

/**
 * Throws a redirect back to the form, with a French message, when the form's
 * token does not match the cookie's: usually an expired cookie or a page
 * left open for long, so the person just submits again. Reads a clone of the
 * body, so the caller can still read `request`.
 */
export async function requireValidCsrf(request: Request): Promise<void> {
  try {
    await csrf().validate(request);
  } catch (error) {
    if (error instanceof CSRFError) {
      console.warn(`[csrf] rejected: ${error.code}`);
      throw await redirectWithFlash(
        request,
        currentPath(request),
        {
          kind: "error",
          message:
            "Le formulaire a expiré. Veuillez réessayer : rien n’a été envoyé.",
        },
        { status: 303 },
      );
    }
    throw error;
  }
}
