import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

import Stripe from "stripe";

import { redactDatabaseUrl } from "~/db/postgres.server";

import { startAppServer, type AppServer } from "../tests/support/app-server";
import {
  startPostgresCluster,
  type PostgresCluster,
} from "../tests/support/postgres-cluster";
import { createDatabase } from "../tests/support/postgres-databases";

/**
 * Webhook throughput of the built server on SQLite (one instance) and on
 * PostgreSQL (one, then two instances sharing one database), with the same
 * workload: for each subscription, customer.subscription.created,
 * invoice.paid and two customer.subscription.updated, every event delivered
 * twice, in a shuffled order, by a fixed number of concurrent senders
 * spread over the instances. No Stripe API call is made on the way.
 *
 *   npm run build && npx tsx bench/postgres.ts [--subscriptions 300] [--concurrency 16]
 *
 * BENCH_POSTGRES_URL=postgres://… uses a server of yours (a database is
 * created and dropped on it); otherwise a throwaway cluster is started with
 * PostgreSQL's default durability (fsync on, synchronous commit).
 */

const SECRET = `whsec_bench_${crypto.randomBytes(12).toString("hex")}`;
const PRICE = "price_bench_16_yearly";
const START = 1_780_000_000;

export type BenchResult = {
  label: string;
  deliveries: number;
  seconds: number;
  p50: number;
  p95: number;
  failures: number;
};

/**
 * The three runs, in order. Exported so a bench runner can call it and print
 * its rows next to its own; `npx tsx bench/postgres.ts` prints them alone.
 */
export async function runPostgresBench(
  options: { subscriptions?: number; concurrency?: number } = {},
): Promise<BenchResult[]> {
  const deliveries = workload(options.subscriptions ?? 300);
  const concurrency = options.concurrency ?? 16;
  const given = process.env.BENCH_POSTGRES_URL?.trim();
  let cluster: PostgresCluster | undefined;
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "dictia-bench-"));
  const results: BenchResult[] = [];
  try {
    results.push(
      await measure("SQLite, 1 instance", deliveries, concurrency, 1, {
        DATABASE_URL: `file:${path.join(tmpDir, "bench.sqlite")}`,
      }),
    );
    if (!given) cluster = await startPostgresCluster({ durable: true });
    const serverUrl = given ?? cluster?.url ?? "";
    console.info(`PostgreSQL: ${redactDatabaseUrl(serverUrl)}`);
    for (const instances of [1, 2]) {
      const database = await createDatabase(serverUrl, "dictia_bench");
      try {
        const label = `PostgreSQL, ${instances} instance${instances > 1 ? "s" : ""}`;
        results.push(
          await measure(label, deliveries, concurrency, instances, {
            DATABASE_URL: database.url,
          }),
        );
      } finally {
        await database.drop();
      }
    }
  } finally {
    await cluster?.stop();
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
  return results;
}

/** The runs as a Markdown table, with what was sent. */
export function formatPostgresBench(
  results: BenchResult[],
  options: { subscriptions: number; concurrency: number },
): string {
  const { subscriptions, concurrency } = options;
  return [
    `\n${subscriptions} subscriptions, ${subscriptions * 8} deliveries (each event twice), ${concurrency} concurrent senders, ${os.cpus().length} CPUs\n`,
    "| database | deliveries/s | p50 ms | p95 ms | failed |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...results.map(
      (result) =>
        `| ${result.label} | ${Math.round(result.deliveries / result.seconds)} | ${result.p50.toFixed(1)} | ${result.p95.toFixed(1)} | ${result.failures} |`,
    ),
  ].join("\n");
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      subscriptions: { type: "string", default: "300" },
      concurrency: { type: "string", default: "16" },
    },
  });
  const subscriptions = Number(values.subscriptions);
  const concurrency = Number(values.concurrency);
  const results = await runPostgresBench({ subscriptions, concurrency });
  console.info(formatPostgresBench(results, { subscriptions, concurrency }));
  return results.some((result) => result.failures > 0) ? 1 : 0;
}

async function measure(
  label: string,
  payloads: string[],
  concurrency: number,
  instances: number,
  env: Record<string, string>,
): Promise<BenchResult> {
  const servers: AppServer[] = [];
  try {
    // One at a time: the first migrates the database.
    for (let index = 0; index < instances; index += 1) {
      servers.push(
        await startAppServer({
          databaseFile: "unused",
          env: {
            STRIPE_WEBHOOK_SECRET: SECRET,
            STRIPE_DICTIA_16_YEARLY: PRICE,
            ...env,
          },
        }),
      );
    }
    const latencies: number[] = [];
    let failures = 0;
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async (_, sender) => {
        const server = servers[sender % servers.length];
        if (!server) throw new Error("No server");
        while (next < payloads.length) {
          const payload = payloads[next] ?? "";
          next += 1;
          const sent = performance.now();
          const status = await post(server, payload);
          latencies.push(performance.now() - sent);
          if (status !== 200) failures += 1;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const at = (share: number) =>
      latencies[
        Math.min(latencies.length - 1, Math.floor(latencies.length * share))
      ] ?? 0;
    console.info(`${label}: ${seconds.toFixed(2)} s`);
    return {
      label,
      deliveries: payloads.length,
      seconds,
      p50: at(0.5),
      p95: at(0.95),
      failures,
    };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

async function post(server: AppServer, payload: string): Promise<number> {
  const response = await fetch(`${server.origin}/checkout/webhooks/stripe`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "Stripe-Signature": Stripe.webhooks.generateTestHeaderString({
        payload,
        secret: SECRET,
      }),
    },
    body: payload,
  });
  await response.arrayBuffer();
  return response.status;
}

/** Every event of every subscription twice, shuffled with a fixed seed. */
function workload(subscriptions: number): string[] {
  const payloads: string[] = [];
  for (let index = 0; index < subscriptions; index += 1) {
    const id = `bench${String(index).padStart(6, "0")}`;
    const subscription = (
      status: string,
      periodEnd: number,
      cancel = false,
    ) => ({
      id: `sub_${id}`,
      object: "subscription",
      customer: `cus_${id}`,
      status,
      created: START,
      cancel_at_period_end: cancel,
      metadata: {},
      items: {
        object: "list",
        data: [
          {
            id: `si_${id}`,
            object: "subscription_item",
            price: { id: PRICE, object: "price" },
            current_period_end: periodEnd,
          },
        ],
      },
    });
    const events = [
      [
        "customer.subscription.created",
        START,
        subscription("incomplete", START + 365 * 86_400),
      ],
      [
        "invoice.paid",
        START + 1,
        {
          id: `in_${id}`,
          object: "invoice",
          customer: `cus_${id}`,
          parent: {
            type: "subscription_details",
            subscription_details: { subscription: `sub_${id}` },
          },
        },
      ],
      [
        "customer.subscription.updated",
        START + 1,
        subscription("active", START + 365 * 86_400),
      ],
      [
        "customer.subscription.updated",
        START + 2,
        subscription("active", START + 365 * 86_400, true),
      ],
    ] as const;
    events.forEach(([type, created, object], step) => {
      const payload = JSON.stringify({
        id: `evt_${step}_${id}`,
        object: "event",
        type,
        created,
        livemode: false,
        data: { object },
      });
      payloads.push(payload, payload);
    });
  }
  return shuffle(payloads, 20261204);
}

function shuffle<T>(items: T[], seed: number): T[] {
  let state = seed;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [copy[index], copy[other]] = [copy[other] as T, copy[index] as T];
  }
  return copy;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exitCode = await main();
}
