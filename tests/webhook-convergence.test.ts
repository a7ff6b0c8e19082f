import fc from "fast-check";
import { afterAll, beforeAll, expect, test } from "vitest";

import { processStripeEvent } from "~/billing/webhook-handlers.server";
import type { Db } from "~/db.server";
import { createUser } from "~/models/user.server";

import { stripeMock } from "./mocks/stripe";
import {
  emptyDatabase,
  openScratchDatabase,
  type ScratchDatabase,
} from "./support/scratch-database";
import {
  deliveriesArbitrary,
  historyArbitrary,
  type History,
} from "./support/stripe-history";

// CI runs at least this many generated histories; a failure prints the seed
// and path that replay it (fc.assert's `seed` and `path` parameters).
const RUNS = Number(process.env.CONVERGENCE_RUNS ?? 500);

// Two databases emptied before each history: on PostgreSQL, creating two
// databases per history would cost more than the history itself.
let databases: ScratchDatabase[] = [];

beforeAll(async () => {
  databases = await Promise.all([openScratchDatabase(), openScratchDatabase()]);
});
afterAll(async () => {
  await Promise.all(databases.map((database) => database.close()));
});

async function freshDatabase(index: number, history: History): Promise<Db> {
  const db = databases[index]?.db;
  if (!db) throw new Error("The scratch databases are not open");
  await emptyDatabase(db);
  await createUser(db, { email: history.userEmail, passwordHash: "x" });
  return db;
}

async function snapshot(db: Db) {
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

test("any order, duplication and concurrency of deliveries ends as in-order single delivery", async () => {
  await fc.assert(
    fc.asyncProperty(
      historyArbitrary.chain((history) =>
        deliveriesArbitrary(history).map((batches) => ({ history, batches })),
      ),
      async ({ history, batches }) => {
        // Stripe's API answers with the subscription as it is now: after
        // the whole history.
        stripeMock.subscriptions.set(
          history.subscriptionId,
          history.finalSubscription,
        );

        const inOrder = await freshDatabase(0, history);
        for (const event of history.events) {
          await processStripeEvent(inOrder, event);
        }

        const shuffled = await freshDatabase(1, history);
        for (const batch of batches) {
          await Promise.all(
            batch.map((event) => processStripeEvent(shuffled, event)),
          );
        }

        expect(await snapshot(shuffled)).toEqual(await snapshot(inOrder));

        const delivered = new Set(batches.flat().map((event) => event.id));
        const ledger = await shuffled
          .selectFrom("webhook_events")
          .select("id")
          .execute();
        expect(ledger.map((row) => row.id).sort()).toEqual(
          [...delivered].sort(),
        );
      },
    ),
    { numRuns: RUNS },
  );
}, 600_000);
