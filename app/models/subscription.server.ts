import { sql } from "kysely";

import { forUpdate, type Db } from "~/db.server";
import type { SubscriptionRow } from "~/db/schema";
import { lockUser, setUserSubscriptionStatus } from "~/models/user.server";

/** What Stripe says of one subscription at one moment. */
export type SubscriptionState = {
  stripeSubscriptionId: string;
  stripeCustomerId: string;
  status: string;
  plan: string | null;
  period: string | null;
  currentPeriodEnd: number | null;
  cancelAtPeriodEnd: boolean;
  /** Stripe's `created` of the subscription itself. */
  stripeCreated: number;
  /** Stripe's `ended_at`: set once the subscription has ended. */
  endedAt?: number | null;
};

export async function getSubscriptionByStripeId(
  db: Db,
  stripeSubscriptionId: string,
): Promise<SubscriptionRow | undefined> {
  return db
    .selectFrom("subscriptions")
    .selectAll()
    .where("stripe_subscription_id", "=", stripeSubscriptionId)
    .executeTakeFirst();
}

/**
 * The row, locked until the transaction ends: the guard below reads it,
 * decides, then writes, and no other instance may write in between.
 */
async function lockSubscriptionByStripeId(
  db: Db,
  stripeSubscriptionId: string,
): Promise<SubscriptionRow | undefined> {
  return forUpdate(
    db,
    db
      .selectFrom("subscriptions")
      .selectAll()
      .where("stripe_subscription_id", "=", stripeSubscriptionId),
  ).executeTakeFirst();
}

/** Every subscription linked to the user, newest first. */
export async function getSubscriptionsForUser(
  db: Db,
  userId: number,
): Promise<SubscriptionRow[]> {
  return db
    .selectFrom("subscriptions")
    .selectAll()
    .where("user_id", "=", userId)
    .orderBy("stripe_created", "desc")
    .orderBy("id", "desc")
    .execute();
}

/** The user's most recently created subscription: the one that counts. */
export async function getCurrentSubscriptionForUser(
  db: Db,
  userId: number,
): Promise<SubscriptionRow | undefined> {
  return currentSubscriptionOf(db, userId).selectAll().executeTakeFirst();
}

function currentSubscriptionOf(db: Db, userId: number) {
  return (
    db
      .selectFrom("subscriptions")
      .where("user_id", "=", userId)
      .orderBy("stripe_created", "desc")
      .orderBy("id", "desc")
      // The limit is a literal, not a bound parameter: SQLite (built with STAT4,
      // as better-sqlite3 is) plans the statement again each time it is bound.
      .limit(sql.lit(1))
  );
}

// Within one second Stripe gives no order between two events. To converge
// whatever the delivery order, ties are broken by the payload itself: a
// whole subscription beats an invoice's hint, then the status further along
// the lifecycle wins, then the later period end, then a scheduled
// cancellation. Two different states that tie on all of these (a plan change
// and its undo in the same second) keep the one applied last.
const STATUS_RANK: Record<string, number> = {
  incomplete: 0,
  trialing: 1,
  active: 2,
  paused: 3,
  past_due: 4,
  unpaid: 5,
  incomplete_expired: 6,
  canceled: 7,
};

function orderKey(
  eventCreated: number,
  kind: "subscription" | "invoice",
  state: Pick<
    SubscriptionState,
    "status" | "currentPeriodEnd" | "cancelAtPeriodEnd"
  >,
): number[] {
  return [
    eventCreated,
    kind === "subscription" ? 1 : 0,
    STATUS_RANK[state.status] ?? -1,
    state.currentPeriodEnd ?? 0,
    state.cancelAtPeriodEnd ? 1 : 0,
  ];
}

function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i += 1) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}

function stateOfRow(row: SubscriptionRow) {
  return {
    status: row.status,
    currentPeriodEnd: row.current_period_end,
    cancelAtPeriodEnd: row.cancel_at_period_end === 1,
  };
}

/** The columns that hold Stripe's state of a subscription as of an event. */
function stateColumns(state: SubscriptionState, eventCreated: number) {
  return {
    stripe_customer_id: state.stripeCustomerId,
    plan: state.plan,
    period: state.period,
    status: state.status,
    current_period_end: state.currentPeriodEnd,
    cancel_at_period_end: state.cancelAtPeriodEnd ? 1 : 0,
    ended_at: state.endedAt ?? null,
    stripe_created: state.stripeCreated,
    last_event_created: eventCreated,
  };
}

/**
 * Stores Stripe's state of a subscription as of `eventCreated`, unless the
 * row already holds a later one. `userId` links the row when known; a row
 * already linked keeps its user when the event names none. Returns whether
 * the state was applied. Call inside the webhook's write transaction.
 */
