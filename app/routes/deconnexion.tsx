import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { redirect } from "@remix-run/node";

import { requireValidCsrf } from "~/auth/csrf.server";
import { commitSession, getSession, getUserId } from "~/auth/session.server";

// Logging out changes state, so it happens only on POST: a GET can be
// prefetched, or sent by an image tag on another site.
export async function loader({ request }: LoaderFunctionArgs) {
  const userId = await getUserId(request);
  return redirect(userId === null ? "/tarifs" : "/compte");
}

export async function action({ request }: ActionFunctionArgs) {
  await requireValidCsrf(request);
  const userId = await getUserId(request);

  // destroySession would expire the cookie, and the flash with it. A session
  // read from no cookie at all holds nothing of the old one: committing it
  // with only the flash replaces the whole cookie, which is what destroying a
  // cookie session amounts to. A copy of the old cookie still works until it
  // expires: a cookie session keeps no record on the server to revoke.
  const fresh = await getSession(new Request(request.url));
  fresh.flash("flash", { kind: "success", message: "Vous êtes déconnecté." });
  if (userId !== null) console.info(`[auth] user ${userId} logged out`);
  return redirect("/tarifs", {
    status: 303,
    headers: { "Set-Cookie": await commitSession(fresh) },
  });
}
