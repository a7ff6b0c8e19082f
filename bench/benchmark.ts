import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import SQLite from "better-sqlite3";

import {
  priceSeedsFromEnv,
  startStripeDouble,
  type StripeDouble,
} from "../scripts/stripe-double";
import { freePort } from "../tests/support/app-server";
import { EXAMPLE_PRICE_IDS } from "../tests/support/env";
import { signUpForCheckout, type CheckoutVisitor } from "./checkout";
import { EventSeries } from "./events";
import {
  combine,
  drive,
  type LoadResult,
  type Outgoing,
  type Slice,
} from "./load";
import {
  cpuSeconds,
  sampleMemory,
  startBuiltServer,
  startChild,
  watchMemory,
  type BenchServer,
  type Child,
} from "./processes";
import { seedDatabase } from "./seed";

export type Phase = { seconds: number } | { requests: number };

export type BenchOptions = {
  /** Users, subscriptions and ledger rows stored before the run. */
  history: number;
  connections: number;
  /** Each scenario's unmeasured warm-up, then its measured phase. */
  warmup: Phase;
  measured: Phase;
  /** The webhook's measured phase, when it differs (e.g. exactly 100 000). */
  webhookMeasured?: Phase;
  checkoutUsers: number;
  /** Write the app server's CPU profile (node --cpu-prof) there. */
  cpuProfileDir?: string;
  log: (line: string) => void;
};

export type ScenarioName = "bare" | "empty" | "webhook" | "checkout";

export type ScenarioResult = LoadResult & {
  name: ScenarioName;
  /** Server CPU time per answered request, in microseconds. */
  serverCpuUs: number | null;
  /** Answers that were what the scenario expects (2xx, or 303 to Checkout). */
  ok: number;
  /** The app server's largest resident set during the scenario. */
  serverRssMb: number;
};

export type RoundResult = {
  history: number;
  connections: number;
  scenarios: Record<ScenarioName, ScenarioResult>;
  peakRssMb: number;
  /** The app server's resident set once started, before any load. */
  startRssMb: number;
  /** Webhook events answered 2xx (warm-up included). */
  eventsSent: number;
  /** How many of those the ledger holds. */
  eventsInLedger: number;
  ledgerRows: number;
  databaseBytes: number;
};

const WEBHOOK_PATH = "/checkout/webhooks/stripe";
const BYTES_PER_MB = 1024 * 1024;

/**
 * One full run on a fresh temporary database holding `history` of
 * everything: the bare floor, the empty Remix route, the webhook and the
 * checkout, each warmed up then measured from this process while the
 * servers run in their own.
 */