export async function applySubscriptionState(
  db: Db,
  state: SubscriptionState,
  eventCreated: number,
  userId: number | null,
): Promise<boolean> {
  const now = new Date().toISOString();
  let existing = await lockSubscriptionByStripeId(
    db,
    state.stripeSubscriptionId,
  );
  if (!existing) {
    // Another instance may insert the same subscription at the same moment:
    // with DO NOTHING the second insert waits for the first to commit,
    // inserts nothing, and the row the first one wrote is read (and locked)
    // below, so two instances never make two rows nor fail on the unique id.
    const inserted = await db
      .insertInto("subscriptions")
      .values({
        ...stateColumns(state, eventCreated),
        user_id: userId,
        stripe_subscription_id: state.stripeSubscriptionId,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column("stripe_subscription_id").doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) {
      if (userId !== null) await refreshUserSubscriptionStatus(db, userId);
      return true;
    }
    existing = await lockSubscriptionByStripeId(db, state.stripeSubscriptionId);
    if (!existing) {
      throw new Error(
        `Subscription ${state.stripeSubscriptionId} neither inserted nor found`,
      );
    }
  }

  const linkedUserId = userId ?? existing.user_id;
  const newer =
    compareKeys(
      orderKey(eventCreated, "subscription", state),
      orderKey(
        existing.last_event_created,
        existing.last_event_kind,
        stateOfRow(existing),
      ),
    ) >= 0;
  if (newer) {
    await db
      .updateTable("subscriptions")
      .set({
        ...stateColumns(state, eventCreated),
        user_id: linkedUserId,
        // A price unknown to this configuration keeps what was known.
        plan: state.plan ?? existing.plan,
        period: state.period ?? existing.period,
        last_event_kind: "subscription",
        updated_at: now,
      })
      .where("id", "=", existing.id)
      .execute();
  } else if (linkedUserId !== existing.user_id) {
    // An older event still carries who the subscription belongs to.
    await db
      .updateTable("subscriptions")
      .set({ user_id: linkedUserId, updated_at: now })
      .where("id", "=", existing.id)
      .execute();
  }
  for (const affected of new Set([existing.user_id, linkedUserId])) {
    if (affected !== null) await refreshUserSubscriptionStatus(db, affected);
  }
  return newer;
}

export type InvoiceOutcome = "paid" | "payment_failed";

/**
 * What an invoice event says of its subscription's status: a paid invoice
 * ends a payment problem, a failed one starts one. It is a hint that
 * Stripe's own customer.subscription.updated confirms: it applies only to a
 * stored row, only when strictly newer than the row's last event, and only
 * to the statuses it can move. Returns the row as it was read (locked), so
 * the caller need not read it again.
 */
export async function applyInvoiceOutcome(
  db: Db,
  input: {
    stripeSubscriptionId: string;
    outcome: InvoiceOutcome;
    eventCreated: number;
  },
): Promise<{ applied: boolean; row: SubscriptionRow | undefined }> {
  const row = await lockSubscriptionByStripeId(db, input.stripeSubscriptionId);
  if (!row || input.eventCreated <= row.last_event_created) {
    return { applied: false, row };
  }
  const next = nextStatusAfterInvoice(row.status, input.outcome);
  if (next === row.status) return { applied: false, row };
  await db
    .updateTable("subscriptions")
    .set({
      status: next,
      last_event_created: input.eventCreated,
      last_event_kind: "invoice",
      updated_at: new Date().toISOString(),
    })
    .where("id", "=", row.id)
    .execute();
  if (row.user_id !== null) {
    await refreshUserSubscriptionStatus(db, row.user_id);
  }
  return { applied: true, row };
}

function nextStatusAfterInvoice(status: string, outcome: InvoiceOutcome) {
  if (outcome === "paid") {
    return ["past_due", "unpaid", "incomplete"].includes(status)
      ? "active"
      : status;
  }
  return ["active", "trialing"].includes(status) ? "past_due" : status;
}

/** Links the customer's unlinked subscriptions to a user who just appeared. */
export async function linkSubscriptionsToUser(
  db: Db,
  stripeCustomerId: string,
  userId: number,
): Promise<number> {
  const result = await db
    .updateTable("subscriptions")
    .set({ user_id: userId, updated_at: new Date().toISOString() })
    .where("stripe_customer_id", "=", stripeCustomerId)
    .where("user_id", "is", null)
    .executeTakeFirst();
  const linked = Number(result.numUpdatedRows);
  if (linked > 0) await refreshUserSubscriptionStatus(db, userId);
  return linked;
}

/** Mirrors the user's current subscription status on the user row. */
export async function refreshUserSubscriptionStatus(
  db: Db,
  userId: number,
): Promise<void> {
  // Locked first (on PostgreSQL): a statement reads as of its start, so the
  // update below must start after a concurrent writer of another of the
  // user's subscriptions has committed, or it would write a stale status.
  await lockUser(db, userId);
  // Read and written in one statement; no subscription leaves it null.
  await setUserSubscriptionStatus(
    db,
    userId,
    currentSubscriptionOf(db, userId).select("status").$asScalar(),
  );
}
