import type { SerializeFrom } from "@remix-run/node";
import { http, HttpResponse } from "msw";
import { afterEach, beforeEach, expect, test, vi } from "vitest";

import { startCheckout } from "~/billing/checkout.server";
import { getDb } from "~/db.server";
import type { UserRow } from "~/db/schema";
import { applySubscriptionState } from "~/models/subscription.server";
import { getUserById } from "~/models/user.server";

import { server } from "../../tests/mocks";
import { STRIPE_API, stripeMock } from "../../tests/mocks/stripe";
import { renderRoute } from "../../tests/support/render";
import {
  browserCookies,
  createTestUser,
  pageRequest,
  responseOf,
} from "../../tests/support/requests";

import CheckoutSuccess, { loader, meta } from "./checkout.success";

const REFRESH = { httpEquiv: "refresh", content: "5" };

beforeEach(() => {
  vi.spyOn(console, "info").mockImplementation(() => {});
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

test("an anonymous visitor is asked to log in and comes back to the same page", async () => {
  const response = await visit("/checkout/success?session_id=cs_test_abc");

  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toBe(
    `/connexion?${new URLSearchParams({ redirectTo: "/checkout/success?session_id=cs_test_abc" })}`,
  );
  expect(stripeMock.requests).toHaveLength(0);
});

test("a paid session whose webhook has not landed says « activation en cours » and refreshes itself", async () => {
  const { user, cookie } = await signedIn();
  const sessionId = await paidSession(user);

  const data = await load(`/checkout/success?session_id=${sessionId}`, cookie);

  expect(data).toEqual({ state: "pending", planName: "DictIA 8" });
  expect(metaOf(data)).toContainEqual(REFRESH);
  const html = render(data);
  expect(html).toContain("Activation en cours");
  expect(html).toContain("Cette page se met à jour d’elle-même.");
  const subscriptions = await (
    await getDb()
  )
    .selectFrom("subscriptions")
    .selectAll()
    .where("user_id", "=", user.id)
    .execute();
  expect(subscriptions).toHaveLength(0);
});

test("once the webhook has written a subscription that grants access, the page says it is active", async () => {
  const { user, cookie } = await signedIn();
  const sessionId = await paidSession(user);
  await webhookWrote(user, "active");

  const data = await load(`/checkout/success?session_id=${sessionId}`, cookie);

  expect(data).toEqual({ state: "active", planName: "DictIA 8" });
  expect(metaOf(data)).not.toContainEqual(REFRESH);
  const html = render(data);
  expect(html).toContain("Votre abonnement est actif");
  expect(html).toContain('href="/compte"');
});

test("a subscription that does not grant access yet keeps the page waiting", async () => {
  const { user, cookie } = await signedIn();
  const sessionId = await paidSession(user);
  await webhookWrote(user, "incomplete");

  const data = await load(`/checkout/success?session_id=${sessionId}`, cookie);

  expect(data.state).toBe("pending");
});

test("someone else's session tells nothing about it", async () => {
  const owner = await createTestUser();
  const sessionId = await paidSession(owner);
  const { cookie } = await signedIn();
  vi.spyOn(console, "warn").mockImplementation(() => {});

  const data = await load(`/checkout/success?session_id=${sessionId}`, cookie);

  expect(data).toEqual({ state: "missing", planName: null });
  const html = render(data);
  expect(html).toContain("Nous ne trouvons pas ce paiement");
  expect(html).not.toContain("DictIA 8");
});

test("a session that names no user but bills the user's customer is theirs", async () => {
  const { user, cookie } = await signedIn();
  await paidSession(user);
  const customerId = (await getUserById(await getDb(), user.id))
    ?.stripe_customer_id;
  const bare = stripeMock.createCheckoutSession({
    mode: "subscription",
    customer: customerId,
  });
  bare.status = "complete";
  bare.payment_status = "paid";

  const data = await load(`/checkout/success?session_id=${bare.id}`, cookie);

  expect(data).toEqual({ state: "pending", planName: null });
});

test.each([
  ["without a session id", "/checkout/success"],
  [
    "with a malformed session id",
    "/checkout/success?session_id=../v1/customers",
  ],
])(
  "a visit %s gets the same kind message, and Stripe is not asked",
  async (_name, url) => {
    const { cookie } = await signedIn();

    const data = await load(url, cookie);

    expect(data).toEqual({ state: "missing", planName: null });
    expect(stripeMock.requests).toHaveLength(0);
  },
);

test("a session id that Stripe does not know gets the same kind message", async () => {
  const { cookie } = await signedIn();

  const data = await load(
    "/checkout/success?session_id=cs_test_inconnu",
    cookie,
  );

  expect(data).toEqual({ state: "missing", planName: null });
  expect(
    stripeMock.requestsTo("GET", "/v1/checkout/sessions/cs_test_inconnu"),
  ).toHaveLength(1);
});

test("a session that was not paid says that nothing was charged", async () => {
  const { user, cookie } = await signedIn();
  const result = await startCheckout({
    user,
    plan: "dictia-16",
    period: "monthly",
  });
  if (!result.ok) throw new Error(result.message);

  const data = await load(
    `/checkout/success?session_id=${result.sessionId}`,
    cookie,
  );

  expect(data).toEqual({ state: "incomplete", planName: "DictIA 16" });
  expect(metaOf(data)).not.toContainEqual(REFRESH);
  expect(render(data)).toContain("aucun montant n’a été prélevé");
});

test("a delayed payment says it is being processed, without refreshing", async () => {
  const { user, cookie } = await signedIn();
  const sessionId = await paidSession(user, "unpaid");

  const data = await load(`/checkout/success?session_id=${sessionId}`, cookie);

  expect(data.state).toBe("processing");
  expect(metaOf(data)).not.toContainEqual(REFRESH);
  expect(render(data)).toContain("Votre paiement est en cours de traitement.");
});

test("when Stripe cannot be reached the page is still a kind French page", async () => {
  const { user, cookie } = await signedIn();
  const sessionId = await paidSession(user);
  const consoleError = vi.spyOn(console, "error").mockImplementation(() => {});
  server.use(
    http.get(`${STRIPE_API}/v1/checkout/sessions/:id`, () =>
      HttpResponse.error(),
    ),
  );

  const data = await load(`/checkout/success?session_id=${sessionId}`, cookie);

  expect(data).toEqual({ state: "unavailable", planName: null });
  expect(render(data)).toContain(
    "Nous ne pouvons pas vérifier votre paiement pour le moment.",
  );
  expect(consoleError).toHaveBeenCalledWith(
    expect.stringMatching(
      `^\\[checkout\\] success page cannot read session=${sessionId} user=${user.id}: StripeConnectionError `,
    ),
  );
});

test("without STRIPE_SECRET_KEY the page is still a kind French page", async () => {
  const { cookie } = await signedIn();
  vi.stubEnv("STRIPE_SECRET_KEY", undefined);

  const data = await load("/checkout/success?session_id=cs_test_abc", cookie);

  expect(data.state).toBe("unavailable");
  expect(stripeMock.requests).toHaveLength(0);
});

async function signedIn() {
  const user = await createTestUser();
  const { cookie } = await browserCookies(user.id);
  return { user, cookie };
}

/** A Checkout Session made by the app for `user`, then paid on Stripe. */
async function paidSession(
  user: UserRow,
  paymentStatus: "paid" | "unpaid" = "paid",
): Promise<string> {
  const result = await startCheckout({
    user,
    plan: "dictia-8",
    period: "monthly",
  });
  if (!result.ok) throw new Error(result.message);
  stripeMock.completeCheckout(result.sessionId, { paymentStatus });
  return result.sessionId;
}

/** What the webhook would have stored for the user's new subscription. */
async function webhookWrote(user: UserRow, status: string) {
  const [subscription] = [...stripeMock.subscriptions.values()];
  const created = Math.floor(Date.now() / 1000);
  await applySubscriptionState(
    await getDb(),
    {
      stripeSubscriptionId: String(subscription?.id),
      stripeCustomerId: String(subscription?.customer),
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

function visit(url: string, cookie?: string) {
  return responseOf(() =>
    loader({ request: pageRequest(url, { cookie }), params: {}, context: {} }),
  );
}

async function load(url: string, cookie: string) {
  const response = await visit(url, cookie);
  expect(response.status).toBe(200);
  return (await response.json()) as SerializeFrom<typeof loader>;
}

function render(data: SerializeFrom<typeof loader>) {
  return renderRoute({
    url: "/checkout/success",
    Component: CheckoutSuccess,
    loaderData: data,
  });
}

function metaOf(data: SerializeFrom<typeof loader>) {
  return (
    meta({
      data,
      params: {},
      location: {
        pathname: "/checkout/success",
        search: "",
        hash: "",
        state: null,
        key: "default",
      },
      matches: [],
    }) ?? []
  );
}
