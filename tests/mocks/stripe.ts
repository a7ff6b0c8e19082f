import { http, HttpResponse } from "msw";

import { FakeStripe } from "../../scripts/fake-stripe";
import { TEST_ENV } from "../support/env";

export const STRIPE_API = "https://api.stripe.com";

/** Amounts of the test Price ids, in cents. */
export const TEST_PRICES = [
  { id: TEST_ENV.STRIPE_DICTIA_8_MONTHLY, unitAmount: 2900, interval: "month" },
  { id: TEST_ENV.STRIPE_DICTIA_8_YEARLY, unitAmount: 29000, interval: "year" },
  { id: TEST_ENV.STRIPE_DICTIA_8_SETUP, unitAmount: 4900, interval: null },
  {
    id: TEST_ENV.STRIPE_DICTIA_16_MONTHLY,
    unitAmount: 4900,
    interval: "month",
  },
  { id: TEST_ENV.STRIPE_DICTIA_16_YEARLY, unitAmount: 49000, interval: "year" },
  {
    id: TEST_ENV.STRIPE_DICTIA_CLOUD_MONTHLY,
    unitAmount: 9900,
    interval: "month",
  },
  {
    id: TEST_ENV.STRIPE_DICTIA_CLOUD_YEARLY,
    unitAmount: 99000,
    interval: "year",
  },
  { id: TEST_ENV.STRIPE_DICTIA_CLOUD_SETUP, unitAmount: 19900, interval: null },
] as const;

function newFakeStripe() {
  return new FakeStripe({ prices: [...TEST_PRICES] });
}

/**
 * The Stripe every test talks to. Reset after each test; read
 * `stripeMock.requests` to assert what was sent.
 */
export let stripeMock = newFakeStripe();

export function resetStripeMock() {
  stripeMock = newFakeStripe();
}

export const stripeHandlers = [
  http.all(`${STRIPE_API}/v1/*`, async ({ request }) => {
    const url = new URL(request.url);
    const body =
      request.method === "GET" || request.method === "DELETE"
        ? url.search.slice(1)
        : await request.text();
    const response = stripeMock.handle({
      method: request.method,
      path: url.pathname,
      body,
      idempotencyKey: request.headers.get("idempotency-key"),
    });
    return HttpResponse.json(response.body, { status: response.status });
  }),
];

/** A Stripe API error answer, for `server.use(...)` in failure tests. */
export function stripeError(
  status: number,
  error: { type: string; message: string; code?: string },
) {
  return HttpResponse.json({ error }, { status });
}
