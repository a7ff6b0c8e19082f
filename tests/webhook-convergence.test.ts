import fc from "fast-check";
import { afterAll, beforeAll, expect, test } from "vitest";

import {
  HANDLED_EVENT_TYPES,
  processStripeEvent,
} from "~/billing/webhook-handlers.server";
import type { Db } from "~/db.server";

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
import { addUsers, snapshot } from "./support/webhook-deliveries";

// CI runs at least this many generated histories; a failure prints the seed
// and path that replay it (CONVERGENCE_SEED and CONVERGENCE_PATH below).
const RUNS = Number(process.env.CONVERGENCE_RUNS ?? 500);
const SEED = process.env.CONVERGENCE_SEED;
const PATH = process.env.CONVERGENCE_PATH;

const tried = { histories: 0, events: 0, deliveries: 0 };
const typesGenerated = new Set<string>();

// Two databases emptied before each history: on PostgreSQL, creating two
// databases per history would cost more than the history itself.
let databases: ScratchDatabase[] = [];

beforeAll(async () => {
  databases = await Promise.all([openScratchDatabase(), openScratchDatabase()]);
});

afterAll(async () => {
  await Promise.all(databases.map((database) => database.close()));
  // The figures the README's reliability section quotes.
  console.info(
    `[convergence] histories=${tried.histories} events=${tried.events} deliveries=${tried.deliveries}`,
  );
});

async function freshDatabase(index: number, history: History): Promise<Db> {
  const db = databases[index]?.db;
  if (!db) throw new Error("The scratch databases are not open");
  await emptyDatabase(db);
  await addUsers(db, [history.user]);
  return db;
}

test("any order, duplication and concurrency of deliveries ends as in-order single delivery", async () => {
  await fc.assert(
    fc.asyncProperty(
      historyArbitrary().chain((history) =>
        deliveriesArbitrary(history).map((batches) => ({ history, batches })),
      ),
      async ({ history, batches }) => {
        tried.histories += 1;
        tried.events += history.events.length;
        tried.deliveries += batches.flat().length;
        for (const event of history.events) typesGenerated.add(event.type);
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
    {
      numRuns: RUNS,
      ...(SEED !== undefined && { seed: Number(SEED) }),
      ...(PATH !== undefined && { path: PATH, endOnFailure: true }),
    },
  );

  // At CI's count, the histories went through every type the webhook acts
  // on; a shorter search (CONVERGENCE_RUNS) may not.
  if (RUNS >= 500 && PATH === undefined) {
    expect([...typesGenerated].sort()).toEqual([...HANDLED_EVENT_TYPES].sort());
  }
}, 600_000);
