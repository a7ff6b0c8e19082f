import type { Expression } from "kysely";

import { isPostgres, type Db } from "~/db.server";
import type { UserRow } from "~/db/schema";

/** Emails are compared and stored trimmed and lower-case. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** `a…@example.test`: enough for an operator, never the whole address. */
export function maskEmail(email: string): string {
  const [local = "", domain = ""] = email.split("@");
  return `${local.slice(0, 1)}…@${domain}`;
}

export async function getUserById(
  db: Db,
  id: number,
): Promise<UserRow | undefined> {
  return db
    .selectFrom("users")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
}

export async function getUserByEmail(
  db: Db,
  email: string,
): Promise<UserRow | undefined> {
  return db
    .selectFrom("users")
    .selectAll()
    .where("email", "=", normalizeEmail(email))
    .executeTakeFirst();
}

export async function getUserByStripeCustomerId(
  db: Db,
  stripeCustomerId: string,
): Promise<UserRow | undefined> {
  return db
    .selectFrom("users")
    .selectAll()
    .where("stripe_customer_id", "=", stripeCustomerId)
    .executeTakeFirst();
}

/** Inserts a user; `undefined` when the email is already taken. */
export async function createUser(
  db: Db,
  input: { email: string; passwordHash: string },
): Promise<UserRow | undefined> {
  return db
    .insertInto("users")
    .values({
      email: normalizeEmail(input.email),
      password_hash: input.passwordHash,
    })
    .onConflict((oc) => oc.column("email").doNothing())
    .returningAll()
    .executeTakeFirst();
}

/**
 * Records the user's Stripe customer unless they already have one; returns
 * the customer id the user ends up with.
 */
export async function setUserStripeCustomerId(
  db: Db,
  userId: number,
  stripeCustomerId: string,
): Promise<string | null> {
  await db
    .updateTable("users")
    .set({
      stripe_customer_id: stripeCustomerId,
      updated_at: new Date().toISOString(),
    })
    .where("id", "=", userId)
    .where("stripe_customer_id", "is", null)
    .execute();
  const user = await getUserById(db, userId);
  return user?.stripe_customer_id ?? null;
}

/**
 * Sets the status the user row mirrors: a value, or a subquery that the same
 * statement evaluates (one statement instead of a read and a write).
 */
export async function setUserSubscriptionStatus(
  db: Db,
  userId: number,
  status: string | null | Expression<string | null>,
): Promise<void> {
  await db
    .updateTable("users")
    .set({ subscription_status: status, updated_at: new Date().toISOString() })
    .where("id", "=", userId)
    .execute();
}

/**
 * Locks the user's row until the transaction ends. Only PostgreSQL has row
 * locks to take: on SQLite the write transaction already holds the one
 * write lock (see forUpdate), and the read would be a statement for nothing.
 */
export async function lockUser(db: Db, userId: number): Promise<void> {
  if (!isPostgres(db)) return;
  await db
    .selectFrom("users")
    .select("id")
    .where("id", "=", userId)
    .forUpdate()
    .execute();
}

export async function deleteUser(db: Db, userId: number): Promise<void> {
  await db.deleteFrom("users").where("id", "=", userId).execute();
}
