import { Kysely, PostgresDialect } from "kysely";
import type pg from "pg";

import type { Database } from "~/db/schema";

// pg's type ids (pg_type.oid) of the types read back as numbers.
const INT8_OID = 20;

/** `postgres://…` or `postgresql://…` selects PostgreSQL; anything else is SQLite. */
export function isPostgresUrl(databaseUrl: string): boolean {
  return /^postgres(ql)?:\/\//i.test(databaseUrl);
}

/** The URL without its password, for logs and error messages. */
export function redactDatabaseUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(unparsable database URL)";
  }
}

/**
 * Opens a pool on a PostgreSQL database. Unix seconds are `bigint` columns
 * on PostgreSQL (an `integer` ends in 2038), and pg returns bigint as a
 * string by default: this pool parses it as a number, which holds any unix
 * time exactly, so the models read the same types as on SQLite. The parser
 * is set on the pool, not globally, so nothing else in the process changes.
 */
export function openPostgres(
  databaseUrl: string,
  options: { max?: number } = {},
): Kysely<Database> {
  // pg is loaded with the first connection: a server on SQLite never pays
  // for it (a few megabytes of memory).
  const pool = async () => {
    const { default: driver } = await import("pg");
    const created = new driver.Pool({
      connectionString: databaseUrl,
      max: options.max ?? 10,
      types: {
        getTypeParser: ((oid: number, format?: "text" | "binary") =>
          oid === INT8_OID
            ? (value: string) => Number(value)
            : driver.types.getTypeParser(
                oid,
                format,
              )) as typeof pg.types.getTypeParser,
      },
    });
    // An idle client losing its server (a restart, a failover) must not
    // crash the process; the pool replaces it on the next query.
    created.on("error", (error) => {
      console.warn(`[db] idle PostgreSQL connection lost: ${error.message}`);
    });
    return created;
  };
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

// SQLSTATE codes after which the whole transaction can simply run again:
// serialization_failure and deadlock_detected. PostgreSQL rolled it back
// entirely, so nothing of it was written.
const RETRYABLE_CODES = new Set(["40001", "40P01"]);

export function isRetryablePostgresError(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    "code" in error &&
    typeof error.code === "string" &&
    RETRYABLE_CODES.has(error.code)
  );
}
