import fs from "node:fs";
import path from "node:path";

import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, expect, test } from "vitest";

import { statusLabel } from "~/billing/access";

import { DEMO, type StripeDouble } from "../scripts/stripe-double";
import { sendEvent } from "../scripts/webhook-send";
import { ROOT, type AppServer } from "./support/app-server";
import {
  startAppWithDouble,
  type AppWithDouble,
} from "./support/app-with-double";
import { databaseFileReader } from "./support/database-file";
import { EXAMPLE_PRICE_IDS } from "./support/env";

/**
 * The built server (`npm run build`, as `npm test` does first) driven over
 * HTTP like a browser without JavaScript, against the local Stripe double:
 * real cookies, CSRF tokens, redirects, signed webhook deliveries and the
 * SQLite file on disk.
 */

const EXAMPLES = path.join(ROOT, "examples", "events");
const PASSWORD = "motdepasse-solide-42";

let app: AppWithDouble | undefined;
let webhookSecret: string;
let databaseFile: string;
const { query, readUser, readSubscriptionsOf, readSubscription, readLedger } =
  databaseFileReader(() => databaseFile);
let origin: string;
let webhookUrl: string;
let double: StripeDouble;
let server: AppServer | undefined;

beforeAll(async () => {
  app = await startAppWithDouble({ name: "e2e", seedDemo: true });
  ({ databaseFile, origin, webhookUrl, webhookSecret, double, server } = app);
});

afterAll(async () => {
  await app?.stop();
});

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    console.log(`Server output:\n${server?.output().slice(-4000)}`);
  });
});

test("a visitor signs up, pays for DictIA 16 yearly on the hosted page, and the webhook makes the subscription active", async () => {
  const email = "paiement-e2e@exemple.test";
  const browser = await signUp(email);

  const pricing = await browser.get("/tarifs");
  expect(pricing.status).toBe(200);
  const offer = findForm(
    await pricing.text(),
    (form) =>
      form.action === "/checkout/dictia-16" &&
      form.fields.get("period") === "yearly",
  );
  const started = await browser.submit(offer);
  expect(started.status).toBe(303);
  const hostedPage = new URL(location(started));
  expect(hostedPage.origin).toBe(double.url);
  const sessionId = hostedPage.pathname.replace("/checkout/", "");
  expect(sessionId).toMatch(/^cs_test_/);

  const checkout = await browser.get(hostedPage.href);
  expect(checkout.status).toBe(200);
  const checkoutHtml = await checkout.text();
  expect(checkoutHtml).toContain("DictIA 16 — Annuel");
  const paid = await browser.submit(
    findForm(checkoutHtml, (form) => form.buttons.has("Payer")),
    { button: "Payer", base: hostedPage.href },
  );
  expect(paid.status).toBe(303);
  expect(location(paid)).toBe(
    `${origin}/checkout/success?session_id=${sessionId}`,
  );
  // The double delivered every event before redirecting, and the app took
  // each one.
  const delivered = double.deliveries.slice(-3);
  expect(delivered.map((delivery) => [delivery.type, delivery.status])).toEqual(
    [
      ["customer.subscription.created", 200],
      ["checkout.session.completed", 200],
      ["invoice.paid", 200],
    ],
  );

  const success = await browser.get(location(paid));
  expect(success.status).toBe(200);
  expect(await success.text()).toContain("Votre abonnement est actif");

  const session = double.stripe.checkoutSessions.get(sessionId);
  const stripeSubscription = double.stripe.subscriptions.get(
    String(session?.subscription),
  );
  expect(stripeSubscription).toBeDefined();
  const user = readUser(email);
  expect(user).toMatchObject({
    stripe_customer_id: session?.customer,
    subscription_status: "active",
  });
  expect(readSubscriptionsOf(user.id)).toEqual([
    expect.objectContaining({
      stripe_subscription_id: stripeSubscription?.id,
      stripe_customer_id: session?.customer,
      status: "active",
      plan: "dictia-16",
      period: "yearly",
      current_period_end: periodEndOf(stripeSubscription),
      cancel_at_period_end: 0,
    }),
  ]);
  expect(readLedger(delivered.map((delivery) => delivery.eventId))).toEqual(
    delivered.map((delivery) =>
      expect.objectContaining({ id: delivery.eventId, type: delivery.type }),
    ),
  );

  expect(await accountStatus(browser)).toBe(statusLabel("active"));

  // Stripe delivers at least once: the same event again changes nothing.
  const rowBefore = readSubscriptionsOf(user.id);
  const ledgerSize = query("select id from webhook_events").length;
  const completed = double.stripe.events.find(
    (event) =>
      event.type === "checkout.session.completed" &&
      (event.data as { object: { id: string } }).object.id === sessionId,
  );
  const again = await sendEvent({
    json: JSON.stringify(completed),
    url: webhookUrl,
    secret: webhookSecret,
  });
  expect(again.status).toBe(200);
  expect(JSON.parse(again.body)).toMatchObject({ duplicate: true });
  expect(readSubscriptionsOf(user.id)).toEqual(rowBefore);
  expect(query("select id from webhook_events")).toHaveLength(ledgerSize);
});

