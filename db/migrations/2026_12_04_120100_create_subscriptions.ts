import { PostgresAdapter, sql, type Kysely } from "kysely";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  // SQLite's integer holds 64 bits; PostgreSQL's holds 32 and would end in
  // 2038 for unix seconds, so those columns are bigint there.
  const unixSeconds = postgres ? "bigint" : "integer";
  await db.schema
    .createTable("subscriptions")
    // PostgreSQL has no AUTOINCREMENT: an identity column is its equivalent.
    .addColumn("id", "integer", (col) =>
      postgres
        ? col.primaryKey().generatedByDefaultAsIdentity()
        : col.primaryKey().autoIncrement(),
    )
    // Law 25: deleting a user keeps the accounting rows, unlinked.
    .addColumn("user_id", "integer", (col) =>
      col.references("users.id").onDelete("set null"),
    )
    .addColumn("stripe_subscription_id", "text", (col) =>
      col.notNull().unique(),
    )
    .addColumn("stripe_customer_id", "text", (col) => col.notNull())
    .addColumn("plan", "text")
    .addColumn("period", "text")
    .addColumn("status", "text", (col) => col.notNull())
    .addColumn("current_period_end", unixSeconds)
    .addColumn("cancel_at_period_end", "integer", (col) =>
      col.notNull().defaultTo(0),
    )
    // Stripe's own creation time of the subscription: it decides which one
    // is the user's current subscription.
    .addColumn("stripe_created", unixSeconds, (col) => col.notNull())
    // `created` of the last event applied: the order guard.
    .addColumn("last_event_created", unixSeconds, (col) => col.notNull())
    // Whether that event carried the whole subscription ("subscription") or
    // only an invoice's outcome ("invoice"): at equal `created`, the whole
    // subscription wins.
    .addColumn("last_event_kind", "text", (col) =>
      col.notNull().defaultTo("subscription"),
    )
    .addColumn("created_at", "text", (col) =>
      col.notNull().defaultTo(currentTimestamp(postgres)),
    )
    .addColumn("updated_at", "text", (col) =>
      col.notNull().defaultTo(currentTimestamp(postgres)),
    )
    .execute();

  await db.schema
    .createIndex("subscriptions_user_id_idx")
    .on("subscriptions")
    .columns(["user_id", "stripe_created"])
    .execute();
  await db.schema
    .createIndex("subscriptions_stripe_customer_id_idx")
    .on("subscriptions")
    .column("stripe_customer_id")
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("subscriptions").execute();
}

// SQLite's CURRENT_TIMESTAMP is UTC text, `YYYY-MM-DD HH:MM:SS`; PostgreSQL's
// is a timestamptz that would be stored in the session's zone and another
// format. The columns are text on both, with the same text in them.
function currentTimestamp(postgres: boolean) {
  return postgres
    ? sql`to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS')`
    : sql`CURRENT_TIMESTAMP`;
}
