import path from "node:path";

import { defineConfig } from "vitest/config";

// The tests whose outcome depends on the database engine run on SQLite and
// again on PostgreSQL; the rest (pages, forms, Stripe calls) on SQLite only.
const POSTGRES_TESTS = [
  "tests/db-*.test.ts",
  "tests/webhook-convergence.test.ts",
  "tests/webhook-two-instances.postgres.test.ts",
  "app/billing/webhook-handlers.server.test.ts",
  "app/routes/checkout.webhooks.stripe.test.ts",
];

export default defineConfig({
  resolve: {
    alias: { "~": path.resolve(import.meta.dirname, "app") },
  },
  test: {
    setupFiles: ["./tests/setup.ts"],
    environment: "node",
    testTimeout: 20_000,
    hookTimeout: 60_000,
    reporters: ["default", "./tests/support/plain-summary-reporter.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "sqlite",
          include: ["app/**/*.test.{ts,tsx}", "tests/**/*.test.ts"],
          exclude: ["**/node_modules/**", "**/*.postgres.test.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "postgres",
          include: POSTGRES_TESTS,
          setupFiles: ["./tests/setup-postgres.ts"],
          globalSetup: ["./tests/support/postgres-global-setup.ts"],
        },
      },
    ],
  },
});