test("a delayed payment method completes Checkout without granting access", async () => {
  const email = "prelevement-e2e@exemple.test";
  const browser = await signUp(email);
  const pricing = await (await browser.get("/tarifs")).text();
  const started = await browser.submit(
    findForm(
      pricing,
      (form) =>
        form.action === "/checkout/dictia-8" &&
        form.fields.get("period") === "monthly",
    ),
  );
  const hostedPage = location(started);
  const checkoutHtml = await (await browser.get(hostedPage)).text();
  const button = "Simuler un paiement différé (prélèvement bancaire)";
  const completed = await browser.submit(
    findForm(checkoutHtml, (form) => form.buttons.has(button)),
    { button, base: hostedPage },
  );
  expect(completed.status).toBe(303);
  expect(
    double.deliveries.slice(-2).map((delivery) => delivery.status),
  ).toEqual([200, 200]);

  const success = await browser.get(location(completed));
  expect(await success.text()).toContain("Paiement en traitement");
  const user = readUser(email);
  expect(user.subscription_status).toBe("incomplete");
  expect(readSubscriptionsOf(user.id)).toEqual([
    expect.objectContaining({
      status: "incomplete",
      plan: "dictia-8",
      period: "monthly",
    }),
  ]);
  expect(await accountStatus(browser)).toBe(statusLabel("incomplete"));
});

test("the example events of the README change /compte at every step", async () => {
  const browser = await signUp(DEMO.email);
  const user = readUser(DEMO.email);
  const steps = [
    { file: "01-checkout.session.completed.json", status: "active" },
    { file: "02-invoice.payment_failed.json", status: "past_due" },
    { file: "03-invoice.paid.json", status: "active" },
    { file: "04-customer.subscription.updated.json", status: "active" },
    { file: "05-customer.subscription.deleted.json", status: "canceled" },
  ];
  let previousPage = await accountSection(browser);
  for (const step of steps) {
    const sent = await sendEvent({
      json: fs.readFileSync(path.join(EXAMPLES, step.file), "utf8"),
      url: webhookUrl,
      secret: webhookSecret,
    });
    expect(sent.status, step.file).toBe(200);
    expect(readSubscription(DEMO.subscriptionId), step.file).toMatchObject({
      user_id: user.id,
      status: step.status,
      plan: DEMO.plan,
      period: DEMO.period,
    });
    const page = await accountSection(browser);
    expect(page, step.file).toContain(`<dd>${statusLabel(step.status)}</dd>`);
    expect(page, `${step.file} left /compte as it was`).not.toBe(previousPage);
    previousPage = page;
  }
  expect(readSubscription(DEMO.subscriptionId)?.cancel_at_period_end).toBe(1);
});

