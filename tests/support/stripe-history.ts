import fc from "fast-check";

import type { StripeEvent } from "~/billing/webhook-handlers.server";

import { TEST_ENV } from "./env";

/**
 * Generated subscription lifecycles, as the events Stripe sends for them:
 * every change of a subscription's status comes with its own
 * customer.subscription.* event, and invoice events (invoice.paid,
 * invoice.payment_succeeded or both, as Stripe sends both for one paid
 * invoice) come alongside, in the same second. A Checkout paid by a delayed
 * method ends with checkout.session.async_payment_succeeded or _failed.
 * Objects are rendered in the current API shape or in the
 * pre-2025-03-31.basil one, event by event, as an endpoint in the middle of
 * an upgrade receives them.
 */

export type SubscriptionFacts = {
  status: string;
  currentPeriodEnd: number;
  cancelAtPeriodEnd: boolean;
};

type Shape = "current" | "legacy";

type Step =
  | "payment_failed"
  | "payment_succeeded"
  | "renewal"
  | "toggle_cancel"
  | "unpaid"
  | "pause"
  | "resume"
  | "expire"
  | "delete";

/** The user whose Checkout started the subscription. */
export type HistoryUser = { id: number; email: string };

export type History = {
  user: HistoryUser;
  subscriptionId: string;
  customerId: string;
  /** Events in the order Stripe created them. */
  events: StripeEvent[];
  /** The subscription as Stripe's API returns it at the end. */
  finalSubscription: Record<string, unknown>;
};

type Ids = { subscriptionId: string; customerId: string; user: HistoryUser };

const DAY = 86_400;
const START = 1_780_000_000;
const PRICE = TEST_ENV.STRIPE_DICTIA_16_YEARLY;

function checkoutMetadata(user: HistoryUser) {
  return {
    dictia_user_id: String(user.id),
    plan: "dictia-16",
    period: "yearly",
  };
}

function subscriptionObject(
  ids: Ids,
  facts: SubscriptionFacts,
  shape: Shape,
): Record<string, unknown> {
  const periodStart = facts.currentPeriodEnd - 365 * DAY;
  const item: Record<string, unknown> = {
    id: `si_${ids.subscriptionId.slice(4)}`,
    object: "subscription_item",
    price: { id: PRICE, object: "price" },
    quantity: 1,
  };
  const subscription: Record<string, unknown> = {
    id: ids.subscriptionId,
    object: "subscription",
    customer: ids.customerId,
    status: facts.status,
    created: START,
    cancel_at_period_end: facts.cancelAtPeriodEnd,
    metadata: checkoutMetadata(ids.user),
    items: { object: "list", data: [item] },
  };
  if (shape === "current") {
    item.current_period_start = periodStart;
    item.current_period_end = facts.currentPeriodEnd;
  } else {
    subscription.current_period_start = periodStart;
    subscription.current_period_end = facts.currentPeriodEnd;
    subscription.plan = { id: PRICE, object: "plan" };
  }
  return subscription;
}

function invoiceObject(
  ids: Ids,
  shape: Shape,
  sequence: number,
  billingReason: string,
): Record<string, unknown> {
  const invoice: Record<string, unknown> = {
    id: `in_${sequence}${ids.subscriptionId.slice(4)}`,
    object: "invoice",
    customer: ids.customerId,
    customer_email: ids.user.email,
    billing_reason: billingReason,
  };
  if (shape === "current") {
    invoice.parent = {
      type: "subscription_details",
      subscription_details: {
        subscription: ids.subscriptionId,
        metadata: { dictia_user_id: String(ids.user.id) },
      },
    };
  } else {
    invoice.subscription = ids.subscriptionId;
  }
  return invoice;
}

