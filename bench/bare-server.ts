import http from "node:http";
import type { AddressInfo } from "node:net";

import SQLite from "better-sqlite3";
import Stripe from "stripe";

/**
 * The floor the webhook is compared with: node:http, the SDK's signature
 * check and one insert into a ledger table, with the app's SQLite settings.
 * No framework, no order guard, no effects: what no webhook on this stack
 * can beat. Started by the benchmark as its own process:
 *
 *   BARE_DATABASE_FILE=… STRIPE_WEBHOOK_SECRET=… node --import tsx bench/bare-server.ts
 *
 * It prints its origin once it listens, on 127.0.0.1 and a free port.
 */

const secret = process.env.STRIPE_WEBHOOK_SECRET ?? "";
const file = process.env.BARE_DATABASE_FILE ?? "";
if (!secret || !file) {
  console.error("STRIPE_WEBHOOK_SECRET and BARE_DATABASE_FILE are required.");
  process.exit(2);
}

const sqlite = new SQLite(file);
sqlite.pragma("journal_mode = WAL");
sqlite.pragma("synchronous = NORMAL");
sqlite.exec(`create table if not exists webhook_events (
  id text primary key, type text not null, created integer not null,
  outcome text not null, processed_at text not null)`);
const record = sqlite.prepare(
  `insert into webhook_events (id, type, created, outcome, processed_at)
   values (?, ?, ?, 'handled', ?) on conflict (id) do nothing`,
);

function answer(response: http.ServerResponse, status: number, body: string) {
  response.writeHead(status, { "Content-Type": "application/json" });
  response.end(body);
}

const server = http.createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(
        Buffer.concat(chunks),
        request.headers["stripe-signature"] ?? "",
        secret,
      );
    } catch {
      answer(response, 400, '{"error":"invalid_signature"}');
      return;
    }
    record.run(event.id, event.type, event.created, new Date().toISOString());
    answer(response, 200, '{"received":true}');
  });
});

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  console.log(`http://127.0.0.1:${port}`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close(() => {
      sqlite.close();
      process.exit(0);
    });
    server.closeAllConnections();
  });
}
