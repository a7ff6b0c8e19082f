import SQLite from "better-sqlite3";

import { migrateToLatest, openDatabase } from "../app/db.server";
import { customerIdOf, subscriptionIdOf } from "./events";

const DAY = 86_400;

/**
 * A database as it stands after `history` subscriptions have lived a while:
 * created and migrated by the app's own code, then `history` users, each
 * owning the Stripe customer of one active subscription, and `history`
 * ledger rows of past events. Plain SQL in one transaction: 100 000 of each
 * take a second or two.
 */
export async function seedDatabase(
  file: string,
  options: { history: number; lastEventCreated: number },
): Promise<void> {
  const db = openDatabase(file);
  await migrateToLatest(db, () => {});
  await db.destroy();

  const sqlite = new SQLite(file);
  try {
    const now = new Date().toISOString();
    const addUser = sqlite.prepare(
      `insert into users (id, email, password_hash, stripe_customer_id, subscription_status, created_at, updated_at)
       values (?, ?, 'not-a-login', ?, 'active', ?, ?)`,
    );
    const addSubscription = sqlite.prepare(
      `insert into subscriptions (user_id, stripe_subscription_id, stripe_customer_id, plan, period, status,
         current_period_end, cancel_at_period_end, stripe_created, last_event_created, last_event_kind, created_at, updated_at)
       values (?, ?, ?, 'dictia-16', 'monthly', 'active', ?, 0, ?, ?, 'subscription', ?, ?)`,
    );
    const addLedgerRow = sqlite.prepare(
      `insert into webhook_events (id, type, created, outcome, processed_at)
       values (?, ?, ?, 'handled', ?)`,
    );
    const { lastEventCreated } = options;
    sqlite.transaction(() => {
      for (let index = 1; index <= options.history; index += 1) {
        addUser.run(
          index,
          `abonne-${index}@exemple.test`,
          customerIdOf(index),
          now,
          now,
        );
        addSubscription.run(
          index,
          subscriptionIdOf(index),
          customerIdOf(index),
          lastEventCreated + 30 * DAY,
          lastEventCreated - 365 * DAY,
          lastEventCreated,
          now,
          now,
        );
        addLedgerRow.run(
          `evt_history${index.toString(36).padStart(8, "0")}`,
          index % 2 === 0
            ? "invoice.payment_succeeded"
            : "customer.subscription.updated",
          lastEventCreated - (options.history - index),
          now,
        );
      }
    })();
  } finally {
    sqlite.close();
  }
}
