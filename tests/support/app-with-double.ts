import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import {
  priceSeedsFromEnv,
  startStripeDouble,
  type StripeDouble,
} from "../../scripts/stripe-double";
import { freePort, startAppServer, type AppServer } from "./app-server";
import { EXAMPLE_PRICE_IDS } from "./env";

/** The built server and the local Stripe double, wired to each other. */
export type AppWithDouble = {
  databaseFile: string;
  origin: string;
  webhookUrl: string;
  webhookSecret: string;
  double: StripeDouble;
  server: AppServer;
  /** Stops both and removes the database. */
  stop(): Promise<void>;
};

/**
 * Starts the double on a free port, then the app on its own SQLite file in
 * a new temporary folder, configured with the example Price ids (those of
 * .env.example) and a webhook secret the double signs its deliveries with.
 */
export async function startAppWithDouble(options: {
  /** Names the temporary folder and the secret, to tell runs apart. */
  name: string;
  /** Seed the customer and subscription of examples/events/. */
  seedDemo?: boolean;
}): Promise<AppWithDouble> {
  const tmpDir = fs.mkdtempSync(
    path.join(os.tmpdir(), `dictia-${options.name}-`),
  );
  const removeDir = () => fs.rmSync(tmpDir, { recursive: true, force: true });
  const databaseFile = path.join(tmpDir, "app.sqlite");
  const webhookSecret = `whsec_${options.name}_${crypto.randomBytes(12).toString("hex")}`;
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const webhookUrl = `${origin}/checkout/webhooks/stripe`;
  let double: StripeDouble | undefined;
  try {
    double = await startStripeDouble({
      port: 0,
      webhookUrl,
      webhookSecret,
      prices: priceSeedsFromEnv(EXAMPLE_PRICE_IDS),
      seedDemo: options.seedDemo,
      env: EXAMPLE_PRICE_IDS,
    });
    const server = await startAppServer({
      databaseFile,
      port,
      env: {
        STRIPE_SECRET_KEY: `sk_test_${options.name}`,
        STRIPE_WEBHOOK_SECRET: webhookSecret,
        STRIPE_API_BASE_URL: double.url,
        ...EXAMPLE_PRICE_IDS,
      },
    });
    const started = double;
    return {
      databaseFile,
      origin,
      webhookUrl,
      webhookSecret,
      double: started,
      server,
      async stop() {
        await server.stop();
        await started.close();
        removeDir();
      },
    };
  } catch (error) {
    await double?.close();
    removeDir();
    throw error;
  }
}
