import fs from "node:fs";
import path from "node:path";

import SQLite from "better-sqlite3";
import {
  Kysely,
  Migrator,
  PostgresAdapter,
  SqliteDialect,
  sql,
  type Migration,
  type MigrationProvider,
  type Transaction,
} from "kysely";

import { migrations } from "../db/migrations";
import {
  isPostgresUrl,
  isRetryablePostgresError,
  openPostgres,
} from "~/db/postgres.server";
import type { Database } from "~/db/schema";
import { getEnv, sqlitePathFromUrl } from "~/env.server";

export type Db = Kysely<Database>;
export type Trx = Transaction<Database>;

class ListedMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}

/**
 * Opens a SQLite file with the settings every connection needs: WAL so
 * readers never wait for the writer, foreign keys (off by default in SQLite,
 * and ON DELETE SET NULL depends on them), and a busy timeout so a second
 * process waits for the write lock instead of failing at once.
 */
export function openDatabase(file: string): Db {
  if (file !== ":memory:") {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  }
  const sqlite = new SQLite(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("synchronous = NORMAL");
  return new Kysely<Database>({
    dialect: new SqliteDialect({ database: sqlite }),
  });
}

export async function migrateToLatest(
  db: Db,
  log: (line: string) => void = console.info,
): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: new ListedMigrationProvider(),
  });
  const { error, results } = await migrator.migrateToLatest();
  for (const result of results ?? []) {
    if (result.status === "Error") {
      console.error(`[db] migration failed: ${result.migrationName}`);
    } else if (result.status === "Success") {
      log(`[db] migration applied: ${result.migrationName}`);
    }
  }
  if (error) {
    throw error instanceof Error ? error : new Error(String(error));
  }
}

/** `postgres://…` opens PostgreSQL; `file:…` or a path opens SQLite. */
export function openDatabaseFromUrl(databaseUrl: string): Db {
  return isPostgresUrl(databaseUrl)
    ? openPostgres(databaseUrl)
    : openDatabase(sqlitePathFromUrl(databaseUrl));
}

/** Whether `db` (or a transaction of it) talks to PostgreSQL. */
export function isPostgres(db: Db): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * Makes a read that a write in the same transaction depends on lock the rows
 * it returns until the transaction ends, so a second instance cannot read
 * the same row, decide on it, and overwrite the first one's write. On
 * PostgreSQL that is `FOR UPDATE`; on SQLite the write transaction already
 * holds the database's only write lock (BEGIN IMMEDIATE), and its compiler
 * has no row locks, so the query is left as it is.
 */
export function forUpdate<Query extends { forUpdate(): Query }>(
  db: Db,
  query: Query,
): Query {
  return isPostgres(db) ? query.forUpdate() : query;
}

let current: { url: string; ready: Promise<Db> } | undefined;

/**
 * The application's database, created and migrated on first use. Keyed by
 * DATABASE_URL so each test file can point at its own file.
 */
export function getDb(): Promise<Db> {
  const url = getEnv().DATABASE_URL;
  if (!current || current.url !== url) {
    const db = openDatabaseFromUrl(url);
    const log = getEnv().NODE_ENV === "test" ? () => {} : console.info;
    const ready = migrateToLatest(db, log).then(() => db);
    current = { url, ready };
  }
  return current.ready;
}

/** Closes the current database, if any (tests and scripts). */
export async function closeDb(): Promise<void> {
  const open = current;
  current = undefined;
  if (open) await (await open.ready).destroy();
}

/**
 * Runs `work` in a write transaction that takes SQLite's write lock at BEGIN.
 * A deferred BEGIN that upgrades to a write later fails with SQLITE_BUSY
 * when another process committed in between, without waiting for the busy
 * timeout; BEGIN IMMEDIATE waits for the lock instead.
 *
 * On PostgreSQL it is an ordinary READ COMMITTED transaction: unique
 * constraints, ON CONFLICT and `forUpdate` reads make concurrent writers
 * wait for each other, in this process or another instance.
 */
export async function writeTransaction<T>(
  db: Db,
  work: (trx: Db) => Promise<T>,
): Promise<T> {
  if (isPostgres(db)) return postgresTransaction(db, work);
  return db.connection().execute(async (connection) => {
    await sql`begin immediate`.execute(connection);
    try {
      const result = await work(connection);
      await sql`commit`.execute(connection);
      return result;
    } catch (error) {
      await sql`rollback`.execute(connection);
      throw error;
    }
  });
}

// Two transactions locking the same rows in opposite orders (a user, then
// their subscription; the subscription, then its user) end in a deadlock
// that PostgreSQL breaks by rolling one back. That transaction only touched
// the database, so it runs again at once, instead of answering 500 and
// waiting for Stripe's next retry, which can be an hour away. A few
// attempts are enough for a burst; past them the error goes up (500).
const POSTGRES_ATTEMPTS = 5;

async function postgresTransaction<T>(
  db: Db,
  work: (trx: Db) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await db.transaction().execute(work);
    } catch (error) {
      if (attempt >= POSTGRES_ATTEMPTS || !isRetryablePostgresError(error)) {
        throw error;
      }
      // A short random pause, so the two losers do not collide again.
      const pause = Math.random() * 20 * attempt;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
