import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

import { freePort, ROOT } from "../tests/support/app-server";

/** What /proc says of a process: memory in bytes, CPU time in seconds. */
export type ProcessSample = { rssBytes: number; peakRssBytes: number };

// Linux's USER_HZ: /proc/<pid>/stat counts CPU time in hundredths of a
// second on every architecture Node runs on.
const TICKS_PER_SECOND = 100;

export function sampleMemory(pid: number): ProcessSample | null {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const kib = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) *
    1024;
  return { rssBytes: kib("VmRSS"), peakRssBytes: kib("VmHWM") };
}

/** User plus system CPU time the process has used so far, in seconds. */
export function cpuSeconds(pid: number): number | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name may hold spaces: fields are counted after its ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const user = Number(fields[11]);
  const system = Number(fields[12]);
  return (user + system) / TICKS_PER_SECOND;
}

/**
 * Peak memory of a process, sampled until `stop()`: over its whole life
 * (the kernel's high-water mark) and since the last `startPhase()`.
 */
export function watchMemory(pid: number, everyMs = 50) {
  let peak = 0;
  let phasePeak = 0;
  const sample = () => {
    const current = sampleMemory(pid);
    if (!current) return;
    peak = Math.max(peak, current.rssBytes, current.peakRssBytes);
    phasePeak = Math.max(phasePeak, current.rssBytes);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return {
    startPhase() {
      sample();
      phasePeak = sampleMemory(pid)?.rssBytes ?? 0;
    },
    phasePeak(): number {
      sample();
      return phasePeak;
    },
    stop(): number {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

// Servers this process started: never left running after it, whether it
// ends normally, on an uncaught error or (see run.ts) on Ctrl-C.
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

function track(child: ChildProcess): void {
  running.add(child);
  child.once("exit", () => running.delete(child));
}

/** A child process that prints one line (its origin) once it listens. */
export type Child = {
  origin: string;
  process: ChildProcess;
  stop(): Promise<void>;
};

export async function startChild(
  args: string[],
  env: Record<string, string>,
): Promise<Child> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, NODE_ENV: "production", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  track(child);
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", resolve));
  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${args.join(" ")} did not start:\n${output}`));
    }, 30_000);
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => (output += chunk));
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      output += chunk;
      const line = /^(http:\/\/127\.0\.0\.1:\d+)$/m.exec(output);
      if (line?.[1]) {
        clearTimeout(timer);
        resolve(line[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(" ")} exited (${code}):\n${output}`));
    });
  });
  return {
    origin,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const SOURCES = ["app", "db", "remix.config.js", "package.json"];

function newestChange(entry: string): number {
  const stat = fs.statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of fs.readdirSync(entry)) {
    if (name.endsWith(".sqlite") || name.includes(".sqlite-")) continue;
    newest = Math.max(newest, newestChange(path.join(entry, name)));
  }
  return newest;
}

/**
 * Builds the server unless build/index.js is newer than every source, so a
 * fresh clone and an edited tree are measured as they are.
 */
export function ensureBuild(log: (line: string) => void): void {
  const built = path.join(ROOT, "build", "index.js");
  const sourcesChanged = Math.max(
    ...SOURCES.map((entry) => newestChange(path.join(ROOT, entry))),
  );
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= sourcesChanged) {
    return;
  }
  log("building the server (remix build)…");
  const remix = path.join(ROOT, "node_modules", ".bin", "remix");
  const result = spawnSync(remix, ["build"], {
    cwd: ROOT,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (result.status !== 0) throw new Error("remix build failed");
}

/** The built app, run the way `npm start` runs it, for the benchmark. */
export type BenchServer = {
  origin: string;
  pid: number;
  /** The end of what it printed. */
  output(): string;
  /** SIGTERM, then SIGKILL after five seconds; resolves once it exited. */
  stop(): Promise<void>;
};

const SERVE_CLI = path.join(
  ROOT,
  "node_modules",
  "@remix-run",
  "serve",
  "dist",
  "cli.js",
);

/**
 * The Node flags `npm start` runs the server with (package.json's
 * config.nodeOptions), so the benchmark measures what production runs.
 */
export function productionNodeOptions(): string[] {
  const manifest: unknown = JSON.parse(
    fs.readFileSync(path.join(ROOT, "package.json"), "utf8"),
  );
  const options =
    typeof manifest === "object" &&
    manifest !== null &&
    "config" in manifest &&
    typeof manifest.config === "object" &&
    manifest.config !== null &&
    "nodeOptions" in manifest.config &&
    typeof manifest.config.nodeOptions === "string"
      ? manifest.config.nodeOptions
      : "";
  return options.split(/\s+/).filter((option) => option !== "");
}

/**
 * Starts build/index.js with remix-serve in production mode on 127.0.0.1,
 * with the Node flags of `npm start` and only the variables given, and waits until it answers. Its output
 * goes to a file rather than a pipe: Node writes to a pipe synchronously,
 * so a load generator slow to read it would stall the server it measures.
 */
export async function startBuiltServer(options: {
  databaseFile: string;
  logFile: string;
  env: Record<string, string>;
  port?: number;
  nodeArgs?: string[];
}): Promise<BenchServer> {
  const port = options.port ?? (await freePort());
  const origin = `http://127.0.0.1:${port}`;
  const log = fs.openSync(options.logFile, "a");
  const child = spawn(
    process.execPath,
    [
      ...productionNodeOptions(),
      ...(options.nodeArgs ?? []),
      SERVE_CLI,
      path.join(ROOT, "build", "index.js"),
    ],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: "production",
        HOST: "127.0.0.1",
        PORT: String(port),
        DATABASE_URL: `file:${options.databaseFile}`,
        APP_URL: origin,
        SESSION_SECRET: crypto.randomBytes(24).toString("base64url"),
        ...options.env,
      },
      stdio: ["ignore", log, log],
    },
  );
  track(child);
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => resolve()),
  );
  const pid = child.pid;
  const output = () => {
    const text = fs.readFileSync(options.logFile, "utf8");
    return text.slice(-4000);
  };
  const server: BenchServer = {
    origin,
    pid: pid ?? -1,
    output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  if (pid === undefined) throw new Error("The server did not start");
  for (let attempt = 0; attempt < 150; attempt += 1) {
    if (child.exitCode !== null) {
      throw new Error(`The server exited (${child.exitCode}):\n${output()}`);
    }
    try {
      const response = await fetch(`${origin}/tarifs`, { redirect: "manual" });
      await response.arrayBuffer();
      if (response.status < 500) return server;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await server.stop();
  throw new Error(`The server did not answer:\n${output()}`);
}
