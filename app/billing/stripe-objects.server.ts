import { isPeriod, isPlanSlug } from "~/billing/plans";
import { planFromPriceId } from "~/billing/plans.server";
import type { SubscriptionState } from "~/models/subscription.server";

/**
 * Readers for the Stripe objects that events carry. Payloads come in the
 * webhook endpoint's API version, which may be older or newer than the SDK's,
 * so these read plain JSON and accept both shapes instead of trusting the
 * SDK's types of today.
 */

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An id, whether Stripe sent the id itself or the expanded object. */
export function idOf(value: unknown): string | null {
  if (typeof value === "string" && value !== "") return value;
  if (isJsonObject(value) && typeof value.id === "string") return value.id;
  return null;
}

function text(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value : null;
}

function unixSeconds(value: unknown): number | null {
  return typeof value === "number" && Number.isInteger(value) && value >= 0
    ? value
    : null;
}

function child(value: unknown, key: string): unknown {
  return isJsonObject(value) ? value[key] : undefined;
}

export function metadataOf(object: JsonObject): JsonObject {
  return isJsonObject(object.metadata) ? object.metadata : {};
}

/** `metadata.dictia_user_id` as a user id, when it is one. */
export function metadataUserId(...sources: unknown[]): number | null {
  for (const source of sources) {
    const raw = isJsonObject(source) ? source.dictia_user_id : source;
    const value = typeof raw === "string" ? raw.trim() : raw;
    const id =
      typeof value === "number"
        ? value
        : typeof value === "string" && /^\d+$/.test(value)
          ? Number(value)
          : NaN;
    if (Number.isSafeInteger(id) && id > 0) return id;
  }
  return null;
}

export class MalformedObjectError extends Error {
  readonly code = "malformed_object";
}

/**
 * An id that must be of one kind when present (`sub_`, `cus_`): an id of
 * another kind is a malformed event, refused before any lookup or API call
 * is made with it.
 */
export function idOfKind(value: unknown, prefix: string): string | null {
  const id = idOf(value);
  if (id !== null && !id.startsWith(prefix)) {
    throw new MalformedObjectError(`Expected a ${prefix} id.`);
  }
  return id;
}

function subscriptionItems(subscription: JsonObject): JsonObject[] {
  const data = child(subscription.items, "data");
  return Array.isArray(data) ? data.filter(isJsonObject) : [];
}

function priceIdOf(item: JsonObject): string | null {
  // Current versions nest the price; 2020-era items also had `plan`.
  return idOf(item.price) ?? idOf(item.plan);
}

/**
 * The subscription's state, from a subscription object of any API version:
 * the period end lives on the subscription before 2025-03-31.basil and on
 * its items since.
 */
export function readSubscriptionState(
  subscription: JsonObject,
): SubscriptionState {
  const id = text(subscription.id);
  const customer = idOf(subscription.customer);
  const status = text(subscription.status);
  const created = unixSeconds(subscription.created);
  if (
    !id?.startsWith("sub_") ||
    !customer?.startsWith("cus_") ||
    !status ||
    created === null
  ) {
    throw new MalformedObjectError(
      "A subscription needs a sub_ id, a cus_ customer, a status and created.",
    );
  }
  const items = subscriptionItems(subscription);
  // The recurring item of a known plan decides; a setup fee is never an item.
  const known = items
    .map((item) => ({ item, plan: planFromId(priceIdOf(item)) }))
    .find((entry) => entry.plan !== undefined);
  const item = known?.item ?? items[0];
  const metadata = metadataOf(subscription);
  const fromPrice = known?.plan ?? planFromId(idOf(subscription.plan) ?? null);
  const plan =
    fromPrice?.plan ?? (isPlanSlug(metadata.plan) ? metadata.plan : null);
  const period =
    fromPrice?.period ?? (isPeriod(metadata.period) ? metadata.period : null);
  const periodEnds = items
    .map((entry) => unixSeconds(entry.current_period_end))
    .filter((value): value is number => value !== null);
  const currentPeriodEnd =
    unixSeconds(item?.current_period_end) ??
    unixSeconds(subscription.current_period_end) ??
    (periodEnds.length > 0 ? Math.max(...periodEnds) : null);
  return {
    stripeSubscriptionId: id,
    stripeCustomerId: customer,
    status,
    plan,
    period,
    currentPeriodEnd,
    // The portal of newer API versions schedules the end with `cancel_at`
    // instead of the flag; either way the subscription will not renew.
    cancelAtPeriodEnd:
      subscription.cancel_at_period_end === true ||
      unixSeconds(subscription.cancel_at) !== null,
    endedAt: unixSeconds(subscription.ended_at),
    stripeCreated: created,
  };
}

function planFromId(priceId: string | null) {
  return priceId ? planFromPriceId(priceId) : undefined;
}

/**
 * The subscription an invoice belongs to: under
 * `parent.subscription_details` since 2025-03-31.basil, at the top before.
 * Null for a one-off invoice.
 */
export function invoiceSubscriptionId(invoice: JsonObject): string | null {
  const details = child(invoice.parent, "subscription_details");
  return idOf(child(details, "subscription")) ?? idOf(invoice.subscription);
}

/** The metadata the subscription had when the invoice was made, if any. */
export function invoiceSubscriptionMetadata(invoice: JsonObject): JsonObject {
  const details = child(invoice.parent, "subscription_details");
  const metadata =
    child(details, "metadata") ??
    child(invoice.subscription_details, "metadata");
  return isJsonObject(metadata) ? metadata : {};
}

/** The email Stripe sent with the object, trimmed and lower-case. */
export function emailOf(...values: unknown[]): string | null {
  for (const value of values) {
    const email = text(value);
    if (email) return email.trim().toLowerCase();
  }
  return null;
}

export function sessionEmail(session: JsonObject): string | null {
  return emailOf(
    child(session.customer_details, "email"),
    session.customer_email,
  );
}
