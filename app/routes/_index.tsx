import { redirect, type LoaderFunctionArgs } from "@remix-run/node";

import { logRedirects } from "~/request-log.server";

export async function loader({ request }: LoaderFunctionArgs) {
  return logRedirects(request, async () => redirect("/tarifs"));
}
