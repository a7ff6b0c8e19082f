import type {
  ColumnType,
  Generated,
  Insertable,
  Selectable,
  Updateable,
} from "kysely";

type Timestamp = ColumnType<string, string | undefined, string>;

export interface UsersTable {
  id: Generated<number>;
  email: string;
  password_hash: string;
  stripe_customer_id: string | null;
  subscription_status: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SubscriptionsTable {
  id: Generated<number>;
  user_id: number | null;
  stripe_subscription_id: string;
  stripe_customer_id: string;
  plan: string | null;
  period: string | null;
  status: string;
  current_period_end: number | null;
  cancel_at_period_end: number;
  /** Stripe's `ended_at`: when the subscription stopped, once it has. */
  ended_at: number | null;
  stripe_created: number;
  last_event_created: number;
  last_event_kind: Generated<"subscription" | "invoice">;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WebhookEventsTable {
  id: string;
  type: string;
  created: number;
  outcome: string;
  processed_at: string;
}

export interface Database {
  users: UsersTable;
  subscriptions: SubscriptionsTable;
  webhook_events: WebhookEventsTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type SubscriptionRow = Selectable<SubscriptionsTable>;
export type NewSubscription = Insertable<SubscriptionsTable>;
export type SubscriptionUpdate = Updateable<SubscriptionsTable>;
export type WebhookEventRow = Selectable<WebhookEventsTable>;
