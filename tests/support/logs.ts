import { afterEach, beforeEach, expect, vi } from "vitest";

/**
 * Collects what the code logs during each test of the file, instead of
 * printing it, and fails any test whose log lines carry an email address.
 * Also undoes the test's environment stubs and spies afterwards.
 */
export function captureLogs(): readonly string[] {
  const logs: string[] = [];
  beforeEach(() => {
    logs.length = 0;
    for (const level of ["info", "warn", "error"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        logs.push(args.map(String).join(" "));
      });
    }
  });
  afterEach(() => {
    expect(logs.join("\n")).not.toContain("@");
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });
  return logs;
}
