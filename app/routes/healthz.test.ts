import { afterEach, beforeEach, expect, test, vi } from "vitest";

import { openDatabase } from "~/db.server";
import { checkHealth } from "~/health.server";

import { pageRequest } from "../../tests/support/requests";

import { loader } from "./healthz";

let logs: string[] = [];

beforeEach(() => {
  logs = [];
  for (const level of ["info", "warn", "error"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logs.push(args.map(String).join(" "));
    });
  }
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

test("a healthy server answers 200 with the state of its parts, uncached and without secrets", async () => {
  const response = await healthz();

  expect(response.status).toBe(200);
  expect(response.headers.get("Cache-Control")).toBe("no-store");
  const text = await response.text();
  expect(JSON.parse(text)).toEqual({
    status: "ok",
    database: "ok",
    migrations: "applied",
    stripe: "configured",
  });
  expect(text).not.toMatch(/sk_test|whsec_|sqlite/);
  expect(logs).toEqual([
    expect.stringMatching(/^\[http\] GET \/healthz 200 \d+\.\dms$/),
  ]);
});

test.each([
  { key: "", webhookSecret: "", expected: "not_configured" },
  { key: "sk_test_dictia", webhookSecret: "", expected: "incomplete" },
])(
  "Stripe is reported as $expected and the server stays healthy",
  async ({ key, webhookSecret, expected }) => {
    vi.stubEnv("STRIPE_SECRET_KEY", key);
    vi.stubEnv("STRIPE_WEBHOOK_SECRET", webhookSecret);

    const response = await healthz();

    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: "ok",
      stripe: expected,
    });
  },
);

test("a database that cannot be opened answers 503", async () => {
  // A directory cannot be made under a regular file.
  vi.stubEnv("DATABASE_URL", `file:${import.meta.filename}/app.sqlite`);

  const response = await healthz();

  expect(response.status).toBe(503);
  expect(await response.json()).toEqual({
    status: "error",
    database: "unreachable",
    migrations: "unknown",
    stripe: "configured",
  });
  expect(logs).toContainEqual(
    expect.stringMatching(/^\[health\] database unreachable: Error E[A-Z]+$/),
  );
});

test("a database with migrations still to apply is reported as such", async () => {
  const db = openDatabase(":memory:");
  try {
    const health = await checkHealth(async () => db);

    expect(health).toEqual({
      status: "error",
      database: "ok",
      migrations: "pending",
      stripe: "configured",
    });
    expect(logs).toContainEqual(
      expect.stringMatching(
        /^\[health\] migrations pending: 2026_12_04_120000_create_users, /,
      ),
    );
  } finally {
    await db.destroy();
  }
});

function healthz(): Promise<Response> {
  return loader({ request: pageRequest("/healthz"), params: {}, context: {} });
}
