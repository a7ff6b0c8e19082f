import crypto from "node:crypto";

import qs from "qs";

/**
 * A small in-memory Stripe: the part of the API this app calls, answering in
 * the current API shape. The msw handlers of the tests and the local Stripe
 * double (scripts/stripe-double.ts) both serve it, so unit, route and
 * end-to-end tests see the same behaviour.
 */

export type JsonObject = Record<string, unknown>;

export type RecordedRequest = {
  method: string;
  path: string;
  params: JsonObject;
  idempotencyKey: string | null;
};

export type FakeResponse = { status: number; body: JsonObject };

export type PriceSeed = {
  id: string;
  unitAmount: number;
  interval: "month" | "year" | null;
};

type CompleteOptions = {
  /** `paid` (card), `unpaid` (a delayed method), `no_payment_required` (trial). */
  paymentStatus?: "paid" | "unpaid" | "no_payment_required";
};

const API_VERSION = "2026-11-18.endive";
const ENDED_STATUSES = new Set(["canceled", "incomplete_expired"]);

export class FakeStripe {
  readonly requests: RecordedRequest[] = [];
  readonly customers = new Map<string, JsonObject>();
  readonly checkoutSessions = new Map<string, JsonObject>();
  readonly subscriptions = new Map<string, JsonObject>();
  readonly portalSessions = new Map<string, JsonObject>();
  readonly prices = new Map<string, JsonObject>();
  readonly events: JsonObject[] = [];
  private readonly idempotent = new Map<string, FakeResponse>();
  private sequence = 0;

  constructor(
    private readonly options: {
      prices?: PriceSeed[];
      /** Where the hosted Checkout page of a session lives. */
      checkoutUrl?: (sessionId: string) => string;
      /** Where the billing portal page of a portal session lives. */
      portalUrl?: (sessionId: string) => string;
      /** Stripe's clock, in unix seconds. */
      now?: () => number;
    } = {},
  ) {
    for (const seed of options.prices ?? []) this.addPrice(seed);
  }

  now(): number {
    return this.options.now?.() ?? Math.floor(Date.now() / 1000);
  }

  newId(prefix: string): string {
    this.sequence += 1;
    const random = crypto.randomBytes(6).toString("hex");
    return `${prefix}_${random}${this.sequence.toString(36).padStart(4, "0")}`;
  }

  addPrice(seed: PriceSeed): JsonObject {
    const price = {
      id: seed.id,
      object: "price",
      active: true,
      currency: "cad",
      unit_amount: seed.unitAmount,
      type: seed.interval ? "recurring" : "one_time",
      recurring: seed.interval
        ? { interval: seed.interval, interval_count: 1 }
        : null,
      product: `prod_${seed.id}`,
      livemode: false,
    };
    this.prices.set(seed.id, price);
    return price;
  }

  /** Serves one API request; `body` is Stripe's form encoding. */
  handle(request: {
    method: string;
    path: string;
    body: string;
    idempotencyKey?: string | null;
  }): FakeResponse {
    const params = qs.parse(request.body, { depth: 10 }) as JsonObject;
    const idempotencyKey = request.idempotencyKey ?? null;
    this.requests.push({
      method: request.method,
      path: request.path,
      params,
      idempotencyKey,
    });
    if (request.method === "POST" && idempotencyKey) {
      const cacheKey = `${request.path} ${idempotencyKey}`;
      const previous = this.idempotent.get(cacheKey);
      if (previous) return previous;
      const response = this.route(request.method, request.path, params);
      this.idempotent.set(cacheKey, response);
      return response;
    }
    return this.route(request.method, request.path, params);
  }

  /** The requests made to one endpoint, e.g. `POST /v1/checkout/sessions`. */
  requestsTo(method: string, path: string): RecordedRequest[] {
    return this.requests.filter(
      (request) => request.method === method && request.path === path,
    );
  }

  private route(
    method: string,
    path: string,
    params: JsonObject,
  ): FakeResponse {
    const routes: [string, RegExp, (id: string) => FakeResponse][] = [
      ["POST", /^\/v1\/customers$/, () => ok(this.createCustomer(params))],
      [
        "GET",
        /^\/v1\/customers\/([^/]+)$/,
        (id) => this.found(this.customers, id),
      ],
      ["GET", /^\/v1\/prices\/([^/]+)$/, (id) => this.found(this.prices, id)],
      [
        "GET",
        /^\/v1\/subscriptions$/,
        () => ok(this.listSubscriptions(params)),
      ],
      [
        "GET",
        /^\/v1\/subscriptions\/([^/]+)$/,
        (id) => this.found(this.subscriptions, id),
      ],
      [
        "POST",
        /^\/v1\/subscriptions\/([^/]+)$/,
        (id) =>
          this.ifFound(this.subscriptions, id, () =>
            this.updateSubscription(id, params),
          ),
      ],
      [
        "DELETE",
        /^\/v1\/subscriptions\/([^/]+)$/,
        // Stripe answers « No such subscription » for one already ended.
        (id) =>
          this.ifFound(
            this.subscriptions,
            id,
            () => this.cancelSubscription(id),
            (subscription) => !ENDED_STATUSES.has(String(subscription.status)),
          ),
      ],
      [
        "POST",
        /^\/v1\/checkout\/sessions$/,
        () => ok(this.createCheckoutSession(params)),
      ],
      [
        "GET",
        /^\/v1\/checkout\/sessions\/([^/]+)$/,
        (id) => this.found(this.checkoutSessions, id),
      ],
      [
        "POST",
        /^\/v1\/billing_portal\/sessions$/,
        () => ok(this.createPortalSession(params)),
      ],
      ["GET", /^\/v1\/events$/, () => ok(this.listEvents(params))],
    ];
    for (const [routeMethod, pattern, serve] of routes) {
      const match = method === routeMethod ? pattern.exec(path) : null;
      if (match) return serve(decodeURIComponent(match[1] ?? ""));
    }
    return {
      status: 404,
      body: {
        error: {
          type: "invalid_request_error",
          message: `Unrecognized request URL (${method}: ${path}).`,
        },
      },
    };
  }

