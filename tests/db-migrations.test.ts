import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

import { sql } from "kysely";
import { afterEach, beforeEach, expect, test, vi } from "vitest";

import { migrateToLatest, openDatabase } from "~/db.server";

import { migrations } from "../db/migrations";
import { ROOT } from "./support/app-server";
import { openReadOnly } from "./support/webhook-deliveries";

const run = promisify(execFile);
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const MIGRATE_AT = path.join(ROOT, "tests", "support", "migrate-at.ts");

let tmpDir: string;

beforeEach(() => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "dictia-migrations-"));
});
afterEach(() => {
  fs.rmSync(tmpDir, { recursive: true, force: true });
});

test("processes migrating one fresh file at the same instant all succeed, and each migration is applied once", async () => {
  const file = path.join(tmpDir, "app.sqlite");
  // Far enough ahead for every process to have loaded its modules.
  const at = Date.now() + 2_500;

  const outcomes = await Promise.all(
    [1, 2, 3].map(() =>
      run(TSX, [MIGRATE_AT, file, String(at)], { cwd: ROOT }).then(
        ({ stdout }) => stdout.trim(),
        (error: { stderr?: string }) => `failed: ${error.stderr ?? ""}`,
      ),
    ),
  );

  expect(outcomes).toEqual(["migrated", "migrated", "migrated"]);
  const { sqlite, db } = openReadOnly(file);
  try {
    const applied = sqlite
      .prepare("select name from kysely_migration order by name")
      .pluck()
      .all();
    expect(applied).toEqual(Object.keys(migrations).sort());
  } finally {
    await db.destroy();
  }
});

test("a migration run that fails applies nothing, not even the steps before the failure", async () => {
  const db = openDatabase(":memory:");
  // A table in the way of the second migration.
  await sql`create table subscriptions (id integer)`.execute(db);
  const errors = vi.spyOn(console, "error").mockImplementation(() => {});
  let logged: string[];
  try {
    await expect(migrateToLatest(db, () => {})).rejects.toThrow(
      /already exists/,
    );
  } finally {
    logged = errors.mock.calls.map((args) => args.join(" "));
    errors.mockRestore();
  }

  expect(logged).toEqual([
    "[db] migration failed: 2026_12_04_120100_create_subscriptions; none applied",
  ]);
  const tables = await sql<{
    name: string;
  }>`select name from sqlite_master where type = 'table' order by name`.execute(
    db,
  );
  await db.destroy();
  expect(tables.rows.map((row) => row.name)).toEqual(["subscriptions"]);
});
