import type { RoundResult, ScenarioName, ScenarioResult } from "./benchmark";

/** The last line of `npm run bench`. */
export type BenchSummary = {
  webhook_rps: number;
  empty_route_rps: number;
  bare_rps: number;
  webhook_vs_empty: number;
  webhook_p99_ms: number;
  checkout_rps: number;
  peak_rss_mb: number;
  events_sent: number;
  events_in_ledger: number;
};

export const TARGETS =
  "webhook ≥ 90 % of the empty route's requests/s, webhook p99 ≤ 50 ms, server peak RSS ≤ 200 MB, every acknowledged event in the ledger";

const round1 = (value: number) => Math.round(value * 10) / 10;

export function summary(round: RoundResult): BenchSummary {
  const { bare, empty, webhook, checkout } = round.scenarios;
  return {
    webhook_rps: round1(webhook.rps),
    empty_route_rps: round1(empty.rps),
    bare_rps: round1(bare.rps),
    webhook_vs_empty: Math.round((webhook.rps / empty.rps) * 1000) / 1000,
    webhook_p99_ms: webhook.p99Ms,
    checkout_rps: round1(checkout.rps),
    peak_rss_mb: round1(round.peakRssMb),
    events_sent: round.eventsSent,
    events_in_ledger: round.eventsInLedger,
  };
}

const LABELS: Record<ScenarioName, string> = {
  bare: "bare node:http floor",
  empty: "empty Remix route",
  webhook: "webhook",
  checkout: "checkout POST",
};

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === 0
          ? cell.padEnd(widths[column] ?? 0)
          : cell.padStart(widths[column] ?? 0),
      )
      .join("  ");
  return [
    line(header),
    widths.map((width) => "-".repeat(width)).join("  "),
    ...rows.map(line),
  ].join("\n");
}

function scenarioRow(result: ScenarioResult): string[] {
  return [
    LABELS[result.name],
    String(result.requests),
    result.rps.toFixed(0),
    result.p50Ms.toFixed(0),
    result.p99Ms.toFixed(0),
    result.maxMs.toFixed(0),
    String(result.requests - result.ok + result.errors),
    result.serverCpuUs === null ? "-" : result.serverCpuUs.toFixed(0),
    result.name === "bare" ? "-" : result.serverRssMb.toFixed(0),
  ];
}

function verdict(met: boolean) {
  return met ? "met" : "MISSED";
}

export function formatRound(round: RoundResult): string {
  const { bare, empty, webhook, checkout } = round.scenarios;
  const ratio = webhook.rps / empty.rps;
  return [
    "",
    `History: ${round.history} users, subscriptions and ledger rows; ${round.connections} connections`,
    table(
      [
        "scenario",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "failed",
        "server CPU µs/req",
        "app RSS MB",
      ],
      [bare, empty, webhook, checkout].map(scenarioRow),
    ),
    `webhook / empty route: ${(ratio * 100).toFixed(1)} % (target ≥ 90 %: ${verdict(ratio >= 0.9)})`,
    `webhook / bare floor:  ${((webhook.rps / bare.rps) * 100).toFixed(1)} %`,
    `webhook p99: ${webhook.p99Ms} ms (target ≤ 50 ms: ${verdict(webhook.p99Ms <= 50)})`,
    `server peak RSS: ${round.peakRssMb.toFixed(1)} MB, ${round.startRssMb.toFixed(1)} MB once started (target ≤ 200 MB: ${verdict(round.peakRssMb <= 200)})`,
    `events acknowledged: ${round.eventsSent}, of which in the ledger: ${round.eventsInLedger} (${verdict(round.eventsSent === round.eventsInLedger)})`,
    `database after the run: ${round.ledgerRows} ledger rows, ${(round.databaseBytes / 1024 / 1024).toFixed(1)} MB`,
  ].join("\n");
}

export function formatGrowth(rounds: RoundResult[]): string {
  return [
    "",
    "Growth with history",
    table(
      [
        "history",
        "webhook req/s",
        "p99 ms",
        "server CPU µs/event",
        "empty req/s",
        "webhook/empty",
        "ledger rows",
        "database MB",
      ],
      rounds.map((round) => {
        const { webhook, empty } = round.scenarios;
        return [
          String(round.history),
          webhook.rps.toFixed(0),
          webhook.p99Ms.toFixed(0),
          webhook.serverCpuUs === null ? "-" : webhook.serverCpuUs.toFixed(0),
          empty.rps.toFixed(0),
          `${((webhook.rps / empty.rps) * 100).toFixed(1)} %`,
          String(round.ledgerRows),
          (round.databaseBytes / 1024 / 1024).toFixed(1),
        ];
      }),
    ),
  ].join("\n");
}
