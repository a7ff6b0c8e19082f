import crypto from "node:crypto";
import fs from "node:fs";

import { z } from "zod";

import { PLAN_SLUGS } from "~/billing/plans";

// A `.env` beside package.json configures a local run; variables already set
// win. Tests never read it, so a developer's keys cannot leak into them.
if (!process.env.VITEST && fs.existsSync(".env")) {
  process.loadEnvFile(".env");
}

const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === "" ? undefined : value))
  .optional();

const commaList = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? "")
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== ""),
  );

const EnvSchema = z.object({
  NODE_ENV: z.string().default("development"),
  PORT: z.coerce.number().int().positive().default(3000),
  DATABASE_URL: z.string().trim().default("file:./db/app.sqlite"),
  SESSION_SECRET: commaList,
  APP_URL: z
    .string()
    .trim()
    .url()
    .default("http://localhost:3000")
    .transform((value) => value.replace(/\/+$/, "")),
  STRIPE_SECRET_KEY: optionalText,
  STRIPE_WEBHOOK_SECRET: commaList,
  STRIPE_API_BASE_URL: optionalText.pipe(z.string().url().optional()),
});

export type Env = z.infer<typeof EnvSchema> & {
  priceIds: Record<string, string | undefined>;
};

// A secret that is only good for development: production never signs
// cookies with a published value.
const DEVELOPMENT_SESSION_SECRET = "dictia-development-only-secret";

// A first look on one's own machine (`npm start`, APP_URL on loopback) gets a
// random secret for the life of the process: sessions end at restart, and
// nothing guessable signs them. A public APP_URL without a secret is a crash.
let localSessionSecret: string | undefined;

function isLoopbackOrigin(appUrl: string): boolean {
  const { hostname } = new URL(appUrl);
  return ["localhost", "127.0.0.1", "[::1]"].includes(hostname);
}

// The Price variables the plans can name: STRIPE_<PLAN>_<SETUP|MONTHLY|YEARLY>.
const PRICE_VARIABLES = PLAN_SLUGS.flatMap((plan) =>
  ["SETUP", "MONTHLY", "YEARLY"].map(
    (kind) => `STRIPE_${plan.toUpperCase().replace(/-/g, "_")}_${kind}`,
  ),
);
const VARIABLES_READ = [...Object.keys(EnvSchema.shape), ...PRICE_VARIABLES];

const READ_ONCE = process.env.NODE_ENV === "production" && !process.env.VITEST;

let lastRead: { source: NodeJS.ProcessEnv; raw: string; env: Env } | undefined;

/**
 * Reads and validates the environment. Every other module goes through this
 * one; it is read on each call so tests can change `process.env` per case.
 * Validating costs tens of microseconds and a webhook delivery asks several
 * times, so the result is reused for as long as the raw values it came from
 * are unchanged; it is frozen, being shared. The built server reads it
 * once (`remix build` writes NODE_ENV=production into the bundle; the test
 * runner runs the sources): a server's environment does not change under
 * it, and even comparing the raw values costs a webhook delivery 30 µs.
 */
export function getEnv(source: NodeJS.ProcessEnv = process.env): Env {
  if (READ_ONCE && lastRead?.source === source && source === process.env) {
    return lastRead.env;
  }
  // An unset variable and an empty one must differ: "\u0001" is neither.
  const raw = VARIABLES_READ.map((name) => source[name] ?? "\u0001").join(
    "\u0000",
  );
  if (lastRead && lastRead.source === source && lastRead.raw === raw) {
    return lastRead.env;
  }
  const env = parseEnv(source);
  lastRead = { source, raw, env };
  return env;
}

function parseEnv(source: NodeJS.ProcessEnv): Env {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.join("."));
    throw new Error(`Invalid environment variables: ${fields.join(", ")}`);
  }
  const env = parsed.data;
  if (env.SESSION_SECRET.length === 0) {
    if (env.NODE_ENV !== "production") {
      env.SESSION_SECRET = [DEVELOPMENT_SESSION_SECRET];
    } else if (isLoopbackOrigin(env.APP_URL)) {
      if (!localSessionSecret) {
        localSessionSecret = crypto.randomBytes(32).toString("base64url");
        console.warn(
          "[env] SESSION_SECRET is not set: using a random secret until restart.",
        );
      }
      env.SESSION_SECRET = [localSessionSecret];
    } else {
      throw new Error(
        "SESSION_SECRET is required in production when APP_URL is public (comma-separated for rotation).",
      );
    }
  }
  const priceIds: Record<string, string | undefined> = {};
  for (const name of PRICE_VARIABLES) {
    const value = source[name]?.trim();
    if (value) priceIds[name] = value;
  }
  Object.freeze(env.SESSION_SECRET);
  Object.freeze(env.STRIPE_WEBHOOK_SECRET);
  return Object.freeze({ ...env, priceIds: Object.freeze(priceIds) });
}

/** `file:./db/app.sqlite`, `file:/abs/path` or a bare path: the file name. */
export function sqlitePathFromUrl(databaseUrl: string): string {
  return databaseUrl.startsWith("file:")
    ? databaseUrl.slice("file:".length)
    : databaseUrl;
}
