import fs from "node:fs";

import Stripe from "stripe";
import { afterEach, beforeEach, expect, vi, type MockInstance } from "vitest";

import { getDb } from "~/db.server";
import type { SubscriptionRow, UserRow } from "~/db/schema";
import { action, loader } from "~/routes/checkout.webhooks.stripe";

import { stripeMock } from "../mocks/stripe";
import { TEST_ENV } from "./env";

/**
 * Builders for the webhook's tests: real-shaped Stripe payloads loaded from
 * tests/fixtures/stripe/ with the values the logic reads set by the test,
 * signed the way Stripe signs them, and delivered to the route.
 */

export type JsonObject = Record<string, unknown>;

export const WEBHOOK_URL = "https://dictia.test/checkout/webhooks/stripe";
const DAY = 86_400;

const FIXTURES = new URL("../fixtures/stripe/", import.meta.url);

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The object under `key`; a fixture without it is a broken test. */
export function objectAt(parent: JsonObject, key: string): JsonObject {
  const value = parent[key];
  if (!isObject(value)) throw new Error(`No object at "${key}"`);
  return value;
}

/** A fixture, parsed afresh on every call so a test may change it freely. */
export function loadFixture(name: string): JsonObject {
  const value: unknown = JSON.parse(
    fs.readFileSync(new URL(name, FIXTURES), "utf8"),
  );
  if (!isObject(value)) throw new Error(`${name} is not a JSON object`);
  return value;
}

/**
 * An event envelope from `events/<name>`: fixture ids collide and their
 * `created` values are placeholders, so both are always chosen by the test.
 */
export function eventFixture(
  name: string,
  envelope: { id: string; created: number; type?: string },
  edit: (object: JsonObject) => JsonObject = (object) => object,
): JsonObject {
  const event = loadFixture(`events/${name}`);
  const data = objectAt(event, "data");
  data.object = edit(objectAt(data, "object"));
  return {
    ...event,
    id: envelope.id,
    created: envelope.created,
    type: envelope.type ?? event.type,
  };
}

export type SubscriptionSpec = {
  id: string;
  customer: string;
  status: string;
  priceId: string;
  currentPeriodEnd: number;
  cancelAtPeriodEnd?: boolean;
  created?: number;
  metadata?: JsonObject;
};

/**
 * Sets a subscription fixture's values, keeping the fixture's own shape:
 * the period end goes on the items when the fixture has it there
 * (2025-03-31.basil and later), at the top level otherwise.
 */
export function withSubscription(
  subscription: JsonObject,
  spec: SubscriptionSpec,
): JsonObject {
  Object.assign(subscription, {
    id: spec.id,
    customer: spec.customer,
    status: spec.status,
    created: spec.created ?? 1_700_000_000,
    metadata: spec.metadata ?? {},
    cancel_at_period_end: spec.cancelAtPeriodEnd ?? false,
    // The generated fixtures carry a placeholder `cancel_at`, which means a
    // scheduled end; the spec decides that through cancelAtPeriodEnd alone.
    cancel_at: null,
  });
  const items = objectAt(subscription, "items").data;
  if (!Array.isArray(items) || !isObject(items[0])) {
    throw new Error("The subscription fixture has no item");
  }
  const item = items[0];
  item.subscription = spec.id;
  for (const key of ["price", "plan"]) {
    const price = item[key];
    if (isObject(price)) price.id = spec.priceId;
    else if (typeof price === "string") item[key] = spec.priceId;
  }
  if (isObject(subscription.plan)) subscription.plan.id = spec.priceId;

  const period = {
    current_period_start: spec.currentPeriodEnd - 30 * DAY,
    current_period_end: spec.currentPeriodEnd,
  };
  if ("current_period_end" in item) Object.assign(item, period);
  else if ("current_period_end" in subscription) {
    Object.assign(subscription, period);
  } else {
    throw new Error("The subscription fixture has no period end");
  }
  return subscription;
}

/** A subscription as Stripe's API returns it, in the current or acacia shape. */
export function subscriptionObject(
  shape: "current" | "acacia",
  spec: SubscriptionSpec,
): JsonObject {
  const name =
    shape === "current"
      ? "objects/openapi__subscription__2026.json"
      : "objects/openapi__subscription__2025-01-27.acacia.json";
  return withSubscription(loadFixture(name), spec);
}

export type SessionSpec = {
  customer: string;
  subscription: string;
  paymentStatus?: "paid" | "unpaid" | "no_payment_required";
  clientReferenceId?: string | null;
  metadata?: JsonObject;
  email?: string | null;
};

/** Sets a Checkout Session fixture to a completed subscription session. */
export function withCheckoutSession(
  session: JsonObject,
  spec: SessionSpec,
): JsonObject {
  Object.assign(session, {
    mode: "subscription",
    status: "complete",
    payment_status: spec.paymentStatus ?? "paid",
    customer: spec.customer,
    subscription: spec.subscription,
    client_reference_id: spec.clientReferenceId ?? null,
    metadata: spec.metadata ?? {},
    customer_email: null,
  });
  objectAt(session, "customer_details").email = spec.email ?? null;
  return session;
}

/** The metadata our checkout puts on the session and the subscription. */
export function checkoutMetadata(
  userId: number,
  plan = "dictia-16",
  period = "yearly",
): JsonObject {
  return { dictia_user_id: String(userId), plan, period };
}

/**
 * Sets an invoice fixture's customer and subscription; the subscription goes
 * where the fixture's version keeps it: under `parent.subscription_details`
 * when the fixture has a parent, at the top level before.
 */
