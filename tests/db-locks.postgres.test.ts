import { expect, test } from "vitest";

import { getDb, writeTransaction } from "~/db.server";
import {
  createUser,
  getUserById,
  lockUser,
  setUserSubscriptionStatus,
} from "~/models/user.server";

// PostgreSQL only: SQLite's write transactions never run at the same time,
// so they cannot deadlock.

test("two transactions that deadlock are both committed: the one PostgreSQL rolls back runs again", async () => {
  const db = await getDb();
  const a = await createUser(db, {
    email: "a@exemple.test",
    passwordHash: "x",
  });
  const b = await createUser(db, {
    email: "b@exemple.test",
    passwordHash: "x",
  });
  if (!a || !b) throw new Error("No users");
  const firstLocked = deferred();
  const secondLocked = deferred();
  const attempts = { first: 0, second: 0 };

  // Each locks one user, waits until the other has locked the other user,
  // then writes the other's row: a lock cycle, on the first attempt only.
  const first = writeTransaction(db, async (trx) => {
    attempts.first += 1;
    await lockUser(trx, a.id);
    if (attempts.first === 1) {
      firstLocked.resolve();
      await secondLocked.promise;
    }
    await setUserSubscriptionStatus(trx, b.id, "active");
  });
  const second = writeTransaction(db, async (trx) => {
    attempts.second += 1;
    await lockUser(trx, b.id);
    if (attempts.second === 1) {
      secondLocked.resolve();
      await firstLocked.promise;
    }
    await setUserSubscriptionStatus(trx, a.id, "past_due");
  });
  await Promise.all([first, second]);

  expect(attempts.first + attempts.second).toBe(3);
  expect((await getUserById(db, a.id))?.subscription_status).toBe("past_due");
  expect((await getUserById(db, b.id))?.subscription_status).toBe("active");
});

test("an error other than a deadlock or a serialization failure is not retried", async () => {
  const db = await getDb();
  let attempts = 0;

  await expect(
    writeTransaction(db, async (trx) => {
      attempts += 1;
      await trx
        .insertInto("users")
        .values([
          { email: "double@exemple.test", password_hash: "x" },
          { email: "double@exemple.test", password_hash: "x" },
        ])
        .execute();
    }),
  ).rejects.toThrow(/unique/i);
  expect(attempts).toBe(1);
});

function deferred() {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}
