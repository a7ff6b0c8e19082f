import { http, HttpResponse } from "msw";
import { afterEach, beforeEach, expect, test, vi } from "vitest";

import { getDb } from "~/db.server";

import { server } from "../../tests/mocks";
import { STRIPE_API, stripeError, stripeMock } from "../../tests/mocks/stripe";
import { TEST_ENV } from "../../tests/support/env";
import {
  addUser,
  checkoutMetadata,
  deliver,
  eventFixture,
  ledgerRows,
  objectAt,
  resetDatabase,
  seedSubscription,
  send,
  signedRequest,
  stateOf,
  subscriptionObject,
  subscriptionReads,
  subscriptionRow,
  subscriptionRows,
  userById,
  watchConsole,
  webhookRequest,
  withCheckoutSession,
  withSubscription,
  type JsonObject,
} from "../../tests/support/stripe-webhooks";
import { failSubscriptionInsert } from "../../tests/support/write-failure";

const logs = watchConsole();

const T = 1_780_000_000;
const DAY = 86_400;
const CUSTOMER = "cus_webhook_edge";
const SUBSCRIPTION = "sub_webhook_edge";

afterEach(() => {
  vi.unstubAllEnvs();
});

beforeEach(async () => {
  await resetDatabase();
  // The owner of the customer is known, so a subscription event needs no
  // call to Stripe's API: any row written comes from the payload alone.
  await addUser("proprietaire@exemple.test", CUSTOMER);
});

test("a signed event is answered 200 with JSON and recorded once in the ledger", async () => {
  const response = await deliver(subscriptionCreated("evt_edge_valid"));

  expect(response.status).toBe(200);
  expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
  expect(await response.json()).toEqual({ received: true });
  const ledger = await ledgerRows();
  expect(ledger).toHaveLength(1);
  expect(ledger[0]).toMatchObject({
    id: "evt_edge_valid",
    type: "customer.subscription.created",
    created: T,
    outcome: "handled",
  });
  expect(await subscriptionRows()).toHaveLength(1);
});

test("the answers do not rely on a static Response.json, which the server's installed fetch globals lack", async () => {
  // remix-serve installs @remix-run/web-fetch's Response, which has no
  // static json(); this stands for it.
  vi.spyOn(Response, "json").mockImplementation(() => {
    throw new TypeError("Response.json is not a function");
  });

  const accepted = await deliver(subscriptionCreated("evt_edge_globals"));
  const refused = await send(webhookRequest(null, {}, "GET"));

  expect(accepted.status).toBe(200);
  expect(await accepted.json()).toEqual({ received: true });
  expect(refused.status).toBe(405);
  expect(await refused.json()).toEqual({ error: "method_not_allowed" });
});

test("a signature older than the five-minute tolerance is refused with 400", async () => {
  const now = Math.floor(Date.now() / 1000);
  const event = subscriptionCreated("evt_edge_stale");

  const response = await deliver(event, { timestamp: now - 301 });

  await expectRefused(response, 400, "invalid_signature");
  // Just inside the tolerance is still accepted: the limit is the SDK's.
  expect((await deliver(event, { timestamp: now - 240 })).status).toBe(200);
});

test("during a secret rotation an event signed with the new or the old secret is accepted", async () => {
  vi.stubEnv("STRIPE_WEBHOOK_SECRET", "whsec_new,whsec_old");

  const withNew = await deliver(subscriptionCreated("evt_edge_new"), {
    secret: "whsec_new",
  });
  const withOld = await deliver(subscriptionCreated("evt_edge_old"), {
    secret: "whsec_old",
  });
  const withRetired = await deliver(subscriptionCreated("evt_edge_retired"), {
    secret: TEST_ENV.STRIPE_WEBHOOK_SECRET,
  });

  expect([withNew.status, withOld.status, withRetired.status]).toEqual([
    200, 200, 400,
  ]);
  expect((await ledgerRows()).map((row) => row.id)).toEqual([
    "evt_edge_new",
    "evt_edge_old",
  ]);
});

test("GET is answered 405 with Allow: POST, and so is any method but POST", async () => {
  const get = await send(webhookRequest(null, {}, "GET"));
  const put = await send(
    webhookRequest(
      JSON.stringify(subscriptionCreated("evt_edge_put")),
      {},
      "PUT",
    ),
  );

  for (const response of [get, put]) {
    expect(response.headers.get("Allow")).toBe("POST");
    await expectRefused(response, 405, "method_not_allowed");
  }
});

