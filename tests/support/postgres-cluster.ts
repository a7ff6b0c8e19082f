import { execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/**
 * A throwaway PostgreSQL cluster for tests and benchmarks: Debian's binaries
 * (`apt-get install postgresql`), a data directory under the system's temp
 * folder, listening on 127.0.0.1 only, on a free port, with a random
 * password. `stop()` shuts it down and deletes everything it wrote.
 */

export type PostgresCluster = {
  /** The superuser's URL on the `postgres` database (holds the password). */
  url: string;
  stop(): Promise<void>;
  /** The same, synchronously, for a process that is exiting. */
  stopSync(): void;
};

const BINARY_ROOT = "/usr/lib/postgresql";

/** The newest installed `…/bin` holding initdb and pg_ctl, if any. */
export function findPostgresBinaries(): string | null {
  if (!fs.existsSync(BINARY_ROOT)) return null;
  const versions = fs
    .readdirSync(BINARY_ROOT)
    .filter((version) =>
      fs.existsSync(path.join(BINARY_ROOT, version, "bin", "initdb")),
    )
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(BINARY_ROOT, versions[0], "bin") : null;
}

export const POSTGRES_NOT_INSTALLED =
  "PostgreSQL is not installed: the suite runs on SQLite and PostgreSQL. " +
  "Install it (Debian: `apt-get install -y postgresql`) so `npm test` can " +
  "start a throwaway cluster, or set TEST_POSTGRES_URL=postgres://… to a " +
  "server of yours on which the tests may create and drop databases.";

type Owner = { uid: number; gid: number } | undefined;

// initdb refuses to run as root: as root, the cluster belongs to the
// `postgres` user that Debian's package creates.
function clusterOwner(): Owner {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) =>
    Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function run(command: string, args: string[], owner: Owner): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      ...owner,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code === 0) resolve();
      else {
        reject(
          new Error(`${path.basename(command)} exited ${code}:\n${output}`),
        );
      }
    });
  });
}

/**
 * Starts a cluster. `durable: false` (tests) turns fsync off: the data is
 * thrown away anyway. Benchmarks keep PostgreSQL's defaults.
 */
export async function startPostgresCluster(
  options: { durable?: boolean } = {},
): Promise<PostgresCluster> {
  const bin = findPostgresBinaries();
  if (!bin) throw new Error(POSTGRES_NOT_INSTALLED);
  const owner = clusterOwner();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "dictia-postgres-"));
  const dataDir = path.join(base, "data");
  const passwordFile = path.join(base, "password");
  const password = crypto.randomBytes(18).toString("base64url");
  fs.writeFileSync(passwordFile, password, { mode: 0o600 });
  fs.chmodSync(base, 0o700);
  if (owner) {
    fs.chownSync(base, owner.uid, owner.gid);
    fs.chownSync(passwordFile, owner.uid, owner.gid);
  }
  const user = "dictia";
  const port = await freePort();
  const settings = [
    "listen_addresses=127.0.0.1",
    `port=${port}`,
    // The socket stays in the cluster's own folder, not the system's.
    `unix_socket_directories=${base}`,
    "max_connections=200",
    ...(options.durable ? [] : ["fsync=off", "synchronous_commit=off"]),
  ];
  const stop = async () => {
    if (fs.existsSync(path.join(dataDir, "postmaster.pid"))) {
      await run(
        path.join(bin, "pg_ctl"),
        ["-D", dataDir, "-m", "fast", "-w", "stop"],
        owner,
      );
    }
    fs.rmSync(base, { recursive: true, force: true });
  };
  const stopSync = () => {
    if (fs.existsSync(path.join(dataDir, "postmaster.pid"))) {
      try {
        execFileSync(
          path.join(bin, "pg_ctl"),
          ["-D", dataDir, "-m", "immediate", "-w", "stop"],
          { ...owner, stdio: "ignore" },
        );
      } catch {
        // Already stopping; the folder goes anyway.
      }
    }
    fs.rmSync(base, { recursive: true, force: true });
  };
  try {
    await run(
      path.join(bin, "initdb"),
      [
        "-D",
        dataDir,
        "-U",
        user,
        `--pwfile=${passwordFile}`,
        "--auth=scram-sha-256",
        "-E",
        "UTF8",
        "--no-locale",
      ],
      owner,
    );
    await run(
      path.join(bin, "pg_ctl"),
      [
        "-D",
        dataDir,
        "-l",
        path.join(base, "server.log"),
        "-w",
        "-o",
        settings.map((setting) => `-c ${setting}`).join(" "),
        "start",
      ],
      owner,
    );
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
  const url = `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  return { url, stop, stopSync };
}
