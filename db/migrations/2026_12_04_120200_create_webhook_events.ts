import { PostgresAdapter, type Kysely } from "kysely";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable("webhook_events")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("type", "text", (col) => col.notNull())
    // Unix seconds: bigint on PostgreSQL, whose integer ends in 2038.
    .addColumn("created", postgres ? "bigint" : "integer", (col) =>
      col.notNull(),
    )
    // handled or ignored: an operator can tell them apart without a payload.
    .addColumn("outcome", "text", (col) => col.notNull())
    .addColumn("processed_at", "text", (col) => col.notNull())
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("webhook_events").execute();
}
