import { expect, test } from "vitest";

import { callsToWorker } from "~/worker-calls.server";

// The transport the built server uses to hand webhook deliveries to their
// worker thread (see app/billing/webhook.server.ts). The worker here is a
// small fixture run through tsx; the real one is exercised by every test of
// the built server (end to end, browser, crash, two processes).

const WORKER = new URL("./fixtures/workers/calls.mjs", import.meta.url);

function fixtureWorker() {
  return callsToWorker<[kind: string, value: number], unknown>(
    WORKER,
    "fixture",
  );
}

test("arguments and results cross to the worker and back, several calls at once", async () => {
  const call = fixtureWorker();

  const results = await Promise.all([
    call("double", 2),
    call("wait", 50),
    call("double", 21),
  ]);

  expect(results).toEqual([
    { doubled: 4, bytes: new Uint8Array([2]) },
    "waited",
    { doubled: 42, bytes: new Uint8Array([21]) },
  ]);
});

test("a failure in the worker rejects only its own call, with its message", async () => {
  const call = fixtureWorker();

  const [failed, succeeded] = await Promise.allSettled([
    call("fail", 7),
    call("double", 3),
  ]);

  expect(failed).toMatchObject({
    status: "rejected",
    reason: new Error("failed with 7"),
  });
  expect(succeeded).toMatchObject({
    status: "fulfilled",
    value: { doubled: 6 },
  });
});

test("a worker that exits rejects its pending calls, and the next call starts a new one", async () => {
  const call = fixtureWorker();
  const pending = call("wait", 5_000);

  await expect(call("exit", 3)).rejects.toThrow(
    "The fixture worker exited with code 3.",
  );
  await expect(pending).rejects.toThrow("exited with code 3");
  await expect(call("double", 5)).resolves.toMatchObject({ doubled: 10 });
});
