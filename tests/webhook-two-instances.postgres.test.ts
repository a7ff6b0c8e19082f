import crypto from "node:crypto";

import fc from "fast-check";
import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, expect, test } from "vitest";

import {
  processStripeEvent,
  type StripeEvent,
} from "~/billing/webhook-handlers.server";
import { getDb, type Db } from "~/db.server";

import { priceSeedsFromEnv, startStripeDouble } from "../scripts/stripe-double";
import type { StripeDouble } from "../scripts/stripe-double";
import { stripeMock } from "./mocks/stripe";
import { startAppServer, type AppServer } from "./support/app-server";
import { EXAMPLE_PRICE_IDS } from "./support/env";
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

/**
 * Two built servers on two ports, as two instances behind a load balancer,
 * sharing this file's PostgreSQL database. Stripe's API is the local double,
 * which answers every subscription as it is at the end of its history; the
 * reference is the same history delivered once, in order, to another
 * database.
 */

const WEBHOOK_SECRET = `whsec_two_${crypto.randomBytes(12).toString("hex")}`;
let double: StripeDouble | undefined;
let servers: AppServer[] = [];
let reference: ScratchDatabase | undefined;

beforeAll(async () => {
  double = await startStripeDouble({
    port: 0,
    // The double only answers API calls here; the test delivers the events.
    webhookUrl: "http://127.0.0.1:9/unused",
    webhookSecret: WEBHOOK_SECRET,
    prices: priceSeedsFromEnv(EXAMPLE_PRICE_IDS),
  });
  const env = {
    DATABASE_URL: process.env.DATABASE_URL ?? "",
    STRIPE_SECRET_KEY: "sk_test_two_instances",
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_API_BASE_URL: double.url,
    ...EXAMPLE_PRICE_IDS,
  };
  // Both start at once on a new database: the migrator's advisory lock makes
  // one wait until the other has applied the migrations.
  servers = await Promise.all([
    startAppServer({ databaseFile: "unused-on-postgres", env }),
    startAppServer({ databaseFile: "unused-on-postgres", env }),
  ]);
  reference = await openScratchDatabase();
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await double?.close();
  await reference?.close();
});

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    for (const server of servers) {
      console.log(`Server ${server.port}:\n${server.output().slice(-3000)}`);
    }
  });
});

test("two instances receiving every event at the same time keep one ledger row per event and one subscription row", async () => {
  const [history] = fc.sample(
    historyArbitrary().filter((candidate) => candidate.events.length >= 6),
    { numRuns: 1, seed: 20261204 },
  );
  if (!history) throw new Error("No history generated");
  const shared = await startHistory(history);

  const deliveries = history.events.flatMap((event) =>
    servers.map((server) => post(server, event)),
  );
  const statuses = await Promise.all(deliveries);

  expect(statuses.every((status) => status === 200)).toBe(true);
  const ledger = await shared
    .selectFrom("webhook_events")
    .select(["id", "type"])
    .orderBy("id")
    .execute();
  expect(ledger).toEqual(
    history.events
      .map((event) => ({ id: event.id, type: event.type }))
      .sort((a, b) => a.id.localeCompare(b.id)),
  );
  const rows = await shared
    .selectFrom("subscriptions")
    .select("stripe_subscription_id")
    .execute();
  expect(rows).toEqual([{ stripe_subscription_id: history.subscriptionId }]);
  expect(await snapshot(shared)).toEqual(await inOrderSnapshot(history));
});

test("a shuffled history split between two instances ends as in-order single delivery", async () => {
  const cases = fc.sample(
    historyArbitrary().chain((history) =>
      fc
        .record({
          batches: deliveriesArbitrary(history),
          // Which instance each delivery of a batch goes to.
          routes: fc.array(fc.nat(1), { minLength: 4, maxLength: 4 }),
        })
        .map((deliveries) => ({ history, ...deliveries })),
    ),
    { numRuns: 15, seed: 4122026 },
  );
  for (const { history, batches, routes } of cases) {
    const shared = await startHistory(history);
    for (const batch of batches) {
      const statuses = await Promise.all(
        batch.map((event, index) => {
          const server = servers[routes[index] ?? index % 2];
          if (!server) throw new Error("No such instance");
          return post(server, event);
        }),
      );
      expect(statuses.every((status) => status === 200)).toBe(true);
    }

    expect(await snapshot(shared)).toEqual(await inOrderSnapshot(history));
    const ledger = await shared
      .selectFrom("webhook_events")
      .select("id")
      .execute();
    const delivered = new Set(batches.flat().map((event) => event.id));
    expect(ledger.map((row) => row.id).sort()).toEqual([...delivered].sort());
  }
});

/** Empties the shared database and gives the history's user id 1. */
async function startHistory(history: History): Promise<Db> {
  double?.stripe.subscriptions.set(
    history.subscriptionId,
    history.finalSubscription,
  );
  const shared = await getDb();
  await emptyDatabase(shared);
  await addUsers(shared, [history.user]);
  return shared;
}

async function inOrderSnapshot(history: History) {
  const db = reference?.db;
  if (!db) throw new Error("The reference database is not open");
  stripeMock.subscriptions.set(
    history.subscriptionId,
    history.finalSubscription,
  );
  await emptyDatabase(db);
  await addUsers(db, [history.user]);
  for (const event of history.events) await processStripeEvent(db, event);
  return snapshot(db);
}

async function post(server: AppServer, event: StripeEvent): Promise<number> {
  const payload = JSON.stringify({
    id: event.id,
    object: "event",
    type: event.type,
    created: event.created,
    livemode: false,
    data: { object: event.object },
  });
  const response = await fetch(`${server.origin}/checkout/webhooks/stripe`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "Stripe-Signature": Stripe.webhooks.generateTestHeaderString({
        payload,
        secret: WEBHOOK_SECRET,
      }),
    },
    body: payload,
  });
  await response.arrayBuffer();
  return response.status;
}
