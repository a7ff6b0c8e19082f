import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";

import Stripe from "stripe";

import { getPlanInfo, isPeriod, PERIOD_LABELS } from "../app/billing/plans";
import { FakeStripe, type JsonObject, type PriceSeed } from "./fake-stripe";

/**
 * A local Stripe for development and end-to-end tests: the API calls this
 * app makes (served by FakeStripe), a hosted Checkout page and a billing
 * portal page that work without JavaScript, and webhook events signed like
 * Stripe's and POSTed to the app. Loopback only; nothing leaves the machine.
 *
 *   npm run stripe:double [-- --port 12111]
 */

export const DEFAULT_PORT = 12111;

type Environment = Record<string, string | undefined>;

/** The customer and subscription that the files of examples/events/ name. */
export const DEMO = {
  customerId: "cus_demoClient01",
  subscriptionId: "sub_demoDictia16",
  email: "client@exemple.test",
  plan: "dictia-16",
  period: "yearly",
  /** 2024-11-20 15:00 UTC: the yearly subscription's first day. */
  startedAt: 1732114800,
} as const;

type PriceVariable = {
  name: string;
  /** The id used when the variable is absent, as in .env.example. */
  fallbackId: string | null;
  unitAmount: number;
  interval: PriceSeed["interval"];
};

// Amounts in cents of Canadian dollars, before taxes.
const PRICE_VARIABLES: PriceVariable[] = [
  price("8_MONTHLY", "price_dictia8_monthly", 2900, "month"),
  price("8_YEARLY", "price_dictia8_yearly", 29000, "year"),
  price("8_SETUP", "price_dictia8_setup", 4900, null),
  price("16_MONTHLY", "price_dictia16_monthly", 4900, "month"),
  price("16_YEARLY", "price_dictia16_yearly", 49000, "year"),
  price("16_SETUP", null, 9900, null),
  price("CLOUD_MONTHLY", "price_dictiacloud_monthly", 9900, "month"),
  price("CLOUD_YEARLY", "price_dictiacloud_yearly", 99000, "year"),
  price("CLOUD_SETUP", "price_dictiacloud_setup", 19900, null),
];

function price(
  suffix: string,
  fallbackId: string | null,
  unitAmount: number,
  interval: PriceSeed["interval"],
): PriceVariable {
  return { name: `STRIPE_DICTIA_${suffix}`, fallbackId, unitAmount, interval };
}

/**
 * The Prices to serve: the ids of the `STRIPE_DICTIA_*` variables (an empty
 * one means no such Price), or those of .env.example when absent.
 */
export function priceSeedsFromEnv(env: Environment = process.env): PriceSeed[] {
  const seeds: PriceSeed[] = [];
  for (const variable of PRICE_VARIABLES) {
    const id = (env[variable.name] ?? variable.fallbackId ?? "").trim();
    if (id !== "") {
      seeds.push({
        id,
        unitAmount: variable.unitAmount,
        interval: variable.interval,
      });
    }
  }
  return seeds;
}

/** The demo customer, and their subscription as it stood after Checkout. */
function seedDemo(stripe: FakeStripe, env: Environment) {
  stripe.createCustomer({ email: DEMO.email }, DEMO.customerId);
  const priceId =
    env.STRIPE_DICTIA_16_YEARLY?.trim() || "price_dictia16_yearly";
  stripe.createSubscription({
    id: DEMO.subscriptionId,
    customer: DEMO.customerId,
    price: stripe.prices.get(priceId) ?? null,
    status: "active",
    metadata: { plan: DEMO.plan, period: DEMO.period },
    startedAt: DEMO.startedAt,
  });
}

export type StripeDoubleOptions = {
  /** 0 picks a free port. */
  port?: number;
  /** The app's webhook endpoint. */
  webhookUrl: string;
  /** Signs every delivery (a `whsec_…` the app is configured with). */
  webhookSecret: string;
  prices?: PriceSeed[];
  /** Seed the customer and subscription of examples/events/. */
  seedDemo?: boolean;
  /** The environment the demo's Price id is read from. */
  env?: Environment;
  log?: (line: string) => void;
};