/** The next facts and the invoice event that comes with a step, if any. */
function applyStep(
  facts: SubscriptionFacts,
  step: Step,
): { next: SubscriptionFacts; invoice?: "paid" | "payment_failed" } | null {
  const { status } = facts;
  switch (step) {
    case "payment_failed":
      return ["active", "trialing"].includes(status)
        ? { next: { ...facts, status: "past_due" }, invoice: "payment_failed" }
        : null;
    case "payment_succeeded":
      return ["past_due", "unpaid", "incomplete"].includes(status)
        ? { next: { ...facts, status: "active" }, invoice: "paid" }
        : null;
    case "renewal":
      return status === "active"
        ? {
            next: {
              ...facts,
              currentPeriodEnd: facts.currentPeriodEnd + 365 * DAY,
            },
            invoice: "paid",
          }
        : null;
    case "toggle_cancel":
      return ["active", "trialing", "past_due"].includes(status)
        ? { next: { ...facts, cancelAtPeriodEnd: !facts.cancelAtPeriodEnd } }
        : null;
    case "unpaid":
      return status === "past_due"
        ? { next: { ...facts, status: "unpaid" } }
        : null;
    case "pause":
      return status === "active"
        ? { next: { ...facts, status: "paused" } }
        : null;
    case "resume":
      return status === "paused"
        ? { next: { ...facts, status: "active" } }
        : null;
    case "expire":
      return status === "incomplete"
        ? { next: { ...facts, status: "incomplete_expired" } }
        : null;
    case "delete":
      return ["incomplete_expired", "canceled"].includes(status)
        ? null
        : { next: { ...facts, status: "canceled" } };
  }
}

const stepArbitrary = fc.constantFrom<Step>(
  "payment_failed",
  "payment_succeeded",
  "renewal",
  "toggle_cancel",
  "unpaid",
  "pause",
  "resume",
  "expire",
  "delete",
);

type InvoiceTypes = "paid" | "payment_succeeded" | "both";

const PAID_TYPES: Record<InvoiceTypes, string[]> = {
  paid: ["invoice.paid"],
  payment_succeeded: ["invoice.payment_succeeded"],
  both: ["invoice.paid", "invoice.payment_succeeded"],
};

function checkoutSession(
  ids: Ids,
  key: string,
  paymentStatus: string,
): Record<string, unknown> {
  return {
    id: `cs_test_${key}`,
    object: "checkout.session",
    mode: "subscription",
    status: "complete",
    payment_status: paymentStatus,
    customer: ids.customerId,
    subscription: ids.subscriptionId,
    client_reference_id: String(ids.user.id),
    metadata: checkoutMetadata(ids.user),
    customer_details: { email: ids.user.email },
  };
}

const DEFAULT_USER: HistoryUser = { id: 1, email: "client@exemple.test" };

/**
 * One subscription's life, from its Checkout to wherever it got, for a
 * Checkout started by `user` (the user with id 1 unless told).
 */
