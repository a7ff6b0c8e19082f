import { http } from "msw";
import { expect, test, vi } from "vitest";

import {
  ACCOUNT_DELETION_ERROR_MESSAGES,
  deleteAccount,
} from "~/billing/account-deletion.server";
import { readSubscriptionState } from "~/billing/stripe-objects.server";
import { getDb } from "~/db.server";
import type { UserRow } from "~/db/schema";
import {
  applySubscriptionState,
  getSubscriptionByStripeId,
} from "~/models/subscription.server";
import { getUserById, setUserStripeCustomerId } from "~/models/user.server";

import { server } from "../../tests/mocks";
import { STRIPE_API, stripeError, stripeMock } from "../../tests/mocks/stripe";
import { createTestUser } from "../../tests/support/requests";
import { captureLogs } from "../../tests/support/logs";

const logs = captureLogs();

test("a subscription Stripe has but whose events have not arrived yet is canceled too", async () => {
  const { user, customerId } = await withCustomer();
  const subscription = stripeSubscription(customerId, "active");

  const result = await deleteAccount(user);

  expect(result).toEqual({ ok: true, canceled: 1 });
  expect(subscription.status).toBe("canceled");
  expect(await getUserById(await getDb(), user.id)).toBeUndefined();
});

test("ended subscriptions are not canceled again", async () => {
  const { user, customerId } = await withCustomer();
  const subscription = stripeSubscription(customerId, "canceled");
  await store(subscription, user.id);

  const result = await deleteAccount(user);

  expect(result).toEqual({ ok: true, canceled: 0 });
  expect(stripeMock.requests.map((request) => request.method)).toEqual(["GET"]);
  expect(
    await getSubscriptionByStripeId(await getDb(), String(subscription.id)),
  ).toMatchObject({ user_id: null, status: "canceled" });
});

test("one already canceled at Stripe while our row still says active counts as ended, and the account goes", async () => {
  const { user, customerId } = await withCustomer();
  const subscription = stripeSubscription(customerId, "active");
  await store(subscription, user.id);
  // Canceled at Stripe; its event has not reached us.
  subscription.status = "canceled";

  const result = await deleteAccount(user);

  expect(result).toEqual({ ok: true, canceled: 0 });
  expect(
    stripeMock.requestsTo("DELETE", `/v1/subscriptions/${subscription.id}`),
  ).toHaveLength(1);
  expect(await getUserById(await getDb(), user.id)).toBeUndefined();
  expect(logs).toContain(
    `[account] subscription=${subscription.id} of user=${user.id} already ended at Stripe`,
  );
});

test("a subscription linked to the user under another customer is canceled as well", async () => {
  const user = await createTestUser();
  const otherCustomer = `cus_autre_${user.id}`;
  stripeMock.createCustomer({}, otherCustomer);
  const subscription = stripeSubscription(otherCustomer, "past_due");
  await store(subscription, user.id);

  const result = await deleteAccount(user);

  expect(result).toEqual({ ok: true, canceled: 1 });
  expect(subscription.status).toBe("canceled");
});

test("when Stripe cannot list the customer's subscriptions, nothing is deleted", async () => {
  server.use(
    http.get(`${STRIPE_API}/v1/subscriptions`, () =>
      stripeError(500, { type: "api_error", message: "Server error." }),
    ),
  );
  const { user } = await withCustomer();

  const result = await deleteAccount(user);

  expect(result).toEqual({
    ok: false,
    code: "stripe_failed",
    message: ACCOUNT_DELETION_ERROR_MESSAGES.stripe_failed,
  });
  expect(await getUserById(await getDb(), user.id)).toBeDefined();
});

test("when one of two cancellations fails, the account stays", async () => {
  const { user, customerId } = await withCustomer();
  const failing = stripeSubscription(customerId, "active");
  const other = stripeSubscription(customerId, "active");
  server.use(
    http.delete(`${STRIPE_API}/v1/subscriptions/${String(failing.id)}`, () =>
      stripeError(500, { type: "api_error", message: "Server error." }),
    ),
  );

  const result = await deleteAccount(user);

  expect(result).toMatchObject({ ok: false, code: "stripe_failed" });
  expect(failing.status).toBe("active");
  // Stripe lists the newest first: that one was canceled before the
  // failure, and stays canceled; the account is still there to retry.
  expect(other.status).toBe("canceled");
  expect(await getUserById(await getDb(), user.id)).toBeDefined();
});

test("without a Stripe key, a running subscription blocks the deletion", async () => {
  vi.stubEnv("STRIPE_SECRET_KEY", "");
  const user = await createTestUser();
  await store(stripeSubscription("cus_sans_cle", "active"), user.id);

  const result = await deleteAccount(user);

  expect(result).toEqual({
    ok: false,
    code: "not_configured",
    message: ACCOUNT_DELETION_ERROR_MESSAGES.not_configured,
  });
  expect(await getUserById(await getDb(), user.id)).toBeDefined();
});

test("a user who never subscribed is deleted without a call to Stripe", async () => {
  const user = await createTestUser();

  const result = await deleteAccount(user);

  expect(result).toEqual({ ok: true, canceled: 0 });
  expect(stripeMock.requests).toEqual([]);
  expect(await getUserById(await getDb(), user.id)).toBeUndefined();
});

async function withCustomer(): Promise<{
  user: UserRow;
  customerId: string;
}> {
  const created = await createTestUser();
  const customerId = `cus_suppression_${created.id}`;
  stripeMock.createCustomer({}, customerId);
  await setUserStripeCustomerId(await getDb(), created.id, customerId);
  const user = await getUserById(await getDb(), created.id);
  if (!user) throw new Error("The user vanished");
  return { user, customerId };
}

function stripeSubscription(customer: string, status: string) {
  return stripeMock.createSubscription({
    customer,
    price: stripeMock.prices.get("price_dictia8_monthly") ?? null,
    status,
  });
}

async function store(subscription: Record<string, unknown>, userId: number) {
  const state = readSubscriptionState(subscription);
  await applySubscriptionState(
    await getDb(),
    state,
    state.stripeCreated,
    userId,
  );
}
