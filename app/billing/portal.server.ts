import { describeStripeError } from "~/billing/stripe-errors.server";
import { Stripe, getStripe } from "~/billing/stripe.server";
import type { UserRow } from "~/db/schema";
import { getEnv } from "~/env.server";

export type PortalErrorCode = "not_configured" | "no_customer" | "unavailable";

export type PortalResult =
  | { ok: true; url: string }
  | { ok: false; code: PortalErrorCode; message: string };

/** What the customer reads for each failure. */
export const PORTAL_ERROR_MESSAGES: Record<PortalErrorCode, string> = {
  not_configured:
    "La gestion de l’abonnement en ligne n’est pas offerte pour le moment. Veuillez réessayer plus tard.",
  no_customer:
    "Vous n’avez pas encore de dossier de facturation : il est créé lors de votre premier abonnement.",
  unavailable:
    "Le portail de facturation est injoignable pour le moment. Veuillez réessayer dans quelques minutes : rien n’a été modifié.",
};

/**
 * Opens a Stripe Billing Portal session for the user's customer, coming back
 * to /compte. Failures come back as a result with a French message, never
 * as a throw.
 *
 * No idempotency key: a portal session changes nothing by itself and lasts
 * minutes, so a double submit opening two of them costs nothing, while a
 * replayed answer could hand back a session that has already expired.
 *
 * @example
 * const result = await createPortalSession(user);
 * if (result.ok) return redirect(result.url, 303);
 */
export async function createPortalSession(
  user: Pick<UserRow, "id" | "stripe_customer_id">,
): Promise<PortalResult> {
  const stripe = getStripe();
  if (!stripe) return failure("not_configured", `user=${user.id} no key`);
  const customer = user.stripe_customer_id;
  if (!customer) return failure("no_customer", `user=${user.id}`);
  try {
    const session = await stripe.billingPortal.sessions.create({
      customer,
      // APP_URL, never the request's Host: a forged Host header must not
      // choose where Stripe sends the customer back.
      return_url: `${getEnv().APP_URL}/compte`,
      locale: "fr-CA",
    });
    console.info(`[portal] session created user=${user.id}`);
    return { ok: true, url: session.url };
  } catch (error) {
    if (!(error instanceof Stripe.errors.StripeError)) throw error;
    return failure(
      "unavailable",
      `user=${user.id} ${describeStripeError(error)}`,
    );
  }
}

function failure(code: PortalErrorCode, details: string): PortalResult {
  const line = `[portal] failed code=${code} ${details}`;
  // A missing customer is the user's situation; the others need an operator.
  if (code === "no_customer") console.info(line);
  else console.error(line);
  return { ok: false, code, message: PORTAL_ERROR_MESSAGES[code] };
}
