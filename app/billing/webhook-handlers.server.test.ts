import { beforeEach, expect, test } from "vitest";

import {
  grantsAccess,
  statusLabel,
  SUBSCRIPTION_STATUSES,
} from "~/billing/access";
import { getDb } from "~/db.server";
import { deleteUser, setUserStripeCustomerId } from "~/models/user.server";

import { stripeMock } from "../../tests/mocks/stripe";
import { TEST_ENV } from "../../tests/support/env";
import {
  addUser,
  checkoutMetadata,
  deliver,
  deliverOk,
  eventFixture,
  ledgerRows,
  objectAt,
  resetDatabase,
  seedCustomer,
  seedSubscription,
  stateOf,
  subscriptionObject,
  subscriptionReads,
  subscriptionRow,
  subscriptionRows,
  userById,
  watchConsole,
  withCheckoutSession,
  withInvoice,
  withSubscription,
  type JsonObject,
  type SessionSpec,
  type SubscriptionSpec,
} from "../../tests/support/stripe-webhooks";

watchConsole();

const T = 1_780_000_000;
const DAY = 86_400;
const YEARLY_16 = TEST_ENV.STRIPE_DICTIA_16_YEARLY;
const MONTHLY_8 = TEST_ENV.STRIPE_DICTIA_8_MONTHLY;

const COMPLETED_2026 =
  "openapi__checkout.session.completed__2026__wrapped.json";
const COMPLETED_2020 =
  "stripe-ruby-mock__checkout.session.completed__2020-08-27.json";

beforeEach(resetDatabase);

// checkout.session.completed

test("a completed session (current shape) stores the subscription read from Stripe, complete at once", async () => {
  const user = await addUser("nouvelle@exemple.test");
  seedSubscription(
    subscriptionObject("current", {
      ...spec("sub_current", "cus_current"),
      metadata: checkoutMetadata(user.id),
    }),
  );

  await deliverOk(
    completed(COMPLETED_2026, "evt_current", T, {
      customer: "cus_current",
      subscription: "sub_current",
      clientReferenceId: String(user.id),
      metadata: checkoutMetadata(user.id),
      email: user.email,
    }),
  );

  expect(subscriptionReads("sub_current")).toBe(1);
  const row = await subscriptionRow("sub_current");
  expect(row).toMatchObject({
    user_id: user.id,
    stripe_customer_id: "cus_current",
    status: "active",
    plan: "dictia-16",
    period: "yearly",
    current_period_end: T + 365 * DAY,
    cancel_at_period_end: 0,
    last_event_created: T,
  });
  expect(await userById(user.id)).toMatchObject({
    stripe_customer_id: "cus_current",
    subscription_status: "active",
  });
});

test("a completed session (2020-08-27 shape) with an acacia subscription reads the period end at the top level", async () => {
  const user = await addUser("ancienne@exemple.test");
  const subscription = subscriptionObject("acacia", {
    ...spec("sub_acacia", "cus_acacia", MONTHLY_8),
    currentPeriodEnd: T + 31 * DAY,
    cancelAtPeriodEnd: true,
  });
  // The old shape has no period on its items: only the top level says it.
  expect(subscription.current_period_end).toBe(T + 31 * DAY);
  expect(subscription).not.toHaveProperty([
    "items",
    "data",
    0,
    "current_period_end",
  ]);
  seedSubscription(subscription);

  await deliverOk(
    completed(COMPLETED_2020, "evt_acacia", T, {
      customer: "cus_acacia",
      subscription: "sub_acacia",
      metadata: { dictia_user_id: String(user.id) },
    }),
  );

  expect(subscriptionReads("sub_acacia")).toBe(1);
  expect(stateOf(await subscriptionRow("sub_acacia"))).toEqual({
    status: "active",
    plan: "dictia-8",
    period: "monthly",
    current_period_end: T + 31 * DAY,
    cancel_at_period_end: 1,
  });
  expect(await userById(user.id)).toMatchObject({
    stripe_customer_id: "cus_acacia",
    subscription_status: "active",
  });
});

test("plan and period come from the subscription's metadata when its price is not configured", async () => {
  const user = await addUser("ancien-prix@exemple.test");
  seedSubscription(
    subscriptionObject("current", {
      ...spec("sub_old_price", "cus_old_price", "price_retired_2024"),
      metadata: checkoutMetadata(user.id, "dictia-cloud", "monthly"),
    }),
  );

  await deliverOk(
    completed(COMPLETED_2026, "evt_old_price", T, {
      customer: "cus_old_price",
      subscription: "sub_old_price",
      metadata: checkoutMetadata(user.id, "dictia-cloud", "monthly"),
    }),
  );

  expect(await subscriptionRow("sub_old_price")).toMatchObject({
    plan: "dictia-cloud",
    period: "monthly",
    status: "active",
  });
});

test("a completed session in payment mode is recorded and creates no subscription", async () => {
  // The stripe-ruby-mock fixture as Stripe sent it: a one-time payment.
  const event = eventFixture(COMPLETED_2020, {
    id: "evt_payment_mode",
    created: T,
  });

  await deliverOk(event);

  expect(await subscriptionRows()).toEqual([]);
  expect(await ledgerRows()).toMatchObject([
    { id: "evt_payment_mode", outcome: "ignored" },
  ]);
});

// Delayed payment methods and trials

