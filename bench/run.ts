import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

import { ROOT } from "../tests/support/app-server";
import { runRound, type BenchOptions, type RoundResult } from "./benchmark";
import { formatPostgresBench, runPostgresBench } from "./postgres";
import { ensureBuild } from "./processes";
import { formatGrowth, formatRound, summary, TARGETS } from "./report";

const usage = `Usage: npm run bench [-- options]

  --history N[,N…]   users, subscriptions and ledger rows stored before the
                     run; a list runs once per size (default 5000)
  --duration S       seconds each scenario is measured, in three slices
                     taken in turn with the others' (default 15)
  --warmup S         seconds of each warm-up (default 3)
  --connections N    concurrent connections (default 32)
  --events N         the webhook's measured phase sends exactly N events
  --cpu-prof DIR     write the app server's CPU profile to DIR
  --smoke            a few hundred requests per scenario, for the tests
  --no-postgres      skip the SQLite/PostgreSQL comparison (one and two
                     instances on a throwaway PostgreSQL cluster)

Prints a table per run, then, as its last line, one JSON object.`;

function positive(name: string, raw: string | undefined, fallback: number) {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`--${name} must be a positive integer, not ${raw}`);
  }
  return value;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      history: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      events: { type: "string" },
      "cpu-prof": { type: "string" },
      smoke: { type: "boolean", default: false },
      "no-postgres": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const log = (line: string) => console.error(`[bench] ${line}`);
  const smoke = values.smoke ?? false;
  const histories = (values.history ?? (smoke ? "200" : "5000"))
    .split(",")
    .map((raw) => positive("history", raw.trim(), 0));
  const events =
    values.events === undefined
      ? undefined
      : positive("events", values.events, 0);

  if (smoke) {
    // The tests build first and share the build: never rebuild under them.
    if (!fs.existsSync(path.join(ROOT, "build", "index.js"))) {
      throw new Error("No server build: run `npm run build` first.");
    }
  } else {
    ensureBuild(log);
  }

  const base: Omit<BenchOptions, "history"> = smoke
    ? {
        connections: positive("connections", values.connections, 8),
        warmup: { requests: 40 },
        measured: { requests: 300 },
        checkoutUsers: 2,
        log,
      }
    : {
        connections: positive("connections", values.connections, 32),
        warmup: { seconds: positive("warmup", values.warmup, 3) },
        measured: { seconds: positive("duration", values.duration, 15) },
        checkoutUsers: 8,
        log,
      };
  if (events !== undefined) base.webhookMeasured = { requests: events };
  if (values["cpu-prof"]) base.cpuProfileDir = values["cpu-prof"];

  const rounds: RoundResult[] = [];
  for (const history of histories) {
    const round = await runRound({ ...base, history });
    rounds.push(round);
    console.log(formatRound(round));
  }
  if (rounds.length > 1) console.log(formatGrowth(rounds));
  if (!smoke && !values["no-postgres"]) await comparePostgres(log);
  console.log(machine());
  console.log(`Targets: ${TARGETS}`);

  const last = rounds[rounds.length - 1];
  if (!last) throw new Error("Nothing was measured");
  const result = summary(last);
  console.log(JSON.stringify(result));
  // A lost event is a bug, whatever the machine: the run fails.
  return rounds.every((round) => round.eventsSent === round.eventsInLedger)
    ? 0
    : 1;
}

/**
 * The same webhook deliveries on SQLite and on PostgreSQL with one and two
 * instances. A machine without PostgreSQL still gets the main figures and
 * the JSON line.
 */
async function comparePostgres(log: (line: string) => void) {
  const options = { subscriptions: 300, concurrency: 16 };
  try {
    const results = await runPostgresBench(options);
    console.log(formatPostgresBench(results, options));
  } catch (error) {
    log(
      `PostgreSQL comparison skipped: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const memory = (os.totalmem() / 1024 ** 3).toFixed(0);
  return `Machine: ${os.availableParallelism()} cores, ${cpu}, ${memory} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

// Exiting (rather than dying of the signal) runs the exit hook that stops
// the servers this run started.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => process.exit(130));
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(
      error instanceof Error ? (error.stack ?? error.message) : error,
    );
    process.exitCode = 1;
  },
);
