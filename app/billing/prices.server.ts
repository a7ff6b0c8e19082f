import crypto from "node:crypto";

import {
  PERIODS,
  PLAN_SLUGS,
  type Period,
  type PlanSlug,
} from "~/billing/plans";
import { getPlanPrices } from "~/billing/plans.server";
import { describeStripeError } from "~/billing/stripe-errors.server";
import { Stripe, getStripe } from "~/billing/stripe.server";
import { getEnv } from "~/env.server";

/** An amount in cents of `currency` (always `cad` here). */
export type Money = { amount: number; currency: string };

export type PeriodPricing = {
  /** A recurring Price id is configured: the period can be bought. */
  available: boolean;
  /** What the recurring Price costs, when Stripe said so. */
  price: Money | null;
};

export type PlanPricing = {
  periods: Record<Period, PeriodPricing>;
  /** A setup Price id is configured: the first invoice carries a fee. */
  hasSetupFee: boolean;
  setupFee: Money | null;
  /** Twelve monthly payments minus one yearly payment, when positive. */
  yearlySaving: Money | null;
};

/**
 * `not_configured`: no STRIPE_SECRET_KEY. `unavailable`: Stripe could not be
 * read; the plans are still listed, without amounts.
 */
export type PricingStatus = "ok" | "not_configured" | "unavailable";

export type Pricing = {
  status: PricingStatus;
  plans: Record<PlanSlug, PlanPricing>;
};

const CURRENCY = "cad";
const CACHE_TTL_MS = 5 * 60_000;
// A failure is kept briefly too, so an outage does not make every page view
// wait on Stripe.
const FAILURE_TTL_MS = 30_000;
// The pricing page waits on this; a slow Stripe must not hold it for long.
const REQUEST_OPTIONS = { timeout: 5_000, maxNetworkRetries: 0 };

type CacheEntry = {
  fingerprint: string;
  expiresAt: number;
  pricing: Promise<Pricing>;
};

let cache: CacheEntry | undefined;

/** Forgets the cached prices (tests, or after changing the Price ids). */
export function clearPriceCache(): void {
  cache = undefined;
}

/**
 * The amounts of every configured plan and period, read from Stripe's Price
 * objects and cached for a few minutes. Never throws: when Stripe is not
 * configured or cannot be read, the status says so and amounts are null.
 */
export async function getPricing(): Promise<Pricing> {
  const stripe = getStripe();
  if (!stripe) return buildPricing("not_configured", new Map());

  const priceIds = configuredPriceIds();
  const fingerprint = configurationFingerprint(priceIds);
  if (
    cache &&
    cache.fingerprint === fingerprint &&
    cache.expiresAt > Date.now()
  ) {
    return cache.pricing;
  }
  // Concurrent page views share one round of requests.
  const entry: CacheEntry = {
    fingerprint,
    expiresAt: Number.POSITIVE_INFINITY,
    pricing: readPrices(stripe, priceIds).catch((error: unknown) => {
      console.error(
        `[prices] unexpected failure: ${describeStripeError(error)}`,
      );
      return buildPricing("unavailable", new Map());
    }),
  };
  cache = entry;
  const pricing = await entry.pricing;
  entry.expiresAt =
    Date.now() + (pricing.status === "ok" ? CACHE_TTL_MS : FAILURE_TTL_MS);
  return pricing;
}

function configuredPriceIds(): string[] {
  const ids = new Set<string>();
  for (const plan of PLAN_SLUGS) {
    for (const period of PERIODS) {
      const { recurring, setup } = getPlanPrices(plan, period);
      if (recurring) ids.add(recurring);
      if (setup) ids.add(setup);
    }
  }
  return [...ids].sort();
}

/** Changes whenever the key, the API origin or a Price id changes. */
function configurationFingerprint(priceIds: string[]): string {
  const env = getEnv();
  return crypto
    .createHash("sha256")
    .update(
      JSON.stringify([
        env.STRIPE_SECRET_KEY,
        env.STRIPE_API_BASE_URL,
        priceIds,
      ]),
    )
    .digest("hex");
}

async function readPrices(stripe: Stripe, priceIds: string[]) {
  const results = await Promise.allSettled(
    priceIds.map((id) => stripe.prices.retrieve(id, {}, REQUEST_OPTIONS)),
  );
  const amounts = new Map<string, Money>();
  for (const [index, result] of results.entries()) {
    const id = priceIds[index] ?? "";
    if (result.status === "fulfilled") {
      const money = moneyOf(result.value);
      if (money) amounts.set(id, money);
      else console.warn(`[prices] price=${id} has no fixed CAD amount`);
    } else if (isMissingPrice(result.reason)) {
      // A wrong id hides one amount; the page still shows the others.
      console.warn(`[prices] price=${id} does not exist in Stripe`);
    } else {
      console.error(
        `[prices] Stripe unreachable: ${describeStripeError(result.reason)}`,
      );
      return buildPricing("unavailable", new Map());
    }
  }
  return buildPricing("ok", amounts);
}

function moneyOf(price: Stripe.Price): Money | null {
  if (!price.active) return null;
  if (price.currency === CURRENCY && price.unit_amount !== null) {
    return { amount: price.unit_amount, currency: CURRENCY };
  }
  const option = price.currency_options?.[CURRENCY];
  if (option && option.unit_amount !== null) {
    return { amount: option.unit_amount, currency: CURRENCY };
  }
  return null;
}

function isMissingPrice(error: unknown): boolean {
  return (
    error instanceof Stripe.errors.StripeInvalidRequestError &&
    error.code === "resource_missing"
  );
}

function buildPricing(
  status: PricingStatus,
  amounts: Map<string, Money>,
): Pricing {
  const amountOf = (id: string | undefined) =>
    id ? (amounts.get(id) ?? null) : null;
  const plans = {} as Record<PlanSlug, PlanPricing>;
  for (const plan of PLAN_SLUGS) {
    const monthly = getPlanPrices(plan, "monthly");
    const yearly = getPlanPrices(plan, "yearly");
    const periods: Record<Period, PeriodPricing> = {
      monthly: {
        available: Boolean(monthly.recurring),
        price: amountOf(monthly.recurring),
      },
      yearly: {
        available: Boolean(yearly.recurring),
        price: amountOf(yearly.recurring),
      },
    };
    plans[plan] = {
      periods,
      hasSetupFee: Boolean(monthly.setup),
      setupFee: amountOf(monthly.setup),
      yearlySaving: yearlySaving(periods.monthly.price, periods.yearly.price),
    };
  }
  return { status, plans };
}

function yearlySaving(
  monthly: Money | null,
  yearly: Money | null,
): Money | null {
  if (!monthly || !yearly || monthly.currency !== yearly.currency) {
    return null;
  }
  const saving = monthly.amount * 12 - yearly.amount;
  return saving > 0 ? { amount: saving, currency: yearly.currency } : null;
}