test("a session awaiting a delayed payment stores an incomplete subscription without access, and async_payment_succeeded activates it", async () => {
  const user = await addUser("virement@exemple.test");
  const session: SessionSpec = {
    customer: "cus_delayed",
    subscription: "sub_delayed",
    paymentStatus: "unpaid",
    metadata: checkoutMetadata(user.id),
  };
  seedSubscription(
    subscriptionObject("current", {
      ...spec("sub_delayed", "cus_delayed"),
      status: "incomplete",
    }),
  );

  await deliverOk(completed(COMPLETED_2026, "evt_delayed_1", T, session));

  expect((await subscriptionRow("sub_delayed")).status).toBe("incomplete");
  const waiting = await userById(user.id);
  expect(waiting.subscription_status).toBe("incomplete");
  expect(grantsAccess(waiting.subscription_status)).toBe(false);

  seedSubscription(
    subscriptionObject("current", spec("sub_delayed", "cus_delayed")),
  );
  await deliverOk(
    completed(
      "openapi__checkout.session.async_payment_succeeded__2026__wrapped.json",
      "evt_delayed_2",
      T + 2 * DAY,
      { ...session, paymentStatus: "paid" },
    ),
  );

  expect((await subscriptionRow("sub_delayed")).status).toBe("active");
  const paid = await userById(user.id);
  expect(paid.subscription_status).toBe("active");
  expect(grantsAccess(paid.subscription_status)).toBe(true);
});

test("async_payment_failed leaves the subscription without access", async () => {
  const user = await addUser("refuse@exemple.test");
  const session: SessionSpec = {
    customer: "cus_refused",
    subscription: "sub_refused",
    paymentStatus: "unpaid",
    metadata: checkoutMetadata(user.id),
  };
  seedSubscription(
    subscriptionObject("current", {
      ...spec("sub_refused", "cus_refused"),
      status: "incomplete",
    }),
  );
  await deliverOk(completed(COMPLETED_2026, "evt_refused_1", T, session));

  await deliverOk(
    completed(
      "openapi__checkout.session.async_payment_failed__2026__wrapped.json",
      "evt_refused_2",
      T + 2 * DAY,
      session,
    ),
  );

  expect((await subscriptionRow("sub_refused")).status).toBe("incomplete");
  const refused = await userById(user.id);
  expect(refused.subscription_status).toBe("incomplete");
  expect(grantsAccess(refused.subscription_status)).toBe(false);
  expect(await ledgerRows()).toHaveLength(2);
});

test("a trial checkout (no_payment_required) stores a trialing subscription, with access", async () => {
  const user = await addUser("essai@exemple.test");
  seedSubscription(
    subscriptionObject("current", {
      ...spec("sub_trial", "cus_trial"),
      status: "trialing",
      currentPeriodEnd: T + 14 * DAY,
    }),
  );

  await deliverOk(
    completed(COMPLETED_2026, "evt_trial", T, {
      customer: "cus_trial",
      subscription: "sub_trial",
      paymentStatus: "no_payment_required",
      metadata: checkoutMetadata(user.id),
    }),
  );

  expect(await subscriptionRow("sub_trial")).toMatchObject({
    status: "trialing",
    current_period_end: T + 14 * DAY,
  });
  const trialing = await userById(user.id);
  expect(trialing.subscription_status).toBe("trialing");
  expect(grantsAccess(trialing.subscription_status)).toBe(true);
});

// Every status Stripe has

// DESIGN.md's access rule, written out here rather than read from the code.
const ACCESS_BY_STATUS: Record<string, boolean> = {
  trialing: true,
  active: true,
  past_due: true,
  unpaid: false,
  paused: false,
  incomplete: false,
  incomplete_expired: false,
  canceled: false,
};

test("the app knows every subscription status Stripe has, each with a French label", () => {
  expect([...SUBSCRIPTION_STATUSES].sort()).toEqual(
    Object.keys(ACCESS_BY_STATUS).sort(),
  );
  for (const status of SUBSCRIPTION_STATUSES) {
    expect(statusLabel(status)).not.toBe(status);
  }
});

for (const [status, access] of Object.entries(ACCESS_BY_STATUS)) {
  test(`a subscription Stripe says is ${status} is stored as ${status} and ${access ? "grants" : "does not grant"} access`, async () => {
    const customer = `cus_status_${status}`;
    const user = await addUser(`statut-${status}@exemple.test`, customer);

    await deliverOk(
      subscriptionUpdated(`evt_status_${status}`, T, {
        ...spec(`sub_status_${status}`, customer),
        status,
      }),
    );

    expect((await subscriptionRow(`sub_status_${status}`)).status).toBe(status);
    const mirrored = (await userById(user.id)).subscription_status;
    expect(mirrored).toBe(status);
    expect(grantsAccess(mirrored)).toBe(access);
  });
}

test("an active subscription whose collection is paused stays active, with access, as Stripe says", async () => {
  const user = await addUser("pause-facturation@exemple.test", "cus_paused");
  const sub = spec("sub_paused_collection", "cus_paused");
  await deliverOk(subscriptionUpdated("evt_paused_1", T, sub));

  const paused = subscriptionUpdated("evt_paused_2", T + 100, sub);
  // Stripe keeps the status and stops collecting: invoices are left as
  // drafts until resumes_at.
  objectOf(paused).pause_collection = {
    behavior: "keep_as_draft",
    resumes_at: T + 30 * DAY,
  };
  await deliverOk(paused);

  expect(await subscriptionRow(sub.id)).toMatchObject({
    status: "active",
    last_event_created: T + 100,
  });
  const mirrored = (await userById(user.id)).subscription_status;
  expect(mirrored).toBe("active");
  expect(grantsAccess(mirrored)).toBe(true);
});

