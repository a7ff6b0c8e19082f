import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, expect, test } from "vitest";

import { startAppServer, type AppServer } from "./support/app-server";

/**
 * The built server writes one `[http]` line per request it answers, whatever
 * path Remix takes to answer it (a rendered page, a data request of the
 * browser's router, a resource route, a redirect without JavaScript), with
 * the path only: no query string, no email.
 */

const EMAIL = "journal-http@exemple.test";

let tmpDir: string;
let server: AppServer | undefined;

beforeAll(async () => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "dictia-request-log-"));
  server = await startAppServer({
    databaseFile: path.join(tmpDir, "app.sqlite"),
    env: { STRIPE_SECRET_KEY: "", STRIPE_WEBHOOK_SECRET: "whsec_journal" },
  });
});

afterAll(async () => {
  await server?.stop();
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
});

test("every kind of request gets exactly one [http] line, with its path and status only", async () => {
  const app = requireServer();
  // startAppServer polled /tarifs until the server answered: those lines
  // come before ours.
  const before = httpLines(app.output()).length;

  const answers = [
    await send("GET", "/tarifs?utm_source=courriel"),
    await send("GET", "/compte"),
    await send("GET", "/compte?_data=routes%2Fcompte"),
    await send("GET", "/tarifs?_data=root"),
    await send("GET", "/healthz"),
    await send("POST", "/connexion?redirectTo=%2Fcompte", {
      email: EMAIL,
      password: "x",
    }),
    await send("POST", "/checkout/webhooks/stripe", { non: "signé" }),
  ];
  await app.stop();

  expect(answers).toEqual([200, 302, 204, 200, 200, 303, 400]);
  const lines = httpLines(app.output()).slice(before);
  expect(lines).toEqual([
    expect.stringMatching(/^\[http\] GET \/tarifs 200 \d+\.\dms$/),
    expect.stringMatching(/^\[http\] GET \/compte 302 \d+\.\dms$/),
    // The router's data request for the same page: the redirect is logged
    // with the loader's own status, once.
    expect.stringMatching(/^\[http\] GET \/compte 302 \d+\.\dms$/),
    "[http] GET /tarifs 200 data",
    expect.stringMatching(/^\[http\] GET \/healthz 200 \d+\.\dms$/),
    // Without a CSRF cookie the form goes back where it came from.
    expect.stringMatching(/^\[http\] POST \/connexion 303 \d+\.\dms$/),
  ]);
  // The webhook (the last request) writes its own line per delivery, and
  // no second one.
  expect(lines.join("\n")).not.toContain(EMAIL);
});

function requireServer(): AppServer {
  if (!server) throw new Error("The server did not start");
  return server;
}

async function send(
  method: "GET" | "POST",
  pathAndQuery: string,
  form?: Record<string, string>,
): Promise<number> {
  const response = await fetch(`${requireServer().origin}${pathAndQuery}`, {
    method,
    redirect: "manual",
    ...(form && {
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form),
    }),
  });
  await response.arrayBuffer();
  return response.status;
}

function httpLines(output: string): string[] {
  return output.split("\n").filter((line) => line.startsWith("[http] "));
}
