import type { Db } from "~/db.server";
import type { WebhookEventRow } from "~/db/schema";

export type WebhookOutcome = "handled" | "ignored";

export async function getWebhookEvent(
  db: Db,
  id: string,
): Promise<WebhookEventRow | undefined> {
  return db
    .selectFrom("webhook_events")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
}

/**
 * Writes the ledger row of an event. Returns false when the id is already
 * there: the event was processed before, and its effects must not run again.
 */
export async function recordWebhookEvent(
  db: Db,
  event: { id: string; type: string; created: number; outcome: WebhookOutcome },
): Promise<boolean> {
  const inserted = await db
    .insertInto("webhook_events")
    .values({
      id: event.id,
      type: event.type,
      created: event.created,
      outcome: event.outcome,
      processed_at: new Date().toISOString(),
    })
    .onConflict((oc) => oc.column("id").doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
}
