import { sql } from "kysely";
import { inject } from "vitest";

import {
  isPostgres,
  migrateToLatest,
  openDatabase,
  openDatabaseFromUrl,
  type Db,
} from "~/db.server";
import { isPostgresUrl } from "~/db/postgres.server";

import { createDatabase } from "./postgres-databases";

export type ScratchDatabase = { db: Db; close(): Promise<void> };

/**
 * A migrated, empty database apart from getDb()'s, on the engine the test
 * file runs on: SQLite in memory, or a new database on the `postgres`
 * project's server.
 */
export async function openScratchDatabase(): Promise<ScratchDatabase> {
  if (!isPostgresUrl(process.env.DATABASE_URL ?? "")) {
    const db = openDatabase(":memory:");
    await migrateToLatest(db, () => {});
    return { db, close: () => db.destroy() };
  }
  const database = await createDatabase(
    inject("postgresUrl"),
    "dictia_scratch",
  );
  const db = openDatabaseFromUrl(database.url);
  await migrateToLatest(db, () => {});
  return {
    db,
    async close() {
      await db.destroy();
      await database.drop();
    },
  };
}

/** Deletes every row and restarts the ids, as a new database would have. */
export async function emptyDatabase(db: Db): Promise<void> {
  if (isPostgres(db)) {
    await sql`truncate table webhook_events, subscriptions, users restart identity`.execute(
      db,
    );
    return;
  }
  await db.deleteFrom("webhook_events").execute();
  await db.deleteFrom("subscriptions").execute();
  await db.deleteFrom("users").execute();
  await sql`delete from sqlite_sequence`.execute(db);
}
