import crypto from "node:crypto";

import { sql } from "kysely";
import { beforeEach, expect, test, vi } from "vitest";

import { getDb } from "~/db.server";

import { stripeMock } from "../../tests/mocks/stripe";
import { TEST_ENV } from "../../tests/support/env";
import {
  addUser,
  checkoutMetadata,
  deliverOk,
  eventFixture,
  objectAt,
  resetDatabase,
  seedSubscription,
  send,
  signedRequest,
  subscriptionObject,
  subscriptionRow,
  userById,
  watchConsole,
  webhookRequest,
  withCheckoutSession,
  withInvoice,
  withSubscription,
  type JsonObject,
  type SubscriptionSpec,
} from "../../tests/support/stripe-webhooks";

/**
 * The bad-input catalogue of the README: every hostile or broken delivery
 * tried against the webhook, the answer it gets, and the proof of what was
 * written. A refused delivery must leave every table as it was and call
 * Stripe's API for nothing; each delivery, refused or not, prints one
 * structured log line that holds no email, secret, header or payload.
 */

const logs = watchConsole();

const T = 1_780_000_000;
const DAY = 86_400;
const OWNER_EMAIL = "titulaire@exemple.test";
const CUSTOMER = "cus_catalogue";
const SUBSCRIPTION = "sub_catalogue";
const SECRET = TEST_ENV.STRIPE_WEBHOOK_SECRET;
// In every payload, so a log line that quoted one would be caught.
const PAYLOAD_MARKER = "payload-marker-7f3a";

const UPDATED = "openapi__customer.subscription.updated__2026__wrapped.json";
const COMPLETED = "openapi__checkout.session.completed__2026__wrapped.json";
const INVOICE_PAID = "openapi__invoice.payment_succeeded__2026__wrapped.json";

beforeEach(async () => {
  vi.unstubAllEnvs();
  await resetDatabase();
  // A user with a subscription that every hostile event below would change
  // (to canceled, later) if it were applied.
  await addUser(OWNER_EMAIL, CUSTOMER);
  await deliverOk(subscriptionUpdated("evt_cat_seed", T, spec()));
  logs.takeInfo();
});

type Refusal = {
  delivery: string;
  request: () => Request;
  status: number;
  error: string;
};

