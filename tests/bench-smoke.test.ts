import { spawn } from "node:child_process";
import path from "node:path";

import { expect, test } from "vitest";

import { ROOT } from "./support/app-server";

/**
 * `npm run bench` in miniature (`--smoke`: a few hundred requests per
 * scenario, on the build `npm test` made first), so the benchmark keeps
 * working. It asserts what the run prints and that no acknowledged event is
 * missing from the ledger; never how fast anything was.
 */

const TSX = path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");

function runBench(args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, [TSX, "bench/run.ts", ...args], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, NODE_ENV: "production" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8");
      child.stderr.setEncoding("utf8");
      child.stdout.on("data", (chunk: string) => (stdout += chunk));
      child.stderr.on("data", (chunk: string) => (stderr += chunk));
      child.once("error", reject);
      child.once("exit", (code) => resolve({ code, stdout, stderr }));
    },
  );
}

test("the benchmark's smoke run prints its table, then a JSON line where every acknowledged event is in the ledger", async () => {
  const run = await runBench(["--smoke"]);
  expect(run.code, run.stderr.slice(-4000)).toBe(0);

  const lines = run.stdout.trim().split("\n");
  expect(run.stdout).toContain("empty Remix route");
  expect(run.stdout).toContain("bare node:http floor");
  const summary: unknown = JSON.parse(lines[lines.length - 1] ?? "");
  expect(summary).toEqual({
    webhook_rps: expect.any(Number),
    empty_route_rps: expect.any(Number),
    bare_rps: expect.any(Number),
    webhook_vs_empty: expect.any(Number),
    webhook_p99_ms: expect.any(Number),
    checkout_rps: expect.any(Number),
    peak_rss_mb: expect.any(Number),
    events_sent: expect.any(Number),
    events_in_ledger: expect.any(Number),
  });
  const { events_sent, events_in_ledger } = summary as Record<string, number>;
  expect(events_sent).toBeGreaterThanOrEqual(300);
  expect(events_in_ledger).toBe(events_sent);
}, 180_000);
