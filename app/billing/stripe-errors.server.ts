import { Stripe } from "~/billing/stripe.server";

/**
 * One log fragment for a failed Stripe call: its class, Stripe's code and
 * parameter, and the request id an operator can look up in the dashboard.
 * Never the message: it can quote what the customer typed.
 */
export function describeStripeError(error: unknown): string {
  if (error instanceof Stripe.errors.StripeError) {
    return [
      error.type,
      `code=${error.code ?? "-"}`,
      `param=${error.param ?? "-"}`,
      `request=${error.requestId ?? "-"}`,
    ].join(" ");
  }
  return error instanceof Error ? error.name : "unknown error";
}