  private ifFound(
    map: Map<string, JsonObject>,
    id: string,
    serve: () => JsonObject,
    usable: (object: JsonObject) => boolean = () => true,
  ): FakeResponse {
    const object = map.get(id);
    return object && usable(object) ? ok(serve()) : notFound(id);
  }

  createPortalSession(params: JsonObject): JsonObject {
    const id = this.newId("bps");
    const session = {
      id,
      object: "billing_portal.session",
      customer: params.customer,
      return_url: params.return_url,
      created: this.now(),
      livemode: false,
      url:
        this.options.portalUrl?.(id) ??
        `https://billing.stripe.test/p/session/${id}`,
    };
    this.portalSessions.set(id, session);
    return session;
  }

  private found(map: Map<string, JsonObject>, id: string | undefined) {
    const object = id ? map.get(id) : undefined;
    return object ? ok(object) : notFound(id);
  }

  createCustomer(params: JsonObject, id = this.newId("cus")): JsonObject {
    const customer = {
      id,
      object: "customer",
      created: this.now(),
      email: typeof params.email === "string" ? params.email : null,
      metadata: params.metadata ?? {},
      livemode: false,
    };
    this.customers.set(customer.id, customer);
    return customer;
  }

  createCheckoutSession(params: JsonObject): JsonObject {
    const id = this.newId("cs_test");
    const customerId =
      typeof params.customer === "string" ? params.customer : null;
    const customer = customerId ? this.customers.get(customerId) : undefined;
    const session: JsonObject = {
      id,
      object: "checkout.session",
      mode: params.mode ?? "payment",
      status: "open",
      payment_status: "unpaid",
      currency: params.currency ?? null,
      customer: customerId,
      customer_details: customer ? { email: customer.email } : null,
      client_reference_id: params.client_reference_id ?? null,
      metadata: params.metadata ?? {},
      subscription: null,
      success_url: params.success_url,
      cancel_url: params.cancel_url,
      line_items_requested: params.line_items ?? [],
      subscription_data: params.subscription_data ?? null,
      created: this.now(),
      livemode: false,
      url:
        this.options.checkoutUrl?.(id) ??
        `https://checkout.stripe.test/c/pay/${id}`,
    };
    this.checkoutSessions.set(id, session);
    return session;
  }

  /**
   * What paying on the hosted page does: the session completes and its
   * subscription exists. Returns the events Stripe would send, oldest first.
   */
  completeCheckout(
    sessionId: string,
    options: CompleteOptions = {},
  ): { session: JsonObject; subscription: JsonObject; events: JsonObject[] } {
    const session = this.checkoutSessions.get(sessionId);
    if (!session) throw new Error(`No Checkout Session ${sessionId}`);
    const paymentStatus = options.paymentStatus ?? "paid";
    const lineItems = (session.line_items_requested ?? []) as JsonObject[];
    const recurring = lineItems
      .map((item) => this.prices.get(String(item.price)))
      .find((price) => price && price.type === "recurring");
    const subscriptionData = (session.subscription_data ?? {}) as JsonObject;
    const status =
      paymentStatus === "paid"
        ? "active"
        : paymentStatus === "no_payment_required"
          ? "trialing"
          : "incomplete";
    const subscription = this.createSubscription({
      customer: String(session.customer),
      price: recurring ?? null,
      status,
      metadata: (subscriptionData.metadata ?? {}) as JsonObject,
    });
    session.status = "complete";
    session.payment_status = paymentStatus;
    session.subscription = subscription.id;
    const customer = this.customers.get(String(session.customer));
    session.customer_details = { email: customer?.email ?? null };
    const events = [
      this.recordEvent("customer.subscription.created", subscription),
      this.recordEvent("checkout.session.completed", session),
    ];
    if (paymentStatus === "paid") {
      events.push(
        this.recordEvent("invoice.paid", this.invoiceFor(subscription)),
      );
    }
    return { session, subscription, events };
  }

