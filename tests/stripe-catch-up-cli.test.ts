import { execFile } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, expect, test } from "vitest";

import { readCatchUpArgs, USAGE } from "../scripts/stripe-catch-up";
import { startStripeDouble, type StripeDouble } from "../scripts/stripe-double";
import { ROOT } from "./support/app-server";
import { TEST_ENV } from "./support/env";
import { openReadOnly } from "./support/webhook-deliveries";

/**
 * `npm run stripe:catch-up` itself, as an operator runs it after an outage:
 * its command line, and a run of the script against the local Stripe
 * double. That a second run changes nothing is shown on catchUpEvents
 * itself (app/billing/catch-up.server.test.ts).
 */

const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const SCRIPT = path.join(ROOT, "scripts", "stripe-catch-up.ts");

let tmpDir: string;
let double: StripeDouble;
let app: http.Server;

beforeAll(async () => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "dictia-catch-up-"));
  // The outage: the app answers every delivery 503, so the events stay
  // missing from its ledger until the catch-up runs.
  app = http.createServer((request, response) => {
    request.resume();
    response.writeHead(503).end();
  });
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
  const { port } = app.address() as AddressInfo;
  double = await startStripeDouble({
    port: 0,
    webhookUrl: `http://127.0.0.1:${port}/checkout/webhooks/stripe`,
    webhookSecret: "whsec_catch_up",
    env: TEST_ENV,
  });
});

afterAll(async () => {
  await double?.close();
  await new Promise((resolve) => app?.close(resolve));
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
});

type Run = { code: number; stdout: string; stderr: string };

/**
 * Runs the script from an empty folder, so no developer's `.env` is read,
 * with only the variables given.
 */
function catchUp(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      TSX,
      ["--tsconfig", path.join(ROOT, "tsconfig.json"), SCRIPT, ...args],
      {
        cwd: tmpDir,
        env: {
          NODE_ENV: "test",
          PATH: process.env.PATH ?? "",
          DATABASE_URL: `file:${path.join(tmpDir, "app.sqlite")}`,
          ...env,
        },
      },
      (error, stdout, stderr) => {
        const code = error ? Number(error.code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

test("the catch-up's command line needs a readable --since, and warns past Stripe's thirty days", () => {
  const now = Date.parse("2026-12-04T12:00:00Z");

  expect(readCatchUpArgs(["--since", "2026-12-01"], now)).toEqual({
    since: new Date("2026-12-01T00:00:00Z"),
    warning: null,
  });
  expect(readCatchUpArgs(["--since", "2026-10-01T00:00:00Z"], now)).toEqual({
    since: new Date("2026-10-01T00:00:00Z"),
    warning: "Stripe keeps events for 30 days: older ones cannot be listed.",
  });
  expect(readCatchUpArgs([], now)).toEqual({ exitCode: 2, message: USAGE });
  expect(readCatchUpArgs(["--since", "hier"], now)).toEqual({
    exitCode: 2,
    message: `Not a date: hier\n${USAGE}`,
  });
  expect(readCatchUpArgs(["--depuis", "2026-12-01"], now)).toMatchObject({
    exitCode: 2,
    message: expect.stringContaining(USAGE),
  });
  expect(readCatchUpArgs(["--help"], now)).toEqual({
    exitCode: 0,
    message: USAGE,
  });
});

test("after an outage the catch-up script stores the missed events through the webhook's code", async () => {
  const stripe = double.stripe;
  const customer = stripe.createCustomer({ email: "panne@exemple.test" });
  const subscription = stripe.createSubscription({
    customer: String(customer.id),
    price: stripe.prices.get(TEST_ENV.STRIPE_DICTIA_16_YEARLY) ?? null,
    status: "active",
  });
  stripe.recordEvent("customer.subscription.created", subscription);
  subscription.status = "past_due";
  stripe.recordEvent("customer.subscription.updated", subscription);
  // A type the webhook does not handle is not asked for.
  stripe.recordEvent("customer.updated", customer);
  const since = new Date(Date.now() - 3_600_000).toISOString();

  const run = await catchUp(["--since", since], {
    ...TEST_ENV,
    STRIPE_SECRET_KEY: "sk_test_catch_up",
    STRIPE_API_BASE_URL: double.url,
  });

  expect(run).toMatchObject({ code: 0 });
  expect(run.stdout).toContain(
    "listed=2 processed=2 already_in_ledger=0 unreadable=0",
  );
  const { sqlite, db } = openReadOnly(path.join(tmpDir, "app.sqlite"));
  try {
    expect(sqlite.prepare("select * from subscriptions").all()).toEqual([
      expect.objectContaining({
        stripe_subscription_id: subscription.id,
        status: "past_due",
        plan: "dictia-16",
        period: "yearly",
      }),
    ]);
    expect(
      sqlite
        .prepare("select type, outcome from webhook_events order by rowid")
        .all(),
    ).toEqual([
      { type: "customer.subscription.created", outcome: "handled" },
      { type: "customer.subscription.updated", outcome: "handled" },
    ]);
    const listed = stripe.requestsTo("GET", "/v1/events");
    expect(listed).toHaveLength(1);
  } finally {
    await db.destroy();
  }
});
