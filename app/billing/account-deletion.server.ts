import { describeStripeError } from "~/billing/stripe-errors.server";
import { Stripe, getStripe } from "~/billing/stripe.server";
import { getDb } from "~/db.server";
import type { UserRow } from "~/db/schema";
import { getSubscriptionsForUser } from "~/models/subscription.server";
import { deleteUser } from "~/models/user.server";

export type AccountDeletionErrorCode = "not_configured" | "stripe_failed";

export type AccountDeletionResult =
  | { ok: true; canceled: number }
  | { ok: false; code: AccountDeletionErrorCode; message: string };

export const ACCOUNT_DELETION_ERROR_MESSAGES: Record<
  AccountDeletionErrorCode,
  string
> = {
  not_configured:
    "Votre abonnement ne peut pas être annulé en ligne pour le moment : votre compte n’a pas été supprimé. Veuillez réessayer plus tard.",
  stripe_failed:
    "Nous n’avons pas pu annuler votre abonnement auprès de notre service de paiement : votre compte n’a pas été supprimé. Veuillez réessayer dans quelques minutes.",
};

// Stripe's statuses of a subscription that is over and bills nothing more.
const ENDED = new Set(["canceled", "incomplete_expired"]);

/**
 * Deletes the user's account (Québec's Law 25, art. 28.1): every
 * subscription still running is canceled at Stripe first, then the user row
 * goes and their subscription rows stay, unlinked, for accounting. When a
 * cancellation fails, nothing is deleted. The Stripe calls happen before
 * the delete and outside any transaction.
 *
 * @example
 * const result = await deleteAccount(user);
 * if (!result.ok) return json({ error: result.message }, { status: 503 });
 */
export async function deleteAccount(
  user: UserRow,
): Promise<AccountDeletionResult> {
  const db = await getDb();
  const stripe = getStripe();
  let canceled = 0;
  const known = await getSubscriptionsForUser(db, user.id);
  const running = new Set(
    known
      .filter((row) => !ENDED.has(row.status))
      .map((row) => row.stripe_subscription_id),
  );

  if (!stripe) {
    if (running.size > 0) {
      return failure("not_configured", `user=${user.id} no Stripe key`);
    }
  } else {
    try {
      // Stripe's own list also finds a subscription whose events have not
      // reached us yet (paid a minute ago, or a webhook that failed).
      if (user.stripe_customer_id) {
        for await (const subscription of stripe.subscriptions.list({
          customer: user.stripe_customer_id,
          status: "all",
          limit: 100,
        })) {
          if (!ENDED.has(subscription.status)) running.add(subscription.id);
        }
      }
      for (const subscriptionId of running) {
        if (await cancelSubscription(stripe, user, subscriptionId)) {
          canceled += 1;
        }
      }
    } catch (error) {
      if (!(error instanceof Stripe.errors.StripeError)) throw error;
      return failure(
        "stripe_failed",
        `user=${user.id} ${describeStripeError(error)}`,
      );
    }
  }

  await deleteUser(db, user.id);
  console.info(
    `[account] user ${user.id} deleted; ${canceled} subscription(s) canceled at Stripe`,
  );
  return { ok: true, canceled };
}

/**
 * Cancels at once, without proration; false when it had already ended.
 * Stripe answers « No such subscription » for a canceled one, which is what
 * we wanted.
 */
async function cancelSubscription(
  stripe: Stripe,
  user: UserRow,
  subscriptionId: string,
): Promise<boolean> {
  try {
    await stripe.subscriptions.cancel(
      subscriptionId,
      {},
      // Stripe treats a DELETE as idempotent by itself; the key still names
      // who asked what, so Stripe's request log ties a retry to its request.
      {
        idempotencyKey: `dictia:subscriptions.cancel:user=${user.id}:subscription=${subscriptionId}:reason=account_deletion`,
      },
    );
    return true;
  } catch (error) {
    if (
      error instanceof Stripe.errors.StripeInvalidRequestError &&
      error.code === "resource_missing"
    ) {
      console.info(
        `[account] subscription=${subscriptionId} of user=${user.id} already ended at Stripe`,
      );
      return false;
    }
    throw error;
  }
}

function failure(
  code: AccountDeletionErrorCode,
  details: string,
): AccountDeletionResult {
  console.error(`[account] deletion aborted code=${code} ${details}`);
  return { ok: false, code, message: ACCOUNT_DELETION_ERROR_MESSAGES[code] };
}
