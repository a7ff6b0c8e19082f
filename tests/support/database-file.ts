import SQLite from "better-sqlite3";

import type { SubscriptionRow, UserRow, WebhookEventRow } from "~/db/schema";

/**
 * Reads the SQLite file a running server writes, as an operator would:
 * read-only, a fresh connection per query, so every read sees the latest
 * commit. `file` is called at each read: tests learn the path in beforeAll.
 */
export function databaseFileReader(file: () => string) {
  function query<T>(sql: string, ...params: unknown[]): T[] {
    const db = new SQLite(file(), { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  }

  function findUser(email: string): UserRow | undefined {
    return query<UserRow>("select * from users where email = ?", email)[0];
  }

  return {
    query,
    findUser,
    readUser(email: string): UserRow {
      const user = findUser(email);
      if (!user) throw new Error(`No user ${email} in the database`);
      return user;
    },
    readSubscriptionsOf(userId: number): SubscriptionRow[] {
      return query<SubscriptionRow>(
        "select * from subscriptions where user_id = ? order by id",
        userId,
      );
    },
    readSubscription(stripeId: string): SubscriptionRow | undefined {
      return query<SubscriptionRow>(
        "select * from subscriptions where stripe_subscription_id = ?",
        stripeId,
      )[0];
    },
    /** The ledger rows of these ids, in the order given. */
    readLedger(eventIds: string[]): WebhookEventRow[] {
      const rows = query<WebhookEventRow>("select * from webhook_events");
      return eventIds.flatMap((id) => rows.filter((row) => row.id === id));
    },
  };
}
