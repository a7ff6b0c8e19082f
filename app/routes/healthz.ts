import { json, type LoaderFunctionArgs } from "@remix-run/node";

import { checkHealth } from "~/health.server";
import { logResource } from "~/request-log.server";

// A resource route for probes: small JSON, never cached, no secrets. 503
// when the database cannot answer or its migrations are not all applied.
export async function loader({ request }: LoaderFunctionArgs) {
  return logResource(request, async () => {
    const health = await checkHealth();
    return json(health, {
      status: health.status === "ok" ? 200 : 503,
      headers: { "Cache-Control": "no-store" },
    });
  });
}
