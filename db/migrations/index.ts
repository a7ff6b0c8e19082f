import type { Migration } from "kysely";

import * as createUsers from "./2026_12_04_120000_create_users";
import * as createSubscriptions from "./2026_12_04_120100_create_subscriptions";
import * as createWebhookEvents from "./2026_12_04_120200_create_webhook_events";

// One list for the bundled server, the scripts and the tests: a file-system
// provider would import by path at run time, which a bundle cannot do.
export const migrations: Record<string, Migration> = {
  "2026_12_04_120000_create_users": createUsers,
  "2026_12_04_120100_create_subscriptions": createSubscriptions,
  "2026_12_04_120200_create_webhook_events": createWebhookEvents,
};
