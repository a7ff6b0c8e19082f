import crypto from "node:crypto";
import fs from "node:fs";
import { pathToFileURL } from "node:url";

import Stripe from "stripe";

/**
 * Signs an event file as Stripe would and POSTs it to the app's webhook.
 *
 *   npm run webhook:send -- examples/events/01-checkout.session.completed.json
 *   npm run webhook:send -- FILE [URL] [--fresh]
 *
 * `--fresh` gives the event a new id and `created` = now, so the same file
 * can be sent again as a new event instead of a duplicate.
 */

export type SendResult = {
  status: number;
  body: string;
  eventId: string;
  eventType: string;
};

type EventEnvelope = { id: string; type: string; created: number };

/**
 * Sends one event. The file's own bytes are signed and sent unless `fresh`
 * asks for a new id and time, so what arrives is exactly what is on disk.
 */
export async function sendEvent(input: {
  json: string;
  url: string;
  secret: string;
  fresh?: boolean;
}): Promise<SendResult> {
  const event: unknown = JSON.parse(input.json);
  if (!isEnvelope(event)) {
    throw new Error(
      "Not a Stripe event: expected an object with id, type and created.",
    );
  }
  let payload = input.json;
  if (input.fresh) {
    event.id = `evt_${crypto.randomBytes(12).toString("hex")}`;
    event.created = Math.floor(Date.now() / 1000);
    payload = `${JSON.stringify(event, null, 2)}\n`;
  }
  const response = await fetch(input.url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      "Stripe-Signature": Stripe.webhooks.generateTestHeaderString({
        payload,
        secret: input.secret,
      }),
    },
    body: payload,
    signal: AbortSignal.timeout(15_000),
  });
  return {
    status: response.status,
    body: await response.text(),
    eventId: event.id,
    eventType: event.type,
  };
}

function isEnvelope(value: unknown): value is EventEnvelope {
  if (typeof value !== "object" || value === null) return false;
  const { id, type, created } = value as Record<string, unknown>;
  return (
    typeof id === "string" &&
    typeof type === "string" &&
    typeof created === "number"
  );
}

const USAGE = "Usage: npm run webhook:send -- FILE [URL] [--fresh]";

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const fresh = argv.includes("--fresh");
  const positional = argv.filter((arg) => !arg.startsWith("--"));
  const unknown = argv.filter(
    (arg) => arg.startsWith("--") && arg !== "--fresh",
  );
  const [file, target] = positional;
  if (!file || positional.length > 2 || unknown.length > 0) {
    console.error(USAGE);
    return 2;
  }

  // Same rule as the app: a `.env` beside package.json, shell variables win.
  if (fs.existsSync(".env")) process.loadEnvFile(".env");
  const secret = (process.env.STRIPE_WEBHOOK_SECRET ?? "")
    .split(",")[0]
    ?.trim();
  if (!secret) {
    console.error(
      "STRIPE_WEBHOOK_SECRET is not set: put the app's whsec_… in .env (see .env.example) or in the environment.",
    );
    return 2;
  }
  const port = process.env.PORT?.trim() || "3000";
  const url = target ?? `http://127.0.0.1:${port}/checkout/webhooks/stripe`;

  let json: string;
  try {
    json = fs.readFileSync(file, "utf8");
  } catch {
    console.error(`Cannot read ${file}.`);
    return 2;
  }

  let result: SendResult;
  try {
    result = await sendEvent({ json, url, secret, fresh });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    console.error(`Not sent to ${url}: ${reason}`);
    if (/fetch failed|ECONNREFUSED/i.test(reason)) {
      console.error("Is the app running (npm start)?");
    }
    return 1;
  }
  console.log(`${result.eventType} ${result.eventId} -> ${url}`);
  console.log(`${result.status} ${result.body.slice(0, 500)}`);
  return result.status >= 200 && result.status < 300 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exitCode = await main(process.argv.slice(2));
}