  /**
   * A subscription whose first period starts at `startedAt` (now unless
   * given). Records no event: callers say what Stripe would have sent.
   */
  createSubscription(input: {
    id?: string;
    customer: string;
    price: JsonObject | null;
    status: string;
    metadata?: JsonObject;
    startedAt?: number;
  }): JsonObject {
    const now = input.startedAt ?? this.now();
    const interval =
      ((input.price?.recurring as JsonObject | null)?.interval as string) ??
      "month";
    const periodEnd = now + (interval === "year" ? 365 : 30) * 86_400;
    const subscription: JsonObject = {
      id: input.id ?? this.newId("sub"),
      object: "subscription",
      customer: input.customer,
      status: input.status,
      cancel_at_period_end: false,
      cancel_at: null,
      canceled_at: null,
      ended_at: null,
      created: now,
      start_date: now,
      metadata: input.metadata ?? {},
      items: {
        object: "list",
        data: [
          {
            id: this.newId("si"),
            object: "subscription_item",
            price: input.price,
            quantity: 1,
            current_period_start: now,
            current_period_end: periodEnd,
          },
        ],
      },
      livemode: false,
    };
    this.subscriptions.set(String(subscription.id), subscription);
    return subscription;
  }

  updateSubscription(id: string, params: JsonObject): JsonObject {
    const subscription = this.subscriptions.get(id) as JsonObject;
    const before = structuredClone(subscription);
    if (params.cancel_at_period_end !== undefined) {
      const cancel = String(params.cancel_at_period_end) === "true";
      // As Stripe does: scheduling the end also sets when, and undoing it
      // clears both.
      subscription.cancel_at_period_end = cancel;
      subscription.cancel_at = cancel ? periodEndOf(subscription) : null;
      subscription.canceled_at = cancel ? this.now() : null;
    }
    if (typeof params.status === "string") subscription.status = params.status;
    const changed = Object.keys(subscription).filter(
      (key) =>
        JSON.stringify(before[key]) !== JSON.stringify(subscription[key]),
    );
    this.recordEvent(
      "customer.subscription.updated",
      subscription,
      Object.fromEntries(changed.map((key) => [key, before[key] ?? null])),
    );
    return subscription;
  }

  cancelSubscription(id: string): JsonObject {
    const subscription = this.subscriptions.get(id) as JsonObject;
    subscription.status = "canceled";
    subscription.canceled_at = this.now();
    subscription.ended_at = this.now();
    this.recordEvent("customer.subscription.deleted", subscription);
    return subscription;
  }

  invoiceFor(subscription: JsonObject): JsonObject {
    const customer = this.customers.get(String(subscription.customer));
    return {
      id: this.newId("in"),
      object: "invoice",
      customer: subscription.customer,
      customer_email: customer?.email ?? null,
      status: "paid",
      billing_reason: "subscription_create",
      parent: {
        type: "subscription_details",
        subscription_details: { subscription: subscription.id, metadata: {} },
      },
      created: this.now(),
      livemode: false,
    };
  }

  /** An event envelope as Stripe sends it, kept for `GET /v1/events`. */
  recordEvent(
    type: string,
    object: JsonObject,
    previousAttributes?: JsonObject,
  ): JsonObject {
    const event = {
      id: this.newId("evt"),
      object: "event",
      api_version: API_VERSION,
      created: this.now(),
      data: {
        object: structuredClone(object),
        ...(previousAttributes && { previous_attributes: previousAttributes }),
      },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
    };
    this.events.push(event);
    return event;
  }

  /**
   * `GET /v1/subscriptions`: a customer's subscriptions, newest first. As
   * Stripe does, canceled ones are left out unless `status` is `all` or
   * names them. One page: nothing here has more than a few.
   */
  private listSubscriptions(params: JsonObject): JsonObject {
    const status = typeof params.status === "string" ? params.status : null;
    const data = [...this.subscriptions.values()]
      .filter(
        (subscription) =>
          params.customer === undefined ||
          subscription.customer === params.customer,
      )
      .filter((subscription) =>
        status === "all"
          ? true
          : status !== null
            ? subscription.status === status
            : subscription.status !== "canceled",
      )
      .reverse();
    return { object: "list", data, has_more: false, url: "/v1/subscriptions" };
  }

  private listEvents(params: JsonObject): JsonObject {
    const created = (params.created ?? {}) as JsonObject;
    const since = Number(created.gte ?? 0);
    const types = params.types as string[] | undefined;
    const data = this.events
      .filter((event) => Number(event.created) >= since)
      .filter((event) => !types || types.includes(String(event.type)))
      .reverse();
    return { object: "list", data, has_more: false, url: "/v1/events" };
  }
}

/** The end of the subscription's current period (on its first item). */
function periodEndOf(subscription: JsonObject): number | null {
  const items = subscription.items as { data?: JsonObject[] } | undefined;
  const end = items?.data?.[0]?.current_period_end;
  return typeof end === "number" ? end : null;
}

function ok(body: JsonObject): FakeResponse {
  return { status: 200, body };
}

function notFound(id: string | undefined): FakeResponse {
  return {
    status: 404,
    body: {
      error: {
        type: "invalid_request_error",
        code: "resource_missing",
        message: `No such object: '${id ?? ""}'`,
      },
    },
  };
}
