import { sql } from "kysely";
import { expect, test } from "vitest";

import { getDb } from "~/db.server";

test("every connection has foreign keys on and the journal in WAL", async () => {
  const db = await getDb();
  const foreignKeys = await sql<{
    foreign_keys: number;
  }>`pragma foreign_keys`.execute(db);
  const journal = await sql<{
    journal_mode: string;
  }>`pragma journal_mode`.execute(db);
  expect(foreignKeys.rows[0]?.foreign_keys).toBe(1);
  expect(journal.rows[0]?.journal_mode).toBe("wal");
});
