/**
 * One `[http] METHOD /path status` line per request, with the path only:
 * query strings can carry ids, and nothing here ever names a person.
 *
 * Remix hands entry.server only two kinds of answers: rendered pages
 * (`handleRequest`) and data requests of the browser's router
 * (`handleDataRequest`). Two kinds never reach it: what a resource route
 * answers, and a redirect from a loader or action of a page requested
 * without JavaScript. Those are logged by wrapping the handler:
 * `logResource` for resource routes, `logRedirects` for the loaders and
 * actions of pages that can redirect. A data request that ends in a
 * redirect is then logged by the wrapper, so entry.server skips it.
 */

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export function logRequest(
  request: Request,
  status: number,
  startedAt: number | null,
): void {
  const { pathname } = new URL(request.url);
  const timing =
    startedAt === null
      ? "data"
      : `${(performance.now() - startedAt).toFixed(1)}ms`;
  console.info(`[http] ${request.method} ${pathname} ${status} ${timing}`);
}

/**
 * For a loader or action of a page: runs `work` and logs the redirect it
 * answers with, if any.
 *
 * @example
 * export async function action({ request }: ActionFunctionArgs) {
 *   return logRedirects(request, async () => { … });
 * }
 */
export function logRedirects<Result>(
  request: Request,
  work: () => Promise<Result>,
): Promise<Result> {
  return observe(request, work, (outcome) =>
    outcome instanceof Response && REDIRECT_STATUSES.has(outcome.status)
      ? outcome.status
      : null,
  );
}

/** For a resource route's loader or action: logs every answer. */
export function logResource<Result>(
  request: Request,
  work: () => Promise<Result>,
): Promise<Result> {
  return observe(request, work, (outcome, threw) =>
    outcome instanceof Response ? outcome.status : threw ? 500 : 200,
  );
}

// The wrappers go inside `export async function loader`, never around it:
// the browser build keeps route modules' components only, and esbuild can
// drop an unused function declaration but not a call made at load.
async function observe<Result>(
  request: Request,
  work: () => Promise<Result>,
  statusOf: (outcome: unknown, threw: boolean) => number | null,
): Promise<Result> {
  const startedAt = performance.now();
  try {
    const result = await work();
    const status = statusOf(result, false);
    if (status !== null) logRequest(request, status, startedAt);
    return result;
  } catch (thrown) {
    const status = statusOf(thrown, true);
    if (status !== null) logRequest(request, status, startedAt);
    throw thrown;
  }
}

/** What Remix answers a data request with when a handler redirected. */
export function isDataRedirect(response: Response): boolean {
  return response.headers.has("X-Remix-Redirect");
}
