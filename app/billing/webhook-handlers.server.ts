import {
  emailOf,
  idOfKind,
  invoiceSubscriptionId,
  invoiceSubscriptionMetadata,
  isJsonObject,
  metadataOf,
  metadataUserId,
  readSubscriptionState,
  sessionEmail,
  type JsonObject,
} from "~/billing/stripe-objects.server";
import { getStripe, Stripe } from "~/billing/stripe.server";
import { writeTransaction, type Db } from "~/db.server";
import type { SubscriptionRow } from "~/db/schema";
import {
  applyInvoiceOutcome,
  applySubscriptionState,
  getSubscriptionByStripeId,
  linkSubscriptionsToUser,
  type InvoiceOutcome,
  type SubscriptionState,
} from "~/models/subscription.server";
import {
  getUserByEmail,
  getUserById,
  getUserByStripeCustomerId,
  setUserStripeCustomerId,
} from "~/models/user.server";
import {
  getWebhookEvent,
  recordWebhookEvent,
  type WebhookOutcome,
} from "~/models/webhook-event.server";

/**
 * How events become rows.
 *
 * Order: Stripe promises no order, so every write is guarded by the event's
 * `created` (see applySubscriptionState for the tie rule). We chose the guard
 * over re-reading each subscription from Stripe's API because it needs no
 * network call for most events (fast under bursts, and a Stripe outage does
 * not stall deliveries), and its outcome depends only on the payloads, which
 * the tests can replay in every order. The one exception is a completed
 * Checkout Session, which carries only the subscription's id: its state is
 * read from the API, before the transaction opens.
 *
 * Each event is prepared (API calls, outside any transaction), then applied
 * in one write transaction together with its ledger row.
 */

export type StripeEvent = {
  id: string;
  type: string;
  created: number;
  object: JsonObject;
};

export type ProcessResult = {
  outcome: WebhookOutcome | "duplicate";
};

type Apply = (trx: Db) => Promise<void>;

/**
 * What preparing an event gives: its effects, null when it has none, or
 * "duplicate" when the ledger already held it before a call to Stripe.
 */
type Prepared = Apply | null | "duplicate";

const CHECKOUT_EVENTS = new Set([
  "checkout.session.completed",
  "checkout.session.async_payment_succeeded",
  "checkout.session.async_payment_failed",
]);
const SUBSCRIPTION_EVENTS = new Set([
  "customer.subscription.created",
  "customer.subscription.updated",
  "customer.subscription.deleted",
]);
const INVOICE_OUTCOMES: Record<string, InvoiceOutcome> = {
  "invoice.paid": "paid",
  "invoice.payment_succeeded": "paid",
  "invoice.payment_failed": "payment_failed",
};

export const HANDLED_EVENT_TYPES = [
  ...CHECKOUT_EVENTS,
  ...SUBSCRIPTION_EVENTS,
  ...Object.keys(INVOICE_OUTCOMES),
];

/** Thrown when an event needs Stripe's API and no key is configured. */
export class StripeNotConfiguredError extends Error {
  readonly code = "stripe_not_configured";
}

/**
 * Runs one verified event: nothing when its id is in the ledger already,
 * otherwise its effects and its ledger row in one transaction, so a crash
 * leaves neither.
 *
 * The ledger decides inside the transaction. It is read before only where
 * preparing would call Stripe's API (see alreadyRecorded): a redelivered
 * event then costs Stripe nothing, and the others skip a read.
 */
export async function processStripeEvent(
  db: Db,
  event: StripeEvent,
): Promise<ProcessResult> {
  const apply = await prepare(db, event);
  if (apply === "duplicate") return { outcome: "duplicate" };
  const outcome: WebhookOutcome = apply ? "handled" : "ignored";
  const recorded = await writeTransaction(db, async (trx) => {
    // The ledger row goes first: a concurrent delivery of the same id that
    // got here first makes this insert a no-op, and the effects are skipped.
    const inserted = await recordWebhookEvent(trx, { ...event, outcome });
    if (inserted && apply) await apply(trx);
    return inserted;
  });
  return { outcome: recorded ? outcome : "duplicate" };
}

async function prepare(db: Db, event: StripeEvent): Promise<Prepared> {
  if (CHECKOUT_EVENTS.has(event.type)) return prepareCheckout(db, event);
  if (SUBSCRIPTION_EVENTS.has(event.type)) {
    return prepareSubscription(db, event);
  }
  const invoiceOutcome = INVOICE_OUTCOMES[event.type];
  if (invoiceOutcome) return prepareInvoice(event, invoiceOutcome);
  return null;
}

async function prepareCheckout(db: Db, event: StripeEvent): Promise<Prepared> {
  const session = event.object;
  if (session.mode !== "subscription") return null;
  const subscriptionId = idOfKind(session.subscription, "sub_");
  const sessionCustomerId = idOfKind(session.customer, "cus_");
  if (!subscriptionId) return null;
  // A completed session is not a payment: the status comes from the
  // subscription itself, read now because the session carries only its id.
  let subscription: JsonObject;
  if (isJsonObject(session.subscription)) {
    subscription = session.subscription;
  } else {
    if (await alreadyRecorded(db, event)) return "duplicate";
    subscription = await retrieveSubscription(subscriptionId);
  }
  const state = readSubscriptionState(subscription);
  const hints: UserHints = {
    customerId: sessionCustomerId ?? state.stripeCustomerId,
    metadataUserId: metadataUserId(
      metadataOf(session),
      session.client_reference_id,
      metadataOf(subscription),
    ),
    email: sessionEmail(session),
  };
  return async (trx) => {
    const userId = await resolveUser(trx, hints);
    await applySubscriptionState(trx, state, event.created, userId);
  };
}

