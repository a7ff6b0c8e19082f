import crypto from "node:crypto";

import type { Period, PlanSlug } from "~/billing/plans";
import { getPlanPrices } from "~/billing/plans.server";
import { describeStripeError } from "~/billing/stripe-errors.server";
import { Stripe, getStripe } from "~/billing/stripe.server";
import { getDb, writeTransaction } from "~/db.server";
import type { UserRow } from "~/db/schema";
import { getEnv } from "~/env.server";
import { linkSubscriptionsToUser } from "~/models/subscription.server";
import { setUserStripeCustomerId } from "~/models/user.server";

export type CheckoutErrorCode =
  | "not_configured"
  | "unknown_price"
  | "card_error"
  | "rate_limited"
  | "api_error"
  | "network_error";

export type CheckoutResult =
  | { ok: true; url: string; sessionId: string }
  | { ok: false; code: CheckoutErrorCode; message: string };

/** What the customer reads for each failure; none of them charged anything. */
export const CHECKOUT_ERROR_MESSAGES: Record<CheckoutErrorCode, string> = {
  not_configured:
    "Le paiement en ligne n’est pas encore offert. Aucun montant n’a été prélevé ; veuillez réessayer plus tard.",
  unknown_price:
    "Cette formule n’est pas offerte pour le moment. Aucun montant n’a été prélevé.",
  card_error:
    "Le paiement a été refusé par l’émetteur de la carte. Aucun montant n’a été prélevé ; essayez une autre carte.",
  rate_limited:
    "Le service de paiement reçoit trop de demandes en ce moment. Veuillez réessayer dans une minute : aucun montant n’a été prélevé.",
  api_error:
    "Le service de paiement a rencontré une erreur. Veuillez réessayer dans quelques minutes : aucun montant n’a été prélevé.",
  network_error:
    "Le service de paiement est injoignable pour le moment. Veuillez réessayer dans quelques minutes : aucun montant n’a été prélevé.",
};

// For a form without an attempt nonce (an old page, a hand-made request).
const SESSION_KEY_WINDOW_MS = 10 * 60_000;
const ATTEMPT = /^[A-Za-z0-9_-]{16,64}$/;

/**
 * Creates the Stripe Checkout Session that sells `plan` for `period` to
 * `user`, creating their Stripe Customer first when they have none.
 * `attempt` is the nonce of the page's form (see `newCheckoutAttempt`).
 * Stripe failures come back as a result with a French message, never as a
 * throw.
 *
 * @example
 * const result = await startCheckout({ user, plan, period, attempt });
 * if (result.ok) return redirect(result.url, 303);
 */
export async function startCheckout(input: {
  user: UserRow;
  plan: PlanSlug;
  period: Period;
  attempt?: string;
}): Promise<CheckoutResult> {
  const { user, plan, period, attempt } = input;
  const ids = `user=${user.id} plan=${plan} period=${period}`;
  const stripe = getStripe();
  if (!stripe) {
    return failure("not_configured", `${ids} STRIPE_SECRET_KEY is not set`);
  }
  const prices = getPlanPrices(plan, period);
  if (!prices.recurring) {
    return failure("unknown_price", `${ids} no recurring Price id configured`);
  }

  try {
    const customerId = await ensureCustomer(stripe, user);
    const session = await createSession(stripe, {
      user,
      plan,
      period,
      customerId,
      recurringPrice: prices.recurring,
      setupPrice: prices.setup,
      attempt,
    });
    if (!session.url) {
      return failure("api_error", `${ids} session=${session.id} has no url`);
    }
    console.info(`[checkout] session created ${ids} session=${session.id}`);
    return { ok: true, url: session.url, sessionId: session.id };
  } catch (error) {
    if (!(error instanceof Stripe.errors.StripeError)) throw error;
    return failure(
      codeOfStripeError(error),
      `${ids} ${describeStripeError(error)}`,
    );
  }
}

/**
 * The user's Stripe Customer id, created on their first checkout. The
 * stored id wins over the one just created, should two requests race.
 */