const REFUSED: Refusal[] = [
  {
    delivery: "an event signed with another secret",
    request: () => signed(hostile(), { secret: "whsec_someone_else" }),
    status: 400,
    error: "invalid_signature",
  },
  {
    delivery: "an event without a Stripe-Signature header",
    request: () => webhookRequest(hostile()),
    status: 400,
    error: "missing_signature",
  },
  {
    delivery: "a Stripe-Signature header that is not Stripe's format",
    request: () =>
      webhookRequest(hostile(), { "Stripe-Signature": "sha256=deadbeef" }),
    status: 400,
    error: "invalid_signature",
  },
  {
    delivery: "a Stripe-Signature header with only a v0 signature",
    request: () => {
      const body = hostile();
      const header = signatureOf(Buffer.from(body), SECRET);
      return webhookRequest(body, {
        "Stripe-Signature": header.replace("v1=", "v0="),
      });
    },
    status: 400,
    error: "invalid_signature",
  },
  {
    delivery: "an event signed more than five minutes ago (a replay)",
    request: () => signed(hostile(), { timestamp: now() - 301 }),
    status: 400,
    error: "invalid_signature",
  },
  {
    delivery: "an event signed more than five minutes in the future",
    request: () => signed(hostile(), { timestamp: now() + 301 }),
    status: 400,
    error: "invalid_signature",
  },
  {
    delivery: "an event signed with the secret a rotation retired",
    request: () => {
      vi.stubEnv("STRIPE_WEBHOOK_SECRET", "whsec_new,whsec_old");
      return signed(hostile(), { secret: SECRET });
    },
    status: 400,
    error: "invalid_signature",
  },
  {
    delivery: "a body changed after it was signed",
    request: () => {
      const body = hostile("active");
      return withSignatureOf(body, body.replace('"active"', '"canceled"'));
    },
    status: 400,
    error: "invalid_signature",
  },
  {
    delivery: "the same JSON re-serialised with other whitespace",
    request: () => {
      const body = hostile();
      return withSignatureOf(
        body,
        JSON.stringify(JSON.parse(body) as unknown, null, 2),
      );
    },
    status: 400,
    error: "invalid_signature",
  },
  {
    delivery: "a body with bytes that are not UTF-8, signed over those bytes",
    request: () => {
      const bytes = nonUtf8Body();
      return rawRequest(bytes, signatureOf(bytes, SECRET));
    },
    status: 400,
    error: "invalid_signature",
  },
  {
    delivery:
      "a body with bytes that are not UTF-8, signed over its decoding with replacement characters",
    request: () => {
      const bytes = nonUtf8Body();
      const lossy = Buffer.from(bytes.toString("utf8"));
      return rawRequest(bytes, signatureOf(lossy, SECRET));
    },
    status: 400,
    error: "invalid_json",
  },
  {
    delivery: "a signed body that is not JSON",
    request: () =>
      signed(`type=customer.subscription.deleted&id=${SUBSCRIPTION}`),
    status: 400,
    error: "invalid_json",
  },
  {
    delivery: "a signed empty body",
    request: () => signed(""),
    status: 400,
    error: "invalid_json",
  },
  {
    delivery: "signed JSON that is an array of events",
    request: () => signed(`[${hostile()}]`),
    status: 400,
    error: "invalid_event",
  },
  {
    delivery: "a signed object that is not an event (a subscription)",
    request: () => signed(JSON.stringify(objectOf(hostileEvent()))),
    status: 400,
    error: "invalid_event",
  },
  {
    delivery: "an event without data.object",
    request: () => signed(JSON.stringify({ ...hostileEvent(), data: {} })),
    status: 400,
    error: "invalid_event",
  },
  {
    delivery: "an event whose data.object is a bare id",
    request: () =>
      signed(
        JSON.stringify({ ...hostileEvent(), data: { object: SUBSCRIPTION } }),
      ),
    status: 400,
    error: "invalid_event",
  },
  {
    delivery: "an event without a type",
    request: () => signed(JSON.stringify({ ...hostileEvent(), type: "" })),
    status: 400,
    error: "invalid_event",
  },
  {
    delivery: "an event whose created is not a whole number",
    request: () =>
      signed(JSON.stringify({ ...hostileEvent(), created: "2026-12-04" })),
    status: 400,
    error: "invalid_event",
  },
  {
    delivery: "an event id that is not an evt_ id",
    request: () =>
      signed(JSON.stringify({ ...hostileEvent(), id: "cus_not_an_event" })),
    status: 400,
    error: "invalid_event",
  },
  {
    delivery: "a subscription event whose subscription id is not a sub_ id",
    request: () =>
      signed(
        JSON.stringify(
          subscriptionUpdated("evt_cat_in_id", T + 100, {
            ...spec("canceled"),
            id: "in_not_a_subscription",
          }),
        ),
      ),
    status: 400,
    error: "invalid_object",
  },
  {
    delivery: "a subscription event whose customer is not a cus_ id",
    request: () =>
      signed(
        JSON.stringify(
          subscriptionUpdated("evt_cat_sub_customer", T + 100, {
            ...spec("canceled"),
            customer: "sub_not_a_customer",
          }),
        ),
      ),
    status: 400,
    error: "invalid_object",
  },
  {
    delivery: "a subscription event without a status",
    request: () => {
      const event = hostileEvent();
      delete objectOf(event).status;
      return signed(JSON.stringify(event));
    },
    status: 400,
    error: "invalid_object",
  },
  {
    delivery:
      "a completed Checkout Session whose subscription is not a sub_ id",
    request: () =>
      signed(
        JSON.stringify(
          sessionCompleted({
            subscription: "cus_catalogue/../../v1/customers",
          }),
        ),
      ),
    status: 400,
    error: "invalid_object",
  },
  {
    delivery: "a completed Checkout Session whose customer is not a cus_ id",
    request: () =>
      signed(JSON.stringify(sessionCompleted({ customer: "acct_someone" }))),
    status: 400,
    error: "invalid_object",
  },
  {
    delivery: "an invoice event whose subscription is not a sub_ id",
    request: () =>
      signed(JSON.stringify(invoicePaid({ subscription: "si_an_item" }))),
    status: 400,
    error: "invalid_object",
  },
  {
    delivery: "an invoice event whose customer is not a cus_ id",
    request: () =>
      signed(JSON.stringify(invoicePaid({ customer: "src_a_source" }))),
    status: 400,
    error: "invalid_object",
  },
  {
    delivery: "a 2 MiB body, signed",
    request: () => signed(hostile() + " ".repeat(2 * 1024 * 1024)),
    status: 413,
    error: "payload_too_large",
  },
  {
    delivery: "a 2 MiB body with a made-up signature",
    request: () =>
      webhookRequest(hostile() + " ".repeat(2 * 1024 * 1024), {
        "Stripe-Signature": "t=1,v1=0",
      }),
    status: 413,
    error: "payload_too_large",
  },
  {
    delivery: "a GET",
    request: () => webhookRequest(null, {}, "GET"),
    status: 405,
    error: "method_not_allowed",
  },
  {
    delivery: "a signed event sent with PUT",
    request: () => {
      const body = hostile();
      const header = signatureOf(Buffer.from(body), SECRET);
      return webhookRequest(body, { "Stripe-Signature": header }, "PUT");
    },
    status: 405,
    error: "method_not_allowed",
  },
];

