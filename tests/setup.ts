import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, afterEach, beforeAll } from "vitest";

import { closeDb } from "~/db.server";

import { listen, server } from "./mocks";
import { resetStripeMock } from "./mocks/stripe";
import { TEST_ENV } from "./support/env";

// Every test file gets its own database file, never db/app.sqlite.
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "dictia-test-"));

Object.assign(process.env, TEST_ENV, {
  DATABASE_URL: `file:${path.join(tmpDir, "app.sqlite")}`,
});

beforeAll(() => listen());
afterEach(() => {
  server.resetHandlers();
  resetStripeMock();
});
afterAll(async () => {
  server.close();
  await closeDb();
  fs.rmSync(tmpDir, { recursive: true, force: true });
});