test("a 2 MiB body is refused with 413 before its signature is checked", async () => {
  const padded =
    JSON.stringify(subscriptionCreated("evt_edge_huge")) +
    " ".repeat(2 * 1024 * 1024);

  const unsigned = await send(
    webhookRequest(padded, { "Stripe-Signature": "t=1,v1=not-a-signature" }),
  );
  const signed = await send(signedRequest(padded));

  await expectRefused(unsigned, 413, "payload_too_large");
  await expectRefused(signed, 413, "payload_too_large");
});

test("a body of exactly 1 MiB is still accepted", async () => {
  const json = JSON.stringify(subscriptionCreated("evt_edge_one_mib"));
  // JSON allows trailing whitespace, so the event stays valid at any size.
  const body = json + " ".repeat(1024 * 1024 - Buffer.byteLength(json));

  const response = await send(signedRequest(body));

  expect(response.status).toBe(200);
  expect(await ledgerRows()).toHaveLength(1);
});

test("a signed event whose subscription cannot be read is refused with 400 and nothing is written", async () => {
  const event = subscriptionCreated("evt_edge_malformed");
  const subscription = objectAt(objectAt(event, "data"), "object");
  delete subscription.customer;

  const response = await deliver(event);

  await expectRefused(response, 400, "invalid_object");
});

test("without STRIPE_WEBHOOK_SECRET every event is refused with 500 and the log says why", async () => {
  vi.stubEnv("STRIPE_WEBHOOK_SECRET", undefined);

  const response = await deliver(subscriptionCreated("evt_edge_unset"), {
    secret: TEST_ENV.STRIPE_WEBHOOK_SECRET,
  });

  await expectRefused(response, 500, "webhook_not_configured");
  const errors = logs.takeErrors();
  expect(errors).toHaveLength(1);
  expect(errors[0]).toContain("STRIPE_WEBHOOK_SECRET is not set");
});

test("the same event delivered twice is applied once, and the second answer says duplicate", async () => {
  const user = await addUser("double@exemple.test");
  seedSubscription(activeSubscription("sub_twice", "cus_twice", user.id));
  const event = sessionCompleted(
    "evt_twice",
    "sub_twice",
    "cus_twice",
    user.id,
  );

  const first = await deliver(event);
  const row = await subscriptionRow("sub_twice");
  const [ledger] = await ledgerRows();
  // Had the second delivery run again, it would read this new state.
  seedSubscription(
    subscriptionObject("current", {
      ...specOf("sub_twice"),
      customer: "cus_twice",
      status: "canceled",
    }),
  );
  const second = await deliver(event);

  expect(first.status).toBe(200);
  expect(await first.json()).toEqual({ received: true });
  expect(second.status).toBe(200);
  expect(await second.json()).toEqual({ received: true, duplicate: true });
  expect(await ledgerRows()).toEqual([ledger]);
  expect(await subscriptionRows()).toEqual([row]);
  expect(row?.status).toBe("active");
  expect(subscriptionReads("sub_twice")).toBe(1);
});

test("two concurrent deliveries of one event leave one ledger row and one subscription", async () => {
  const user = await addUser("concurrent@exemple.test");
  seedSubscription(activeSubscription("sub_race", "cus_race", user.id));
  const event = sessionCompleted("evt_race", "sub_race", "cus_race", user.id);
  // Stripe answers neither read until both deliveries have asked, so both
  // pass the ledger check and only the transaction can tell them apart.
  const waiting: (() => void)[] = [];
  server.use(
    http.get(`${STRIPE_API}/v1/subscriptions/:id`, async ({ params }) => {
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === 2) for (const go of waiting) go();
      });
      return HttpResponse.json(stripeMock.subscriptions.get(String(params.id)));
    }),
  );

  const responses = await Promise.all([deliver(event), deliver(event)]);
  const bodies: unknown[] = await Promise.all(
    responses.map((response) => response.json()),
  );

  expect(responses.map((response) => response.status)).toEqual([200, 200]);
  expect(bodies).toContainEqual({ received: true });
  expect(bodies).toContainEqual({ received: true, duplicate: true });
  expect(waiting).toHaveLength(2);
  expect(await ledgerRows()).toHaveLength(1);
  expect(await subscriptionRows()).toHaveLength(1);
});