test("a completed session that says paid does not activate a subscription Stripe reports incomplete", async () => {
  const user = await addUser("dit-paye@exemple.test");
  seedSubscription(
    subscriptionObject("current", {
      ...spec("sub_says_paid", "cus_says_paid"),
      status: "incomplete",
    }),
  );

  await deliverOk(
    completed(COMPLETED_2026, "evt_says_paid", T, {
      customer: "cus_says_paid",
      subscription: "sub_says_paid",
      paymentStatus: "paid",
      metadata: checkoutMetadata(user.id),
    }),
  );

  expect((await subscriptionRow("sub_says_paid")).status).toBe("incomplete");
  expect(grantsAccess((await userById(user.id)).subscription_status)).toBe(
    false,
  );
});

// User resolution

test("the owner of the customer wins over the metadata and the email", async () => {
  const owner = await addUser("titulaire@exemple.test", "cus_owned");
  const named = await addUser("nommee@exemple.test");
  const byEmail = await addUser("courriel@exemple.test");
  seedSubscription(
    subscriptionObject("current", spec("sub_owned", "cus_owned")),
  );

  await deliverOk(
    completed(COMPLETED_2026, "evt_owned", T, {
      customer: "cus_owned",
      subscription: "sub_owned",
      metadata: checkoutMetadata(named.id),
      email: byEmail.email,
    }),
  );

  expect((await subscriptionRow("sub_owned")).user_id).toBe(owner.id);
  expect((await userById(owner.id)).subscription_status).toBe("active");
  for (const other of [named, byEmail]) {
    expect(await userById(other.id)).toMatchObject({
      stripe_customer_id: null,
      subscription_status: null,
    });
  }
});

test("without an owner, metadata.dictia_user_id names the user, who gets the customer", async () => {
  const named = await addUser("nommee@exemple.test");
  const byEmail = await addUser("courriel@exemple.test");
  seedSubscription(
    subscriptionObject("current", spec("sub_named", "cus_named")),
  );

  await deliverOk(
    completed(COMPLETED_2026, "evt_named", T, {
      customer: "cus_named",
      subscription: "sub_named",
      metadata: checkoutMetadata(named.id),
      email: byEmail.email,
    }),
  );

  expect((await subscriptionRow("sub_named")).user_id).toBe(named.id);
  expect(await userById(named.id)).toMatchObject({
    stripe_customer_id: "cus_named",
    subscription_status: "active",
  });
  expect((await userById(byEmail.id)).subscription_status).toBeNull();
});

test("without owner or metadata, the email finds the user whatever its case and surrounding spaces", async () => {
  const user = await addUser("client@exemple.test");
  seedSubscription(
    subscriptionObject("current", spec("sub_email", "cus_email")),
  );

  await deliverOk(
    completed(COMPLETED_2026, "evt_email", T, {
      customer: "cus_email",
      subscription: "sub_email",
      email: "  Client@Exemple.TEST ",
    }),
  );

  expect((await subscriptionRow("sub_email")).user_id).toBe(user.id);
  expect(await userById(user.id)).toMatchObject({
    subscription_status: "active",
    // An email links the subscription, but the customer (and its billing
    // portal) is only handed over on our own metadata's word.
    stripe_customer_id: null,
  });
});

test("metadata naming a user who does not exist links nothing and creates no user", async () => {
  const bystander = await addUser("temoin@exemple.test");
  seedSubscription(
    subscriptionObject("current", spec("sub_ghost", "cus_ghost")),
  );

  await deliverOk(
    completed(COMPLETED_2026, "evt_ghost", T, {
      customer: "cus_ghost",
      subscription: "sub_ghost",
      clientReferenceId: String(bystander.id + 1000),
      metadata: checkoutMetadata(bystander.id + 1000),
      email: "inconnu@exemple.test",
    }),
  );

  expect(await subscriptionRow("sub_ghost")).toMatchObject({
    user_id: null,
    status: "active",
  });
  const db = await getDb();
  expect(await db.selectFrom("users").selectAll().execute()).toEqual([
    bystander,
  ]);
});

test("metadata naming a user who already has another customer does not link to that user", async () => {
  const user = await addUser("deja-client@exemple.test", "cus_theirs");

  seedSubscription(
    subscriptionObject("current", spec("sub_foreign", "cus_foreign")),
  );
  await deliverOk(
    completed(COMPLETED_2026, "evt_foreign", T, {
      customer: "cus_foreign",
      subscription: "sub_foreign",
      metadata: checkoutMetadata(user.id),
      email: user.email,
    }),
  );

  expect((await subscriptionRow("sub_foreign")).user_id).toBeNull();
  expect(await userById(user.id)).toMatchObject({
    stripe_customer_id: "cus_theirs",
    subscription_status: null,
  });
});

