import {
  PERIODS,
  PLAN_SLUGS,
  type Period,
  type PlanSlug,
} from "~/billing/plans";
import { getEnv } from "~/env.server";

export type PlanPrices = {
  /** The recurring Price id; the plan is offered for the period when set. */
  recurring: string | undefined;
  /** A one-time Price added to the first invoice, when set. */
  setup: string | undefined;
};

/** `dictia-cloud` → `STRIPE_DICTIA_CLOUD_`. */
function envPrefix(plan: PlanSlug): string {
  return `STRIPE_${plan.toUpperCase().replace(/-/g, "_")}_`;
}

export function getPlanPrices(
  plan: PlanSlug,
  period: Period,
  { priceIds } = getEnv(),
): PlanPrices {
  const prefix = envPrefix(plan);
  return {
    recurring: priceIds[`${prefix}${period.toUpperCase()}`],
    setup: priceIds[`${prefix}SETUP`],
  };
}

/** Maps a configured recurring Price id back to its plan and period. */
export function planFromPriceId(
  priceId: string,
): { plan: PlanSlug; period: Period } | undefined {
  // One read of the environment for the six lookups.
  const env = getEnv();
  for (const plan of PLAN_SLUGS) {
    for (const period of PERIODS) {
      if (getPlanPrices(plan, period, env).recurring === priceId) {
        return { plan, period };
      }
    }
  }
  return undefined;
}
