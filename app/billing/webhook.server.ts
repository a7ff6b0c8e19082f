import { json } from "@remix-run/node";

import {
  processSignedDelivery,
  refuseUnsigned,
  rejected,
  type Delivery,
} from "~/billing/webhook-delivery.server";
import { callsToWorker } from "~/worker-calls.server";

export const MAX_WEBHOOK_BYTES = 1024 * 1024;

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
  // Remix's json(), not the static Response.json(): remix-serve installs
  // fetch globals whose Response lacks it.
  return json(delivery.body, {
    status: delivery.status,
    headers: delivery.headers,
  });
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
    status: delivery.status,
    duration_ms: Math.round(ms * 10) / 10,
  });
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
  const refusal = refuseUnsigned(
    payload,
    request.headers.get("stripe-signature"),
  );
  if (refusal) return refusal;
  try {
    return await processDelivery(payload);
  } catch (error) {
    // Only the worker itself failing gets here (it died, or ran out of
    // memory): whatever it was doing rolled back, and Stripe will retry.
    const reason = error instanceof Error ? error.message : "unknown";
    console.error(`[webhook] delivery not processed: ${reason}`);
    return rejected(500, "handler_failed");
  }
}

/**
 * The built server processes signed deliveries in a worker thread
 * (webhook-worker.server.ts, bundled as build/webhook-worker.js): parsing
 * the event and its database transaction are most of a delivery's CPU time,
 * and on the other core they no longer hold up the pages customers are
 * loading. Stripe still gets its answer only once the transaction has
 * committed or failed. Tests and development process here, where msw and
 * the tests' spies see it; the built server's own tests (end to end,
 * browser, crash, two processes, the benchmark's smoke run) go through the
 * worker. (`remix build` writes NODE_ENV into the bundle.)
 */
const processDelivery: typeof processSignedDelivery =
  process.env.NODE_ENV === "production" && !process.env.VITEST
    ? callsToWorker(
        new URL("./webhook-worker.js", import.meta.url),
        "webhook",
        {
          // Its live heap is a few megabytes: the limits keep what garbage it
          // may hold between collections small beside the server's.
          resourceLimits: {
            maxOldGenerationSizeMb: 48,
            maxYoungGenerationSizeMb: 4,
          },
        },
      )
    : processSignedDelivery;

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
