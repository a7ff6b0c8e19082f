import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

import { catchUpEvents } from "~/billing/catch-up.server";
import { getStripe } from "~/billing/stripe.server";
import { closeDb, getDb } from "~/db.server";

const THIRTY_DAYS_MS = 30 * 86_400_000;

export const USAGE =
  "Usage: npm run stripe:catch-up -- --since 2026-12-01[T00:00:00Z]\n" +
  "Replays the handled Stripe events created since that date that the ledger lacks.";

export type CatchUpArgs =
  | { since: Date; warning: string | null }
  | { exitCode: number; message: string };

/** The command line, read: a date to start from, or why there is none. */
export function readCatchUpArgs(
  argv: string[],
  now: number = Date.now(),
): CatchUpArgs {
  let values: { since?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { since: { type: "string" }, help: { type: "boolean" } },
    }));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { exitCode: 2, message: `${reason}\n${USAGE}` };
  }
  if (values.help) return { exitCode: 0, message: USAGE };
  if (!values.since) return { exitCode: 2, message: USAGE };
  const since = new Date(values.since);
  if (Number.isNaN(since.getTime())) {
    return { exitCode: 2, message: `Not a date: ${values.since}\n${USAGE}` };
  }
  const warning =
    now - since.getTime() > THIRTY_DAYS_MS
      ? "Stripe keeps events for 30 days: older ones cannot be listed."
      : null;
  return { since, warning };
}

async function main(): Promise<number> {
  const args = readCatchUpArgs(process.argv.slice(2));
  if ("exitCode" in args) {
    console.error(args.message);
    return args.exitCode;
  }
  if (args.warning) console.warn(args.warning);
  const stripe = getStripe();
  if (!stripe) {
    console.error("STRIPE_SECRET_KEY is not set: Stripe cannot be read.");
    return 1;
  }
  const report = await catchUpEvents(await getDb(), stripe, args.since);
  console.info(
    `listed=${report.listed} processed=${report.processed} already_in_ledger=${report.alreadyInLedger} unreadable=${report.unreadable}`,
  );
  await closeDb();
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
