/** The Price ids of .env.example, which the Stripe double also knows. */
export const EXAMPLE_PRICE_IDS = {
  STRIPE_DICTIA_8_MONTHLY: "price_dictia8_monthly",
  STRIPE_DICTIA_8_YEARLY: "price_dictia8_yearly",
  STRIPE_DICTIA_8_SETUP: "price_dictia8_setup",
  STRIPE_DICTIA_16_MONTHLY: "price_dictia16_monthly",
  STRIPE_DICTIA_16_YEARLY: "price_dictia16_yearly",
  STRIPE_DICTIA_16_SETUP: "",
  STRIPE_DICTIA_CLOUD_MONTHLY: "price_dictiacloud_monthly",
  STRIPE_DICTIA_CLOUD_YEARLY: "price_dictiacloud_yearly",
  STRIPE_DICTIA_CLOUD_SETUP: "price_dictiacloud_setup",
} as const;

/** The environment every test starts from; a test may change it and restore it. */
export const TEST_ENV = {
  NODE_ENV: "test",
  SESSION_SECRET: "test-session-secret",
  APP_URL: "https://dictia.test",
  STRIPE_SECRET_KEY: "sk_test_dictia",
  STRIPE_WEBHOOK_SECRET: "whsec_test_dictia",
  STRIPE_API_BASE_URL: "",
  ...EXAMPLE_PRICE_IDS,
} as const;