test("the 2024-06-20 example events are read like the current ones", async () => {
  // Another customer and subscription, so this story starts from scratch.
  const older = {
    customerId: "cus_demoOlderApi01",
    subscriptionId: "sub_demoOlderApi16",
    email: "ancien-e2e@exemple.test",
  };
  const renames: [string, string][] = [
    [DEMO.customerId, older.customerId],
    [DEMO.subscriptionId, older.subscriptionId],
    [DEMO.email, older.email],
    ["evt_demo", "evt_demoOlderApi"],
  ];
  double.stripe.createCustomer({ email: older.email }, older.customerId);
  double.stripe.createSubscription({
    id: older.subscriptionId,
    customer: older.customerId,
    price:
      double.stripe.prices.get(EXAMPLE_PRICE_IDS.STRIPE_DICTIA_16_YEARLY) ??
      null,
    status: "active",
    metadata: { plan: DEMO.plan, period: DEMO.period },
    startedAt: DEMO.startedAt,
  });
  const browser = await signUp(older.email);
  const steps = [
    { file: "01-checkout.session.completed.json", status: "active" },
    { file: "2024-06-20/02-invoice.payment_failed.json", status: "past_due" },
    { file: "03-invoice.paid.json", status: "active" },
    {
      file: "2024-06-20/04-customer.subscription.updated.json",
      status: "active",
    },
  ];
  for (const step of steps) {
    let json = fs.readFileSync(path.join(EXAMPLES, step.file), "utf8");
    for (const [from, to] of renames) json = json.replaceAll(from, to);
    const sent = await sendEvent({
      json,
      url: webhookUrl,
      secret: webhookSecret,
    });
    expect(sent.status, step.file).toBe(200);
    expect(readSubscription(older.subscriptionId)?.status, step.file).toBe(
      step.status,
    );
  }
  expect(readSubscription(older.subscriptionId)).toMatchObject({
    cancel_at_period_end: 1,
    // At the top of a 2024-06-20 subscription, not on its items.
    current_period_end: DEMO.startedAt + 2 * 365 * 86_400,
  });
  expect(await accountStatus(browser)).toBe(statusLabel("active"));
});

test("a delivery with a bad signature is refused with 400 and recorded nowhere", async () => {
  const json = fs.readFileSync(
    path.join(EXAMPLES, "01-checkout.session.completed.json"),
    "utf8",
  );
  const eventId = "evt_e2eForged01";
  const payload = JSON.stringify({
    ...(JSON.parse(json) as Record<string, unknown>),
    id: eventId,
  });
  const forged = await fetch(webhookUrl, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "Stripe-Signature": Stripe.webhooks.generateTestHeaderString({
        payload,
        secret: "whsec_not_the_apps",
      }),
    },
    body: payload,
  });
  expect(forged.status).toBe(400);
  expect(await forged.json()).toEqual({ error: "invalid_signature" });

  const unsigned = await fetch(webhookUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: payload,
  });
  expect(unsigned.status).toBe(400);
  expect(readLedger([eventId])).toEqual([]);
});

/** A browser without JavaScript: one cookie jar for the app's origin. */
class Browser {
  private readonly cookies = new Map<string, string>();

  async get(url: string): Promise<Response> {
    return this.request(url, { method: "GET" });
  }