async function prepareSubscription(
  db: Db,
  event: StripeEvent,
): Promise<Prepared> {
  const state = readSubscriptionState(event.object);
  if (event.type === "customer.subscription.deleted") {
    // Some payloads still say `active` at deletion; the subscription is over.
    state.status = "canceled";
  }
  const hints: UserHints = {
    customerId: state.stripeCustomerId,
    metadataUserId: metadataUserId(metadataOf(event.object)),
    email: null,
  };
  if (await needsCustomerEmail(db, state, hints)) {
    if (await alreadyRecorded(db, event)) return "duplicate";
    hints.email = await retrieveCustomerEmail(state.stripeCustomerId);
  }
  return async (trx) => {
    const userId = await resolveUser(trx, hints);
    await applySubscriptionState(trx, state, event.created, userId);
  };
}

function prepareInvoice(
  event: StripeEvent,
  outcome: InvoiceOutcome,
): Apply | null {
  const invoice = event.object;
  const subscriptionId = idOfKind(invoiceSubscriptionId(invoice), "sub_");
  // A one-off invoice belongs to no subscription: nothing to change.
  if (!subscriptionId) return null;
  const hints: UserHints = {
    customerId: idOfKind(invoice.customer, "cus_"),
    metadataUserId: metadataUserId(invoiceSubscriptionMetadata(invoice)),
    email: emailOf(invoice.customer_email),
  };
  return async (trx) => {
    const { row } = await applyInvoiceOutcome(trx, {
      stripeSubscriptionId: subscriptionId,
      outcome,
      eventCreated: event.created,
    });
    if (row) await linkIfUnlinked(trx, row, hints);
  };
}

/** An invoice can name the user of a subscription stored without one. */
async function linkIfUnlinked(trx: Db, row: SubscriptionRow, hints: UserHints) {
  if (row.user_id !== null) return;
  const userId = await resolveUser(trx, {
    ...hints,
    customerId: hints.customerId ?? row.stripe_customer_id,
  });
  if (userId !== null) {
    await linkSubscriptionsToUser(trx, row.stripe_customer_id, userId);
  }
}

type UserHints = {
  customerId: string | null;
  metadataUserId: number | null;
  email: string | null;
};

/**
 * The user an event is about, most trusted first: the owner of the customer,
 * then the user named in our own metadata, then the email. A user who
 * already has another customer is never taken over. Null when nobody
 * matches: the subscription is kept unlinked until the user appears.
 */
async function resolveUser(trx: Db, hints: UserHints): Promise<number | null> {
  const { customerId } = hints;
  if (customerId) {
    const owner = await getUserByStripeCustomerId(trx, customerId);
    if (owner) return owner.id;
  }
  const fitsCustomer = (stripeCustomerId: string | null) =>
    stripeCustomerId === null || stripeCustomerId === customerId;

  if (hints.metadataUserId !== null) {
    const named = await getUserById(trx, hints.metadataUserId);
    if (named && fitsCustomer(named.stripe_customer_id)) {
      if (customerId && named.stripe_customer_id === null) {
        // Our own metadata is trusted: the customer becomes the user's, and
        // anything that customer had before is theirs too.
        await setUserStripeCustomerId(trx, named.id, customerId);
        await linkSubscriptionsToUser(trx, customerId, named.id);
      }
      return named.id;
    }
  }
  if (hints.email) {
    const matching = await getUserByEmail(trx, hints.email);
    // An email links the subscription but does not hand the customer (and
    // its billing portal) to whoever owns that address.
    if (matching && fitsCustomer(matching.stripe_customer_id)) {
      return matching.id;
    }
  }
  return null;
}

/** Only when nothing better can name the user is the customer read. */
async function needsCustomerEmail(
  db: Db,
  state: SubscriptionState,
  hints: UserHints,
): Promise<boolean> {
  if (getStripe() === null) return false;
  if (await getUserByStripeCustomerId(db, state.stripeCustomerId)) {
    return false;
  }
  if (hints.metadataUserId !== null) {
    if (await getUserById(db, hints.metadataUserId)) return false;
  }
  const row = await getSubscriptionByStripeId(db, state.stripeSubscriptionId);
  return row?.user_id == null;
}

/**
 * Read before a call to Stripe's API: a redelivered event must not cost a
 * request (Stripe's rate limits are shared with the whole account). The
 * transaction's ledger insert still decides: this read only saves the call.
 */
async function alreadyRecorded(db: Db, event: StripeEvent): Promise<boolean> {
  return (await getWebhookEvent(db, event.id)) !== undefined;
}

async function retrieveSubscription(id: string): Promise<JsonObject> {
  const stripe = getStripe();
  if (!stripe) {
    throw new StripeNotConfiguredError(
      "STRIPE_SECRET_KEY is not set: a completed Checkout Session cannot be read.",
    );
  }
  const subscription: unknown = await stripe.subscriptions.retrieve(id);
  if (!isJsonObject(subscription)) throw new Error("Unexpected subscription");
  return subscription;
}

async function retrieveCustomerEmail(id: string): Promise<string | null> {
  const stripe = getStripe();
  if (!stripe) return null;
  try {
    const customer: unknown = await stripe.customers.retrieve(id);
    return isJsonObject(customer) ? emailOf(customer.email) : null;
  } catch (error) {
    // A customer Stripe does not know will never have an email: waiting for
    // it would only make Stripe retry the event for three days.
    if (
      error instanceof Stripe.errors.StripeInvalidRequestError &&
      error.code === "resource_missing"
    ) {
      return null;
    }
    throw error;
  }
}
