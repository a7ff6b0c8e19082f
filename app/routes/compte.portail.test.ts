import { http, HttpResponse } from "msw";
import { expect, test, vi } from "vitest";

import { PORTAL_ERROR_MESSAGES } from "~/billing/portal.server";
import { getDb } from "~/db.server";
import { setUserStripeCustomerId } from "~/models/user.server";

import { server } from "../../tests/mocks";
import { STRIPE_API, stripeError, stripeMock } from "../../tests/mocks/stripe";
import {
  browserCookies,
  createTestUser,
  flashOf,
  formRequest,
  pageRequest,
  responseOf,
} from "../../tests/support/requests";

import { action, loader } from "./compte.portail";
import { captureLogs } from "../../tests/support/logs";

const PORTAL_SESSIONS = "/v1/billing_portal/sessions";

const logs = captureLogs();

test("a customer is sent (303) to a portal session of their own customer that comes back to APP_URL's /compte", async () => {
  const { user, customerId, browser } = await customer();

  // A forged Host must not choose where Stripe sends the customer back.
  const response = await post(browser, "https://ailleurs.test/compte/portail");

  expect(response.status).toBe(303);
  const [session] = [...stripeMock.portalSessions.values()];
  expect(response.headers.get("Location")).toBe(session?.url);
  const [request] = stripeMock.requestsTo("POST", PORTAL_SESSIONS);
  expect(request?.params).toEqual({
    customer: customerId,
    return_url: "https://dictia.test/compte",
    locale: "fr-CA",
  });
  expect(logs).toContain(`[portal] session created user=${user.id}`);
});

test("a user without a Stripe customer is told so on /compte, and Stripe is not called", async () => {
  const user = await createTestUser();
  const browser = await browserCookies(user.id);

  const response = await post(browser);

  expect(response.status).toBe(303);
  expect(response.headers.get("Location")).toBe("/compte");
  expect(await flashOf(response)).toEqual({
    kind: "info",
    message: PORTAL_ERROR_MESSAGES.no_customer,
  });
  expect(stripeMock.requests).toHaveLength(0);
});

test.each([
  [
    "an API error",
    () => stripeError(500, { type: "api_error", message: "Server error." }),
  ],
  [
    "a portal not set up in the Dashboard",
    () =>
      stripeError(400, {
        type: "invalid_request_error",
        message:
          "No configuration provided and your default configuration has not been created.",
      }),
  ],
  ["a network error", () => HttpResponse.error()],
])(
  "%s from Stripe ends on /compte with a French message, never a crash",
  async (_name, answer) => {
    let attempts = 0;
    server.use(
      http.post(`${STRIPE_API}${PORTAL_SESSIONS}`, () => {
        attempts += 1;
        return answer();
      }),
    );
    const { user, browser } = await customer();

    const response = await post(browser);

    expect(attempts).toBeGreaterThan(0);
    expect(response.status).toBe(303);
    expect(response.headers.get("Location")).toBe("/compte");
    expect(await flashOf(response)).toEqual({
      kind: "error",
      message: PORTAL_ERROR_MESSAGES.unavailable,
    });
    expect(logs).toContainEqual(
      expect.stringMatching(
        new RegExp(`^\\[portal\\] failed code=unavailable user=${user.id} `),
      ),
    );
  },
);

test("without a Stripe key the customer reads that online management is not offered", async () => {
  vi.stubEnv("STRIPE_SECRET_KEY", "");
  const { browser } = await customer();

  const response = await post(browser);

  expect(response.headers.get("Location")).toBe("/compte");
  expect(await flashOf(response)).toEqual({
    kind: "error",
    message: PORTAL_ERROR_MESSAGES.not_configured,
  });
});

test("a form without the CSRF token opens nothing", async () => {
  const { browser } = await customer();

  const response = await post({ cookie: browser.cookie, csrfToken: "faux" });

  expect(response.status).toBe(303);
  expect(await flashOf(response)).toMatchObject({ kind: "error" });
  expect(stripeMock.requests).toHaveLength(0);
});

test("a visitor who is not logged in is sent to log in, then back to /compte", async () => {
  const { csrfToken, cookie } = await browserCookies();

  const response = await post({ cookie, csrfToken });

  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toBe(
    "/connexion?redirectTo=%2Fcompte",
  );
  expect(stripeMock.requests).toHaveLength(0);
});

test("GET opens nothing: a link or a prefetch lands on /compte", async () => {
  const { browser } = await customer();

  const response = await responseOf(() =>
    loader({
      request: pageRequest("/compte/portail", browser),
      params: {},
      context: {},
    }),
  );

  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toBe("/compte");
  expect(stripeMock.requests).toHaveLength(0);
});

/** A logged-in user with a Stripe customer of their own. */
async function customer() {
  const user = await createTestUser();
  const customerId = `cus_portail_${user.id}`;
  await setUserStripeCustomerId(await getDb(), user.id, customerId);
  stripeMock.createCustomer({}, customerId);
  return { user, customerId, browser: await browserCookies(user.id) };
}

function post(
  browser: { cookie: string; csrfToken: string },
  url = "/compte/portail",
) {
  return responseOf(() =>
    action({
      request: formRequest(url, {}, browser),
      params: {},
      context: {},
    }),
  );
}
