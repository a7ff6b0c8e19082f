import {
  CompiledQuery,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type UnknownRow,
} from "kysely";
import { afterAll, beforeAll, beforeEach, expect, test } from "vitest";

import { toStripeEvent } from "~/billing/webhook.server";
import { processStripeEvent } from "~/billing/webhook-handlers.server";
import type { Db } from "~/db.server";

import {
  eventFixture,
  seedSubscription,
  subscriptionObject,
  withCheckoutSession,
  withInvoice,
  withSubscription,
  type JsonObject,
  type SubscriptionSpec,
} from "./support/stripe-webhooks";
import {
  emptyDatabase,
  openScratchDatabase,
  type ScratchDatabase,
} from "./support/scratch-database";
import { TEST_ENV } from "./support/env";

// What one delivery costs the database: every statement the webhook runs is
// an index search (so its cost does not grow with history, the benchmark's
// claim), and how many there are. The counts are the benchmark's cost in
// statements: a change that adds one shows here before it shows in
// `npm run bench`.

const T = 1_780_000_000;
const DAY = 86_400;
const STORED = 300;

let scratch: ScratchDatabase;
let statements: CompiledQuery[] = [];

/**
 * Records each statement's SQL and parameters as Kysely runs it. A plugin
 * also sees the queries nested in a statement, which never run alone: only
 * those that return a result are kept.
 */
class RecordStatements implements KyselyPlugin {
  private readonly compiled = new WeakMap<object, CompiledQuery>();

  constructor(private readonly db: Db) {}

  transformQuery(args: PluginTransformQueryArgs) {
    this.compiled.set(
      args.queryId,
      this.db.getExecutor().compileQuery(args.node, args.queryId),
    );
    return args.node;
  }

  async transformResult(
    args: PluginTransformResultArgs,
  ): Promise<QueryResult<UnknownRow>> {
    const statement = this.compiled.get(args.queryId);
    if (statement) statements.push(statement);
    return args.result;
  }
}

beforeAll(async () => {
  scratch = await openScratchDatabase();
});
afterAll(() => scratch.close());

