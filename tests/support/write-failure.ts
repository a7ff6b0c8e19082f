import { sql } from "kysely";

import { isPostgres, type Db } from "~/db.server";

/**
 * Makes the database refuse to insert the subscription `stripeSubscriptionId`,
 * as a crash in the middle of the webhook's transaction would. Returns what
 * removes the failure. Triggers are written differently on each engine.
 */
export async function failSubscriptionInsert(
  db: Db,
  stripeSubscriptionId: string,
): Promise<() => Promise<void>> {
  const id = sql.lit(stripeSubscriptionId);
  if (isPostgres(db)) {
    await sql`create function fail_subscription_write() returns trigger
      language plpgsql as $$
      begin raise exception 'simulated write failure'; end $$`.execute(db);
    await sql`create trigger fail_subscription_write before insert on subscriptions
      for each row when (new.stripe_subscription_id = ${id})
      execute function fail_subscription_write()`.execute(db);
    return async () => {
      await sql`drop trigger fail_subscription_write on subscriptions`.execute(
        db,
      );
      await sql`drop function fail_subscription_write()`.execute(db);
    };
  }
  await sql`create trigger fail_subscription_write before insert on subscriptions
    when new.stripe_subscription_id = ${id}
    begin select raise(abort, 'simulated write failure'); end`.execute(db);
  return async () => {
    await sql`drop trigger fail_subscription_write`.execute(db);
  };
}
