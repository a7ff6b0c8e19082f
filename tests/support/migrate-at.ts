import { migrateToLatest, openDatabase } from "~/db.server";

/**
 * `tsx tests/support/migrate-at.ts FILE UNIX_MS`: migrates FILE at the given
 * instant, so that several processes started together migrate at once.
 * Exits 0 on success, 1 with the error's message otherwise.
 */

const [file = "", at = "0"] = process.argv.slice(2);
await new Promise((resolve) =>
  setTimeout(resolve, Math.max(0, Number(at) - Date.now())),
);
const db = openDatabase(file);
try {
  await migrateToLatest(db, () => {});
  console.info("migrated");
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
} finally {
  await db.destroy();
}
