import { expect, test } from "vitest";

import { catchUpEvents } from "~/billing/catch-up.server";
import { requireStripe } from "~/billing/stripe.server";
import { processStripeEvent } from "~/billing/webhook-handlers.server";
import { toStripeEvent } from "~/billing/webhook.server";
import { getDb } from "~/db.server";
import { getSubscriptionByStripeId } from "~/models/subscription.server";
import { setUserStripeCustomerId } from "~/models/user.server";

import { stripeMock } from "../../tests/mocks/stripe";
import { TEST_ENV } from "../../tests/support/env";
import { createTestUser } from "../../tests/support/requests";

const quiet = () => {};

async function customerWithHistory() {
  const user = await createTestUser();
  const customer = stripeMock.createCustomer({ email: user.email });
  const customerId = String(customer.id);
  await setUserStripeCustomerId(await getDb(), user.id, customerId);
  const subscription = stripeMock.createSubscription({
    customer: customerId,
    price: stripeMock.prices.get(TEST_ENV.STRIPE_DICTIA_8_MONTHLY) ?? null,
    status: "active",
  });
  const created = stripeMock.recordEvent(
    "customer.subscription.created",
    subscription,
  );
  subscription.status = "past_due";
  const failed = stripeMock.recordEvent(
    "customer.subscription.updated",
    subscription,
  );
  // A type the webhook does not handle is not listed for catch-up.
  stripeMock.recordEvent("customer.updated", customer);
  return { user, subscriptionId: String(subscription.id), created, failed };
}

test("events missing from the ledger are replayed through the webhook's path", async () => {
  const db = await getDb();
  const { user, subscriptionId, created } = await customerWithHistory();
  // The first event was delivered; the second was lost in an outage.
  const delivered = toStripeEvent(created);
  if (!delivered) throw new Error("fixture is not an event");
  await processStripeEvent(db, delivered);

  const since = new Date(Date.now() - 3_600_000);
  const report = await catchUpEvents(db, requireStripe(), since, quiet);

  expect(report).toEqual({
    listed: 2,
    processed: 1,
    alreadyInLedger: 1,
    unreadable: 0,
  });
  const row = await getSubscriptionByStripeId(db, subscriptionId);
  expect(row?.status).toBe("past_due");
  expect(row?.user_id).toBe(user.id);
  const listRequest = stripeMock.requestsTo("GET", "/v1/events")[0];
  expect(listRequest?.params.created).toEqual({
    gte: String(Math.floor(since.getTime() / 1000)),
  });
  expect(listRequest?.params.types).toContain("invoice.payment_failed");
});

test("running the catch-up twice changes nothing the second time", async () => {
  const db = await getDb();
  await customerWithHistory();
  const since = new Date(Date.now() - 3_600_000);
  await catchUpEvents(db, requireStripe(), since, quiet);
  const rowsBefore = await db.selectFrom("subscriptions").selectAll().execute();
  const ledgerBefore = await db
    .selectFrom("webhook_events")
    .selectAll()
    .execute();

  const second = await catchUpEvents(db, requireStripe(), since, quiet);

  expect(second.processed).toBe(0);
  expect(second.alreadyInLedger).toBe(second.listed);
  expect(await db.selectFrom("subscriptions").selectAll().execute()).toEqual(
    rowsBefore,
  );
  expect(await db.selectFrom("webhook_events").selectAll().execute()).toEqual(
    ledgerBefore,
  );
});