test("a subscription nobody claims is kept without a user, then linked when a completed session names the user", async () => {
  const user = await addUser("plus-tard@exemple.test");
  seedCustomer("cus_orphan", "quelqu-un-d-autre@exemple.test");
  await deliverOk(
    eventFixture(
      "openapi__customer.subscription.created__2026__wrapped.json",
      { id: "evt_orphan_1", created: T },
      (object) => withSubscription(object, spec("sub_orphan", "cus_orphan")),
    ),
  );
  expect((await subscriptionRow("sub_orphan")).user_id).toBeNull();
  expect((await userById(user.id)).subscription_status).toBeNull();

  seedSubscription(
    subscriptionObject("current", spec("sub_orphan", "cus_orphan")),
  );
  await deliverOk(
    completed(COMPLETED_2026, "evt_orphan_2", T + 60, {
      customer: "cus_orphan",
      subscription: "sub_orphan",
      metadata: checkoutMetadata(user.id),
    }),
  );

  const rows = await subscriptionRows();
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({
    stripe_subscription_id: "sub_orphan",
    user_id: user.id,
  });
  expect(await userById(user.id)).toMatchObject({
    stripe_customer_id: "cus_orphan",
    subscription_status: "active",
  });
});

test("a subscription of a customer Stripe does not know is kept unlinked instead of failing", async () => {
  await addUser("quelqu-un@exemple.test");
  // No seedCustomer: reading cus_unknown answers 404 resource_missing.
  await deliverOk(
    eventFixture(
      "openapi__customer.subscription.created__2026__wrapped.json",
      { id: "evt_unknown_customer", created: T },
      (object) => withSubscription(object, spec("sub_unknown", "cus_unknown")),
    ),
  );

  expect(
    stripeMock.requestsTo("GET", "/v1/customers/cus_unknown"),
  ).toHaveLength(1);
  expect(await subscriptionRow("sub_unknown")).toMatchObject({
    user_id: null,
    status: "active",
  });
  expect((await ledgerRows()).map((row) => row.id)).toContain(
    "evt_unknown_customer",
  );
});

test("a redelivered subscription event of an unknown customer does not ask Stripe for the customer again", async () => {
  seedCustomer("cus_asked_once", null);
  const event = eventFixture(
    "openapi__customer.subscription.created__2026__wrapped.json",
    { id: "evt_asked_once", created: T },
    (object) =>
      withSubscription(object, spec("sub_asked_once", "cus_asked_once")),
  );
  await deliverOk(event);

  const again = await deliver(event);

  expect(await again.json()).toEqual({ received: true, duplicate: true });
  expect(
    stripeMock.requestsTo("GET", "/v1/customers/cus_asked_once"),
  ).toHaveLength(1);
  expect(await ledgerRows()).toHaveLength(1);
});

test("an invoice whose email names the user of an unclaimed subscription links it", async () => {
  const user = await addUser("par-facture@exemple.test");
  seedCustomer("cus_unclaimed", null);
  const sub = spec("sub_unclaimed", "cus_unclaimed");
  await deliverOk(
    subscriptionUpdated("evt_unclaimed_1", T, { ...sub, status: "past_due" }),
  );
  expect((await subscriptionRow(sub.id)).user_id).toBeNull();

  await deliverOk(
    invoiceEvent(
      "openapi__invoice.payment_succeeded__2026__wrapped.json",
      "evt_unclaimed_2",
      T + 100,
      sub,
      " Par-Facture@Exemple.test",
    ),
  );

  expect(await subscriptionRow(sub.id)).toMatchObject({
    user_id: user.id,
    status: "active",
  });
  expect((await userById(user.id)).subscription_status).toBe("active");
});

// Late links and deleted users

test("a subscription stored for an unknown customer is linked, without a second row, by the next event once the user owns that customer", async () => {
  seedCustomer("cus_late", null);
  const sub = spec("sub_late", "cus_late");
  await deliverOk(subscriptionCreated("evt_late_link_1", T, sub));
  expect((await subscriptionRow(sub.id)).user_id).toBeNull();
  const user = await addUser("plus-tard-client@exemple.test");
  // What the checkout flow records when the user starts a Checkout.
  await setUserStripeCustomerId(await getDb(), user.id, "cus_late");

  await deliverOk(
    subscriptionUpdated("evt_late_link_2", T + 60, {
      ...sub,
      cancelAtPeriodEnd: true,
    }),
  );

  expect(await subscriptionRows()).toEqual([
    expect.objectContaining({
      stripe_subscription_id: sub.id,
      user_id: user.id,
      cancel_at_period_end: 1,
    }),
  ]);
  expect((await userById(user.id)).subscription_status).toBe("active");
});