for (const { delivery, request, status, error } of REFUSED) {
  test(`${delivery} is answered ${status} ${error}, and nothing is written`, async () => {
    const before = await everyRow();
    const apiCallsBefore = stripeMock.requests.length;
    const built = request();

    const response = await send(built);

    expect(response.status).toBe(status);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ error });
    expect(await everyRow()).toEqual(before);
    expect(stripeMock.requests.length).toBe(apiCallsBefore);
    expectOneLogLine(built, { status, outcome: error });
  });
}

test("an event type the app does not handle is answered 200 and recorded as ignored, and nothing else is written", async () => {
  const before = await everyRow();
  const event = {
    ...hostileEvent(),
    id: "evt_cat_unknown",
    type: "customer.tax_id.created",
  };
  const request = signed(JSON.stringify(event));

  const response = await send(request);

  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({ received: true });
  const after = await everyRow();
  expect(after.ledger).toEqual([
    ...before.ledger,
    expect.objectContaining({ id: "evt_cat_unknown", outcome: "ignored" }),
  ]);
  expect({ ...after, ledger: [] }).toEqual({ ...before, ledger: [] });
  expectOneLogLine(request, {
    status: 200,
    outcome: "ignored",
    event_id: "evt_cat_unknown",
  });
});

test("the same event id delivered again is answered 200 duplicate, and nothing is written", async () => {
  const before = await everyRow();
  const request = signed(
    JSON.stringify(
      subscriptionUpdated("evt_cat_seed", T + 100, spec("canceled")),
    ),
  );

  const response = await send(request);

  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({ received: true, duplicate: true });
  expect(await everyRow()).toEqual(before);
  expectOneLogLine(request, { status: 200, outcome: "duplicate" });
});

test("an event signed with the previous secret during a rotation is accepted and applied once", async () => {
  vi.stubEnv("STRIPE_WEBHOOK_SECRET", `whsec_new,${SECRET}`);
  const request = signed(hostile(), { secret: SECRET });

  const response = await send(request);

  expect(response.status).toBe(200);
  expect((await subscriptionRow(SUBSCRIPTION)).status).toBe("canceled");
  expect((await everyRow()).ledger).toHaveLength(2);
  expectOneLogLine(request, { status: 200, outcome: "handled" });
});

test("metadata naming a user who does not exist is answered 200, links nothing and creates no user", async () => {
  const before = await everyRow();
  seedSubscription(
    subscriptionObject("current", {
      ...spec(),
      id: "sub_cat_ghost",
      customer: "cus_cat_ghost",
    }),
  );
  const request = signed(
    JSON.stringify(
      sessionCompleted({
        id: "evt_cat_ghost",
        subscription: "sub_cat_ghost",
        customer: "cus_cat_ghost",
        userId: 4242,
        email: "personne@exemple.test",
      }),
    ),
  );

  const response = await send(request);

  expect(response.status).toBe(200);
  expect(await subscriptionRow("sub_cat_ghost")).toMatchObject({
    user_id: null,
    status: "active",
  });
  expect((await everyRow()).users).toEqual(before.users);
  expectOneLogLine(request, { status: 200, outcome: "handled" });
});

test("metadata naming a user who belongs to another customer is answered 200 and does not take that user over", async () => {
  const before = await everyRow();
  const owner = before.users[0];
  if (!owner) throw new Error("No user");
  seedSubscription(
    subscriptionObject("current", {
      ...spec(),
      id: "sub_cat_takeover",
      customer: "cus_cat_intruder",
    }),
  );
  const request = signed(
    JSON.stringify(
      sessionCompleted({
        id: "evt_cat_takeover",
        subscription: "sub_cat_takeover",
        customer: "cus_cat_intruder",
        userId: owner.id,
        email: OWNER_EMAIL,
      }),
    ),
  );

  const response = await send(request);

  expect(response.status).toBe(200);
  expect((await subscriptionRow("sub_cat_takeover")).user_id).toBeNull();
  expect((await everyRow()).users).toEqual(before.users);
  expectOneLogLine(request, { status: 200, outcome: "handled" });
});