  /**
   * Submits a form as a browser would: its fields, the given values, and
   * the clicked button's name and value.
   */
  async submit(
    form: HtmlForm,
    options: {
      values?: Record<string, string>;
      button?: string;
      base?: string;
    } = {},
  ): Promise<Response> {
    const body = new URLSearchParams([...form.fields]);
    for (const [name, value] of Object.entries(options.values ?? {})) {
      body.set(name, value);
    }
    const button = options.button && form.buttons.get(options.button);
    if (button) body.append(button.name, button.value);
    const base = options.base ?? origin;
    return this.request(new URL(form.action ?? base, base).href, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body,
    });
  }

  private async request(url: string, init: RequestInit): Promise<Response> {
    const target = new URL(url, origin);
    const ours = target.origin === origin;
    const headers = new Headers(init.headers);
    if (ours && this.cookies.size > 0) {
      headers.set(
        "Cookie",
        [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; "),
      );
    }
    const response = await fetch(target, {
      ...init,
      headers,
      redirect: "manual",
    });
    if (ours) this.keepCookies(response.headers.getSetCookie());
    return response;
  }

  private keepCookies(setCookies: string[]) {
    for (const setCookie of setCookies) {
      const [pair = "", ...attributes] = setCookie.split(";");
      const separator = pair.indexOf("=");
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      const expired = attributes.some((attribute) =>
        /^\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(attribute),
      );
      if (expired || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

type HtmlForm = {
  action: string | null;
  fields: Map<string, string>;
  /** Submit buttons with a name, by their text. */
  buttons: Map<string, { name: string; value: string }>;
};

/** The forms of a page as the server rendered them. */
function formsIn(html: string): HtmlForm[] {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].map(
    ([, attributes = "", inner = ""]) => {
      const fields = new Map<string, string>();
      for (const [input = ""] of inner.matchAll(/<input\b[^>]*>/g)) {
        const name = attributeOf(input, "name");
        if (name !== null) fields.set(name, attributeOf(input, "value") ?? "");
      }
      const buttons = new Map<string, { name: string; value: string }>();
      for (const [, tag = "", text = ""] of inner.matchAll(
        /<button\b([^>]*)>([\s\S]*?)<\/button>/g,
      )) {
        const name = attributeOf(tag, "name");
        const label = decodeEntities(text.replace(/<[^>]*>/g, "").trim());
        buttons.set(label, {
          name: name ?? "",
          value: attributeOf(tag, "value") ?? "",
        });
      }
      return { action: attributeOf(attributes, "action"), fields, buttons };
    },
  );
}

function findForm(html: string, matches: (form: HtmlForm) => boolean) {
  const form = formsIn(html).find(matches);
  if (!form) throw new Error("No such form on the page");
  return form;
}

function attributeOf(tag: string, name: string): string | null {
  const match = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return match?.[1] === undefined ? null : decodeEntities(match[1]);
}

function decodeEntities(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) =>
      String.fromCodePoint(parseInt(hex, 16)),
    )
    .replace(/&#(\d+);/g, (_, decimal: string) =>
      String.fromCodePoint(Number(decimal)),
    )
    .replaceAll("&quot;", '"')
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");
}

function location(response: Response): string {
  const value = response.headers.get("location");
  if (!value) throw new Error(`No Location on a ${response.status}`);
  return new URL(value, origin).href;
}

/** Signs up through /inscription, with the CSRF token of the page. */
async function signUp(email: string): Promise<Browser> {
  const browser = new Browser();
  const page = await browser.get("/inscription");
  expect(page.status).toBe(200);
  const form = findForm(await page.text(), (candidate) =>
    candidate.fields.has("email"),
  );
  expect(form.fields.get("csrf")).toBeTruthy();
  const response = await browser.submit(form, {
    values: { email, password: PASSWORD },
    base: `${origin}/inscription`,
  });
  expect(response.status).toBe(302);
  expect(location(response)).toBe(`${origin}/compte`);
  return browser;
}

/** The subscription part of /compte. */
async function accountSection(browser: Browser): Promise<string> {
  const response = await browser.get("/compte");
  expect(response.status).toBe(200);
  const html = await response.text();
  const section =
    /<section [^>]*aria-labelledby="compte-abonnement"[^>]*>[\s\S]*?<\/section>/.exec(
      html,
    );
  if (!section) throw new Error("No subscription section on /compte");
  return section[0];
}

/** The status word /compte shows. */
async function accountStatus(browser: Browser): Promise<string | null> {
  const section = await accountSection(browser);
  return /<dt>Statut<\/dt><dd>([^<]*)<\/dd>/.exec(section)?.[1] ?? null;
}

function periodEndOf(subscription: Record<string, unknown> | undefined) {
  const items = subscription?.items as
    { data: { current_period_end: number }[] } | undefined;
  return items?.data[0]?.current_period_end;
}

/** A port nobody listens on right now, from the system. */