export function historyArbitrary(
  user: HistoryUser = DEFAULT_USER,
): fc.Arbitrary<History> {
  return fc
    .record({
      key: fc.stringMatching(/^[a-z0-9]{8}$/),
      checkout: fc.constantFrom("paid", "unpaid", "no_payment_required"),
      paidTypes: fc.constantFrom<InvoiceTypes>(
        "paid",
        "payment_succeeded",
        "both",
      ),
      steps: fc.array(
        fc.record({
          step: stepArbitrary,
          // 0 makes ties: two changes within one second of Stripe's clock.
          gap: fc.integer({ min: 0, max: 3 }),
          shape: fc.constantFrom<Shape>("current", "legacy"),
        }),
        { maxLength: 8 },
      ),
      startShape: fc.constantFrom<Shape>("current", "legacy"),
    })
    .map(({ key, checkout, paidTypes, steps, startShape }) => {
      const ids: Ids = {
        subscriptionId: `sub_${key}`,
        customerId: `cus_${key}`,
        user,
      };
      const events: StripeEvent[] = [];
      let sequence = 0;
      const push = (
        type: string,
        created: number,
        object: Record<string, unknown>,
      ) => {
        sequence += 1;
        events.push({ id: `evt_${sequence}_${key}`, type, created, object });
      };
      const pushPaid = (created: number, reason: string, shape: Shape) => {
        const invoice = invoiceObject(ids, shape, sequence, reason);
        for (const type of PAID_TYPES[paidTypes]) push(type, created, invoice);
      };
      let facts: SubscriptionFacts = {
        status:
          checkout === "paid"
            ? "active"
            : checkout === "unpaid"
              ? "incomplete"
              : "trialing",
        currentPeriodEnd: START + 365 * DAY,
        cancelAtPeriodEnd: false,
      };
      // A delayed payment method: the Checkout's outcome comes later.
      let awaitingPayment = checkout === "unpaid";
      let now = START;
      push(
        "customer.subscription.created",
        now,
        subscriptionObject(ids, facts, startShape),
      );
      push(
        "checkout.session.completed",
        now,
        checkoutSession(ids, key, checkout),
      );
      if (checkout === "paid") pushPaid(now, "subscription_create", startShape);
      for (const { step, gap, shape } of steps) {
        const change = applyStep(facts, step);
        if (!change) continue;
        now += gap;
        if (awaitingPayment && facts.status === "incomplete") {
          const cleared = change.next.status === "active";
          if (cleared || change.next.status === "incomplete_expired") {
            awaitingPayment = false;
            push(
              cleared
                ? "checkout.session.async_payment_succeeded"
                : "checkout.session.async_payment_failed",
              now,
              checkoutSession(ids, key, cleared ? "paid" : "unpaid"),
            );
          }
        }
        facts = change.next;
        if (change.invoice === "paid") {
          pushPaid(now, "subscription_cycle", shape);
        } else if (change.invoice === "payment_failed") {
          push(
            "invoice.payment_failed",
            now,
            invoiceObject(ids, shape, sequence, "subscription_cycle"),
          );
        }
        push(
          facts.status === "canceled"
            ? "customer.subscription.deleted"
            : "customer.subscription.updated",
          now,
          subscriptionObject(ids, facts, shape),
        );
        if (facts.status === "canceled") break;
      }
      return {
        ...ids,
        events,
        finalSubscription: subscriptionObject(ids, facts, "current"),
      };
    });
}

/**
 * How Stripe might deliver a history: every event at least once, some
 * twice or three times, some re-sent under a new id, in any order, in
 * batches that run concurrently.
 */
export function deliveriesArbitrary(
  history: History,
): fc.Arbitrary<StripeEvent[][]> {
  const count = history.events.length;
  return fc
    .record({
      copies: fc.array(fc.integer({ min: 1, max: 3 }), {
        minLength: count,
        maxLength: count,
      }),
      renamed: fc.array(fc.boolean(), { minLength: count, maxLength: count }),
      batchSizes: fc.array(fc.integer({ min: 1, max: 4 }), {
        minLength: 1,
        maxLength: 40,
      }),
    })
    .chain(({ copies, renamed, batchSizes }) => {
      const deliveries: StripeEvent[] = [];
      history.events.forEach((event, index) => {
        for (let copy = 0; copy < (copies[index] ?? 1); copy += 1) {
          deliveries.push(event);
        }
        if (renamed[index])
          deliveries.push({ ...event, id: `${event.id}_resent` });
      });
      return fc
        .shuffledSubarray(deliveries, {
          minLength: deliveries.length,
          maxLength: deliveries.length,
        })
        .map((shuffled) => {
          const batches: StripeEvent[][] = [];
          let offset = 0;
          let index = 0;
          while (offset < shuffled.length) {
            const size = batchSizes[index % batchSizes.length] ?? 1;
            batches.push(shuffled.slice(offset, offset + size));
            offset += size;
            index += 1;
          }
          return batches;
        });
    });
}
