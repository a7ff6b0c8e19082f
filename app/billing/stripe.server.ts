import Stripe from "stripe";

import { getEnv } from "~/env.server";

let cached:
  { key: string; baseUrl: string | undefined; client: Stripe } | undefined;

/**
 * The Stripe client, or null when STRIPE_SECRET_KEY is not set (the app then
 * says that payments are not configured instead of failing).
 */
export function getStripe(): Stripe | null {
  const env = getEnv();
  const key = env.STRIPE_SECRET_KEY;
  if (!key) return null;
  const baseUrl = env.STRIPE_API_BASE_URL;
  if (cached && cached.key === key && cached.baseUrl === baseUrl) {
    return cached.client;
  }
  const base = baseUrl ? new URL(baseUrl) : undefined;
  const client = new Stripe(key, {
    // The fetch client goes through the global fetch, which msw intercepts
    // in tests; Node's http client would bypass it.
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: 1,
    timeout: 10_000,
    appInfo: { name: "dictia-billing" },
    ...(base && {
      protocol: base.protocol === "http:" ? "http" : "https",
      host: base.hostname,
      port: base.port || (base.protocol === "http:" ? "80" : "443"),
    }),
  });
  cached = { key, baseUrl, client };
  return client;
}

/** The same, for code that cannot work without Stripe. */
export function requireStripe(): Stripe {
  const stripe = getStripe();
  if (!stripe) throw new Error("STRIPE_SECRET_KEY is not set.");
  return stripe;
}

export { Stripe };
