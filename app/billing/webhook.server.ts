import { json } from "@remix-run/node";

import { Stripe } from "~/billing/stripe.server";
import {
  isJsonObject,
  MalformedObjectError,
} from "~/billing/stripe-objects.server";
import {
  processStripeEvent,
  type StripeEvent,
} from "~/billing/webhook-handlers.server";
import { getDb } from "~/db.server";
import { getEnv } from "~/env.server";

export const MAX_WEBHOOK_BYTES = 1024 * 1024;

// Stripe's own default: a signature older than five minutes is a replay.
const TOLERANCE_SECONDS = Stripe.webhooks.DEFAULT_TOLERANCE;

type WebhookError =
  | "method_not_allowed"
  | "payload_too_large"
  | "webhook_not_configured"
  | "missing_signature"
  | "invalid_signature"
  | "invalid_json"
  | "invalid_event"
  | "invalid_object"
  | "handler_failed";

/**
 * `POST /checkout/webhooks/stripe`: verifies, then processes one event.
 * Every answer is small JSON; anything but 2xx makes Stripe retry.
 */
export async function receiveStripeWebhook(
  request: Request,
): Promise<Response> {
  const started = performance.now();
  const delivery = await answer(request);
  console.info(deliveryLogLine(delivery, performance.now() - started));
  return delivery.response;
}

/**
 * One JSON object per delivery, for an operator's log search: the event's
 * id and type (null before the signature is verified), the outcome
 * (handled, ignored, duplicate, or the error code of a refusal), the
 * status answered and the time taken: enough to find the event in
 * Stripe's Dashboard. Never a payload, a header, a secret or an email.
 */
function deliveryLogLine(delivery: Delivery, ms: number): string {
  return JSON.stringify({
    event_id: delivery.eventId ?? null,
    type: delivery.eventType ?? null,
    outcome: delivery.outcome,
    status: delivery.response.status,
    duration_ms: Math.round(ms * 10) / 10,
  });
}

type Delivery = {
  response: Response;
  outcome: WebhookError | "handled" | "ignored" | "duplicate";
  eventId?: string;
  eventType?: string;
};

function rejected(
  status: number,
  error: WebhookError,
  headers?: HeadersInit,
): Delivery {
  return {
    // Remix's json(), not the static Response.json(): remix-serve installs
    // fetch globals whose Response lacks it.
    response: json({ error }, { status, headers }),
    outcome: error,
  };
}

async function answer(request: Request): Promise<Delivery> {
  if (request.method !== "POST") {
    return rejected(405, "method_not_allowed", { Allow: "POST" });
  }
  // The size is checked before the signature: a huge body is refused
  // without being read, whatever its header says.
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_WEBHOOK_BYTES) return rejected(413, "payload_too_large");
  const payload = await readCapped(request, MAX_WEBHOOK_BYTES);
  if (payload === null) return rejected(413, "payload_too_large");

  const secrets = getEnv().STRIPE_WEBHOOK_SECRET;
  if (secrets.length === 0) {
    console.error(
      "[webhook] STRIPE_WEBHOOK_SECRET is not set: every event is refused until it is.",
    );
    return rejected(500, "webhook_not_configured");
  }
  const header = request.headers.get("stripe-signature");
  if (!header) return rejected(400, "missing_signature");
  if (!verifySignature(payload, header, secrets)) {
    return rejected(400, "invalid_signature");
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(payload),
    );
  } catch {
    return rejected(400, "invalid_json");
  }
  const event = toStripeEvent(parsed);
  if (!event) return rejected(400, "invalid_event");

  const ids = { eventId: event.id, eventType: event.type };
  try {
    const { outcome } = await processStripeEvent(await getDb(), event);
    const body = {
      received: true,
      ...(outcome === "duplicate" && { duplicate: true }),
    };
    return { ...ids, outcome, response: json(body) };
  } catch (error) {
    if (error instanceof MalformedObjectError) {
      return { ...ids, ...rejected(400, "invalid_object") };
    }
    // The message only: errors from Stripe's SDK can quote request data.
    const reason =
      error instanceof Error ? `${error.name}: ${error.message}` : "unknown";
    console.error(`[webhook] event=${event.id} handler failed: ${reason}`);
    return { ...ids, ...rejected(500, "handler_failed") };
  }
}

/** The body's bytes, or null as soon as they pass `limit`. */
async function readCapped(
  request: Request,
  limit: number,
): Promise<Buffer | null> {
  if (!request.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * True when one of the configured secrets signed these exact bytes within
 * the tolerance. Every secret is tried, so a rotation never drops events.
 */
function verifySignature(payload: Buffer, header: string, secrets: string[]) {
  const signedAt = Number(/(?:^|,)\s*t=(\d+)/.exec(header)?.[1]);
  // The SDK refuses old signatures; a signature from the future is refused
  // here, with the same tolerance.
  if (signedAt > Math.floor(Date.now() / 1000) + TOLERANCE_SECONDS) {
    return false;
  }
  const { signature } = Stripe.webhooks;
  if (!signature) throw new Error("This Stripe SDK build cannot verify.");
  return secrets.some((secret) => {
    try {
      signature.verifyHeader(payload, header, secret, TOLERANCE_SECONDS);
      return true;
    } catch (error) {
      if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
        return false;
      }
      throw error;
    }
  });
}

/** The parts of an event envelope that processing relies on, or null. */
export function toStripeEvent(value: unknown): StripeEvent | null {
  if (!isJsonObject(value) || value.object !== "event") return null;
  const { id, type, created, data } = value;
  if (typeof id !== "string" || !id.startsWith("evt_")) return null;
  if (typeof type !== "string" || type === "") return null;
  if (typeof created !== "number" || !Number.isInteger(created)) return null;
  if (!isJsonObject(data) || !isJsonObject(data.object)) return null;
  return { id, type, created, object: data.object };
}
