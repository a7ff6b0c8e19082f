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

/**
 * What happens to a webhook delivery once its body is read: the signature,
 * the event, its processing. Kept apart from the HTTP route
 * (webhook.server.ts) because the built server processes signed events in
 * a worker thread (webhook-worker.server.ts); it imports nothing of Remix
 * or React.
 */

// Stripe's own default: a signature older than five minutes is a replay.
const TOLERANCE_SECONDS = Stripe.webhooks.DEFAULT_TOLERANCE;

export type WebhookError =
  | "method_not_allowed"
  | "payload_too_large"
  | "webhook_not_configured"
  | "missing_signature"
  | "invalid_signature"
  | "invalid_json"
  | "invalid_event"
  | "invalid_object"
  | "handler_failed";

/** How a delivery was answered: plain data, so it can cross threads. */
export type Delivery = {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
  outcome: WebhookError | "handled" | "ignored" | "duplicate";
  eventId?: string;
  eventType?: string;
};

export function rejected(
  status: number,
  error: WebhookError,
  headers?: Record<string, string>,
): Delivery {
  return { status, body: { error }, headers, outcome: error };
}

/**
 * The refusal of a body that Stripe did not sign with one of the configured
 * secrets, or null when it did. Runs on the server's own thread, before
 * the body is handed to the webhook's worker: an unsigned body, however
 * large, is never copied across.
 */
export function refuseUnsigned(
  payload: Uint8Array,
  header: string | null,
): Delivery | null {
  const secrets = getEnv().STRIPE_WEBHOOK_SECRET;
  if (secrets.length === 0) {
    console.error(
      "[webhook] STRIPE_WEBHOOK_SECRET is not set: every event is refused until it is.",
    );
    return rejected(500, "webhook_not_configured");
  }
  if (!header) return rejected(400, "missing_signature");
  if (!verifySignature(payload, header, secrets)) {
    return rejected(400, "invalid_signature");
  }
  return null;
}

/**
 * Reads and processes the event of a signed body. Never throws for a bad
 * event: every outcome is an answer for Stripe, as plain data.
 */
export async function processSignedDelivery(
  payload: Uint8Array,
): Promise<Delivery> {
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
    return { ...ids, outcome, status: 200, body };
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

/**
 * True when one of the configured secrets signed these exact bytes within
 * the tolerance. Every secret is tried, so a rotation never drops events.
 */
function verifySignature(
  payload: Uint8Array,
  header: string,
  secrets: string[],
) {
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
