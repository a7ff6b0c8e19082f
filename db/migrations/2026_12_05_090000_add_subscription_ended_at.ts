import { PostgresAdapter, type Kysely } from "kysely";

// When Stripe ended the subscription (its `ended_at`, unix seconds). A
// subscription canceled at once ends before its paid period does, so the
// period end alone cannot say when access stopped.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // PostgreSQL's integer ends in 2038 for unix seconds, as in the first
  // subscriptions migration.
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .alterTable("subscriptions")
    .addColumn("ended_at", postgres ? "bigint" : "integer")
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("subscriptions").dropColumn("ended_at").execute();
}
