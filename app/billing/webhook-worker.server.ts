import { processSignedDelivery } from "~/billing/webhook-delivery.server";
import { serveCalls } from "~/worker-calls.server";

// The entry of build/webhook-worker.js (see webhook.server.ts): a worker
// thread that processes the signed deliveries the server hands it.
serveCalls(processSignedDelivery);
