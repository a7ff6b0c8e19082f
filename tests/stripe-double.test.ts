import http from "node:http";
import type { AddressInfo } from "node:net";

import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, expect, test } from "vitest";

import {
  DEMO,
  priceSeedsFromEnv,
  startStripeDouble,
  type StripeDouble,
} from "../scripts/stripe-double";
import { sendEvent } from "../scripts/webhook-send";

const SECRET = "whsec_double_test";
const API_KEY = "sk_test_double_test";

type Received = { signature: string; body: string };

let receiver: http.Server;
let receiverUrl: string;
let received: Received[] = [];
let answerWith = 200;
let double: StripeDouble;

beforeAll(async () => {
  receiver = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({
        signature: String(request.headers["stripe-signature"] ?? ""),
        body: Buffer.concat(chunks).toString("utf8"),
      });
      response.writeHead(answerWith, { "Content-Type": "application/json" });
      response.end(JSON.stringify({ received: true }));
    });
  });
  await new Promise<void>((resolve) =>
    receiver.listen(0, "127.0.0.1", resolve),
  );
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  double = await startStripeDouble({
    port: 0,
    webhookUrl: receiverUrl,
    webhookSecret: SECRET,
    prices: priceSeedsFromEnv({}),
    seedDemo: true,
  });
});

afterAll(async () => {
  await double.close();
  await new Promise((resolve) => receiver.close(resolve));
});

beforeEach(() => {
  received = [];
  answerWith = 200;
});

test("the API answers only requests that carry a key, in Stripe's error shape", async () => {
  const anonymous = await fetch(
    `${double.url}/v1/prices/price_dictia8_monthly`,
  );
  expect(anonymous.status).toBe(401);
  expect(await anonymous.json()).toMatchObject({
    error: { type: "invalid_request_error" },
  });

  const price = await api("GET", "/v1/prices/price_dictia16_yearly");
  expect(price).toMatchObject({
    id: "price_dictia16_yearly",
    currency: "cad",
    unit_amount: 49000,
    recurring: { interval: "year" },
  });
  expect(
    await api("GET", `/v1/subscriptions/${DEMO.subscriptionId}`),
  ).toMatchObject({ customer: DEMO.customerId, status: "active" });
  expect(await api("GET", `/v1/customers/${DEMO.customerId}`)).toMatchObject({
    email: DEMO.email,
  });
});

test("an empty Price variable means no such Price; an absent one takes .env.example's id", () => {
  const ids = priceSeedsFromEnv({
    STRIPE_DICTIA_8_MONTHLY: "price_custom",
    STRIPE_DICTIA_8_YEARLY: "",
  }).map((seed) => seed.id);
  expect(ids).toContain("price_custom");
  expect(ids).not.toContain("price_dictia8_yearly");
  expect(ids).toContain("price_dictia16_yearly");
  expect(ids).not.toContain("price_dictia8_monthly");
});

test("paying on the hosted page delivers signed events, then goes back to the success URL", async () => {
  const session = await createSession();
  const page = await fetch(String(session.url));
  const html = await page.text();
  expect(page.status).toBe(200);
  expect(html).toContain("DictIA 16 — Annuel");
  expect(html).toContain('<form method="post">');

  const paid = await post(String(session.url), { action: "pay" });
  expect(paid.status).toBe(303);
  expect(paid.headers.get("location")).toBe(
    `http://127.0.0.1:1/succes?session_id=${String(session.id)}&x=%7BCHECKOUT_SESSION_ID%7D`,
  );
  const events = received.map(({ body, signature }) =>
    Stripe.webhooks.constructEvent(body, signature, SECRET),
  );
  expect(events.map((event) => event.type)).toEqual([
    "customer.subscription.created",
    "checkout.session.completed",
    "invoice.paid",
  ]);
  expect(events[1]?.data.object).toMatchObject({
    id: session.id,
    status: "complete",
    payment_status: "paid",
  });

  // Paying again (a double click) sends no second set of events.
  const again = await post(String(session.url), { action: "pay" });
  expect(again.status).toBe(303);
  expect(received).toHaveLength(3);
});

test("the delayed method completes the session unpaid; cancel goes back without completing", async () => {
  const delayed = await createSession();
  await post(String(delayed.url), { action: "delayed" });
  const completed = received
    .map(({ body }) => JSON.parse(body) as { type: string; data: unknown })
    .find((event) => event.type === "checkout.session.completed");
  expect(completed?.data).toMatchObject({
    object: { status: "complete", payment_status: "unpaid" },
  });
  expect(received).toHaveLength(2);

  received = [];
  const abandoned = await createSession();
  const cancel = await post(String(abandoned.url), { action: "cancel" });
  expect(cancel.status).toBe(303);
  expect(cancel.headers.get("location")).toBe("http://127.0.0.1:1/annule");
  expect(received).toEqual([]);
  expect(double.stripe.checkoutSessions.get(String(abandoned.id))?.status).toBe(
    "open",
  );
});

