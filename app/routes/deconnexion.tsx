import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { redirect } from "@remix-run/node";

import { requireValidCsrf } from "~/auth/csrf.server";
import { endSessionWithFlash, getUserId } from "~/auth/session.server";
import { logRedirects } from "~/request-log.server";

// Logging out changes state, so it happens only on POST: a GET can be
// prefetched, or sent by an image tag on another site.
export async function loader({ request }: LoaderFunctionArgs) {
  return logRedirects(request, async () => {
    const userId = await getUserId(request);
    return redirect(userId === null ? "/tarifs" : "/compte");
  });
}

export async function action({ request }: ActionFunctionArgs) {
  return logRedirects(request, async () => {
    await requireValidCsrf(request);
    const userId = await getUserId(request);
    if (userId !== null) console.info(`[auth] user ${userId} logged out`);
    return endSessionWithFlash(request, "/tarifs", {
      kind: "success",
      message: "Vous êtes déconnecté.",
    });
  });
}
