import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, expect, test } from "vitest";

import type { StripeEvent } from "~/billing/webhook-handlers.server";
import { openDatabase, type Db } from "~/db.server";
import { setUserStripeCustomerId } from "~/models/user.server";

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
  envelopeOf,
  forEachBounded,
  openReadOnly,
  postSigned,
  rowsAfterInOrderDelivery,
  snapshot,
} from "./support/webhook-deliveries";

/**
 * A server killed (SIGKILL, no shutdown code runs) in the middle of a burst
 * of deliveries, then restarted, then given every event again as Stripe's
 * retries would.
 *
 * The proof that the crash left neither a ledger row without its effects
 * nor effects without their ledger row: the rows found after the crash are
 * exactly the rows that applying the ledger's events, and only those, gives
 * on a fresh database. That comparison needs the outcome of a set of events
 * not to depend on their order, which holds for events that carry a whole
 * subscription (the property test shows it); an invoice's hint about a
 * subscription not stored yet is dropped by design, so a subset with
 * invoices could depend on order, and invoices stay out of the burst.
 */

const SEED = Number(process.env.CRASH_SEED ?? 20_261_205);
const SUBSCRIPTIONS = 16;
const IN_FLIGHT = 8;
// The server is killed once this share of the burst has been answered.
const KILL_AFTER = 0.4;
const WEBHOOK_SECRET = `whsec_crash_${crypto.randomBytes(12).toString("hex")}`;

const users: HistoryUser[] = Array.from(
  { length: SUBSCRIPTIONS },
  (_, index) => ({ id: index + 1, email: `client${index + 1}@exemple.test` }),
);

const wholeState = (event: StripeEvent) => !event.type.startsWith("invoice.");

const [histories = [], burst = [], retries = []] = fc.sample(
  fc.tuple(...users.map((user) => historyArbitrary(user))).chain((sampled) => {
    const withoutInvoices = sampled.map((history) => ({
      ...history,
      events: history.events.filter(wholeState),
    }));
    return fc
      .tuple(...withoutInvoices.map((history) => deliveriesArbitrary(history)))
      .chain((perHistory) => {
        const deliveries = perHistory.flat(2);
        // Stripe retries every event it got no 2xx for, under its own id.
        const distinct = [
          ...new Map(deliveries.map((event) => [event.id, event])).values(),
        ];
        return fc
          .tuple(
            fc.shuffledSubarray(deliveries, {
              minLength: deliveries.length,
              maxLength: deliveries.length,
            }),
            fc.shuffledSubarray(distinct, {
              minLength: distinct.length,
              maxLength: distinct.length,
            }),
          )
          .map(
            ([shuffled, again]): [History[], StripeEvent[], StripeEvent[]] => [
              withoutInvoices,
              shuffled,
              again,
            ],
          );
      });
  }),
  { seed: SEED, numRuns: 1 },
)[0] ?? [[], [], []];

let tmpDir: string;
let databaseFile: string;
let double: StripeDouble;
const servers: AppServer[] = [];

const serverEnv = () => ({
  STRIPE_SECRET_KEY: "sk_test_crash",
  STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  STRIPE_API_BASE_URL: double.url,
  ...EXAMPLE_PRICE_IDS,
});

/** Each user owns the customer of their history, as after their Checkout. */
async function linkCustomers(db: Db) {
  for (const history of histories) {
    await setUserStripeCustomerId(db, history.user.id, history.customerId);
  }
}

beforeAll(async () => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "dictia-crash-"));
  databaseFile = path.join(tmpDir, "app.sqlite");
  const port = await freePort();
  double = await startStripeDouble({
    port: 0,
    // Only its API is used: the test posts every event itself.
    webhookUrl: `http://127.0.0.1:${port}/checkout/webhooks/stripe`,
    webhookSecret: WEBHOOK_SECRET,
  });
  for (const history of histories) {
    double.stripe.subscriptions.set(
      history.subscriptionId,
      history.finalSubscription,
    );
    stripeMock.subscriptions.set(
      history.subscriptionId,
      history.finalSubscription,
    );
  }
  servers.push(await startAppServer({ databaseFile, env: serverEnv(), port }));
  const db = openDatabase(databaseFile);
  await addUsers(db, users);
  await linkCustomers(db);
  await db.destroy();
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await double?.close();
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
});

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    console.log(`Seed: CRASH_SEED=${SEED}`);
    for (const server of servers) {
      console.log(`Server output:\n${server.output().slice(-4000)}`);
    }
  });
});

