import {
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
} from "@remix-run/node";

import { requireValidCsrf } from "~/auth/csrf.server";
import { redirectWithFlash, requireUser } from "~/auth/session.server";
import { createPortalSession } from "~/billing/portal.server";
import { logResource } from "~/request-log.server";

// A resource route rather than an intent of /compte's action: it renders
// nothing and answers only redirects (to Stripe, or back with a message),
// so any page can post to it, like the « fix payment » button of a
// payment warning, and /compte's action stays the account deletion alone.

/** GET never opens a portal session: a link or a prefetch lands on /compte. */
export async function loader({ request }: LoaderFunctionArgs) {
  return logResource(request, async () => redirect("/compte"));
}

export async function action({ request }: ActionFunctionArgs) {
  return logResource(request, async () => {
    await requireValidCsrf(request);
    const user = await requireUser(request, "/compte");
    const result = await createPortalSession(user);
    if (!result.ok) {
      return redirectWithFlash(
        request,
        "/compte",
        {
          kind: result.code === "no_customer" ? "info" : "error",
          message: result.message,
        },
        { status: 303 },
      );
    }
    // 303: the browser follows with a GET, never re-posting the form.
    return redirect(result.url, 303);
  });
}
