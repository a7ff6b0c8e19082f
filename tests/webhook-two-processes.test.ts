import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, expect, test } from "vitest";

import type { StripeEvent } from "~/billing/webhook-handlers.server";
import { openDatabase } from "~/db.server";

import { startStripeDouble, type StripeDouble } from "../scripts/stripe-double";
import { stripeMock } from "./mocks/stripe";
import { freePort, startAppServer, type AppServer } from "./support/app-server";
import { EXAMPLE_PRICE_IDS } from "./support/env";
import {
  deliveriesArbitrary,
  historyArbitrary,
  type History,
  type HistoryUser,
} from "./support/stripe-history";
import {
  addUsers,
  deliveryLogLines,
  envelopeOf,
  forEachBounded,
  openReadOnly,
  postSigned,
  rowsAfterInOrderDelivery,
  snapshot,
} from "./support/webhook-deliveries";

/**
 * Two server processes on one SQLite file, as two instances behind a load
 * balancer: Stripe's servers deliver the same events to both at once.
 */

const SEED = Number(process.env.TWO_PROCESSES_SEED ?? 20_261_204);
const SUBSCRIPTIONS = 24;
// Deliveries in flight at once, each posted to both servers.
const IN_FLIGHT = 8;
const WEBHOOK_SECRET = `whsec_two_${crypto.randomBytes(12).toString("hex")}`;

let tmpDir: string;
let databaseFile: string;
let double: StripeDouble;
const servers: AppServer[] = [];

const users: HistoryUser[] = Array.from(
  { length: SUBSCRIPTIONS },
  (_, index) => ({ id: index + 1, email: `client${index + 1}@exemple.test` }),
);

const [histories = [], shuffle = []] = fc.sample(
  fc.tuple(...users.map((user) => historyArbitrary(user))).chain((sampled) =>
    fc
      .tuple(...sampled.map((history) => deliveriesArbitrary(history)))
      .chain((perHistory) => {
        const deliveries = perHistory.flat(2);
        return fc
          .shuffledSubarray(deliveries, {
            minLength: deliveries.length,
            maxLength: deliveries.length,
          })
          .map((shuffled): [History[], StripeEvent[]] => [sampled, shuffled]);
      }),
  ),
  { seed: SEED, numRuns: 1 },
)[0] ?? [[], []];

beforeAll(async () => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "dictia-two-processes-"));
  databaseFile = path.join(tmpDir, "app.sqlite");
  const ports = [await freePort()];
  while (ports.length < 2) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  double = await startStripeDouble({
    port: 0,
    // Only its API is used: the test posts every event itself.
    webhookUrl: `http://127.0.0.1:${ports[0]}/checkout/webhooks/stripe`,
    webhookSecret: WEBHOOK_SECRET,
  });
  for (const history of histories) {
    double.stripe.subscriptions.set(
      history.subscriptionId,
      history.finalSubscription,
    );
  }
  const env = {
    STRIPE_SECRET_KEY: "sk_test_two_processes",
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_API_BASE_URL: double.url,
    ...EXAMPLE_PRICE_IDS,
  };
  // Both start on a file that does not exist yet, so both migrate it at
  // once, as two instances deployed together would.
  servers.push(
    ...(await Promise.all(
      ports.map((port) => startAppServer({ databaseFile, env, port })),
    )),
  );
  const db = openDatabase(databaseFile);
  await addUsers(db, users);
  await db.destroy();
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await double?.close();
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
});

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    console.log(`Seed: TWO_PROCESSES_SEED=${SEED}`);
    for (const server of servers) {
      console.log(`Server output:\n${server.output().slice(-4000)}`);
    }
  });
});

test("two server processes on one SQLite file, given the same events at once, answer 200 and store each event and subscription once", async () => {
  const subscriptionIds = histories.map((history) => history.subscriptionId);
  expect(new Set(subscriptionIds).size).toBe(SUBSCRIPTIONS);
  expect(shuffle.length).toBeGreaterThan(200);

  const statuses: (number | null)[] = [];
  await forEachBounded(shuffle, IN_FLIGHT, async (event) => {
    const payload = envelopeOf(event);
    statuses.push(
      ...(await Promise.all(
        servers.map((server) =>
          postSigned(
            `${server.origin}/checkout/webhooks/stripe`,
            payload,
            WEBHOOK_SECRET,
          ),
        ),
      )),
    );
  });

  console.info(
    `[two-processes] deliveries=${shuffle.length} requests=${statuses.length} events=${new Set(shuffle.map((event) => event.id)).size}`,
  );
  expect(statuses).toHaveLength(2 * shuffle.length);
  expect(new Set(statuses)).toEqual(new Set([200]));

  const applied = new Map<string, number>();
  for (const server of servers) {
    expect(server.output()).not.toMatch(/SQLITE_BUSY|database is locked/i);
    // One structured line per delivery this server answered.
    const lines = deliveryLogLines(server.output());
    expect(lines).toHaveLength(shuffle.length);
    for (const line of lines) {
      expect(line.outcome).toMatch(/^(handled|ignored|duplicate)$/);
      if (line.outcome !== "duplicate" && line.event_id) {
        applied.set(line.event_id, (applied.get(line.event_id) ?? 0) + 1);
      }
    }
  }
  // Between the two servers, each event id was applied exactly once.
  const ids = [...new Set(shuffle.map((event) => event.id))].sort();
  expect([...applied.keys()].sort()).toEqual(ids);
  expect(new Set(applied.values())).toEqual(new Set([1]));

  for (const history of histories) {
    stripeMock.subscriptions.set(
      history.subscriptionId,
      history.finalSubscription,
    );
  }
  const expected = await rowsAfterInOrderDelivery(
    users,
    histories.map((history) => history.events),
  );
  const { sqlite, db } = openReadOnly(databaseFile);
  try {
    expect(await snapshot(db)).toEqual(expected);
    const ledger = await db
      .selectFrom("webhook_events")
      .select("id")
      .orderBy("id")
      .execute();
    expect(ledger.map((row) => row.id)).toEqual(ids);
    expect(sqlite.pragma("integrity_check", { simple: true })).toBe("ok");
  } finally {
    await db.destroy();
  }
});
