import { sql, type Kysely } from "kysely";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("subscriptions")
    .addColumn("id", "integer", (col) => col.primaryKey().autoIncrement())
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
    .addColumn("current_period_end", "integer")
    .addColumn("cancel_at_period_end", "integer", (col) =>
      col.notNull().defaultTo(0),
    )
    // Stripe's own creation time of the subscription: it decides which one
    // is the user's current subscription.
    .addColumn("stripe_created", "integer", (col) => col.notNull())
    // `created` of the last event applied: the order guard.
    .addColumn("last_event_created", "integer", (col) => col.notNull())
    // Whether that event carried the whole subscription ("subscription") or
    // only an invoice's outcome ("invoice"): at equal `created`, the whole
    // subscription wins.
    .addColumn("last_event_kind", "text", (col) =>
      col.notNull().defaultTo("subscription"),
    )
    .addColumn("created_at", "text", (col) =>
      col.notNull().defaultTo(sql`CURRENT_TIMESTAMP`),
    )
    .addColumn("updated_at", "text", (col) =>
      col.notNull().defaultTo(sql`CURRENT_TIMESTAMP`),
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