export async function runRound(options: BenchOptions): Promise<RoundResult> {
  const { log } = options;
  if (options.history < 1) throw new Error("--history must be at least 1");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dictia-bench-"));
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
  // Also when the run is interrupted (run.ts exits on Ctrl-C).
  process.once("exit", removeDir);
  const databaseFile = path.join(dir, "app.sqlite");
  const secret = `whsec_bench_${crypto.randomBytes(16).toString("hex")}`;
  const firstCreated = Math.floor(Date.now() / 1000) - 3_600;

  let bare: Child | undefined;
  let double: StripeDouble | undefined;
  let server: BenchServer | undefined;
  try {
    log(`seeding ${options.history} users, subscriptions and ledger rows…`);
    await seedDatabase(databaseFile, {
      history: options.history,
      lastEventCreated: firstCreated - 86_400,
    });

    bare = await startChild(["--import", "tsx", "bench/bare-server.ts"], {
      STRIPE_WEBHOOK_SECRET: secret,
      BARE_DATABASE_FILE: path.join(dir, "bare.sqlite"),
    });
    // Starting Checkout sends no event; the double would deliver any to
    // the app all the same.
    const port = await freePort();
    double = await startStripeDouble({
      port: 0,
      webhookUrl: `http://127.0.0.1:${port}${WEBHOOK_PATH}`,
      webhookSecret: secret,
      prices: priceSeedsFromEnv(EXAMPLE_PRICE_IDS),
    });
    server = await startBuiltServer({
      databaseFile,
      logFile: path.join(dir, "server.log"),
      port,
      env: {
        BENCH_EMPTY_ROUTE: "1",
        STRIPE_WEBHOOK_SECRET: secret,
        STRIPE_SECRET_KEY: "sk_test_bench",
        STRIPE_API_BASE_URL: double.url,
        ...EXAMPLE_PRICE_IDS,
      },
      ...(options.cpuProfileDir && {
        nodeArgs: [
          "--cpu-prof",
          `--cpu-prof-dir=${path.resolve(options.cpuProfileDir)}`,
        ],
      }),
    });
    const serverPid = server.pid;
    const memory = watchMemory(serverPid);
    const startRssBytes = sampleMemory(serverPid)?.rssBytes ?? 0;

    log(`signing up ${options.checkoutUsers} checkout users…`);
    const visitors: CheckoutVisitor[] = [];
    for (let index = 0; index < options.checkoutUsers; index += 1) {
      visitors.push(
        await signUpForCheckout(server.origin, `achat-${index}@exemple.test`),
      );
    }

    const events = (prefix: string) =>
      new EventSeries({
        subscriptions: options.history,
        secret,
        prefix,
        firstCreated,
      });
    const signedPost = (series: EventSeries) => (): Outgoing => {
      const event = series.next();
      return {
        tag: event.id,
        body: event.body,
        headers: {
          "content-type": "application/json; charset=utf-8",
          "stripe-signature": event.signature,
        },
      };
    };

    const acknowledged: string[] = [];
    const comparable: ScenarioSpec[] = [
      {
        name: "bare",
        url: `${bare.origin}${WEBHOOK_PATH}`,
        pid: bare.process.pid,
        next: signedPost(events("bare")),
        expected: (status) => status === 200,
      },
      // The same signed events as the webhook's, so the load generator
      // does the same work; the route ignores them.
      {
        name: "empty",
        url: `${server.origin}/bench/empty`,
        pid: serverPid,
        next: signedPost(events("empty")),
        expected: (status) => status === 200,
      },
      {
        name: "webhook",
        url: `${server.origin}${WEBHOOK_PATH}`,
        pid: serverPid,
        next: signedPost(events("wh")),
        expected: (status) => status >= 200 && status < 300,
        onOk: (tag) => acknowledged.push(tag),
        measured: options.webhookMeasured,
      },
    ];
    const [bareResult, emptyResult, webhookResult] = await interleaved(
      options,
      memory,
      comparable,
    );

    let attempt = 0;
    const checkoutPrefix = `${double.url}/checkout/cs_`;
    const [checkoutResult] = await interleaved(options, memory, [
      {
        name: "checkout",
        url: `${server.origin}/checkout/dictia-16`,
        pid: serverPid,
        next: () => {
          attempt += 1;
          const visitor = visitors[attempt % visitors.length];
          if (!visitor) throw new Error("No checkout user");
          return visitor.checkoutRequest("monthly", attempt);
        },
        expected: (status, headers) =>
          status === 303 &&
          typeof headers.location === "string" &&
          headers.location.startsWith(checkoutPrefix),
      },
    ]);
    if (!bareResult || !emptyResult || !webhookResult || !checkoutResult) {
      throw new Error("A scenario was not measured");
    }

    const peakRssBytes = memory.stop();
    await server.stop();
    const ledger = checkLedger(databaseFile, acknowledged);
    return {
      history: options.history,
      connections: options.connections,
      scenarios: {
        bare: bareResult,
        empty: emptyResult,
        webhook: webhookResult,
        checkout: checkoutResult,
      },
      peakRssMb: peakRssBytes / BYTES_PER_MB,
      startRssMb: startRssBytes / BYTES_PER_MB,
      eventsSent: acknowledged.length,
      eventsInLedger: ledger.found,
      ledgerRows: ledger.rows,
      databaseBytes: ledger.bytes,
    };
  } catch (error) {
    if (server) log(`server output:\n${server.output()}`);
    throw error;
  } finally {
    await server?.stop();
    await bare?.stop();
    await double?.close();
    process.off("exit", removeDir);
    removeDir();
  }
}

type Memory = ReturnType<typeof watchMemory>;

type ScenarioSpec = {
  name: ScenarioName;
  url: string;
  pid: number | undefined;
  next: () => Outgoing;
  expected: (status: number, headers: Record<string, unknown>) => boolean;
  onOk?: (tag: string) => void;
  /** Instead of `options.measured`. */
  measured?: Phase;
};