test("a delivery the app fails with a 5xx is tried again; a 4xx is not", async () => {
  answerWith = 500;
  const session = await createSession();
  await post(String(session.url), { action: "delayed" });
  expect(double.deliveries.slice(-2)).toEqual([
    expect.objectContaining({ status: 500, attempts: 3 }),
    expect.objectContaining({ status: 500, attempts: 3 }),
  ]);

  answerWith = 400;
  const refused = await createSession();
  await post(String(refused.url), { action: "delayed" });
  expect(double.deliveries.slice(-2)).toEqual([
    expect.objectContaining({ status: 400, attempts: 1 }),
    expect.objectContaining({ status: 400, attempts: 1 }),
  ]);
});

test("the portal page schedules the end of a subscription and delivers the update", async () => {
  const portal = await api("POST", "/v1/billing_portal/sessions", {
    customer: DEMO.customerId,
    return_url: "http://127.0.0.1:1/compte",
  });
  const page = await (await fetch(String(portal.url))).text();
  expect(page).toContain("Annuler à la fin de la période");

  const scheduled = await post(String(portal.url), {
    action: "cancel_at_period_end",
    subscription: DEMO.subscriptionId,
  });
  expect(scheduled.status).toBe(303);
  const [delivery] = received;
  const event = Stripe.webhooks.constructEvent(
    delivery?.body ?? "",
    delivery?.signature ?? "",
    SECRET,
  );
  expect(event.type).toBe("customer.subscription.updated");
  const subscription = double.stripe.subscriptions.get(DEMO.subscriptionId);
  expect(event.data.object).toMatchObject({
    id: DEMO.subscriptionId,
    cancel_at_period_end: true,
    cancel_at: DEMO.startedAt + 365 * 86_400,
  });
  expect(event.data.previous_attributes).toMatchObject({
    cancel_at_period_end: false,
    cancel_at: null,
  });
  expect(subscription?.cancel_at_period_end).toBe(true);

  const foreign = await post(String(portal.url), {
    action: "cancel_now",
    subscription: "sub_someoneElse",
  });
  expect(foreign.status).toBe(400);
});

test("webhook:send signs the file's own bytes, or a fresh copy with a new id and time", async () => {
  const json = `${JSON.stringify({ id: "evt_fileId", object: "event", type: "invoice.paid", created: 1, data: { object: {} } }, null, 2)}\n`;
  const plain = await sendEvent({ json, url: receiverUrl, secret: SECRET });
  expect(plain).toMatchObject({ status: 200, eventId: "evt_fileId" });
  expect(received[0]?.body).toBe(json);

  const before = Math.floor(Date.now() / 1000);
  const fresh = await sendEvent({
    json,
    url: receiverUrl,
    secret: SECRET,
    fresh: true,
  });
  const event = Stripe.webhooks.constructEvent(
    received[1]?.body ?? "",
    received[1]?.signature ?? "",
    SECRET,
  );
  expect(fresh.eventId).toMatch(/^evt_[0-9a-f]{24}$/);
  expect(event.id).toBe(fresh.eventId);
  expect(event.created).toBeGreaterThanOrEqual(before);
  expect(() =>
    Stripe.webhooks.constructEvent(
      received[1]?.body ?? "",
      received[1]?.signature ?? "",
      "whsec_other",
    ),
  ).toThrow();
});

async function api(
  method: string,
  path: string,
  params: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const response = await fetch(`${double.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${API_KEY}` },
    ...(method === "POST" && { body: new URLSearchParams(params) }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

function createSession() {
  return api("POST", "/v1/checkout/sessions", {
    customer: DEMO.customerId,
    mode: "subscription",
    "line_items[0][price]": "price_dictia16_yearly",
    "line_items[0][quantity]": "1",
    "metadata[plan]": "dictia-16",
    "metadata[period]": "yearly",
    // Only the literal placeholder is Stripe's to fill in.
    success_url:
      "http://127.0.0.1:1/succes?session_id={CHECKOUT_SESSION_ID}&x=%7BCHECKOUT_SESSION_ID%7D",
    cancel_url: "http://127.0.0.1:1/annule",
  });
}

function post(url: string, fields: Record<string, string>) {
  return fetch(url, {
    method: "POST",
    body: new URLSearchParams(fields),
    redirect: "manual",
  });
}
