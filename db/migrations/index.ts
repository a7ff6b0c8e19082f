import type { Migration } from "kysely";

import * as createUsers from "./2026_12_04_120000_create_users";
import * as createSubscriptions from "./2026_12_04_120100_create_subscriptions";
import * as createWebhookEvents from "./2026_12_04_120200_create_webhook_events";
import * as addSubscriptionEndedAt from "./2026_12_05_090000_add_subscription_ended_at";

// One list for the bundled server, the scripts and the tests: a file-system
// provider would import by path at run time, which a bundle cannot do.
export const migrations: Record<string, Migration> = {
  "2026_12_04_120000_create_users": createUsers,
  "2026_12_04_120100_create_subscriptions": createSubscriptions,
  "2026_12_04_120200_create_webhook_events": createWebhookEvents,
  "2026_12_05_090000_add_subscription_ended_at": addSubscriptionEndedAt,
};
