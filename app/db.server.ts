import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Worker } from "node:worker_threads";

import SQLite from "better-sqlite3";
import {
  Kysely,
  Migrator,
  PostgresAdapter,
  SqliteDialect,
  sql,
  type Migration,
  type MigrationProvider,
  type SqliteDatabase,
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

/** The migrations of db/migrations/index.ts, for every Migrator. */
export class ListedMigrationProvider implements MigrationProvider {
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
  // The busy timeout first: switching a new file to WAL takes a lock, and
  // another process opening the same file at once must wait for it too.
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("synchronous = NORMAL");
  const checkpointer = file === ":memory:" ? null : startCheckpointer(file);
  if (checkpointer) {
    // Only a fallback now: about 40 MB of log, should the worker be gone.
    sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_CHECKPOINT_PAGES}`);
  }
  return new Kysely<Database>({
    dialect: new SqliteDialect({
      database: withStatementCache(sqlite, () => checkpointer?.stop()),
    }),
  });
}

const CHECKPOINT_EVERY_MS = 500;
const FALLBACK_CHECKPOINT_PAGES = 10_000;

// Runs in a worker thread, as plain CommonJS: the server bundle has no file
// of its own to give a worker.
const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const SQLite = require(workerData.driver);
const sqlite = new SQLite(workerData.file);
sqlite.pragma("busy_timeout = 5000");
sqlite.pragma("synchronous = NORMAL");
const timer = setInterval(() => {
  try {
    sqlite.pragma("wal_checkpoint(PASSIVE)");
  } catch {
    // Busy or closing: the next round tries again.
  }
}, workerData.everyMs);
parentPort.once("message", () => {
  clearInterval(timer);
  sqlite.close();
  parentPort.close();
});
`;

/**
 * SQLite folds its write-ahead log back into the database file inside
 * whichever commit makes the log pass 1000 pages: megabytes written and two
 * file syncs, tens of milliseconds during which this single-threaded server
 * answers no one. A worker thread does it instead, on a connection of its
 * own, twice a second; a PASSIVE checkpoint never blocks the app's readers
 * or its writer.
 */
function startCheckpointer(file: string) {
  const worker = new Worker(CHECKPOINTER_SOURCE, {
    eval: true,
    workerData: {
      file: path.resolve(file),
      driver: createRequire(import.meta.url).resolve("better-sqlite3"),
      everyMs: CHECKPOINT_EVERY_MS,
    },
  });
  worker.unref();
  let running = true;
  worker.once("exit", () => {
    running = false;
  });
  worker.on("error", (error) => {
    console.error(`[db] checkpoint worker failed: ${error.message}`);
  });
  return {
    stop() {
      if (!running) return;
      // Remembered so closeDb() can wait until the worker's connection to
      // the file is closed too (tests delete the file right after).
      const exited = new Promise<void>((resolve) => {
        worker.once("exit", () => resolve());
      });
      stoppingCheckpointers.add(exited);
      void exited.then(() => stoppingCheckpointers.delete(exited));
      worker.postMessage("stop");
    },
  };
}

const stoppingCheckpointers = new Set<Promise<void>>();

// Far more than the app's distinct queries; a bound all the same, in case
// some query's text ever varies with its input (an `in (?, ?, …)` list).
const MAX_CACHED_STATEMENTS = 500;

/**
 * Kysely asks the driver to prepare every query it runs, and compiling SQL
 * was a tenth of a webhook delivery's CPU time. A query's text depends only
 * on its shape (values are bound parameters), so statements are kept by
 * text. Safe because Kysely runs one query at a time on SQLite's single
 * connection, so a statement is never in use twice at once.
 */
function withStatementCache(
  sqlite: SQLite.Database,
  onClose: () => void,
): SqliteDatabase {
  const statements = new Map<string, SQLite.Statement>();
  return {
    prepare(text) {
      let statement = statements.get(text);
      if (!statement) {
        statement = sqlite.prepare(text);
        if (statements.size >= MAX_CACHED_STATEMENTS) {
          const oldest = statements.keys().next().value;
          if (oldest !== undefined) statements.delete(oldest);
        }
        statements.set(text, statement);
      }
      return statement;
    },
    close() {
      onClose();
      statements.clear();
      sqlite.close();
    },
  };
}

/**
 * Applies the pending migrations. Kysely's SQLite adapter takes no lock
 * between processes, so two servers starting on a fresh file would both
 * create the same tables and one would crash: on SQLite the run holds the
 * write lock (BEGIN IMMEDIATE), so the second waits, then finds nothing to
 * do, and a failed run applies nothing. On PostgreSQL, Kysely's migrator
 * already takes an advisory lock and a transaction of its own.
 */
export async function migrateToLatest(
  db: Db,
  log: (line: string) => void = console.info,
): Promise<void> {
  const run = async (connection: Db) => {
    const migrator = new Migrator({
      db: connection,
      provider: new ListedMigrationProvider(),
    });
    const { error, results = [] } = await migrator.migrateToLatest();
    if (error) {
      const failed = results.find((result) => result.status === "Error");
      console.error(
        `[db] migration failed: ${failed?.migrationName ?? "unknown"}; none applied`,
      );
      throw error instanceof Error ? error : new Error(String(error));
    }
    return results.filter((result) => result.status === "Success");
  };
  const applied = isPostgres(db)
    ? await run(db)
    : await writeTransaction(db, run);
  for (const result of applied) {
    log(`[db] migration applied: ${result.migrationName}`);
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
  await Promise.all(stoppingCheckpointers);
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