export type Delivery = {
  eventId: string;
  type: string;
  /** The app's answer, or null when it could not be reached. */
  status: number | null;
  attempts: number;
};

export type StripeDouble = {
  url: string;
  stripe: FakeStripe;
  /** Every delivery so far, oldest first. */
  deliveries: Delivery[];
  /** Sends the events recorded since the last call, oldest first. */
  deliverPending: () => Promise<Delivery[]>;
  close: () => Promise<void>;
};

const MAX_BODY_BYTES = 1024 * 1024;
const DELIVERY_ATTEMPTS = 3;

export async function startStripeDouble(
  options: StripeDoubleOptions,
): Promise<StripeDouble> {
  const log = options.log ?? (() => {});
  let origin = "";
  const stripe = new FakeStripe({
    prices: options.prices ?? priceSeedsFromEnv(options.env ?? {}),
    checkoutUrl: (id) => `${origin}/checkout/${id}`,
    portalUrl: (id) => `${origin}/portal/${id}`,
  });
  if (options.seedDemo) seedDemo(stripe, options.env ?? {});

  const deliveries: Delivery[] = [];
  let delivered = 0;
  let queue: Promise<unknown> = Promise.resolve();

  async function deliver(event: JsonObject): Promise<Delivery> {
    const payload = JSON.stringify(event, null, 2);
    const result: Delivery = {
      eventId: String(event.id),
      type: String(event.type),
      status: null,
      attempts: 0,
    };
    while (result.attempts < DELIVERY_ATTEMPTS) {
      result.attempts += 1;
      result.status = await post(options.webhookUrl, payload, {
        "Stripe-Signature": Stripe.webhooks.generateTestHeaderString({
          payload,
          secret: options.webhookSecret,
        }),
      });
      // A 4xx is the app's verdict on this event and would not change on a
      // retry; Stripe would still retry for days, which helps nobody here.
      if (result.status !== null && result.status < 500) break;
      if (result.attempts < DELIVERY_ATTEMPTS) {
        await sleep(400 * result.attempts);
      }
    }
    log(
      `[stripe-double] ${result.type} ${result.eventId} -> ${result.status ?? "unreachable"}`,
    );
    deliveries.push(result);
    return result;
  }

  function deliverPending(): Promise<Delivery[]> {
    // Taken now, so that events recorded during a delivery go in the next
    // batch instead of twice.
    const batch = stripe.events.slice(delivered);
    delivered = stripe.events.length;
    const run = queue.then(async () => {
      const results: Delivery[] = [];
      for (const event of batch) results.push(await deliver(event));
      return results;
    });
    queue = run.catch(() => undefined);
    return run;
  }

  const routes = new Routes(stripe, deliverPending, () => origin);
  const server = http.createServer((request, response) => {
    routes.serve(request, response).catch((error: unknown) => {
      log(`[stripe-double] ${request.method} ${request.url} failed`);
      console.error(error);
      if (!response.headersSent) sendJson(response, 500, { error: "double" });
      else response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? DEFAULT_PORT, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;

  return {
    url: origin,
    stripe,
    deliveries,
    deliverPending,
    close: async () => {
      await queue;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

const money = new Intl.NumberFormat("fr-CA", {
  style: "currency",
  currency: "CAD",
});
const dates = new Intl.DateTimeFormat("fr-CA", {
  dateStyle: "long",
  timeZone: "America/Toronto",
});

/**
 * The API, and the hosted pages: what a customer sees at Stripe, reduced to
 * buttons.
 */
class Routes {
  constructor(
    private readonly stripe: FakeStripe,
    private readonly deliverPending: () => Promise<Delivery[]>,
    private readonly origin: () => string,
  ) {}

  async serve(
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ): Promise<void> {
    const url = new URL(request.url ?? "/", this.origin());
    const method = request.method ?? "GET";
    const body = await readBody(request);
    if (body === null) return sendJson(response, 413, { error: "too_large" });

    if (url.pathname.startsWith("/v1/")) {
      if (!/^Bearer \S+$/.test(request.headers.authorization ?? "")) {
        return sendJson(response, 401, {
          error: {
            type: "invalid_request_error",
            message: "You did not provide an API key (Authorization: Bearer).",
          },
        });
      }
      const answer = this.stripe.handle({
        method,
        path: url.pathname,
        body:
          method === "GET" || method === "DELETE" ? url.search.slice(1) : body,
        idempotencyKey: header(request, "idempotency-key"),
      });
      sendJson(response, answer.status, answer.body);
      // Calls that change a subscription record events; Stripe sends them
      // shortly after answering, and so does this.
      this.deliverPending().catch((error: unknown) => console.error(error));
      return;
    }

    const checkout = /^\/checkout\/([^/]+)$/.exec(url.pathname);
    if (checkout?.[1]) {
      const id = decodeURIComponent(checkout[1]);
      if (method === "POST") return this.submitCheckout(response, id, body);
      return this.showCheckout(response, id);
    }
    const portal = /^\/portal\/([^/]+)$/.exec(url.pathname);
    if (portal?.[1]) {
      const id = decodeURIComponent(portal[1]);
      if (method === "POST") return this.submitPortal(response, id, body);
      return this.showPortal(response, id);
    }
    sendHtml(
      response,
      404,
      page("Introuvable", "<h1>Page introuvable</h1><p>Stripe local.</p>"),
    );
  }

  showCheckout(response: http.ServerResponse, id: string) {
    const session = this.stripe.checkoutSessions.get(id);
    if (!session) return notFoundPage(response, "Session de paiement");
    const metadata = (session.metadata ?? {}) as JsonObject;
    const plan = getPlanInfo(String(metadata.plan ?? ""));
    const period = isPeriod(metadata.period)
      ? PERIOD_LABELS[metadata.period]
      : null;
    const title = [plan?.name ?? "Abonnement", period]
      .filter(Boolean)
      .join(" — ");
    const lines = this.lineItems(session);
    const total = lines.reduce((sum, line) => sum + line.amount, 0);
    const email = (session.customer_details as JsonObject | null)?.email;
    const rows = lines
      .map(
        (line) =>
          `<tr><td>${escapeHtml(line.label)}</td><td>${money.format(line.amount / 100)}</td></tr>`,
      )
      .join("");
    const open = session.status === "open";
    const actions = open
      ? `<form method="post">
  <p><button type="submit" name="action" value="pay">Payer</button></p>
  <p><button type="submit" name="action" value="delayed" class="secondary">Simuler un paiement différé (prélèvement bancaire)</button></p>
  <p><button type="submit" name="action" value="cancel" class="secondary">Annuler et revenir à DictIA</button></p>
</form>`
      : `<p>Cette session de paiement est terminée.</p>
<form method="post"><button type="submit" name="action" value="pay">Revenir à DictIA</button></form>`;
    sendHtml(
      response,
      200,
      page(
        `Paiement — ${title}`,
        `<h1>${escapeHtml(title)}</h1>
${email ? `<p>Client : ${escapeHtml(String(email))}</p>` : ""}
<table>${rows}<tr class="total"><td>Total aujourd’hui</td><td>${money.format(total / 100)}</td></tr></table>
<p class="small">Taxes en sus (TPS/TVQ calculées par Stripe Tax).</p>
${actions}`,
      ),
    );
  }

  async submitCheckout(
    response: http.ServerResponse,
    id: string,
    body: string,
  ) {
    const session = this.stripe.checkoutSessions.get(id);
    if (!session) return notFoundPage(response, "Session de paiement");
    const action = new URLSearchParams(body).get("action") ?? "pay";
    if (action === "cancel") {
      return redirect(response, String(session.cancel_url));
    }
    if (action !== "pay" && action !== "delayed") {
      return sendHtml(
        response,
        400,
        page("Erreur", "<h1>Action inconnue</h1>"),
      );
    }
    if (session.status === "open") {
      this.stripe.completeCheckout(id, {
        paymentStatus: action === "pay" ? "paid" : "unpaid",
      });
      // Delivered before the redirect, so the success page usually finds
      // the subscription already recorded.
      await this.deliverPending();
    }
    // Stripe fills in the literal placeholder only; an encoded one stays.
    const successUrl = String(session.success_url).replaceAll(
      "{CHECKOUT_SESSION_ID}",
      id,
    );
    redirect(response, successUrl);
  }

  showPortal(response: http.ServerResponse, id: string) {
    const session = this.stripe.portalSessions.get(id);
    if (!session) return notFoundPage(response, "Session du portail");
    const subscriptions = this.subscriptionsOf(String(session.customer));
    const cards = subscriptions.map((subscription) =>
      this.subscriptionCard(subscription),
    );
    sendHtml(
      response,
      200,
      page(
        "Portail de facturation",
        `<h1>Portail de facturation</h1>
${cards.join("\n") || "<p>Aucun abonnement.</p>"}
<p><a href="${escapeHtml(String(session.return_url))}">Retour à DictIA</a></p>`,
      ),
    );
  }

  async submitPortal(response: http.ServerResponse, id: string, body: string) {
    const session = this.stripe.portalSessions.get(id);
    if (!session) return notFoundPage(response, "Session du portail");
    const form = new URLSearchParams(body);
    const subscription = this.subscriptionsOf(String(session.customer)).find(
      (candidate) => candidate.id === form.get("subscription"),
    );
    const action = form.get("action");
    if (!subscription || subscription.status === "canceled") {
      return sendHtml(
        response,
        400,
        page("Erreur", "<h1>Abonnement introuvable</h1>"),
      );
    }
    const subscriptionId = String(subscription.id);
    if (action === "cancel_at_period_end" || action === "resume") {
      this.stripe.updateSubscription(subscriptionId, {
        cancel_at_period_end: String(action === "cancel_at_period_end"),
      });
    } else if (action === "cancel_now") {
      this.stripe.cancelSubscription(subscriptionId);
    } else {
      return sendHtml(
        response,
        400,
        page("Erreur", "<h1>Action inconnue</h1>"),
      );
    }
    await this.deliverPending();
    redirect(response, `/portal/${encodeURIComponent(id)}`);
  }

  private subscriptionsOf(customerId: string): JsonObject[] {
    return [...this.stripe.subscriptions.values()].filter(
      (subscription) => subscription.customer === customerId,
    );
  }

  private subscriptionCard(subscription: JsonObject): string {
    const metadata = (subscription.metadata ?? {}) as JsonObject;
    const plan = getPlanInfo(String(metadata.plan ?? ""))?.name ?? "Abonnement";
    const items = subscription.items as { data?: JsonObject[] } | undefined;
    const end = items?.data?.[0]?.current_period_end;
    const endText =
      typeof end === "number" ? dates.format(new Date(end * 1000)) : "—";
    const status = String(subscription.status);
    const id = escapeHtml(String(subscription.id));
    const button = (action: string, label: string) =>
      `<button type="submit" name="action" value="${action}">${label}</button>`;
    const actions =
      status === "canceled"
        ? ""
        : `<form method="post"><input type="hidden" name="subscription" value="${id}">
${subscription.cancel_at_period_end ? button("resume", "Reprendre l’abonnement") : button("cancel_at_period_end", "Annuler à la fin de la période")}
${button("cancel_now", "Annuler immédiatement")}
</form>`;
    return `<section><h2>${escapeHtml(plan)}</h2>
<p>Statut Stripe : ${escapeHtml(status)}. Fin de la période : ${escapeHtml(endText)}${subscription.cancel_at_period_end ? " (ne sera pas renouvelé)" : ""}.</p>
${actions}</section>`;
  }

  /** The session's requested line items, priced from the known Prices. */
  private lineItems(session: JsonObject) {
    const requested = Array.isArray(session.line_items_requested)
      ? (session.line_items_requested as JsonObject[])
      : [];
    return requested.map((item) => {
      const price = this.stripe.prices.get(String(item.price));
      const quantity = Number(item.quantity ?? 1) || 1;
      const interval = (price?.recurring as JsonObject | null)?.interval;
      const label =
        interval === "year"
          ? "Abonnement, par année"
          : interval === "month"
            ? "Abonnement, par mois"
            : "Frais de mise en service (une fois)";
      return {
        label: price ? label : `Prix inconnu ${String(item.price)}`,
        amount: Number(price?.unit_amount ?? 0) * quantity,
      };
    });
  }
}

async function post(
  url: string,
  payload: string,
  headers: Record<string, string>,
): Promise<number | null> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        ...headers,
      },
      body: payload,
      signal: AbortSignal.timeout(10_000),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return null;
  }
}

function readBody(request: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on("end", () =>
      resolve(
        size > MAX_BODY_BYTES ? null : Buffer.concat(chunks).toString("utf8"),
      ),
    );
    request.on("error", reject);
  });
}

function header(request: http.IncomingMessage, name: string): string | null {
  const value = request.headers[name];
  return typeof value === "string" ? value : null;
}

function sendJson(
  response: http.ServerResponse,
  status: number,
  body: unknown,
): void {
  response.writeHead(status, { "Content-Type": "application/json" });
  response.end(JSON.stringify(body));
}

function sendHtml(
  response: http.ServerResponse,
  status: number,
  html: string,
): void {
  response.writeHead(status, { "Content-Type": "text/html; charset=utf-8" });
  response.end(html);
}

function redirect(response: http.ServerResponse, location: string): void {
  response.writeHead(303, { Location: location });
  response.end();
}

function notFoundPage(response: http.ServerResponse, what: string): void {
  sendHtml(
    response,
    404,
    page("Introuvable", `<h1>${escapeHtml(what)} introuvable</h1>`),
  );
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="fr-CA">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }
.badge { display: inline-block; background: #fff3cd; border: 1px solid #e0c36c; padding: .2rem .5rem; border-radius: .3rem; font-size: .9rem; }
table { width: 100%; border-collapse: collapse; margin: 1rem 0; }
td { padding: .4rem 0; border-bottom: 1px solid #ddd; }
td:last-child { text-align: right; }
.total td { font-weight: bold; }
.small { font-size: .9rem; color: #555; }
button { font: inherit; padding: .6rem 1rem; background: #635bff; color: #fff; border: 0; border-radius: .3rem; cursor: pointer; }
button.secondary { background: #eee; color: #1a1a1a; }
</style>
</head>
<body>
<p class="badge">Stripe local : aucun paiement réel</p>
${body}
</body>
</html>
`;
}

function escapeHtml(value: string): string {
  return value
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function portFromArgs(argv: string[], env: Environment): number {
  const index = argv.indexOf("--port");
  const raw = index >= 0 ? argv[index + 1] : env.STRIPE_DOUBLE_PORT;
  if (raw === undefined || raw.trim() === "") return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`Not a port: ${raw}`);
  }
  return port;
}

async function main() {
  // Same rule as the app: a `.env` beside package.json, shell variables win.
  if (fs.existsSync(".env")) process.loadEnvFile(".env");
  const env = process.env;
  const secret = (env.STRIPE_WEBHOOK_SECRET ?? "").split(",")[0]?.trim();
  if (!secret) {
    console.error(
      "STRIPE_WEBHOOK_SECRET is not set: copy .env.example to .env, or set it in the environment (the app must use the same secret).",
    );
    process.exit(1);
  }
  const webhookUrl =
    env.APP_WEBHOOK_URL?.trim() ||
    `http://127.0.0.1:${env.PORT?.trim() || "3000"}/checkout/webhooks/stripe`;
  const double = await startStripeDouble({
    port: portFromArgs(process.argv.slice(2), env),
    webhookUrl,
    webhookSecret: secret,
    prices: priceSeedsFromEnv(env),
    seedDemo: true,
    env,
    log: (line) => console.log(line),
  });
  console.log(double.url);
  console.log(`[stripe-double] events are delivered to ${webhookUrl}`);
  console.log(
    `[stripe-double] demo: customer ${DEMO.customerId}, subscription ${DEMO.subscriptionId} (examples/events)`,
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      void double.close().then(() => process.exit(0));
    });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await main();
}