test("deleting a user keeps their subscription without a user, and its later events answer 200, move the row and never bring the user back", async () => {
  const user = await addUser("supprimee@exemple.test", "cus_deleted");
  // Stripe keeps the customer, and its email, after our user is gone.
  seedCustomer("cus_deleted", user.email);
  const sub = {
    ...spec("sub_deleted", "cus_deleted"),
    metadata: checkoutMetadata(user.id),
  };
  await deliverOk(subscriptionCreated("evt_deleted_1", T, sub));
  const db = await getDb();

  await deleteUser(db, user.id);

  expect(await subscriptionRow(sub.id)).toMatchObject({
    user_id: null,
    status: "active",
  });
  await deliverOk(
    subscriptionUpdated("evt_deleted_2", T + 100, {
      ...sub,
      status: "past_due",
    }),
  );
  expect((await subscriptionRow(sub.id)).status).toBe("past_due");
  await deliverOk(
    invoiceEvent(
      "openapi__invoice.payment_succeeded__2026__wrapped.json",
      "evt_deleted_3",
      T + 200,
      sub,
      user.email,
    ),
  );
  expect((await subscriptionRow(sub.id)).status).toBe("active");
  await deliverOk(
    eventFixture(
      "openapi__customer.subscription.deleted__2026__wrapped.json",
      { id: "evt_deleted_4", created: T + 300 },
      (object) => withSubscription(object, sub),
    ),
  );

  expect(await subscriptionRows()).toEqual([
    expect.objectContaining({
      stripe_subscription_id: sub.id,
      user_id: null,
      status: "canceled",
    }),
  ]);
  expect(await db.selectFrom("users").selectAll().execute()).toEqual([]);
  expect(await ledgerRows()).toHaveLength(4);
});

test("a deleted user's id is never given again, so a late event naming it cannot link a newcomer", async () => {
  const gone = await addUser("partie@exemple.test");
  const db = await getDb();
  await deleteUser(db, gone.id);
  const newcomer = await addUser("nouvelle-venue@exemple.test");
  seedSubscription(
    subscriptionObject("current", spec("sub_gone_id", "cus_gone_id")),
  );

  await deliverOk(
    completed(COMPLETED_2026, "evt_gone_id", T, {
      customer: "cus_gone_id",
      subscription: "sub_gone_id",
      metadata: checkoutMetadata(gone.id),
    }),
  );

  expect(newcomer.id).not.toBe(gone.id);
  expect((await subscriptionRow("sub_gone_id")).user_id).toBeNull();
  expect(await userById(newcomer.id)).toEqual(newcomer);
});

// The lifecycle of a signed-up user's subscription

test("a signed-up user's subscription follows its lifecycle in the current API shape", async () => {
  const user = await addUser("cycle@exemple.test");
  const sub = spec("sub_cycle_2026", "cus_cycle_2026");
  seedSubscription(
    subscriptionObject("current", {
      ...sub,
      metadata: checkoutMetadata(user.id),
    }),
  );

  await deliverOk(
    completed(COMPLETED_2026, "evt_cycle_2026_1", T, {
      customer: sub.customer,
      subscription: sub.id,
      metadata: checkoutMetadata(user.id),
    }),
  );
  await expectStep(sub.id, user.id, "active", sub.currentPeriodEnd, 0);

  await deliverOk(
    invoiceEvent(
      "pay__invoice.payment_failed__2025-03-31.basil__wrapped.json",
      "evt_cycle_2026_2",
      T + 100,
      sub,
    ),
  );
  await expectStep(sub.id, user.id, "past_due", sub.currentPeriodEnd, 0);
  expect(grantsAccess((await userById(user.id)).subscription_status)).toBe(
    true,
  );

  await deliverOk(
    invoiceEvent(
      "openapi__invoice.payment_succeeded__2026__wrapped.json",
      "evt_cycle_2026_3",
      T + 200,
      sub,
    ),
  );
  await expectStep(sub.id, user.id, "active", sub.currentPeriodEnd, 0);

  const renewedEnd = sub.currentPeriodEnd + 365 * DAY;
  await deliverOk(
    eventFixture(
      "openapi__customer.subscription.updated__2026__wrapped.json",
      { id: "evt_cycle_2026_4", created: T + 300 },
      (object) =>
        withSubscription(object, {
          ...sub,
          currentPeriodEnd: renewedEnd,
          cancelAtPeriodEnd: true,
        }),
    ),
  );
  await expectStep(sub.id, user.id, "active", renewedEnd, 1);

  await deliverOk(
    eventFixture(
      "openapi__customer.subscription.deleted__2026__wrapped.json",
      { id: "evt_cycle_2026_5", created: T + 400 },
      // Like the fixture, the payload still says `active`.
      (object) =>
        withSubscription(object, {
          ...sub,
          currentPeriodEnd: renewedEnd,
          cancelAtPeriodEnd: true,
        }),
    ),
  );
  await expectStep(sub.id, user.id, "canceled", renewedEnd, 1);
  expect(grantsAccess((await userById(user.id)).subscription_status)).toBe(
    false,
  );
  expect(await ledgerRows()).toHaveLength(5);
});