beforeEach(async () => {
  await emptyDatabase(scratch.db);
  // Enough rows that a scan would not be the planner's cheapest choice by
  // accident of an empty table.
  const now = new Date().toISOString();
  for (let index = 1; index <= STORED; index += 1) {
    const user = await scratch.db
      .insertInto("users")
      .values({
        email: `abonne-${index}@exemple.test`,
        password_hash: "not-a-login",
        stripe_customer_id: `cus_stored_${index}`,
        subscription_status: "active",
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    await scratch.db
      .insertInto("subscriptions")
      .values({
        user_id: user.id,
        stripe_subscription_id: `sub_stored_${index}`,
        stripe_customer_id: `cus_stored_${index}`,
        plan: "dictia-16",
        period: "yearly",
        status: "active",
        current_period_end: T + 365 * DAY,
        cancel_at_period_end: 0,
        stripe_created: T - DAY,
        last_event_created: T - DAY,
        created_at: now,
        updated_at: now,
      })
      .execute();
    await scratch.db
      .insertInto("webhook_events")
      .values({
        id: `evt_stored_${index}`,
        type: "customer.subscription.updated",
        created: T - DAY,
        outcome: "handled",
        processed_at: now,
      })
      .execute();
  }
  statements = [];
});

function stored(index: number, status = "active"): SubscriptionSpec {
  return {
    id: `sub_stored_${index}`,
    customer: `cus_stored_${index}`,
    status,
    priceId: TEST_ENV.STRIPE_DICTIA_16_YEARLY,
    currentPeriodEnd: T + 400 * DAY,
    created: T - DAY,
  };
}

/** Runs one event and returns the statements it cost, in order. */
async function statementsOf(raw: JsonObject): Promise<string[]> {
  const event = toStripeEvent(raw);
  if (!event) throw new Error("Not an event");
  statements = [];
  const recording = scratch.db.withPlugin(new RecordStatements(scratch.db));
  await processStripeEvent(recording, event);
  const ran = statements;
  statements = [];
  for (const statement of ran) await expectIndexSearchesOnly(statement);
  return ran.map((statement) => statement.sql.split(/\s+/)[0] ?? "");
}

async function expectIndexSearchesOnly(statement: CompiledQuery) {
  if (/^(begin|commit|rollback)\b/i.test(statement.sql)) return;
  const plan = await scratch.db.executeQuery<{ detail: string }>(
    CompiledQuery.raw(`explain query plan ${statement.sql}`, [
      ...statement.parameters,
    ]),
  );
  const details = plan.rows.map((row) => row.detail);
  // An INSERT of VALUES has no plan to show; every read does.
  if (!/^insert\b/i.test(statement.sql)) {
    expect(details.length, statement.sql).toBeGreaterThan(0);
  }
  for (const detail of details) {
    // "SCAN CONSTANT ROW" is an INSERT's VALUES, not a table.
    expect(detail, statement.sql).not.toMatch(/^SCAN (?!CONSTANT ROW)/);
  }
}

const subscriptionUpdated = (id: string, spec: SubscriptionSpec) =>
  eventFixture(
    "openapi__customer.subscription.updated__2026__wrapped.json",
    { id, created: T },
    (object) => withSubscription(object, spec),
  );

const invoice = (fixture: string, id: string, spec: SubscriptionSpec) =>
  eventFixture(fixture, { id, created: T + 1 }, (object) =>
    withInvoice(object, { customer: spec.customer, subscription: spec.id }),
  );

test("a customer.subscription.updated of a known customer: eight statements, each an index search", async () => {
  const ran = await statementsOf(
    subscriptionUpdated("evt_update", stored(7, "past_due")),
  );

  // Outside the transaction, the customer's user (may Stripe be asked for
  // an email?); inside: the ledger row, the user again, the subscription,
  // its update and the user's status.
  expect(ran).toEqual([
    "select",
    "begin",
    "insert",
    "select",
    "select",
    "update",
    "update",
    "commit",
  ]);
});

test("an invoice.payment_succeeded that ends a payment problem: six statements, each an index search", async () => {
  await statementsOf(subscriptionUpdated("evt_first", stored(8, "past_due")));

  const ran = await statementsOf(
    invoice(
      "openapi__invoice.payment_succeeded__2026__wrapped.json",
      "evt_paid",
      stored(8),
    ),
  );

  expect(ran).toEqual([
    "begin",
    "insert",
    "select",
    "update",
    "update",
    "commit",
  ]);
});

test("a new subscription and a failed payment search indexes only", async () => {
  const created = await statementsOf(
    eventFixture(
      "openapi__customer.subscription.created__2026__wrapped.json",
      { id: "evt_created", created: T },
      (object) =>
        withSubscription(object, {
          ...stored(9),
          id: "sub_new",
        }),
    ),
  );
  const failed = await statementsOf(
    invoice(
      "pay__invoice.payment_failed__2025-03-31.basil__wrapped.json",
      "evt_failed",
      stored(10),
    ),
  );

  expect(created).toContain("insert");
  expect(failed).toContain("update");
});

test("a completed Checkout Session read from Stripe searches indexes only", async () => {
  seedSubscription(
    subscriptionObject("current", { ...stored(11), id: "sub_checkout" }),
  );

  const ran = await statementsOf(
    eventFixture(
      "openapi__checkout.session.completed__2026__wrapped.json",
      { id: "evt_checkout", created: T },
      (object) =>
        withCheckoutSession(object, {
          customer: "cus_stored_11",
          subscription: "sub_checkout",
        }),
    ),
  );

  // The ledger is read first, before Stripe is asked for the subscription.
  expect(ran.slice(0, 2)).toEqual(["select", "begin"]);
});

test("a redelivered event writes nothing after its ledger insert", async () => {
  const event = subscriptionUpdated("evt_again", stored(12, "past_due"));
  await statementsOf(event);

  const ran = await statementsOf(event);

  expect(ran).toEqual(["select", "begin", "insert", "commit"]);
});
