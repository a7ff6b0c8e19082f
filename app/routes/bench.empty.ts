import { json } from "@remix-run/node";

// The framework's own cost, for `npm run bench` to compare the webhook with:
// a resource route that does nothing. Only the benchmark starts the server
// with BENCH_EMPTY_ROUTE=1; any other deployment answers 404, as for a route
// that does not exist. The flag is read from process.env directly rather
// than through getEnv(), whose validation would be a cost of its own here.
function answer() {
  if (process.env.BENCH_EMPTY_ROUTE !== "1") {
    throw new Response("Not Found", { status: 404 });
  }
  return json({ ok: true });
}

export const loader = answer;
export const action = answer;
