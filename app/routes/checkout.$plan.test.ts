import type { SerializeFrom } from "@remix-run/node";
import { http, HttpResponse } from "msw";
import { expect, test, vi } from "vitest";

import {
  CHECKOUT_ERROR_MESSAGES,
  type CheckoutErrorCode,
} from "~/billing/checkout.server";
import { getDb } from "~/db.server";
import type { UserRow } from "~/db/schema";
import { applySubscriptionState } from "~/models/subscription.server";
import { getUserById } from "~/models/user.server";

import { server } from "../../tests/mocks";
import { STRIPE_API, stripeError, stripeMock } from "../../tests/mocks/stripe";
import { renderRoute, RENDER_CSRF_TOKEN } from "../../tests/support/render";
import {
  browserCookies,
  createTestUser,
  flashOf,
  formRequest,
  pageRequest,
  responseOf,
} from "../../tests/support/requests";

import CheckoutConfirmation, { action, loader } from "./checkout.$plan";
import { captureLogs } from "../../tests/support/logs";

const SESSIONS = "/v1/checkout/sessions";
const FORM_EXPIRED =
  "Le formulaire a expiré. Veuillez réessayer : rien n’a été envoyé.";

const logs = captureLogs();

test("a logged-in user is sent to Stripe Checkout with exactly the parameters the design names", async () => {
  const { user, browser } = await signedIn();

  const attempt = "nonce-de-la-page-0123";

  const response = await post(
    "dictia-8",
    { period: "monthly", attempt },
    browser,
  );

  const [session] = [...stripeMock.checkoutSessions.values()];
  expect(response.status).toBe(303);
  expect(response.headers.get("Location")).toBe(session?.url);

  const [customerRequest] = stripeMock.requestsTo("POST", "/v1/customers");
  expect(customerRequest?.params).toEqual({
    email: user.email,
    preferred_locales: ["fr-CA"],
    metadata: { dictia_user_id: String(user.id) },
  });
  const [customerId] = [...stripeMock.customers.keys()];
  const stored = await getUserById(await getDb(), user.id);
  expect(stored?.stripe_customer_id).toBe(customerId);

  const sessionRequests = stripeMock.requestsTo("POST", SESSIONS);
  expect(sessionRequests).toHaveLength(1);
  const metadata = {
    dictia_user_id: String(user.id),
    plan: "dictia-8",
    period: "monthly",
  };
  expect(sessionRequests[0]?.params).toEqual({
    mode: "subscription",
    currency: "cad",
    customer: customerId,
    client_reference_id: String(user.id),
    line_items: [
      { price: "price_dictia8_monthly", quantity: "1" },
      { price: "price_dictia8_setup", quantity: "1" },
    ],
    automatic_tax: { enabled: "true" },
    customer_update: { address: "auto" },
    billing_address_collection: "required",
    locale: "fr-CA",
    metadata,
    subscription_data: { metadata },
    success_url:
      "https://dictia.test/checkout/success?session_id={CHECKOUT_SESSION_ID}",
    cancel_url: "https://dictia.test/checkout/cancel",
  });
  expect(sessionRequests[0]?.idempotencyKey).toMatch(
    new RegExp(
      `user=${user.id}:.*plan=dictia-8:period=monthly:.*attempt=${attempt}$`,
    ),
  );
});

test("a plan without a setup Price has the recurring line only", async () => {
  const { browser } = await signedIn();

  await post("dictia-16", { period: "yearly" }, browser);

  const [request] = stripeMock.requestsTo("POST", SESSIONS);
  expect(request?.params.line_items).toEqual([
    { price: "price_dictia16_yearly", quantity: "1" },
  ]);
  expect(request?.params.metadata).toMatchObject({
    plan: "dictia-16",
    period: "yearly",
  });
});

test("success and cancel URLs come from APP_URL, never from the request's Host", async () => {
  vi.stubEnv("APP_URL", "https://facturation.dictia.test");
  const { browser } = await signedIn();

  await post("dictia-8", { period: "monthly" }, browser);

  const [request] = stripeMock.requestsTo("POST", SESSIONS);
  expect(request?.params.success_url).toBe(
    "https://facturation.dictia.test/checkout/success?session_id={CHECKOUT_SESSION_ID}",
  );
  expect(request?.params.cancel_url).toBe(
    "https://facturation.dictia.test/checkout/cancel",
  );
});