// Ways to write a user id that are not a user id; each is built from the
// id of a user a valid id would have linked.
const ODD_USER_IDS: [string, (id: number) => unknown][] = [
  ["in exponent notation", (id) => `${id}e0`],
  ["in hexadecimal", (id) => `0x${id.toString(16)}`],
  ["negative", (id) => `-${id}`],
  ["with SQL after it", (id) => `${id} OR 1=1`],
  ["with a fraction", (id) => id + 0.5],
  ["as an array", (id) => [id]],
];

for (const [kind, write] of ODD_USER_IDS) {
  test(`metadata.dictia_user_id ${kind} is answered 200 and links nothing`, async () => {
    const bystander = await addUser("temoin@exemple.test");
    const before = await everyRow();
    const response = await send(
      signed(JSON.stringify(sessionNaming(write(bystander.id)))),
    );

    expect(response.status).toBe(200);
    expect((await subscriptionRow("sub_cat_odd_id")).user_id).toBeNull();
    expect((await everyRow()).users).toEqual(before.users);
  });
}

test("metadata.dictia_user_id written as digits links the user it names (the control for the odd ids)", async () => {
  const bystander = await addUser("temoin@exemple.test");

  const response = await send(
    signed(JSON.stringify(sessionNaming(` ${bystander.id} `))),
  );

  expect(response.status).toBe(200);
  expect((await subscriptionRow("sub_cat_odd_id")).user_id).toBe(bystander.id);
});

/** A completed session naming a user only through its metadata. */
function sessionNaming(dictiaUserId: unknown): JsonObject {
  seedSubscription(
    subscriptionObject("current", {
      ...spec(),
      id: "sub_cat_odd_id",
      customer: "cus_cat_odd_id",
    }),
  );
  const event = sessionCompleted({
    id: "evt_cat_odd_id",
    subscription: "sub_cat_odd_id",
    customer: "cus_cat_odd_id",
  });
  const session = objectOf(event);
  session.metadata = { dictia_user_id: dictiaUserId };
  session.client_reference_id = null;
  return event;
}

test("an email that differs in case and surrounding spaces finds the user, without handing over the customer", async () => {
  const user = await addUser("majuscules@exemple.test");
  seedSubscription(
    subscriptionObject("current", {
      ...spec(),
      id: "sub_cat_case",
      customer: "cus_cat_case",
    }),
  );
  const request = signed(
    JSON.stringify(
      sessionCompleted({
        id: "evt_cat_case",
        subscription: "sub_cat_case",
        customer: "cus_cat_case",
        email: "  MajUscules@Exemple.TEST\t",
      }),
    ),
  );

  const response = await send(request);

  expect(response.status).toBe(200);
  expect((await subscriptionRow("sub_cat_case")).user_id).toBe(user.id);
  expect(await userById(user.id)).toMatchObject({
    email: "majuscules@exemple.test",
    stripe_customer_id: null,
    subscription_status: "active",
  });
  expectOneLogLine(request, { status: 200, outcome: "handled" });
});

test("a handler failure logs its reason on one error line and the delivery on one structured line, neither with the payload", async () => {
  const db = await getDb();
  // Stands for any failure while the effects are written.
  await sql`create trigger fail_update before update on subscriptions
    begin select raise(abort, 'simulated write failure'); end`.execute(db);
  const before = await everyRow();
  const request = signed(hostile());

  let response: Response;
  try {
    response = await send(request);
  } finally {
    await sql`drop trigger fail_update`.execute(db);
  }

  expect(response.status).toBe(500);
  expect(await response.json()).toEqual({ error: "handler_failed" });
  expect(await everyRow()).toEqual(before);
  const errors = logs.takeErrors();
  expect(errors).toEqual([
    "[webhook] event=evt_cat_hostile handler failed: SqliteError: simulated write failure",
  ]);
  expectOneLogLine(request, {
    status: 500,
    outcome: "handler_failed",
    event_id: "evt_cat_hostile",
  });
});

/** The three tables, whole, for before-and-after comparisons. */
async function everyRow() {
  const db = await getDb();
  return {
    users: await db.selectFrom("users").selectAll().orderBy("id").execute(),
    subscriptions: await db
      .selectFrom("subscriptions")
      .selectAll()
      .orderBy("id")
      .execute(),
    ledger: await db
      .selectFrom("webhook_events")
      .selectAll()
      .orderBy("processed_at")
      .orderBy("id")
      .execute(),
  };
}

/**
 * Exactly one info line for the delivery, a JSON object of the five
 * operator fields and nothing else, quoting nothing of the request.
 */