test("two different events about one subscription leave one subscriptions row", async () => {
  await deliver(subscriptionCreated("evt_one_row_created"));
  const updated = eventFixture(
    "openapi__customer.subscription.updated__2026__wrapped.json",
    { id: "evt_one_row_updated", created: T + 60 },
    (object) =>
      withSubscription(object, {
        ...specOf(SUBSCRIPTION),
        cancelAtPeriodEnd: true,
      }),
  );

  const response = await deliver(updated);

  expect(response.status).toBe(200);
  const rows = await subscriptionRows();
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({
    stripe_subscription_id: SUBSCRIPTION,
    cancel_at_period_end: 1,
    last_event_created: T + 60,
  });
  expect(await ledgerRows()).toHaveLength(2);
});

test("when Stripe's API fails during processing the answer is 500 and nothing is written; the retry succeeds", async () => {
  const user = await addUser("panne@exemple.test");
  seedSubscription(activeSubscription("sub_outage", "cus_outage", user.id));
  const event = sessionCompleted(
    "evt_outage",
    "sub_outage",
    "cus_outage",
    user.id,
  );
  server.use(
    http.get(`${STRIPE_API}/v1/subscriptions/:id`, () =>
      stripeError(500, { type: "api_error", message: "Stripe is down" }),
    ),
  );

  const failed = await deliver(event);

  await expectRefused(failed, 500, "handler_failed");
  expect((await userById(user.id)).stripe_customer_id).toBeNull();
  const errors = logs.takeErrors();
  expect(errors).toHaveLength(1);
  expect(errors[0]).toContain("event=evt_outage handler failed");

  server.resetHandlers();
  const retried = await deliver(event);

  expect(retried.status).toBe(200);
  expect(await retried.json()).toEqual({ received: true });
  expect(stateOf(await subscriptionRow("sub_outage"))).toMatchObject({
    status: "active",
  });
  expect(await ledgerRows()).toHaveLength(1);
});

test("a failure while the effects are written rolls the ledger row back too", async () => {
  const db = await getDb();
  // Stands for a crash between the ledger insert and the subscription write,
  // both inside the one transaction.
  const removeFailure = await failSubscriptionInsert(db, SUBSCRIPTION);
  const event = subscriptionCreated("evt_write_fails");

  let failed: Response;
  try {
    failed = await deliver(event);
  } finally {
    await removeFailure();
  }

  await expectRefused(failed, 500, "handler_failed");
  expect(logs.takeErrors()).toEqual([
    expect.stringContaining("event=evt_write_fails handler failed"),
  ]);
  const retried = await deliver(event);
  expect(retried.status).toBe(200);
  expect(await subscriptionRows()).toHaveLength(1);
  expect(await ledgerRows()).toHaveLength(1);
});

/** A refusal: small JSON naming the reason, and not a row written. */
async function expectRefused(
  response: Response,
  status: number,
  error: string,
): Promise<void> {
  expect(response.status).toBe(status);
  expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
  expect(await response.json()).toEqual({ error });
  expect(await ledgerRows()).toEqual([]);
  expect(await subscriptionRows()).toEqual([]);
}

function specOf(id: string) {
  return {
    id,
    customer: CUSTOMER,
    status: "active",
    priceId: TEST_ENV.STRIPE_DICTIA_16_YEARLY,
    currentPeriodEnd: T + 365 * DAY,
    created: T,
  };
}

/** customer.subscription.created (2026 shape) for the known customer. */
function subscriptionCreated(id: string): JsonObject {
  return eventFixture(
    "openapi__customer.subscription.created__2026__wrapped.json",
    { id, created: T },
    (object) => withSubscription(object, specOf(SUBSCRIPTION)),
  );
}

function activeSubscription(id: string, customer: string, userId: number) {
  return subscriptionObject("current", {
    ...specOf(id),
    customer,
    metadata: checkoutMetadata(userId),
  });
}

/** checkout.session.completed (2026 shape) of a user's own checkout. */
function sessionCompleted(
  id: string,
  subscription: string,
  customer: string,
  userId: number,
): JsonObject {
  return eventFixture(
    "openapi__checkout.session.completed__2026__wrapped.json",
    { id, created: T },
    (session) =>
      withCheckoutSession(session, {
        customer,
        subscription,
        clientReferenceId: String(userId),
        metadata: checkoutMetadata(userId),
      }),
  );
}
