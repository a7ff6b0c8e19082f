import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, expect, inject, test } from "vitest";

import {
  migrateToLatest,
  openDatabase,
  openDatabaseFromUrl,
  type Db,
} from "~/db.server";
import { createUser, deleteUser } from "~/models/user.server";
import { recordWebhookEvent } from "~/models/webhook-event.server";

import { copySqliteToPostgres } from "../scripts/db-copy";
import { createDatabase } from "./support/postgres-databases";

const T = 1_800_000_000;

let tmpDir: string;
let sqliteFile: string;
let target: { url: string; drop(): Promise<void> };

beforeAll(async () => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "dictia-copy-"));
  sqliteFile = path.join(tmpDir, "app.sqlite");
  const source = openDatabase(sqliteFile);
  await migrateToLatest(source, () => {});
  await seed(source);
  await source.destroy();
  target = await createDatabase(inject("postgresUrl"), "dictia_copy");
});

afterAll(async () => {
  await target?.drop();
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
});

test("an interrupted copy resumes, a finished one copies every row with its id, and a second run changes nothing", async () => {
  let batches = 0;
  await expect(
    copySqliteToPostgres(`file:${sqliteFile}`, target.url, {
      batchSize: 2,
      afterBatch: () => {
        batches += 1;
        if (batches === 3) throw new Error("simulated interruption");
      },
    }),
  ).rejects.toThrow("simulated interruption");
  const partial = await readAll(target.url);
  expect(partial.users.length).toBeGreaterThan(0);
  expect(partial.webhook_events).toEqual([]);

  const resumed = await copySqliteToPostgres(`file:${sqliteFile}`, target.url, {
    batchSize: 2,
  });
  const expected = await readAll(`file:${sqliteFile}`);
  expect(await readAll(target.url)).toEqual(expected);
  expect(resumed.users.alreadyThere).toBe(partial.users.length);
  expect(
    resumed.subscriptions.copied + resumed.subscriptions.alreadyThere,
  ).toBe(expected.subscriptions.length);

  const again = await copySqliteToPostgres(`file:${sqliteFile}`, target.url);
  expect(again).toEqual({
    users: { copied: 0, alreadyThere: expected.users.length },
    subscriptions: { copied: 0, alreadyThere: expected.subscriptions.length },
    webhook_events: { copied: 0, alreadyThere: expected.webhook_events.length },
  });
  expect(await readAll(target.url)).toEqual(expected);
});

test("after a copy, a new user and subscription get ids after the copied ones", async () => {
  await copySqliteToPostgres(`file:${sqliteFile}`, target.url);
  const db = openDatabaseFromUrl(target.url);
  try {
    const user = await createUser(db, {
      email: "apres-copie@exemple.test",
      passwordHash: "x",
    });
    const highest = await db
      .selectFrom("users")
      .select((eb) => eb.fn.max("id").as("id"))
      .where("email", "!=", "apres-copie@exemple.test")
      .executeTakeFirstOrThrow();
    expect(user?.id).toBeGreaterThan(Number(highest.id));
    const subscription = await db
      .insertInto("subscriptions")
      .values(subscriptionValues("sub_after_copy", user?.id ?? null))
      .returning("id")
      .executeTakeFirstOrThrow();
    expect(subscription.id).toBeGreaterThan(3);
  } finally {
    await db.destroy();
  }
});

test("the copy refuses a TO that is not PostgreSQL and a FROM that is not SQLite", async () => {
  await expect(
    copySqliteToPostgres(`file:${sqliteFile}`, `file:${sqliteFile}.copy`),
  ).rejects.toThrow(/TO must be a PostgreSQL URL/);
  await expect(copySqliteToPostgres(target.url, target.url)).rejects.toThrow(
    /FROM must be a SQLite database/,
  );
  expect(fs.existsSync(`${sqliteFile}.copy`)).toBe(false);
});

/** Users with a gap in their ids, linked and unlinked subscriptions, a ledger. */
async function seed(db: Db) {
  const ids: number[] = [];
  for (const name of ["ana", "bob", "chloe", "denis", "eve"]) {
    const user = await createUser(db, {
      email: `${name}@exemple.test`,
      passwordHash: `hash-${name}`,
    });
    if (!user) throw new Error("No user");
    ids.push(user.id);
  }
  await db
    .updateTable("users")
    .set({ stripe_customer_id: "cus_ana", subscription_status: "active" })
    .where("id", "=", ids[0] ?? 0)
    .execute();
  await db
    .insertInto("subscriptions")
    .values([
      subscriptionValues("sub_ana", ids[0] ?? null),
      subscriptionValues("sub_bob", ids[1] ?? null),
      { ...subscriptionValues("sub_orphan", null), cancel_at_period_end: 1 },
    ])
    .execute();
  // Law 25: bob's subscription stays, unlinked; his id leaves a gap.
  await deleteUser(db, ids[1] ?? 0);
  for (let index = 0; index < 5; index += 1) {
    await recordWebhookEvent(db, {
      id: `evt_copy_${index}`,
      type: "customer.subscription.updated",
      created: T + index,
      outcome: index % 2 === 0 ? "handled" : "ignored",
    });
  }
}

function subscriptionValues(
  stripeSubscriptionId: string,
  userId: number | null,
) {
  return {
    user_id: userId,
    stripe_subscription_id: stripeSubscriptionId,
    stripe_customer_id: `cus_${stripeSubscriptionId.slice(4)}`,
    plan: "dictia-16",
    period: "yearly",
    status: "active",
    current_period_end: T + 365 * 86_400,
    cancel_at_period_end: 0,
    stripe_created: T,
    last_event_created: T,
    created_at: "2026-12-04T12:00:00.000Z",
    updated_at: "2026-12-04T12:00:00.000Z",
  };
}

async function readAll(url: string) {
  const db = openDatabaseFromUrl(url);
  try {
    return {
      users: await db.selectFrom("users").selectAll().orderBy("id").execute(),
      subscriptions: await db
        .selectFrom("subscriptions")
        .selectAll()
        .orderBy("id")
        .execute(),
      webhook_events: await db
        .selectFrom("webhook_events")
        .selectAll()
        .orderBy("id")
        .execute(),
    };
  } finally {
    await db.destroy();
  }
}