test("the same lifecycle in the older shapes (2020-08-27 events, acacia subscription)", async () => {
  const user = await addUser("cycle-ancien@exemple.test");
  const sub = spec("sub_cycle_2020", "cus_cycle_2020", MONTHLY_8);
  seedSubscription(
    subscriptionObject("acacia", {
      ...sub,
      metadata: checkoutMetadata(user.id, "dictia-8", "monthly"),
    }),
  );

  await deliverOk(
    completed(COMPLETED_2020, "evt_cycle_2020_1", T, {
      customer: sub.customer,
      subscription: sub.id,
      clientReferenceId: String(user.id),
      metadata: checkoutMetadata(user.id, "dictia-8", "monthly"),
    }),
  );
  await expectStep(sub.id, user.id, "active", sub.currentPeriodEnd, 0);
  expect(await subscriptionRow(sub.id)).toMatchObject({
    plan: "dictia-8",
    period: "monthly",
  });

  const failed = invoiceEvent(
    "stripe-ruby-mock__invoice.payment_failed__2020-08-27.json",
    "evt_cycle_2020_2",
    T + 100,
    sub,
  );
  // The old shape names the subscription at the top of the invoice.
  expect(objectOf(failed)).toMatchObject({ subscription: sub.id });
  expect(objectOf(failed)).not.toHaveProperty("parent");
  await deliverOk(failed);
  await expectStep(sub.id, user.id, "past_due", sub.currentPeriodEnd, 0);

  await deliverOk(
    invoiceEvent(
      "stripe-ruby-mock__invoice.paid__2020-08-27.json",
      "evt_cycle_2020_3",
      T + 200,
      sub,
    ),
  );
  await expectStep(sub.id, user.id, "active", sub.currentPeriodEnd, 0);

  const renewedEnd = sub.currentPeriodEnd + 31 * DAY;
  await deliverOk(
    eventFixture(
      "stripe-ruby-mock__customer.subscription.updated__2020-08-27.json",
      { id: "evt_cycle_2020_4", created: T + 300 },
      (object) =>
        withSubscription(object, {
          ...sub,
          currentPeriodEnd: renewedEnd,
          cancelAtPeriodEnd: true,
        }),
    ),
  );
  await expectStep(sub.id, user.id, "active", renewedEnd, 1);

  await deliverOk(
    eventFixture(
      "stripe-ruby-mock__customer.subscription.deleted__2020-08-27.json",
      { id: "evt_cycle_2020_5", created: T + 400 },
      (object) =>
        withSubscription(object, {
          ...sub,
          status: "canceled",
          currentPeriodEnd: renewedEnd,
          cancelAtPeriodEnd: true,
        }),
    ),
  );
  await expectStep(sub.id, user.id, "canceled", renewedEnd, 1);
  expect(await subscriptionRow(sub.id)).toMatchObject({
    plan: "dictia-8",
    period: "monthly",
  });
});

// Order

test("an older event delivered after a newer one never rolls the row back", async () => {
  await addUser("ordre@exemple.test", "cus_order");
  const sub = spec("sub_order", "cus_order");

  await deliverOk(
    subscriptionUpdated("evt_order_new", T + 200, {
      ...sub,
      status: "past_due",
    }),
  );
  await deliverOk(
    subscriptionUpdated("evt_order_old", T + 100, {
      ...sub,
      status: "active",
      currentPeriodEnd: sub.currentPeriodEnd - 365 * DAY,
    }),
  );

  expect(await subscriptionRow("sub_order")).toMatchObject({
    status: "past_due",
    current_period_end: sub.currentPeriodEnd,
    last_event_created: T + 200,
  });
  // The older event is still recorded, so Stripe stops sending it.
  expect((await ledgerRows()).map((row) => row.id)).toEqual([
    "evt_order_new",
    "evt_order_old",
  ]);
});

test("an older invoice event delivered after a newer subscription event changes nothing", async () => {
  await addUser("facture-tardive@exemple.test", "cus_late_invoice");
  const failing = spec("sub_late_paid", "cus_late_invoice");
  const paying = spec("sub_late_failed", "cus_late_invoice");
  await deliverOk(
    subscriptionUpdated("evt_late_1", T + 200, {
      ...failing,
      status: "past_due",
    }),
  );
  await deliverOk(subscriptionUpdated("evt_late_2", T + 200, paying));

  await deliverOk(
    invoiceEvent(
      "stripe-ruby-mock__invoice.paid__2020-08-27.json",
      "evt_late_3",
      T + 100,
      failing,
    ),
  );
  await deliverOk(
    invoiceEvent(
      "pay__invoice.payment_failed__2025-03-31.basil__wrapped.json",
      "evt_late_4",
      T + 100,
      paying,
    ),
  );

  expect(await subscriptionRow(failing.id)).toMatchObject({
    status: "past_due",
    last_event_created: T + 200,
  });
  expect(await subscriptionRow(paying.id)).toMatchObject({
    status: "active",
    last_event_created: T + 200,
  });
});

test("a late event about a user's older subscription leaves the status mirrored from the newer one", async () => {
  const user = await addUser("reabonnee@exemple.test", "cus_again");
  const first = { ...spec("sub_first", "cus_again"), created: T };
  const second = { ...spec("sub_second", "cus_again"), created: T + 1000 };
  await deliverOk(subscriptionCreated("evt_again_1", T, first));
  seedSubscription(subscriptionObject("current", second));
  await deliverOk(
    completed(COMPLETED_2026, "evt_again_2", T + 1000, {
      customer: "cus_again",
      subscription: second.id,
      metadata: checkoutMetadata(user.id),
    }),
  );

  // The first subscription's end, delivered after the second began.
  await deliverOk(
    eventFixture(
      "openapi__customer.subscription.deleted__2026__wrapped.json",
      { id: "evt_again_3", created: T + 500 },
      (object) => withSubscription(object, first),
    ),
  );

  expect((await subscriptionRow(first.id)).status).toBe("canceled");
  expect((await subscriptionRow(second.id)).status).toBe("active");
  expect((await userById(user.id)).subscription_status).toBe("active");
});

