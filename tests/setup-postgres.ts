import { afterAll, inject } from "vitest";

import { closeDb } from "~/db.server";

import { createDatabase } from "./support/postgres-databases";

// Runs after tests/setup.ts in the `postgres` project: the same tests, on a
// database of their own on the PostgreSQL server, which getDb() opens
// through DATABASE_URL like the app does.
const database = await createDatabase(inject("postgresUrl"));
process.env.DATABASE_URL = database.url;

afterAll(async () => {
  await closeDb();
  await database.drop();
});