test("a server killed in the middle of a burst leaves every ledger row with its effects and no effect without its row, and Stripe's retries then complete the database", async () => {
  const [first] = servers;
  if (!first) throw new Error("No server");
  const byId = new Map<string, StripeEvent>();
  for (const event of burst) byId.set(event.id, event);
  expect(byId.size).toBeGreaterThan(50);

  // The burst: the kill comes while deliveries are in flight.
  const killAt = Math.floor(burst.length * KILL_AFTER);
  let answered = 0;
  let killed: Promise<void> | undefined;
  const statuses: (number | null)[] = [];
  await forEachBounded(burst, IN_FLIGHT, async (event) => {
    const status = await postSigned(
      `${first.origin}/checkout/webhooks/stripe`,
      envelopeOf(event),
      WEBHOOK_SECRET,
    );
    statuses.push(status);
    if (status !== null) answered += 1;
    if (answered >= killAt && !killed) killed = first.kill();
  });
  await killed;
  expect(first.process.signalCode).toBe("SIGKILL");
  // Every delivery before the crash succeeded; the rest never got an answer.
  const refused = statuses.filter(
    (status) => status !== null && status !== 200,
  );
  expect(refused).toEqual([]);
  expect(statuses.filter((status) => status === null).length).toBeGreaterThan(
    0,
  );

  // Right after the crash, as an operator would find the file.
  const afterCrash = openReadOnly(databaseFile);
  try {
    expect(afterCrash.sqlite.pragma("integrity_check", { simple: true })).toBe(
      "ok",
    );
    const ledger = await afterCrash.db
      .selectFrom("webhook_events")
      .select(["id", "created"])
      .execute();
    expect(ledger.length).toBeGreaterThan(0);
    expect(ledger.length).toBeLessThan(byId.size);
    const recorded = ledger.map((row) => {
      const event = byId.get(row.id);
      if (!event) throw new Error(`${row.id} was never delivered`);
      expect(row.created).toBe(event.created);
      return event;
    });

    // Every subscription row carries the time of a recorded event about it.
    const rows = await afterCrash.db
      .selectFrom("subscriptions")
      .select(["stripe_subscription_id", "last_event_created"])
      .execute();
    for (const row of rows) {
      expect(
        recorded.some(
          (event) =>
            subscriptionOf(event) === row.stripe_subscription_id &&
            event.created === row.last_event_created,
        ),
        row.stripe_subscription_id,
      ).toBe(true);
    }

    console.info(
      `[crash] burst=${burst.length} answered_before_kill=${answered} ledger_rows_after_crash=${ledger.length} of ${byId.size} events`,
    );
    // And the rows are exactly what the recorded events, alone, give.
    const inOrder = [...recorded].sort(
      (a, b) => a.created - b.created || sequenceOf(a) - sequenceOf(b),
    );
    expect(await snapshot(afterCrash.db)).toEqual(
      await rowsAfterInOrderDelivery(users, [inOrder], linkCustomers),
    );
  } finally {
    await afterCrash.db.destroy();
  }

  // Restarted on the same file, the server gets every event again, as
  // Stripe retries: those it answered before the crash too, since Stripe
  // may not have seen those answers.
  const restarted = await startAppServer({ databaseFile, env: serverEnv() });
  servers.push(restarted);
  const again: (number | null)[] = [];
  await forEachBounded(retries, IN_FLIGHT, async (event) => {
    again.push(
      await postSigned(
        `${restarted.origin}/checkout/webhooks/stripe`,
        envelopeOf(event),
        WEBHOOK_SECRET,
      ),
    );
  });
  expect(new Set(again)).toEqual(new Set([200]));

  const final = openReadOnly(databaseFile);
  try {
    expect(await snapshot(final.db)).toEqual(
      await rowsAfterInOrderDelivery(
        users,
        histories.map((history) => history.events),
        linkCustomers,
      ),
    );
    const ledger = await final.db
      .selectFrom("webhook_events")
      .select("id")
      .orderBy("id")
      .execute();
    expect(ledger.map((row) => row.id)).toEqual([...byId.keys()].sort());
  } finally {
    await final.db.destroy();
  }
});

/** The subscription an event of these histories is about. */
function subscriptionOf(event: StripeEvent): string | undefined {
  const { object } = event;
  const id = object.object === "subscription" ? object.id : object.subscription;
  return typeof id === "string" ? id : undefined;
}

/** Stripe's order within one second: `evt_<sequence>_<key>`. */
function sequenceOf(event: StripeEvent): number {
  return Number(/^evt_(\d+)_/.exec(event.id)?.[1] ?? 0);
}