// The measured phase of each scenario is cut in this many slices, taken in
// turn: the load that other processes put on the machine then weighs on
// every scenario alike, and the ratios between them hold. Few and long
// enough (five seconds by default) that each slice is mostly steady state:
// the first moments of a slice, 32 connections arriving at once, weigh on
// the tail latency.
const ROUNDS = 3;

function sliceOf(phase: Phase): Phase {
  return "seconds" in phase
    ? { seconds: phase.seconds / ROUNDS }
    : { requests: Math.max(1, Math.ceil(phase.requests / ROUNDS)) };
}

/**
 * Warms each scenario up, then measures them in turn, slice by slice. The
 * server's CPU time is read around each slice, and answers are counted as
 * expected or not.
 */
async function interleaved(
  options: BenchOptions,
  memory: Memory,
  specs: ScenarioSpec[],
): Promise<ScenarioResult[]> {
  const tallies = specs.map(() => ({
    slices: [] as Slice[],
    ok: 0,
    cpuSeconds: 0 as number | null,
    rssBytes: 0,
  }));
  const run = (spec: ScenarioSpec, phase: Phase, onOk?: () => void) =>
    drive({
      url: spec.url,
      connections: options.connections,
      duration: "seconds" in phase ? phase.seconds : 0,
      ...("requests" in phase && { amount: phase.requests }),
      next: spec.next,
      onAnswer: (tag, status, headers) => {
        if (!spec.expected(status, headers)) return;
        spec.onOk?.(tag);
        onOk?.();
      },
    });

  for (const spec of specs) {
    options.log(`${spec.name}: warming up…`);
    await run(spec, options.warmup);
  }
  for (let round = 1; round <= ROUNDS; round += 1) {
    options.log(
      `measuring ${specs.map((spec) => spec.name).join(", ")} (${round}/${ROUNDS})…`,
    );
    for (const [index, spec] of specs.entries()) {
      const tally = tallies[index];
      if (!tally) continue;
      memory.startPhase();
      const before = spec.pid === undefined ? null : cpuSeconds(spec.pid);
      const slice = await run(
        spec,
        sliceOf(spec.measured ?? options.measured),
        () => {
          tally.ok += 1;
        },
      );
      const after = spec.pid === undefined ? null : cpuSeconds(spec.pid);
      tally.slices.push(slice);
      tally.cpuSeconds =
        before === null || after === null || tally.cpuSeconds === null
          ? null
          : tally.cpuSeconds + (after - before);
      tally.rssBytes = Math.max(tally.rssBytes, memory.phasePeak());
    }
  }
  return specs.map((spec, index) => {
    const tally = tallies[index];
    if (!tally) throw new Error(`No tally for ${spec.name}`);
    const result = combine(tally.slices);
    return {
      ...result,
      name: spec.name,
      serverCpuUs:
        tally.cpuSeconds !== null && result.requests > 0
          ? (tally.cpuSeconds * 1e6) / result.requests
          : null,
      ok: tally.ok,
      serverRssMb: tally.rssBytes / BYTES_PER_MB,
    };
  });
}

/**
 * Which acknowledged events the ledger holds, its size, and the database's
 * size on disk once its write-ahead log is folded back in.
 */
function checkLedger(file: string, acknowledged: string[]) {
  const sqlite = new SQLite(file);
  try {
    sqlite.exec("create temp table acknowledged (id text primary key)");
    const add = sqlite.prepare(
      "insert or ignore into acknowledged (id) values (?)",
    );
    sqlite.transaction(() => {
      for (const id of acknowledged) add.run(id);
    })();
    const count = (sql: string) =>
      Number((sqlite.prepare(sql).pluck().get() as number | bigint) ?? 0);
    const found = count(
      "select count(*) from acknowledged join webhook_events using (id)",
    );
    const distinct = count("select count(*) from acknowledged");
    if (distinct !== acknowledged.length) {
      throw new Error("An event id was acknowledged twice");
    }
    const rows = count("select count(*) from webhook_events");
    sqlite.pragma("wal_checkpoint(TRUNCATE)");
    return { found, rows, bytes: fs.statSync(file).size };
  } finally {
    sqlite.close();
  }
}
