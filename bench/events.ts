import fs from "node:fs";
import path from "node:path";

import Stripe from "stripe";

/**
 * The events a burst is made of: Stripe-shaped payloads (the current API
 * version's fixtures of tests/fixtures/stripe), each with its own id, signed
 * the moment it is sent so the signature is always within Stripe's
 * five-minute tolerance, however long the run.
 */

const FIXTURES = path.resolve(
  import.meta.dirname,
  "..",
  "tests",
  "fixtures",
  "stripe",
  "events",
);

/** The configured monthly Price of DictIA 16: events name a known plan. */
export const BENCH_PRICE_ID = "price_dictia16_monthly";

const DAY = 86_400;

export function customerIdOf(index: number): string {
  return `cus_bench${index.toString(36).padStart(6, "0")}`;
}

export function subscriptionIdOf(index: number): string {
  return `sub_bench${index.toString(36).padStart(6, "0")}`;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function objectAt(parent: JsonObject, key: string): JsonObject {
  const value = parent[key];
  if (!isObject(value)) throw new Error(`No object at "${key}"`);
  return value;
}

function firstItem(subscription: JsonObject): JsonObject {
  const items = objectAt(subscription, "items").data;
  if (!Array.isArray(items) || !isObject(items[0])) {
    throw new Error("The subscription fixture has no item");
  }
  return items[0];
}

// Values that change per event are placeholders in a template serialized
// once; filling them is one string replace, so building an event costs the
// load generator next to nothing.
const SLOT = /"@@([A-Z_]+)@@"/g;
const slot = (name: string) => `@@${name}@@`;

type Slots = Record<string, string | number | null>;

function fill(template: string, values: Slots): string {
  return template.replace(SLOT, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`No value for ${name}`);
    return JSON.stringify(value);
  });
}

function loadEvent(name: string): JsonObject {
  const value: unknown = JSON.parse(
    fs.readFileSync(path.join(FIXTURES, name), "utf8"),
  );
  if (!isObject(value)) throw new Error(`${name} is not a JSON object`);
  return value;
}

function envelope(event: JsonObject, type: string): JsonObject {
  return {
    ...event,
    id: slot("EVENT_ID"),
    created: slot("CREATED"),
    type,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
  };
}

function subscriptionTemplate(): string {
  const event = loadEvent(
    "openapi__customer.subscription.updated__2026__wrapped.json",
  );
  const data = objectAt(event, "data");
  const subscription = objectAt(data, "object");
  Object.assign(subscription, {
    id: slot("SUBSCRIPTION"),
    customer: slot("CUSTOMER"),
    status: slot("STATUS"),
    created: slot("SUBSCRIPTION_CREATED"),
    metadata: {},
    cancel_at_period_end: false,
    cancel_at: null,
  });
  const item = firstItem(subscription);
  item.subscription = slot("SUBSCRIPTION");
  objectAt(item, "price").id = BENCH_PRICE_ID;
  objectAt(item, "plan").id = BENCH_PRICE_ID;
  item.current_period_start = slot("PERIOD_START");
  item.current_period_end = slot("PERIOD_END");
  data.previous_attributes = { status: "active" };
  // Stripe sends its events pretty-printed; so does this.
  return JSON.stringify(
    envelope(event, "customer.subscription.updated"),
    null,
    2,
  );
}

function invoiceTemplate(): string {
  const event = loadEvent(
    "openapi__invoice.payment_succeeded__2026__wrapped.json",
  );
  const invoice = objectAt(objectAt(event, "data"), "object");
  Object.assign(invoice, {
    id: slot("INVOICE"),
    customer: slot("CUSTOMER"),
    customer_email: null,
    status: "paid",
    // The current shape: the subscription under parent.subscription_details.
    parent: {
      type: "subscription_details",
      quote_details: null,
      subscription_details: {
        metadata: {},
        subscription: slot("SUBSCRIPTION"),
      },
    },
  });
  return JSON.stringify(envelope(event, "invoice.payment_succeeded"), null, 2);
}

export type BenchEvent = {
  id: string;
  type: string;
  body: string;
  /** The `Stripe-Signature` header, made now. */
  signature: string;
};

/**
 * An endless series of distinct events over `subscriptions` stored
 * subscriptions (indexes 1…n). Consecutive events go in pairs about one
 * subscription: a `customer.subscription.updated` that moves it to past_due
 * with a later period end, then the `invoice.payment_succeeded` one second
 * later that makes it active again — a payment-retry day. Each pass over
 * the subscriptions is two seconds later than the previous one, so every
 * event is newer than what is stored and its effects are written.
 */
export class EventSeries {
  private readonly subscriptionJson = subscriptionTemplate();
  private readonly invoiceJson = invoiceTemplate();
  private sent = 0;

  constructor(
    private readonly options: {
      subscriptions: number;
      secret: string;
      /** Makes the ids of this series unlike any other's. */
      prefix: string;
      /** `created` of the first pass; the seed's events are older. */
      firstCreated: number;
    },
  ) {
    if (!/^[A-Za-z0-9]+$/.test(options.prefix)) {
      throw new Error(`Not an id prefix: ${options.prefix}`);
    }
  }

  /** How many events this series has made. */
  get count(): number {
    return this.sent;
  }

  next(): BenchEvent {
    const sequence = this.sent;
    this.sent += 1;
    const pair = Math.floor(sequence / 2);
    const index = (pair % this.options.subscriptions) + 1;
    const pass = Math.floor(pair / this.options.subscriptions);
    const isInvoice = sequence % 2 === 1;
    const created = this.options.firstCreated + pass * 2 + (isInvoice ? 1 : 0);
    const id = `evt_${this.options.prefix}${sequence.toString(36).padStart(8, "0")}`;
    const periodEnd = this.options.firstCreated + (pass + 1) * 30 * DAY;
    const body = isInvoice
      ? fill(this.invoiceJson, {
          EVENT_ID: id,
          CREATED: created,
          INVOICE: `in_${this.options.prefix}${sequence.toString(36)}`,
          CUSTOMER: customerIdOf(index),
          SUBSCRIPTION: subscriptionIdOf(index),
        })
      : fill(this.subscriptionJson, {
          EVENT_ID: id,
          CREATED: created,
          SUBSCRIPTION: subscriptionIdOf(index),
          CUSTOMER: customerIdOf(index),
          STATUS: "past_due",
          SUBSCRIPTION_CREATED: this.options.firstCreated - 365 * DAY,
          PERIOD_START: periodEnd - 30 * DAY,
          PERIOD_END: periodEnd,
        });
    const signature = Stripe.webhooks.generateTestHeaderString({
      payload: body,
      secret: this.options.secret,
    });
    return {
      id,
      type: isInvoice
        ? "invoice.payment_succeeded"
        : "customer.subscription.updated",
      body,
      signature,
    };
  }
}
