import { beforeEach, expect, test } from "vitest";

import {
  processStripeEvent,
  type StripeEvent,
} from "~/billing/webhook-handlers.server";
import { getDb, writeTransaction } from "~/db.server";
import { recordWebhookEvent } from "~/models/webhook-event.server";
import { createUser, deleteUser } from "~/models/user.server";

import { TEST_ENV } from "./support/env";
import { emptyDatabase } from "./support/scratch-database";
import { subscriptionObject } from "./support/stripe-webhooks";

// These run on SQLite and again on PostgreSQL (vitest's two projects): what
// the webhook relies on must hold on both.

const T = 1_800_000_000;
const DAY = 86_400;

beforeEach(async () => {
  await emptyDatabase(await getDb());
});

test("the migrations make the same tables, columns, nullability and defaults on both engines", async () => {
  const db = await getDb();
  const tables = await db.introspection.getTables();
  const shape = tables
    .map((table) => ({
      table: table.name,
      columns: table.columns
        .map((column) => ({
          name: column.name,
          // SQLite reports primary keys as nullable (PRIMARY KEY does not
          // imply NOT NULL there); the ids are always written.
          nullable: column.name === "id" ? false : column.isNullable,
          // An identity column (PostgreSQL) and AUTOINCREMENT (SQLite) both
          // fill the id; neither is a default the tables rely on.
          default: column.hasDefaultValue && column.name !== "id",
        }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    }))
    .sort((a, b) => a.table.localeCompare(b.table));
  const column = (name: string, nullable: boolean, byDefault = false) => ({
    name,
    nullable,
    default: byDefault,
  });
  expect(shape).toEqual([
    {
      table: "subscriptions",
      columns: [
        column("cancel_at_period_end", false, true),
        column("created_at", false, true),
        column("current_period_end", true),
        column("ended_at", true),
        column("id", false),
        column("last_event_created", false),
        column("last_event_kind", false, true),
        column("period", true),
        column("plan", true),
        column("status", false),
        column("stripe_created", false),
        column("stripe_customer_id", false),
        column("stripe_subscription_id", false),
        column("updated_at", false, true),
        column("user_id", true),
      ],
    },
    {
      table: "users",
      columns: [
        column("created_at", false, true),
        column("email", false),
        column("id", false),
        column("password_hash", false),
        column("stripe_customer_id", true),
        column("subscription_status", true),
        column("updated_at", false, true),
      ],
    },
    {
      table: "webhook_events",
      columns: [
        column("created", false),
        column("id", false),
        column("outcome", false),
        column("processed_at", false),
        column("type", false),
      ],
    },
  ]);
});

test("a new user's timestamps are UTC text in SQLite's format", async () => {
  const db = await getDb();
  const user = await createUser(db, {
    email: "horodatage@exemple.test",
    passwordHash: "x",
  });
  expect(user?.created_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  const written = Date.parse(`${user?.created_at.replace(" ", "T")}Z`);
  expect(Math.abs(written - Date.now())).toBeLessThan(10 * 60_000);
});

test("deleting a user keeps their subscription rows, with no user", async () => {
  const db = await getDb();
  const user = await createUser(db, {
    email: "loi25@exemple.test",
    passwordHash: "x",
  });
  if (!user) throw new Error("No user");
  await db
    .insertInto("subscriptions")
    .values(subscriptionValues("sub_law25", user.id))
    .execute();

  await deleteUser(db, user.id);

  const rows = await db
    .selectFrom("subscriptions")
    .select(["stripe_subscription_id", "user_id"])
    .execute();
  expect(rows).toEqual([
    { stripe_subscription_id: "sub_law25", user_id: null },
  ]);
});

test("a second row with the same Stripe subscription id is refused", async () => {
  const db = await getDb();
  await db
    .insertInto("subscriptions")
    .values(subscriptionValues("sub_unique", null))
    .execute();

  await expect(
    db
      .insertInto("subscriptions")
      .values(subscriptionValues("sub_unique", null))
      .execute(),
  ).rejects.toThrow(/unique/i);
});

test("unix seconds past 2038 and 0/1 flags come back as the same numbers", async () => {
  const db = await getDb();
  const far = 4_102_444_800; // 2100-01-01
  await db
    .insertInto("subscriptions")
    .values({
      ...subscriptionValues("sub_far", null),
      current_period_end: far,
      stripe_created: far - DAY,
      last_event_created: far,
      cancel_at_period_end: 1,
    })
    .execute();
  await recordWebhookEvent(db, {
    id: "evt_far",
    type: "customer.subscription.updated",
    created: far,
    outcome: "handled",
  });

  const row = await db
    .selectFrom("subscriptions")
    .select([
      "current_period_end",
      "stripe_created",
      "last_event_created",
      "cancel_at_period_end",
    ])
    .executeTakeFirstOrThrow();
  expect(row).toStrictEqual({
    current_period_end: far,
    stripe_created: far - DAY,
    last_event_created: far,
    cancel_at_period_end: 1,
  });
  const event = await db
    .selectFrom("webhook_events")
    .select("created")
    .executeTakeFirstOrThrow();
  expect(event.created).toBe(far);
});

test("a failure inside the webhook's transaction leaves neither the ledger row nor the effects", async () => {
  const db = await getDb();

  await expect(
    writeTransaction(db, async (trx) => {
      await recordWebhookEvent(trx, {
        id: "evt_rolled_back",
        type: "customer.subscription.created",
        created: T,
        outcome: "handled",
      });
      await trx
        .insertInto("subscriptions")
        .values(subscriptionValues("sub_rolled_back", null))
        .execute();
      throw new Error("simulated crash");
    }),
  ).rejects.toThrow("simulated crash");

  expect(await db.selectFrom("webhook_events").selectAll().execute()).toEqual(
    [],
  );
  expect(await db.selectFrom("subscriptions").selectAll().execute()).toEqual(
    [],
  );
});

test("concurrent deliveries of one event write one ledger row and apply it once", async () => {
  const db = await getDb();
  const event = subscriptionEvent(
    "evt_burst",
    "customer.subscription.created",
    T,
    "active",
  );

  const results = await Promise.all(
    Array.from({ length: 8 }, () => processStripeEvent(db, event)),
  );

  expect(results.filter((result) => result.outcome === "handled")).toHaveLength(
    1,
  );
  expect(
    results.filter((result) => result.outcome === "duplicate"),
  ).toHaveLength(7);
  expect(await db.selectFrom("webhook_events").select("id").execute()).toEqual([
    { id: "evt_burst" },
  ]);
  expect(
    await db
      .selectFrom("subscriptions")
      .select(["stripe_subscription_id", "status"])
      .execute(),
  ).toEqual([{ stripe_subscription_id: "sub_burst", status: "active" }]);
});

test("concurrent events about a subscription not stored yet make one row holding the newest state", async () => {
  const db = await getDb();
  const events = [
    subscriptionEvent(
      "evt_race_1",
      "customer.subscription.created",
      T,
      "incomplete",
    ),
    subscriptionEvent(
      "evt_race_2",
      "customer.subscription.updated",
      T + 5,
      "active",
    ),
    subscriptionEvent(
      "evt_race_3",
      "customer.subscription.updated",
      T + 9,
      "past_due",
    ),
    subscriptionEvent(
      "evt_race_4",
      "customer.subscription.updated",
      T + 2,
      "active",
    ),
  ];

  await Promise.all(
    [...events, ...events].map((event) => processStripeEvent(db, event)),
  );

  expect(
    await db
      .selectFrom("subscriptions")
      .select(["stripe_subscription_id", "status", "last_event_created"])
      .execute(),
  ).toEqual([
    {
      stripe_subscription_id: "sub_burst",
      status: "past_due",
      last_event_created: T + 9,
    },
  ]);
  expect(
    await db.selectFrom("webhook_events").select("id").execute(),
  ).toHaveLength(4);
});

function subscriptionValues(
  stripeSubscriptionId: string,
  userId: number | null,
) {
  return {
    user_id: userId,
    stripe_subscription_id: stripeSubscriptionId,
    stripe_customer_id: "cus_guarantees",
    plan: "dictia-16",
    period: "yearly",
    status: "active",
    current_period_end: T + 365 * DAY,
    cancel_at_period_end: 0,
    stripe_created: T,
    last_event_created: T,
    created_at: new Date().toISOString(),
    updated_at: new Date().toISOString(),
  };
}

function subscriptionEvent(
  id: string,
  type: string,
  created: number,
  status: string,
): StripeEvent {
  return {
    id,
    type,
    created,
    object: subscriptionObject("current", {
      id: "sub_burst",
      customer: "cus_burst",
      status,
      priceId: TEST_ENV.STRIPE_DICTIA_16_YEARLY,
      currentPeriodEnd: T + 365 * DAY,
      created: T,
    }),
  };
}