test("invoice.paid delivered before the session that created the subscription changes nothing harmful, and the final state is right", async () => {
  const user = await addUser("premier-paiement@exemple.test");
  const sub = spec("sub_early", "cus_early");

  await deliverOk(
    invoiceEvent(
      "supabase-sync-engine__invoice.paid__2020-03-02.json",
      "evt_early_invoice",
      T + 1,
      sub,
      user.email,
    ),
  );
  expect(await subscriptionRows()).toEqual([]);
  expect(await userById(user.id)).toMatchObject({
    stripe_customer_id: null,
    subscription_status: null,
  });

  seedSubscription(subscriptionObject("current", sub));
  await deliverOk(
    completed(COMPLETED_2026, "evt_early_session", T, {
      customer: sub.customer,
      subscription: sub.id,
      metadata: checkoutMetadata(user.id),
    }),
  );
  // Stripe's first word on the subscription, older than both, arrives last.
  seedCustomer(sub.customer, user.email);
  await deliverOk(
    subscriptionCreated("evt_early_created", T - 1, {
      ...sub,
      status: "incomplete",
    }),
  );

  expect(await subscriptionRow(sub.id)).toMatchObject({
    user_id: user.id,
    status: "active",
    current_period_end: sub.currentPeriodEnd,
  });
  expect((await userById(user.id)).subscription_status).toBe("active");
});

test("the events of one checkout converge to the same row in every delivery order", async () => {
  for (const [index, order] of permutations([0, 1, 2]).entries()) {
    const user = await addUser(`ordre-${index}@exemple.test`);
    const customer = stripeMock.createCustomer({ email: user.email });
    const customerId = String(customer.id);
    await setCustomer(user.id, customerId);
    const metadata = checkoutMetadata(user.id);
    const session = stripeMock.createCheckoutSession({
      mode: "subscription",
      customer: customerId,
      client_reference_id: String(user.id),
      metadata,
      line_items: [{ price: YEARLY_16, quantity: "1" }],
      subscription_data: { metadata },
    });
    // subscription.created, checkout.session.completed, invoice.paid.
    const { events, subscription } = stripeMock.completeCheckout(
      String(session.id),
    );
    expect(events).toHaveLength(3);

    for (const position of order) {
      const event = events[position];
      if (!event) throw new Error(`No event at ${position}`);
      await deliverOk(event);
    }

    expect(
      await subscriptionRow(String(subscription.id)),
      `order ${order.join(",")}`,
    ).toMatchObject({
      user_id: user.id,
      status: "active",
      plan: "dictia-16",
      period: "yearly",
    });
    expect((await userById(user.id)).subscription_status).toBe("active");
  }
  expect(await ledgerRows()).toHaveLength(18);
});

test("at equal created the tie rule gives the same row in both delivery orders", async () => {
  await addUser("egalite@exemple.test", "cus_tie");
  const end = T + 30 * DAY;
  // Pairs of states Stripe could send within one second.
  const pairs: [Partial<SubscriptionSpec>, Partial<SubscriptionSpec>][] = [
    [{ status: "active" }, { status: "past_due" }],
    [{ status: "incomplete" }, { status: "active" }],
    [{ status: "active" }, { status: "canceled" }],
    [{ currentPeriodEnd: end }, { currentPeriodEnd: end + 30 * DAY }],
    [{ cancelAtPeriodEnd: false }, { cancelAtPeriodEnd: true }],
  ];

  for (const [index, [a, b]] of pairs.entries()) {
    const finals: ReturnType<typeof stateOf>[] = [];
    const orders = [
      [a, b],
      [b, a],
    ];
    for (const [run, order] of orders.entries()) {
      const id = `sub_tie_${index}_${run}`;
      for (const [step, state] of order.entries()) {
        await deliverOk(
          subscriptionUpdated(`evt_${id}_${step}`, T, {
            ...spec(id, "cus_tie"),
            currentPeriodEnd: end,
            ...state,
          }),
        );
      }
      finals.push(stateOf(await subscriptionRow(id)));
    }
    expect(finals[0], JSON.stringify([a, b])).toEqual(finals[1]);
  }
  // The rule itself: further along the lifecycle, later period end, ending.
  expect((await subscriptionRow("sub_tie_0_0")).status).toBe("past_due");
  expect((await subscriptionRow("sub_tie_1_0")).status).toBe("active");
  expect((await subscriptionRow("sub_tie_2_0")).status).toBe("canceled");
  expect((await subscriptionRow("sub_tie_3_0")).current_period_end).toBe(
    end + 30 * DAY,
  );
  expect((await subscriptionRow("sub_tie_4_0")).cancel_at_period_end).toBe(1);
});

test("at equal created a whole subscription wins over an invoice's hint, in both delivery orders", async () => {
  await addUser("indice@exemple.test", "cus_hint");
  const renewedEnd = T + 2 * 365 * DAY;
  const finals: ReturnType<typeof stateOf>[] = [];
  for (const invoiceFirst of [true, false]) {
    const sub = spec(`sub_hint_${String(invoiceFirst)}`, "cus_hint");
    await deliverOk(subscriptionUpdated(`evt_${sub.id}_0`, T, sub));
    // Stripe's own word at T + 100 is that the subscription renewed and is
    // active; the failed invoice of the same second must not override it.
    const invoice = invoiceEvent(
      "pay__invoice.payment_failed__2025-03-31.basil__wrapped.json",
      `evt_${sub.id}_invoice`,
      T + 100,
      sub,
    );
    const update = subscriptionUpdated(`evt_${sub.id}_update`, T + 100, {
      ...sub,
      currentPeriodEnd: renewedEnd,
    });
    for (const event of invoiceFirst ? [invoice, update] : [update, invoice]) {
      await deliverOk(event);
    }
    finals.push(stateOf(await subscriptionRow(sub.id)));
  }

  expect(finals[0]).toEqual(finals[1]);
  expect(finals[0]).toMatchObject({
    status: "active",
    current_period_end: renewedEnd,
  });
});