async function ensureCustomer(stripe: Stripe, user: UserRow): Promise<string> {
  if (user.stripe_customer_id) return user.stripe_customer_id;
  const customer = await stripe.customers.create(
    {
      email: user.email,
      preferred_locales: ["fr-CA"],
      metadata: { dictia_user_id: String(user.id) },
    },
    { idempotencyKey: customerIdempotencyKey(user) },
  );
  // One transaction: linking refreshes the user's status under a lock on
  // their row (on PostgreSQL), which holds only until the transaction ends.
  return writeTransaction(await getDb(), async (trx) => {
    const stored =
      (await setUserStripeCustomerId(trx, user.id, customer.id)) ?? customer.id;
    // Subscriptions whose events arrived before the user had a customer id.
    await linkSubscriptionsToUser(trx, stored, user.id);
    return stored;
  });
}

/** A nonce for the checkout forms of one page view. */
export function newCheckoutAttempt(): string {
  return crypto.randomBytes(16).toString("base64url");
}

/**
 * Who asks (a user id, never reused) and with what (the email, hashed:
 * idempotency keys show in Stripe's request logs).
 */
export function customerIdempotencyKey(
  user: Pick<UserRow, "id" | "email">,
): string {
  return `dictia:customer.create:user=${user.id}:email=${digest(user.email)}`;
}

async function createSession(
  stripe: Stripe,
  input: {
    user: UserRow;
    plan: PlanSlug;
    period: Period;
    customerId: string;
    recurringPrice: string;
    setupPrice: string | undefined;
    attempt: string | undefined;
  },
) {
  const { APP_URL } = getEnv();
  const metadata = {
    dictia_user_id: String(input.user.id),
    plan: input.plan,
    period: input.period,
  };
  const lineItems = [{ price: input.recurringPrice, quantity: 1 }];
  if (input.setupPrice) {
    // In subscription mode a one-time Price is billed on the first invoice.
    lineItems.push({ price: input.setupPrice, quantity: 1 });
  }
  // A per-form nonce, not a clock: a double submit shares one Session, and a page shown again never gets a replayed error or an expired Session.
  const scope =
    input.attempt && ATTEMPT.test(input.attempt)
      ? `attempt=${input.attempt}`
      : `window=${Math.floor(Date.now() / SESSION_KEY_WINDOW_MS)}`;
  const idempotencyKey = [
    "dictia:checkout.sessions.create",
    `user=${input.user.id}`,
    `customer=${input.customerId}`,
    `plan=${input.plan}`,
    `period=${input.period}`,
    `prices=${input.recurringPrice}+${input.setupPrice ?? "none"}`,
    scope,
  ].join(":");

  return stripe.checkout.sessions.create(
    {
      mode: "subscription",
      currency: "cad",
      customer: input.customerId,
      client_reference_id: String(input.user.id),
      line_items: lineItems,
      automatic_tax: { enabled: true },
      // Stripe Tax needs the address typed in Checkout saved on the customer.
      customer_update: { address: "auto" },
      billing_address_collection: "required",
      locale: "fr-CA",
      metadata,
      subscription_data: { metadata },
      // Stripe fills in {CHECKOUT_SESSION_ID}: the braces must stay as they are.
      success_url: `${APP_URL}/checkout/success?session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${APP_URL}/checkout/cancel`,
    },
    { idempotencyKey },
  );
}

function codeOfStripeError(
  error: Stripe.errors.StripeError,
): CheckoutErrorCode {
  if (error instanceof Stripe.errors.StripeCardError) return "card_error";
  if (error instanceof Stripe.errors.StripeRateLimitError) {
    return "rate_limited";
  }
  if (error instanceof Stripe.errors.StripeConnectionError) {
    return "network_error";
  }
  if (
    error instanceof Stripe.errors.StripeInvalidRequestError &&
    (error.param?.startsWith("line_items") ||
      (error.code === "resource_missing" && error.param === "price"))
  ) {
    return "unknown_price";
  }
  return "api_error";
}

// Failures on the customer's side are warnings; the others need an operator.
const CUSTOMER_SIDE = new Set<CheckoutErrorCode>([
  "card_error",
  "rate_limited",
]);

function failure(code: CheckoutErrorCode, details: string): CheckoutResult {
  const line = `[checkout] failed code=${code} ${details}`;
  if (CUSTOMER_SIDE.has(code)) console.warn(line);
  else console.error(line);
  return { ok: false, code, message: CHECKOUT_ERROR_MESSAGES[code] };
}

function digest(value: string): string {
  return crypto
    .createHash("sha256")
    .update(value.trim().toLowerCase())
    .digest("hex")
    .slice(0, 16);
}
