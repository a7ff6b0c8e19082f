import { http, HttpResponse } from "msw";
import { afterEach, beforeEach, expect, test, vi } from "vitest";

import {
  customerIdempotencyKey,
  newCheckoutAttempt,
  startCheckout,
} from "~/billing/checkout.server";
import { getDb } from "~/db.server";
import {
  applySubscriptionState,
  getSubscriptionByStripeId,
} from "~/models/subscription.server";
import { getUserById } from "~/models/user.server";

import { server } from "../../tests/mocks";
import { STRIPE_API, stripeMock } from "../../tests/mocks/stripe";
import { createTestUser } from "../../tests/support/requests";

beforeEach(() => {
  vi.spyOn(console, "info").mockImplementation(() => {});
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date("2026-12-04T12:01:00Z"));
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

test("two requests that both saw a user without a customer make one customer", async () => {
  // Both requests read the user before either stored a customer id.
  const staleUser = await createTestUser();
  const offer = {
    user: staleUser,
    plan: "dictia-8",
    period: "monthly",
    attempt: newCheckoutAttempt(),
  } as const;

  const [first, second] = await Promise.all([
    startCheckout(offer),
    startCheckout(offer),
  ]);

  const creations = stripeMock.requestsTo("POST", "/v1/customers");
  expect(creations).toHaveLength(2);
  expect(creations[0]?.idempotencyKey).toBe(customerIdempotencyKey(staleUser));
  expect(creations[1]?.idempotencyKey).toBe(creations[0]?.idempotencyKey);
  expect(stripeMock.customers.size).toBe(1);
  const [customerId] = [...stripeMock.customers.keys()];
  const stored = await getUserById(await getDb(), staleUser.id);
  expect(stored?.stripe_customer_id).toBe(customerId);
  expect(stripeMock.checkoutSessions.size).toBe(1);
  expect(first).toEqual(second);
});

test("the customer's idempotency key names the user and the email, not the address itself", async () => {
  const user = await createTestUser({ email: "lea@exemple.test" });
  const sameUserOtherEmail = { ...user, email: "lea.b@exemple.test" };

  const key = customerIdempotencyKey(user);

  expect(key).toContain(`user=${user.id}`);
  expect(key).not.toContain("lea");
  expect(key).not.toBe(customerIdempotencyKey(sameUserOtherEmail));
  expect(key).not.toBe(customerIdempotencyKey({ ...user, id: user.id + 1 }));
});

test("one form submitted twice is one Session; the same offer from a page shown again is a new one", async () => {
  const user = await createTestUser();
  const offer = { user, plan: "dictia-16", period: "yearly" } as const;
  const pageAttempt = newCheckoutAttempt();

  const first = await startCheckout({ ...offer, attempt: pageAttempt });
  const doubleSubmit = await startCheckout({ ...offer, attempt: pageAttempt });
  const fromNewPage = await startCheckout({
    ...offer,
    attempt: newCheckoutAttempt(),
  });

  expect(first.ok && doubleSubmit.ok && fromNewPage.ok).toBe(true);
  expect(doubleSubmit).toEqual(first);
  expect(fromNewPage).not.toEqual(first);
  expect(stripeMock.checkoutSessions.size).toBe(2);
  const [firstKey, doubleKey, newPageKey] = sessionKeys();
  expect(firstKey).toContain(`attempt=${pageAttempt}`);
  expect(doubleKey).toBe(firstKey);
  expect(newPageKey).not.toBe(firstKey);
});

test("without an attempt nonce, a double submit within ten minutes is one Session and a later try a new one", async () => {
  const user = await createTestUser();
  const offer = { user, plan: "dictia-16", period: "yearly" } as const;

  const first = await startCheckout(offer);
  vi.setSystemTime(new Date("2026-12-04T12:04:00Z"));
  const doubleSubmit = await startCheckout(offer);
  vi.setSystemTime(new Date("2026-12-04T12:12:00Z"));
  const later = await startCheckout(offer);

  expect(doubleSubmit).toEqual(first);
  expect(later).not.toEqual(first);
  expect(stripeMock.checkoutSessions.size).toBe(2);
  const [firstKey, doubleKey, laterKey] = sessionKeys();
  expect(doubleKey).toBe(firstKey);
  expect(laterKey).not.toBe(firstKey);
});

test("a malformed attempt nonce is not put in the key", async () => {
  const user = await createTestUser();

  await startCheckout({
    user,
    plan: "dictia-8",
    period: "monthly",
    attempt: "x:period=yearly",
  });

  const [key] = sessionKeys();
  expect(key).not.toContain("attempt=");
  expect(key).toMatch(/:window=\d+$/);
});

test("the Session's idempotency key names the user, customer, plan, period and prices", async () => {
  const user = await createTestUser();

  const attempt = newCheckoutAttempt();
  await startCheckout({ user, plan: "dictia-8", period: "yearly", attempt });
  await startCheckout({ user, plan: "dictia-8", period: "monthly", attempt });

  const [yearly, monthly] = stripeMock.requestsTo(
    "POST",
    "/v1/checkout/sessions",
  );
  const customerId = String(yearly?.params.customer);
  for (const part of [
    `user=${user.id}`,
    `customer=${customerId}`,
    "plan=dictia-8",
    "period=yearly",
    "prices=price_dictia8_yearly+price_dictia8_setup",
    `attempt=${attempt}`,
  ]) {
    expect(yearly?.idempotencyKey).toContain(part);
  }
  expect(monthly?.idempotencyKey).toContain("period=monthly");
  expect(stripeMock.checkoutSessions.size).toBe(2);
});

test("subscriptions that arrived before the user had a customer are linked to them", async () => {
  const user = await createTestUser();
  const db = await getDb();
  await applySubscriptionState(
    db,
    {
      stripeSubscriptionId: "sub_arrived_first",
      stripeCustomerId: "cus_arrived_first",
      status: "incomplete_expired",
      plan: "dictia-8",
      period: "monthly",
      currentPeriodEnd: null,
      cancelAtPeriodEnd: false,
      stripeCreated: 1_790_000_000,
    },
    1_790_000_000,
    null,
  );
  server.use(
    http.post(`${STRIPE_API}/v1/customers`, () =>
      HttpResponse.json({ id: "cus_arrived_first", object: "customer" }),
    ),
  );

  const result = await startCheckout({
    user,
    plan: "dictia-8",
    period: "monthly",
  });

  expect(result.ok).toBe(true);
  const row = await getSubscriptionByStripeId(db, "sub_arrived_first");
  expect(row?.user_id).toBe(user.id);
  const stored = await getUserById(db, user.id);
  expect(stored?.stripe_customer_id).toBe("cus_arrived_first");
  expect(stored?.subscription_status).toBe("incomplete_expired");
});

test("a user who already has a customer is not given another", async () => {
  const user = await createTestUser();
  await startCheckout({ user, plan: "dictia-8", period: "monthly" });
  const withCustomer = await getUserById(await getDb(), user.id);
  if (!withCustomer) throw new Error("The user disappeared");

  await startCheckout({
    user: withCustomer,
    plan: "dictia-cloud",
    period: "yearly",
  });

  expect(stripeMock.requestsTo("POST", "/v1/customers")).toHaveLength(1);
  const sessions = stripeMock.requestsTo("POST", "/v1/checkout/sessions");
  expect(sessions[1]?.params.customer).toBe(withCustomer.stripe_customer_id);
});

function sessionKeys() {
  return stripeMock
    .requestsTo("POST", "/v1/checkout/sessions")
    .map((request) => request.idempotencyKey);
}