test("a double submit makes one customer and one Session", async () => {
  const { browser } = await signedIn();

  const form = { period: "monthly", attempt: "nonce-de-la-page-4567" };

  const [first, second] = await Promise.all([
    post("dictia-cloud", form, browser),
    post("dictia-cloud", form, browser),
  ]);
  const third = await post("dictia-cloud", form, browser);

  expect(stripeMock.customers.size).toBe(1);
  expect(stripeMock.checkoutSessions.size).toBe(1);
  const location = first.headers.get("Location");
  expect(location).toMatch(/^https:\/\/checkout\.stripe\.test\//);
  expect(second.headers.get("Location")).toBe(location);
  expect(third.headers.get("Location")).toBe(location);
});

test("a user whose subscription grants access is sent to their account, not to a second Checkout", async () => {
  const { user, browser } = await signedIn();
  await giveSubscription(user, "past_due");

  const response = await post("dictia-16", { period: "monthly" }, browser);

  expect(response.status).toBe(303);
  expect(response.headers.get("Location")).toBe("/compte");
  expect(await flashOf(response)).toEqual({
    kind: "info",
    message: "Vous avez déjà un abonnement actif : vous pouvez le gérer ici.",
  });
  expect(stripeMock.requests).toHaveLength(0);
});

test("a user whose last subscription was canceled can subscribe again", async () => {
  const { user, browser } = await signedIn();
  await giveSubscription(user, "canceled");

  const response = await post("dictia-16", { period: "monthly" }, browser);

  expect(response.status).toBe(303);
  expect(stripeMock.checkoutSessions.size).toBe(1);
});

test("an unknown plan ends on /tarifs with a French message and nothing sent to Stripe", async () => {
  const { user, browser } = await signedIn();

  const response = await post("dictia-99", { period: "monthly" }, browser);

  await expectBackToPricing(
    response,
    "Cette formule n’existe pas. Choisissez-en une ci-dessous.",
  );
  expect(stripeMock.requests).toHaveLength(0);
  expect(logs).toContain(`[checkout] rejected: unknown plan user=${user.id}`);
});

test("a bad period ends on /tarifs with a French message and nothing sent to Stripe", async () => {
  const { browser } = await signedIn();

  const response = await post("dictia-8", { period: "weekly" }, browser);

  await expectBackToPricing(
    response,
    "Cette période de facturation n’existe pas. Choisissez mensuel ou annuel.",
  );
  expect(stripeMock.requests).toHaveLength(0);
});

test("without STRIPE_SECRET_KEY the form ends on /tarifs saying payments are not offered", async () => {
  vi.stubEnv("STRIPE_SECRET_KEY", undefined);
  const { user, browser } = await signedIn();

  const response = await post("dictia-8", { period: "monthly" }, browser);

  await expectBackToPricing(response, CHECKOUT_ERROR_MESSAGES.not_configured);
  expect(stripeMock.requests).toHaveLength(0);
  expect(logs).toContain(
    `[checkout] failed code=not_configured user=${user.id} plan=dictia-8 period=monthly STRIPE_SECRET_KEY is not set`,
  );
});

test("a period without a configured Price ends on /tarifs and nothing is sent to Stripe", async () => {
  vi.stubEnv("STRIPE_DICTIA_8_YEARLY", "");
  const { browser } = await signedIn();

  const response = await post("dictia-8", { period: "yearly" }, browser);

  await expectBackToPricing(response, CHECKOUT_ERROR_MESSAGES.unknown_price);
  expect(stripeMock.requests).toHaveLength(0);
});

test.each<[string, CheckoutErrorCode, () => Response]>([
  [
    "a declined card from Stripe",
    "card_error",
    () =>
      stripeError(402, {
        type: "card_error",
        code: "card_declined",
        message: "Your card was declined.",
      }),
  ],
  [
    "an API error from Stripe",
    "api_error",
    () => stripeError(500, { type: "api_error", message: "Server error." }),
  ],
  [
    "a rate limit from Stripe",
    "rate_limited",
    () =>
      stripeError(429, {
        type: "invalid_request_error",
        code: "rate_limit",
        message: "Too many requests.",
      }),
  ],
  [
    "a network error on the way to Stripe",
    "network_error",
    () => HttpResponse.error(),
  ],
  [
    "a Price that Stripe does not know",
    "unknown_price",
    () =>
      HttpResponse.json(
        {
          error: {
            type: "invalid_request_error",
            code: "resource_missing",
            param: "line_items[0][price]",
            message: "No such price: 'price_dictia8_monthly'",
          },
        },
        { status: 400 },
      ),
  ],
])(
  "%s ends on /tarifs with a French message and no Session",
  async (_name, code, answer) => {
    let attempts = 0;
    server.use(
      http.post(`${STRIPE_API}${SESSIONS}`, () => {
        attempts += 1;
        return answer();
      }),
    );
    const { user, browser } = await signedIn();

    const response = await post("dictia-8", { period: "monthly" }, browser);

    expect(attempts).toBeGreaterThan(0);
    await expectBackToPricing(response, CHECKOUT_ERROR_MESSAGES[code]);
    expect(stripeMock.checkoutSessions.size).toBe(0);
    expect(logs).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^\\[checkout\\] failed code=${code} user=${user.id} plan=dictia-8 period=monthly `,
        ),
      ),
    );
  },
);

test("a wrong CSRF token sends the visitor back to the form, and nothing is sent to Stripe", async () => {
  const { browser } = await signedIn();

  const response = await post(
    "dictia-8",
    { period: "monthly" },
    { cookie: browser.cookie, csrfToken: "jeton-falsifie" },
  );

  expect(response.status).toBe(303);
  expect(response.headers.get("Location")).toBe("/checkout/dictia-8");
  expect(await flashOf(response)).toEqual({
    kind: "error",
    message: FORM_EXPIRED,
  });
  expect(stripeMock.requests).toHaveLength(0);
});

test("a missing CSRF token sends the visitor back to the form, and nothing is sent to Stripe", async () => {
  const { browser } = await signedIn();

  const response = await post(
    "dictia-8",
    { period: "monthly" },
    { cookie: browser.cookie },
  );

  expect(response.status).toBe(303);
  expect(response.headers.get("Location")).toBe("/checkout/dictia-8");
  expect(await flashOf(response)).toEqual({
    kind: "error",
    message: FORM_EXPIRED,
  });
  expect(stripeMock.requests).toHaveLength(0);
});

test("an anonymous visitor is sent to log in, then back to the confirmation page", async () => {
  const browser = await browserCookies();

  const response = await post("dictia-16", { period: "yearly" }, browser);

  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toBe(
    `/connexion?${new URLSearchParams({ redirectTo: "/checkout/dictia-16?period=yearly" })}`,
  );
  expect(stripeMock.requests).toHaveLength(0);
});

test("GET shows a confirmation page and never calls Stripe", async () => {
  const { browser } = await signedIn();

  const response = await get("/checkout/dictia-8?period=yearly", browser);

  expect(response.status).toBe(200);
  const data = await dataOf(response);
  expect(data).toEqual({
    plan: {
      slug: "dictia-8",
      name: "DictIA 8",
      features: expect.any(Array),
    },
    period: "yearly",
    attempt: expect.stringMatching(/^[\w-]{22}$/),
  });
  expect(stripeMock.requests).toHaveLength(0);

  const html = renderRoute({
    url: "/checkout/dictia-8?period=yearly",
    Component: CheckoutConfirmation,
    loaderData: data,
  });
  expect(html).toMatch(/<form method="post" action="\/checkout\/dictia-8"/);
  expect(hiddenValue(html, "period")).toBe("yearly");
  expect(hiddenValue(html, "csrf")).toBe(RENDER_CSRF_TOKEN);
  expect(hiddenValue(html, "attempt")).toBe(data.attempt);
  expect(html).toContain(
    "Formule <strong>DictIA 8</strong>, facturation annuelle.",
  );
  expect(html).toContain("Continuer vers le paiement");
});

test("GET without a period confirms the monthly one", async () => {
  const { browser } = await signedIn();

  const data = await dataOf(await get("/checkout/dictia-cloud", browser));

  expect(data.period).toBe("monthly");
});

test("GET by an anonymous visitor leads to log in and back", async () => {
  const response = await get("/checkout/dictia-8?period=yearly");

  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toBe(
    `/connexion?${new URLSearchParams({ redirectTo: "/checkout/dictia-8?period=yearly" })}`,
  );
  expect(stripeMock.requests).toHaveLength(0);
});

test.each(["dictia-99", "webhooks"])(
  "GET of the unknown plan %s is a 404",
  async (plan) => {
    const { browser } = await signedIn();

    const response = await get(`/checkout/${plan}`, browser);

    expect(response.status).toBe(404);
  },
);

test("GET with a bad period goes back to /tarifs with a French message", async () => {
  const { browser } = await signedIn();

  const response = await get("/checkout/dictia-8?period=hebdo", browser);

  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toBe("/tarifs");
  expect(await flashOf(response)).toEqual({
    kind: "error",
    message:
      "Cette période de facturation n’existe pas. Choisissez mensuel ou annuel.",
  });
});

test("GET by a subscriber goes to their account", async () => {
  const { user, browser } = await signedIn();
  await giveSubscription(user, "active");

  const response = await get("/checkout/dictia-8", browser);

  expect(response.headers.get("Location")).toBe("/compte");
  expect((await flashOf(response))?.kind).toBe("info");
});

test("GET of a period without a configured Price goes back to /tarifs", async () => {
  vi.stubEnv("STRIPE_DICTIA_CLOUD_YEARLY", "");
  const { browser } = await signedIn();

  const response = await get("/checkout/dictia-cloud?period=yearly", browser);

  expect(response.headers.get("Location")).toBe("/tarifs");
  expect(await flashOf(response)).toEqual({
    kind: "error",
    message:
      "Cette formule n’est pas offerte pour cette période. Choisissez-en une autre ci-dessous.",
  });
});

type Browser = { cookie: string; csrfToken?: string };

async function signedIn() {
  const user = await createTestUser();
  return { user, browser: await browserCookies(user.id) };
}

function post(plan: string, fields: Record<string, string>, browser: Browser) {
  return responseOf(() =>
    action({
      request: formRequest(`/checkout/${plan}`, fields, browser),
      params: { plan },
      context: {},
    }),
  );
}

function get(url: string, browser?: Browser) {
  const plan = new URL(url, "https://dictia.test").pathname.split("/")[2];
  return responseOf(() =>
    loader({
      request: pageRequest(url, { cookie: browser?.cookie }),
      params: { plan },
      context: {},
    }),
  );
}

/** The value of the hidden input named `name` (the first one). */
function hiddenValue(html: string, name: string): string | undefined {
  const input = html.match(new RegExp(`<input [^>]*name="${name}"[^>]*>`));
  return input?.[0].match(/value="([^"]*)"/)?.[1];
}

async function dataOf(response: Response) {
  return (await response.json()) as SerializeFrom<typeof loader>;
}

async function expectBackToPricing(response: Response, message: string) {
  expect(response.status).toBe(303);
  expect(response.headers.get("Location")).toBe("/tarifs");
  expect(await flashOf(response)).toEqual({ kind: "error", message });
  expect(message).toMatch(/aucun montant|choisissez/i);
}

async function giveSubscription(user: UserRow, status: string) {
  const created = Math.floor(Date.now() / 1000);
  await applySubscriptionState(
    await getDb(),
    {
      stripeSubscriptionId: `sub_${user.id}_${status}`,
      stripeCustomerId: `cus_${user.id}`,
      status,
      plan: "dictia-8",
      period: "monthly",
      currentPeriodEnd: created + 30 * 86_400,
      cancelAtPeriodEnd: false,
      stripeCreated: created,
    },
    created,
    user.id,
  );
}
