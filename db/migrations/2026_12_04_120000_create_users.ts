import { PostgresAdapter, sql, type Kysely } from "kysely";

// Migrations take Kysely<any> on purpose: they must never depend on the
// application's types of today.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable("users")
    // PostgreSQL has no AUTOINCREMENT: an identity column is its equivalent.
    // "By default" still accepts explicit ids, which db:copy needs.
    .addColumn("id", "integer", (col) =>
      postgres
        ? col.primaryKey().generatedByDefaultAsIdentity()
        : col.primaryKey().autoIncrement(),
    )
    .addColumn("email", "text", (col) => col.notNull().unique())
    .addColumn("password_hash", "text", (col) => col.notNull())
    .addColumn("stripe_customer_id", "text", (col) => col.unique())
    .addColumn("subscription_status", "text")
    .addColumn("created_at", "text", (col) =>
      col.notNull().defaultTo(currentTimestamp(postgres)),
    )
    .addColumn("updated_at", "text", (col) =>
      col.notNull().defaultTo(currentTimestamp(postgres)),
    )
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("users").execute();
}

// SQLite's CURRENT_TIMESTAMP is UTC text, `YYYY-MM-DD HH:MM:SS`; PostgreSQL's
// is a timestamptz that would be stored in the session's zone and another
// format. The columns are text on both, with the same text in them.
function currentTimestamp(postgres: boolean) {
  return postgres
    ? sql`to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS')`
    : sql`CURRENT_TIMESTAMP`;
}
