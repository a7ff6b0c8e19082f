import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

/**
 * The built server (`npm run build`, which `npm test` runs first) started
 * the way `npm start` does, as its own process on 127.0.0.1, for tests that
 * need real HTTP, real processes and the SQLite file on disk.
 */

export const ROOT = path.resolve(import.meta.dirname, "..", "..");
const SERVER_BUILD = path.join(ROOT, "build", "index.js");
const SERVE_CLI = path.join(
  ROOT,
  "node_modules",
  "@remix-run",
  "serve",
  "dist",
  "cli.js",
);

export type AppServer = {
  origin: string;
  port: number;
  process: ChildProcess;
  /** Everything the server printed so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after five seconds; resolves once it exited. */
  stop(): Promise<void>;
  /** Ends it at once, as a crash would. */
  kill(): Promise<void>;
};

export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * Starts the server on `databaseFile` and waits until it answers. Every
 * variable is given, so a developer's `.env` cannot leak in; `env` adds to
 * or overrides them.
 */
export async function startAppServer(options: {
  databaseFile: string;
  env?: Record<string, string>;
  port?: number;
}): Promise<AppServer> {
  if (!fs.existsSync(SERVER_BUILD)) {
    throw new Error("No server build: run `npm run build` (npm test does).");
  }
  const port = options.port ?? (await freePort());
  const origin = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [SERVE_CLI, SERVER_BUILD], {
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
    stdio: ["ignore", "pipe", "pipe"],
  });
  const chunks: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => chunks.push(chunk));
  }
  const output = () => chunks.join("");
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  const server: AppServer = {
    origin,
    port,
    process: child,
    output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
  };
  await waitUntilServing(server);
  return server;
}

async function waitUntilServing(server: AppServer) {
  for (let attempt = 0; attempt < 150; attempt += 1) {
    if (server.process.exitCode !== null) {
      throw new Error(
        `The server exited (${server.process.exitCode}):\n${server.output()}`,
      );
    }
    try {
      const response = await fetch(`${server.origin}/tarifs`, {
        redirect: "manual",
      });
      await response.arrayBuffer();
      if (response.status < 500) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await server.kill();
  throw new Error(`The server did not answer:\n${server.output()}`);
}