// Invoices

test("invoice events without a subscription (one-off invoices, 2020 and clover shapes) are recorded and change no subscription", async () => {
  await addUser("factures@exemple.test", "cus_00000000000000");
  const sub = spec("sub_kept", "cus_00000000000000");
  await deliverOk(subscriptionUpdated("evt_kept", T, sub));
  const before = await subscriptionRow("sub_kept");

  const oneOff = [
    "stripe-ruby-mock__invoice.payment_failed__2020-08-27.json",
    "stripe-ruby-mock__invoice.paid__2020-08-27.json",
    "stripe-ruby-mock__invoice.payment_succeeded__2020-08-27.json",
    "zulip__invoice.paid__2025-11-17.clover.json",
  ];
  for (const [index, name] of oneOff.entries()) {
    // Fixture ids collide, and zulip's is not even an evt_ id.
    const event = eventFixture(name, {
      id: `evt_one_off_${index}`,
      created: T + 100 + index,
    });
    const invoice = objectOf(event);
    expect(invoice.subscription ?? invoice.parent ?? null).toBeNull();
    await deliverOk(event);
  }

  expect(await subscriptionRows()).toEqual([before]);
  expect(await ledgerRows()).toMatchObject([
    { id: "evt_kept", outcome: "handled" },
    ...oneOff.map((_, index) => ({
      id: `evt_one_off_${index}`,
      outcome: "ignored",
    })),
  ]);
});

test("the 2026 invoice.payment_succeeded names its subscription under parent.subscription_details", async () => {
  await addUser("facture-2026@exemple.test", "cus_parent");
  const sub = spec("sub_parent", "cus_parent");
  await deliverOk(
    subscriptionUpdated("evt_parent_1", T, { ...sub, status: "past_due" }),
  );

  const event = invoiceEvent(
    "openapi__invoice.payment_succeeded__2026__wrapped.json",
    "evt_parent_2",
    T + 100,
    sub,
  );
  // The fixture keeps a top-level `subscription: null` the API no longer
  // sends; only the parent names the subscription.
  expect(objectOf(event).subscription).toBeNull();
  await deliverOk(event);

  expect((await subscriptionRow("sub_parent")).status).toBe("active");
  expect(await ledgerRows()).toMatchObject([
    { id: "evt_parent_1", outcome: "handled" },
    { id: "evt_parent_2", outcome: "handled" },
  ]);
});

/** A subscription of the yearly DictIA 16 unless told otherwise. */
function spec(
  id: string,
  customer: string,
  priceId: string = YEARLY_16,
): SubscriptionSpec {
  return {
    id,
    customer,
    status: "active",
    priceId,
    currentPeriodEnd: T + 365 * DAY,
    created: T,
  };
}

function completed(
  fixture: string,
  id: string,
  created: number,
  session: SessionSpec,
): JsonObject {
  return eventFixture(fixture, { id, created }, (object) =>
    withCheckoutSession(object, session),
  );
}

function subscriptionUpdated(
  id: string,
  created: number,
  subscription: SubscriptionSpec,
): JsonObject {
  return eventFixture(
    "openapi__customer.subscription.updated__2026__wrapped.json",
    { id, created },
    (object) => withSubscription(object, subscription),
  );
}

function subscriptionCreated(
  id: string,
  created: number,
  subscription: SubscriptionSpec,
): JsonObject {
  return eventFixture(
    "openapi__customer.subscription.created__2026__wrapped.json",
    { id, created },
    (object) => withSubscription(object, subscription),
  );
}

function invoiceEvent(
  fixture: string,
  id: string,
  created: number,
  subscription: SubscriptionSpec,
  email: string | null = null,
): JsonObject {
  return eventFixture(fixture, { id, created }, (object) =>
    withInvoice(object, {
      customer: subscription.customer,
      subscription: subscription.id,
      email,
    }),
  );
}

function objectOf(event: JsonObject): JsonObject {
  return objectAt(objectAt(event, "data"), "object");
}

/** The row and the user's mirrored status after one lifecycle step. */
async function expectStep(
  stripeSubscriptionId: string,
  userId: number,
  status: string,
  currentPeriodEnd: number,
  cancelAtPeriodEnd: number,
): Promise<void> {
  expect(await subscriptionRow(stripeSubscriptionId)).toMatchObject({
    user_id: userId,
    status,
    current_period_end: currentPeriodEnd,
    cancel_at_period_end: cancelAtPeriodEnd,
  });
  expect((await userById(userId)).subscription_status).toBe(status);
  expect(await subscriptionRows()).toHaveLength(1);
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, index) =>
    permutations([...items.slice(0, index), ...items.slice(index + 1)]).map(
      (rest) => [item, ...rest],
    ),
  );
}

async function setCustomer(userId: number, stripeCustomerId: string) {
  const db = await getDb();
  await db
    .updateTable("users")
    .set({ stripe_customer_id: stripeCustomerId })
    .where("id", "=", userId)
    .execute();
}