export function withInvoice(
  invoice: JsonObject,
  spec: { customer: string; subscription: string; email?: string | null },
): JsonObject {
  invoice.customer = spec.customer;
  invoice.customer_email = spec.email ?? null;
  if (isObject(invoice.parent)) {
    objectAt(invoice.parent, "subscription_details").subscription =
      spec.subscription;
  } else {
    invoice.subscription = spec.subscription;
  }
  return invoice;
}

/** The configured webhook secret (the first one during a rotation). */
export function webhookSecret(): string {
  const configured = process.env.STRIPE_WEBHOOK_SECRET?.split(",")[0]?.trim();
  return configured || TEST_ENV.STRIPE_WEBHOOK_SECRET;
}

/** A POST as Stripe sends it, `Stripe-Signature` made for `body`. */
export function signedRequest(
  body: string,
  options: { secret?: string; timestamp?: number } = {},
): Request {
  const header = Stripe.webhooks.generateTestHeaderString({
    payload: body,
    secret: options.secret ?? webhookSecret(),
    timestamp: options.timestamp,
  });
  return webhookRequest(body, { "Stripe-Signature": header });
}

export function webhookRequest(
  body: string | null,
  headers: Record<string, string> = {},
  method = "POST",
): Request {
  return new Request(WEBHOOK_URL, {
    method,
    headers: { "Content-Type": "application/json", ...headers },
    body,
  });
}

/** Calls the route the way Remix does for this method. */
export async function send(request: Request): Promise<Response> {
  const args = { request, params: {}, context: {} };
  return request.method === "GET" || request.method === "HEAD"
    ? loader(args)
    : action(args);
}

/** Signs and delivers one event. */
export async function deliver(
  event: JsonObject,
  options: { secret?: string; timestamp?: number } = {},
): Promise<Response> {
  return send(signedRequest(JSON.stringify(event), options));
}

/** Delivers and expects Stripe to be told the event was received. */
export async function deliverOk(event: JsonObject): Promise<void> {
  const response = await deliver(event);
  const body: unknown = await response.json();
  expect({ status: response.status, body }).toEqual({
    status: 200,
    body: { received: true },
  });
}

export async function resetDatabase(): Promise<void> {
  const db = await getDb();
  await db.deleteFrom("webhook_events").execute();
  await db.deleteFrom("subscriptions").execute();
  await db.deleteFrom("users").execute();
}

/** A user row; the password plays no part in these tests. */
export async function addUser(
  email: string,
  stripeCustomerId: string | null = null,
): Promise<UserRow> {
  const db = await getDb();
  return db
    .insertInto("users")
    .values({
      email,
      password_hash: "unused",
      stripe_customer_id: stripeCustomerId,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function userById(id: number): Promise<UserRow> {
  const db = await getDb();
  return db
    .selectFrom("users")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirstOrThrow();
}

export async function subscriptionRows(): Promise<SubscriptionRow[]> {
  const db = await getDb();
  return db.selectFrom("subscriptions").selectAll().orderBy("id").execute();
}

export async function subscriptionRow(
  stripeSubscriptionId: string,
): Promise<SubscriptionRow> {
  const db = await getDb();
  return db
    .selectFrom("subscriptions")
    .selectAll()
    .where("stripe_subscription_id", "=", stripeSubscriptionId)
    .executeTakeFirstOrThrow();
}

export async function ledgerRows() {
  const db = await getDb();
  return db.selectFrom("webhook_events").selectAll().orderBy("id").execute();
}

/** The row's fields that describe the subscription, for equality checks. */
export function stateOf(row: SubscriptionRow) {
  return {
    status: row.status,
    plan: row.plan,
    period: row.period,
    current_period_end: row.current_period_end,
    cancel_at_period_end: row.cancel_at_period_end,
  };
}

/** A customer in the fake Stripe, for handlers that read its email. */
export function seedCustomer(id: string, email: string | null): void {
  stripeMock.customers.set(id, {
    id,
    object: "customer",
    email,
    metadata: {},
    created: 1_700_000_000,
    livemode: false,
  });
}

/** The subscription Stripe's API will return for its id. */
export function seedSubscription(subscription: JsonObject): void {
  stripeMock.subscriptions.set(String(subscription.id), subscription);
}

export function subscriptionReads(id: string): number {
  return stripeMock.requestsTo("GET", `/v1/subscriptions/${id}`).length;
}

/**
 * Silences the one-line delivery log and captures console.error: a test
 * that expects errors takes them with `takeErrors()`, and any error left
 * over fails the test. `takeInfo()` hands over the info lines (the delivery
 * log) printed since the last call.
 */
export function watchConsole() {
  let infos: MockInstance<typeof console.info> | undefined;
  let errors: MockInstance<typeof console.error> | undefined;
  beforeEach(() => {
    infos = vi.spyOn(console, "info").mockImplementation(() => undefined);
    errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
  });
  afterEach(() => {
    const unexpected = errors?.mock.calls.map((args) => args.join(" "));
    vi.restoreAllMocks();
    expect(unexpected, "unexpected console.error").toEqual([]);
  });
  return {
    takeErrors(): string[] {
      const logged = errors?.mock.calls.map((args) => args.join(" ")) ?? [];
      errors?.mockClear();
      return logged;
    },
    takeInfo(): string[] {
      const logged = infos?.mock.calls.map((args) => args.join(" ")) ?? [];
      infos?.mockClear();
      return logged;
    },
  };
}
