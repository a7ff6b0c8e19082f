import fs from "node:fs";
import { pathToFileURL } from "node:url";

import SQLite from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";

import { migrations } from "../db/migrations";
import { migrateToLatest, type Db } from "~/db.server";
import {
  isPostgresUrl,
  openPostgres,
  redactDatabaseUrl,
} from "~/db/postgres.server";
import type { Database } from "~/db/schema";
import { sqlitePathFromUrl } from "~/env.server";

/**
 * Moves a SQLite database into PostgreSQL, one way: users, subscriptions and
 * the ledger, ids kept, in id order, in batches of one transaction each.
 * A row whose id is already in PostgreSQL is skipped, so an interrupted copy
 * resumes where it stopped, and a second run changes nothing. Any other
 * conflict (the same email under another id) stops the copy: PostgreSQL
 * then holds data that did not come from this file.
 */

const usage =
  "Usage: npm run db:copy -- FROM TO\n" +
  "  FROM  the SQLite database: file:./db/app.sqlite or a path\n" +
  "  TO    the PostgreSQL database: postgres://user:password@host:5432/name\n" +
  "Stop the app on FROM first: rows written during the copy may be missed.";

export type CopyReport = Record<
  "users" | "subscriptions" | "webhook_events",
  { copied: number; alreadyThere: number }
>;

export type CopyOptions = {
  batchSize?: number;
  log?: (line: string) => void;
  /** Called after each committed batch (tests interrupt the copy here). */
  afterBatch?: (table: keyof CopyReport, rows: number) => void;
};

export async function copySqliteToPostgres(
  from: string,
  to: string,
  options: CopyOptions = {},
): Promise<CopyReport> {
  if (isPostgresUrl(from)) {
    throw new Error("FROM must be a SQLite database (file:… or a path).");
  }
  if (!isPostgresUrl(to)) {
    throw new Error("TO must be a PostgreSQL URL (postgres://…).");
  }
  const file = sqlitePathFromUrl(from);
  if (!fs.existsSync(file)) throw new Error(`No SQLite database at ${file}.`);

  const source = new Kysely<Database>({
    dialect: new SqliteDialect({
      database: new SQLite(file, { readonly: true, fileMustExist: true }),
    }),
  });
  const target = openPostgres(to, { max: 2 });
  try {
    await checkSourceIsMigrated(source);
    await migrateToLatest(target, options.log ?? (() => {}));
    const copy = (table: CopiedTable) =>
      copyTable(source, target, table, options.batchSize ?? 500, options);
    const report: CopyReport = {
      users: await copy("users"),
      subscriptions: await copy("subscriptions"),
      webhook_events: await copy("webhook_events"),
    };
    // Explicit ids do not move PostgreSQL's identity sequences: without
    // this, the next sign-up would be given id 1 and fail.
    for (const table of ["users", "subscriptions"] as const) {
      await sql`select setval(pg_get_serial_sequence(${table}, 'id'),
        coalesce((select max(id) from ${sql.table(table)}), 0) + 1, false)`.execute(
        target,
      );
    }
    return report;
  } finally {
    await source.destroy();
    await target.destroy();
  }
}

async function checkSourceIsMigrated(source: Kysely<Database>) {
  const applied = await sql<{
    name: string;
  }>`select name from kysely_migration`
    .execute(source)
    .then((result) => result.rows.map((row) => row.name))
    .catch((): string[] => []);
  const missing = Object.keys(migrations).filter(
    (name) => !applied.includes(name),
  );
  if (missing.length > 0) {
    throw new Error(
      `FROM is not migrated to the app's latest schema (missing ${missing.join(", ")}): start the app on it once, then copy.`,
    );
  }
}

type CopiedTable = keyof CopyReport;

/**
 * Copies one table in id order, a batch per transaction. Conflicts count on
 * the id only: a row already copied is skipped, anything else (the same
 * email under another id) is an error the operator must see.
 */
async function copyTable(
  source: Kysely<Database>,
  target: Db,
  table: CopiedTable,
  size: number,
  options: CopyOptions,
): Promise<{ copied: number; alreadyThere: number }> {
  const counts = { copied: 0, alreadyThere: 0 };
  // The ledger's ids are text ("evt_…"), the others' numbers: each starts
  // below its smallest possible id.
  let after: string | number = table === "webhook_events" ? "" : 0;
  for (;;) {
    const rows = await source
      .selectFrom(table)
      .selectAll()
      .where("id", ">", after)
      .orderBy("id")
      .limit(size)
      .execute();
    const last = rows.at(-1);
    if (!last) break;
    const copied = await target.transaction().execute(async (trx) => {
      const result = await trx
        .insertInto(table)
        .values(rows)
        .onConflict((oc) => oc.column("id").doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0);
    });
    counts.copied += copied;
    counts.alreadyThere += rows.length - copied;
    after = last.id;
    options.afterBatch?.(table, rows.length);
  }
  options.log?.(
    `[db:copy] ${table}: ${counts.copied} copied, ${counts.alreadyThere} already there`,
  );
  return counts;
}

async function main(args: string[]): Promise<number> {
  const [from, to, ...rest] = args;
  if (!from || !to || rest.length > 0 || from === "--help") {
    console.error(usage);
    return from === "--help" ? 0 : 2;
  }
  try {
    const report = await copySqliteToPostgres(from, to, {
      log: console.info,
    });
    const total = Object.values(report).reduce(
      (sum, counts) => sum + counts.copied,
      0,
    );
    console.info(
      `[db:copy] done into ${redactDatabaseUrl(to)}: ${total} rows copied.`,
    );
    return 0;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    // pg's messages do not contain the password; the URL is never printed whole.
    console.error(`[db:copy] stopped: ${reason}`);
    console.error("If rows were being copied, the same command resumes.");
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exitCode = await main(process.argv.slice(2));
}
