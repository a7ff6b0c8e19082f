import crypto from "node:crypto";

import pg from "pg";

/**
 * Creates an empty database on the server of `serverUrl` (a superuser's, or
 * a role that may create databases) and returns its URL and how to drop it.
 */
export async function createDatabase(
  serverUrl: string,
  prefix = "dictia_test",
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${crypto.randomBytes(6).toString("hex")}`;
  await onServer(serverUrl, `create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    // FORCE: a pool some test forgot to close must not keep it alive.
    drop: () =>
      onServer(serverUrl, `drop database if exists ${name} with (force)`),
  };
}

async function onServer(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
