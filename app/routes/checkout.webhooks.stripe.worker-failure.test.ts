import { expect, test, vi } from "vitest";

import { getDb } from "~/db.server";

import {
  eventFixture,
  ledgerRows,
  send,
  signedRequest,
  watchConsole,
} from "../../tests/support/stripe-webhooks";

// In the built server deliveries are processed in a worker thread; when
// that thread itself fails (it died, it ran out of memory) the call is
// rejected. Here the processing is made to reject the same way.
vi.mock("~/billing/webhook-delivery.server", async (importOriginal) => {
  const original =
    await importOriginal<typeof import("~/billing/webhook-delivery.server")>();
  return {
    ...original,
    processSignedDelivery: () =>
      Promise.reject(new Error("The webhook worker exited with code 1.")),
  };
});

const logs = watchConsole();

test("a delivery whose worker fails is answered 500 handler_failed, logged without its payload, and nothing is written", async () => {
  await getDb();
  const event = eventFixture(
    "openapi__customer.subscription.updated__2026__wrapped.json",
    { id: "evt_worker_died", created: 1_780_000_000 },
  );

  const response = await send(signedRequest(JSON.stringify(event)));

  expect(response.status).toBe(500);
  expect(await response.json()).toEqual({ error: "handler_failed" });
  const errors = logs.takeErrors();
  expect(errors).toEqual([
    "[webhook] delivery not processed: The webhook worker exited with code 1.",
  ]);
  expect(await ledgerRows()).toEqual([]);
  const delivery = logs.takeInfo().map((line) => JSON.parse(line));
  expect(delivery).toEqual([
    expect.objectContaining({ outcome: "handler_failed", status: 500 }),
  ]);
});
