import { parseArgs } from "node:util";

import { catchUpEvents } from "~/billing/catch-up.server";
import { getStripe } from "~/billing/stripe.server";
import { closeDb, getDb } from "~/db.server";

const THIRTY_DAYS_MS = 30 * 86_400_000;

const usage =
  "Usage: npm run stripe:catch-up -- --since 2026-12-01[T00:00:00Z]\n" +
  "Replays the handled Stripe events created since that date that the ledger lacks.";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { since: { type: "string" }, help: { type: "boolean" } },
  });
  if (values.help || !values.since) {
    console.error(usage);
    return values.help ? 0 : 2;
  }
  const since = new Date(values.since);
  if (Number.isNaN(since.getTime())) {
    console.error(`Not a date: ${values.since}\n${usage}`);
    return 2;
  }
  if (Date.now() - since.getTime() > THIRTY_DAYS_MS) {
    console.warn(
      "Stripe keeps events for 30 days: older ones cannot be listed.",
    );
  }
  const stripe = getStripe();
  if (!stripe) {
    console.error("STRIPE_SECRET_KEY is not set: Stripe cannot be read.");
    return 1;
  }
  const report = await catchUpEvents(await getDb(), stripe, since);
  console.info(
    `listed=${report.listed} processed=${report.processed} already_in_ledger=${report.alreadyInLedger} unreadable=${report.unreadable}`,
  );
  await closeDb();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
