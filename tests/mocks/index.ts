import { setupServer } from "msw/node";

import { stripeHandlers } from "./stripe";

/**
 * Stripe's API, mocked at the HTTP layer. Requests to loopback pass through
 * (end-to-end tests talk to servers they started); anything else that no
 * handler answers fails the test.
 */
export const server = setupServer(...stripeHandlers);

export function listen() {
  server.listen({
    onUnhandledRequest(request, print) {
      const { hostname } = new URL(request.url);
      if (hostname === "127.0.0.1" || hostname === "localhost") return;
      print.error();
    },
  });
}
