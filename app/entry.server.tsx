import { PassThrough } from "node:stream";

import type { EntryContext, HandleDataRequestFunction } from "@remix-run/node";
import { createReadableStreamFromReadable } from "@remix-run/node";
import { RemixServer } from "@remix-run/react";
import { isbot } from "isbot";
import { renderToPipeableStream } from "react-dom/server";

import { getDb } from "~/db.server";
import { isDataRedirect, logRequest } from "~/request-log.server";

// The server build is an ES module: this top-level await creates and migrates
// the database before remix-serve starts listening.
await getDb();

const ABORT_DELAY = 5_000;

export default function handleRequest(
  request: Request,
  responseStatusCode: number,
  responseHeaders: Headers,
  remixContext: EntryContext,
) {
  const started = performance.now();
  const waitForAll = isbot(request.headers.get("user-agent") ?? "");
  return new Promise<Response>((resolve, reject) => {
    let shellRendered = false;
    const { pipe, abort } = renderToPipeableStream(
      <RemixServer
        context={remixContext}
        url={request.url}
        abortDelay={ABORT_DELAY}
      />,
      {
        [waitForAll ? "onAllReady" : "onShellReady"]() {
          shellRendered = true;
          const body = new PassThrough();
          responseHeaders.set("Content-Type", "text/html; charset=utf-8");
          resolve(
            new Response(createReadableStreamFromReadable(body), {
              headers: responseHeaders,
              status: responseStatusCode,
            }),
          );
          pipe(body);
          logRequest(request, responseStatusCode, started);
        },
        onShellError(error: unknown) {
          reject(error);
        },
        onError(error: unknown) {
          responseStatusCode = 500;
          if (shellRendered) console.error(error);
        },
      },
    );
    setTimeout(abort, ABORT_DELAY);
  });
}

/**
 * The browser's router asks for loader data and posts actions here. A
 * redirect was logged by the handler that answered it (see
 * request-log.server.ts); Remix gives no start time for the others.
 */
export const handleDataRequest: HandleDataRequestFunction = (
  response,
  { request },
) => {
  if (!isDataRedirect(response)) logRequest(request, response.status, null);
  return response;
};
