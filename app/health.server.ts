import { Migrator, sql } from "kysely";

import { getDb, ListedMigrationProvider, type Db } from "~/db.server";
import { getEnv } from "~/env.server";

export type Health = {
  status: "ok" | "error";
  database: "ok" | "unreachable";
  migrations: "applied" | "pending" | "unknown";
  /** Both the secret key and the webhook secret, one of them, or neither. */
  stripe: "configured" | "incomplete" | "not_configured";
};

/**
 * What an operator's probe needs: can the database answer, is its schema
 * the one this build expects, and is Stripe set up. Stripe's API is not
 * called: an outage there must not mark this server unhealthy, since pages
 * and webhooks still work (Stripe retries its deliveries).
 */
export async function checkHealth(
  openDb: () => Promise<Db> = getDb,
): Promise<Health> {
  const stripe = stripeConfiguration();
  let db: Db;
  try {
    db = await openDb();
    await sql`select 1`.execute(db);
  } catch (error) {
    console.error(`[health] database unreachable: ${nameOf(error)}`);
    return {
      status: "error",
      database: "unreachable",
      migrations: "unknown",
      stripe,
    };
  }
  const pending = await pendingMigrations(db);
  if (pending === null) {
    return { status: "error", database: "ok", migrations: "unknown", stripe };
  }
  if (pending.length > 0) {
    console.error(`[health] migrations pending: ${pending.join(", ")}`);
    return { status: "error", database: "ok", migrations: "pending", stripe };
  }
  return { status: "ok", database: "ok", migrations: "applied", stripe };
}

/** The names of the listed migrations not applied yet; null when unknown. */
async function pendingMigrations(db: Db): Promise<string[] | null> {
  const migrator = new Migrator({
    db,
    provider: new ListedMigrationProvider(),
  });
  try {
    const all = await migrator.getMigrations();
    return all
      .filter((migration) => migration.executedAt === undefined)
      .map((migration) => migration.name);
  } catch (error) {
    console.error(`[health] cannot read the migrations: ${nameOf(error)}`);
    return null;
  }
}

function stripeConfiguration(): Health["stripe"] {
  const env = getEnv();
  const key = env.STRIPE_SECRET_KEY !== undefined;
  const webhook = env.STRIPE_WEBHOOK_SECRET.length > 0;
  if (key && webhook) return "configured";
  return key || webhook ? "incomplete" : "not_configured";
}

// The error's class and code only: a driver's message can quote a path.
function nameOf(error: unknown): string {
  if (!(error instanceof Error)) return "unknown error";
  const code = "code" in error ? error.code : undefined;
  return typeof code === "string" ? `${error.name} ${code}` : error.name;
}
