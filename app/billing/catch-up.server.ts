import type Stripe from "stripe";

import { MalformedObjectError } from "~/billing/stripe-objects.server";
import {
  HANDLED_EVENT_TYPES,
  processStripeEvent,
} from "~/billing/webhook-handlers.server";
import { toStripeEvent } from "~/billing/webhook.server";
import type { Db } from "~/db.server";
import { getWebhookEvent } from "~/models/webhook-event.server";

export type CatchUpReport = {
  listed: number;
  processed: number;
  alreadyInLedger: number;
  /** Events the webhook would refuse too (not an event, a malformed object). */
  unreadable: number;
};

/**
 * Replays the events of the handled types created since `since` that the
 * ledger does not hold, through the webhook's own code path. Stripe stops
 * retrying a delivery after three days but lists events for thirty, so this
 * closes the gap after a longer outage. Running it twice changes nothing:
 * the second run finds every event in the ledger.
 */
export async function catchUpEvents(
  db: Db,
  stripe: Stripe,
  since: Date,
  log: (line: string) => void = console.info,
): Promise<CatchUpReport> {
  const report: CatchUpReport = {
    listed: 0,
    processed: 0,
    alreadyInLedger: 0,
    unreadable: 0,
  };
  const listed: unknown[] = [];
  const pages = stripe.events.list({
    created: { gte: Math.floor(since.getTime() / 1000) },
    types: HANDLED_EVENT_TYPES,
    limit: 100,
  });
  for await (const event of pages) listed.push(event);
  report.listed = listed.length;

  // Stripe lists newest first; replaying oldest first mirrors delivery,
  // though the order guard would converge either way.
  for (const raw of listed.reverse()) {
    const event = toStripeEvent(raw);
    if (!event) {
      report.unreadable += 1;
      continue;
    }
    if (await getWebhookEvent(db, event.id)) {
      report.alreadyInLedger += 1;
      continue;
    }
    let outcome: string;
    try {
      ({ outcome } = await processStripeEvent(db, event));
    } catch (error) {
      // The webhook refuses such an event with a 400 too; one bad object
      // must not hold back the recovery of every other event. Any other
      // failure (Stripe or the database unreachable) stops the run, to be
      // run again.
      if (!(error instanceof MalformedObjectError)) throw error;
      report.unreadable += 1;
      log(
        `[catch-up] event=${event.id} type=${event.type} outcome=invalid_object`,
      );
      continue;
    }
    if (outcome === "duplicate") report.alreadyInLedger += 1;
    else report.processed += 1;
    log(`[catch-up] event=${event.id} type=${event.type} outcome=${outcome}`);
  }
  return report;
}