function expectOneLogLine(
  request: Request,
  expected: { status: number; outcome: string; event_id?: string },
) {
  const lines = logs.takeInfo();
  expect(lines).toHaveLength(1);
  const line = lines[0] ?? "";
  const parsed: unknown = JSON.parse(line);
  expect(parsed).toEqual({
    event_id: expected.event_id ?? expect.toBeOneOf([null, expect.any(String)]),
    type: expect.toBeOneOf([null, expect.any(String)]),
    outcome: expected.outcome,
    status: expected.status,
    duration_ms: expect.any(Number),
  });
  expectNoSecrets(line, request);
}

function expectNoSecrets(line: string, request: Request) {
  const signature = request.headers.get("Stripe-Signature");
  for (const secret of [
    SECRET,
    "whsec_",
    OWNER_EMAIL,
    "@exemple.test",
    PAYLOAD_MARKER,
    CUSTOMER,
    ...(signature ? [signature, signature.split("v1=")[1] ?? signature] : []),
  ]) {
    expect(line).not.toContain(secret);
  }
}

function now() {
  return Math.floor(Date.now() / 1000);
}

function spec(status = "active"): SubscriptionSpec {
  return {
    id: SUBSCRIPTION,
    customer: CUSTOMER,
    status,
    priceId: TEST_ENV.STRIPE_DICTIA_16_YEARLY,
    currentPeriodEnd: T + 365 * DAY,
    created: T,
    metadata: { note: PAYLOAD_MARKER },
  };
}

function subscriptionUpdated(
  id: string,
  created: number,
  subscription: SubscriptionSpec,
): JsonObject {
  return eventFixture(UPDATED, { id, created }, (object) =>
    withSubscription(object, subscription),
  );
}

/** An event that would cancel the stored subscription if it were applied. */
function hostileEvent(status = "canceled"): JsonObject {
  return subscriptionUpdated("evt_cat_hostile", T + 100, spec(status));
}

function hostile(status = "canceled"): string {
  return JSON.stringify(hostileEvent(status));
}

function objectOf(event: JsonObject): JsonObject {
  return objectAt(objectAt(event, "data"), "object");
}

function sessionCompleted(options: {
  id?: string;
  subscription?: string;
  customer?: string;
  userId?: number;
  email?: string;
}): JsonObject {
  return eventFixture(
    COMPLETED,
    { id: options.id ?? "evt_cat_session", created: T + 100 },
    (session) => {
      withCheckoutSession(session, {
        customer: options.customer ?? CUSTOMER,
        subscription: options.subscription ?? SUBSCRIPTION,
        clientReferenceId:
          options.userId === undefined ? null : String(options.userId),
        metadata:
          options.userId === undefined
            ? { note: PAYLOAD_MARKER }
            : { ...checkoutMetadata(options.userId), note: PAYLOAD_MARKER },
        email: options.email ?? null,
      });
      return session;
    },
  );
}

function invoicePaid(options: {
  subscription?: string;
  customer?: string;
}): JsonObject {
  return eventFixture(
    INVOICE_PAID,
    { id: "evt_cat_invoice", created: T + 100 },
    (invoice) =>
      withInvoice(invoice, {
        customer: options.customer ?? CUSTOMER,
        subscription: options.subscription ?? SUBSCRIPTION,
        email: OWNER_EMAIL,
      }),
  );
}

function signed(
  body: string,
  options: { secret?: string; timestamp?: number } = {},
): Request {
  return signedRequest(body, { secret: options.secret ?? SECRET, ...options });
}

/** `sent`, carrying the valid signature of `signedBody`. */
function withSignatureOf(signedBody: string, sent: string): Request {
  const header = signedRequest(signedBody, { secret: SECRET }).headers.get(
    "Stripe-Signature",
  );
  return webhookRequest(sent, { "Stripe-Signature": header ?? "" });
}

/** A Stripe-Signature header computed over exactly these bytes. */
function signatureOf(bytes: Buffer, secret: string): string {
  const timestamp = now();
  const mac = crypto
    .createHmac("sha256", secret)
    .update(`${timestamp}.`)
    .update(bytes)
    .digest("hex");
  return `t=${timestamp},v1=${mac}`;
}

/** The hostile event with a Latin-1 "é" (0xE9), which is not UTF-8. */
function nonUtf8Body(): Buffer {
  const [before, after] = hostile().split(PAYLOAD_MARKER);
  return Buffer.concat([
    Buffer.from(`${before}caf`),
    Buffer.from([0xe9]),
    Buffer.from(`${after}`),
  ]);
}

function rawRequest(body: Buffer, signature: string): Request {
  return new Request("https://dictia.test/checkout/webhooks/stripe", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "Stripe-Signature": signature,
    },
    body: new Uint8Array(body),
  });
}
