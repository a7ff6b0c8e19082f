import SQLite from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import Stripe from "stripe";

import {
  processStripeEvent,
  type StripeEvent,
} from "~/billing/webhook-handlers.server";
import { migrateToLatest, type Db } from "~/db.server";
import type { Database } from "~/db/schema";
import { createUser } from "~/models/user.server";

import type { HistoryUser } from "./stripe-history";

/**
 * Helpers for the tests that deliver many events and compare databases:
 * the envelope Stripe posts, bounded concurrent posting, the rows that
 * in-order single delivery gives, and a snapshot of the rows that matter.
 */

/** The envelope Stripe posts for an event, in the current API version. */
export function envelopeOf(event: StripeEvent): string {
  return JSON.stringify({
    id: event.id,
    object: "event",
    api_version: "2025-11-17.clover",
    created: event.created,
    data: { object: event.object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: event.type,
  });
}

/**
 * POSTs a signed payload; the status, or null when the server could not be
 * reached or dropped the connection (a crash does that).
 */
export async function postSigned(
  url: string,
  payload: string,
  secret: string,
): Promise<number | null> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Stripe-Signature": Stripe.webhooks.generateTestHeaderString({
          payload,
          secret,
        }),
      },
      body: payload,
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return null;
  }
}

/** Runs `work` over `items` with at most `limit` calls in flight. */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

const templates = new Map<string, Buffer>();

/**
 * A migrated in-memory database holding `users`, ids in that order. The
 * property test wants hundreds of them: each is a copy of one migrated
 * template, which costs a fraction of migrating afresh.
 */
export async function databaseWithUsers(users: HistoryUser[]): Promise<Db> {
  const key = JSON.stringify(users);
  let template = templates.get(key);
  if (!template) {
    const sqlite = new SQLite(":memory:");
    const db = kyselyOver(sqlite);
    await migrateToLatest(db, () => {});
    await addUsers(db, users);
    template = sqlite.serialize();
    templates.set(key, template);
    await db.destroy();
  }
  return kyselyOver(new SQLite(template));
}

function kyselyOver(sqlite: SQLite.Database): Db {
  // What openDatabase sets that matters in memory: ON DELETE SET NULL
  // depends on foreign keys.
  sqlite.pragma("foreign_keys = ON");
  return new Kysely<Database>({
    dialect: new SqliteDialect({ database: sqlite }),
  });
}

/** Creates `users`, checking each gets the id its events name. */
export async function addUsers(db: Db, users: HistoryUser[]): Promise<void> {
  for (const user of users) {
    const row = await createUser(db, {
      email: user.email,
      passwordHash: "unused",
    });
    if (row?.id !== user.id) {
      throw new Error(`${user.email} got id ${row?.id}, not ${user.id}`);
    }
  }
}

/**
 * The rows in-order single delivery gives: each history's events once, in
 * the order Stripe created them, on a fresh database holding `users` (and
 * whatever `prepare` adds). Stripe's API must already answer (the msw mock)
 * what the servers' Stripe answered.
 */
export async function rowsAfterInOrderDelivery(
  users: HistoryUser[],
  histories: StripeEvent[][],
  prepare: (db: Db) => Promise<void> = async () => {},
) {
  const db = await databaseWithUsers(users);
  try {
    await prepare(db);
    for (const events of histories) {
      for (const event of events) await processStripeEvent(db, event);
    }
    return await snapshot(db);
  } finally {
    await db.destroy();
  }
}

/** The rows that describe subscriptions and users, without timestamps. */
export async function snapshot(db: Kysely<Database>) {
  const subscriptions = await db
    .selectFrom("subscriptions")
    .select([
      "user_id",
      "stripe_subscription_id",
      "stripe_customer_id",
      "plan",
      "period",
      "status",
      "current_period_end",
      "cancel_at_period_end",
      "stripe_created",
      "last_event_created",
      "last_event_kind",
    ])
    .orderBy("stripe_subscription_id")
    .execute();
  const users = await db
    .selectFrom("users")
    .select(["id", "email", "stripe_customer_id", "subscription_status"])
    .orderBy("id")
    .execute();
  return { subscriptions, users };
}

export type DeliveryLogLine = {
  event_id: string | null;
  type: string | null;
  outcome: string;
  status: number;
  duration_ms: number;
};

/** The webhook's structured lines in a server's output, one per delivery. */
export function deliveryLogLines(output: string): DeliveryLogLine[] {
  const lines: DeliveryLogLine[] = [];
  for (const line of output.split("\n")) {
    if (!line.startsWith("{")) continue;
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed === "object" && parsed !== null && "outcome" in parsed) {
      lines.push(parsed as DeliveryLogLine);
    }
  }
  return lines;
}

/**
 * Opens a database file read-only, as an operator inspecting it would: no
 * migration, no write, whatever state a crash left.
 */
export function openReadOnly(file: string): {
  sqlite: SQLite.Database;
  db: Kysely<Database>;
} {
  const sqlite = new SQLite(file, { readonly: true, fileMustExist: true });
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: sqlite }),
  });
  return { sqlite, db };
}
