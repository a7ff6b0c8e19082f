import { http, HttpResponse } from "msw";
import { afterEach, beforeEach, expect, test, vi } from "vitest";

import { clearPriceCache, getPricing } from "~/billing/prices.server";

import { server } from "../../tests/mocks";
import { STRIPE_API, stripeError, stripeMock } from "../../tests/mocks/stripe";

beforeEach(() => {
  clearPriceCache();
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

test("reads every configured Price once and returns cents, setup fee and yearly saving", async () => {
  const pricing = await getPricing();

  expect(pricing.status).toBe("ok");
  expect(pricing.plans["dictia-8"]).toEqual({
    periods: {
      monthly: { available: true, price: { amount: 2900, currency: "cad" } },
      yearly: { available: true, price: { amount: 29000, currency: "cad" } },
    },
    hasSetupFee: true,
    setupFee: { amount: 4900, currency: "cad" },
    // 12 × 29,00 $ − 290,00 $
    yearlySaving: { amount: 5800, currency: "cad" },
  });
  expect(pricing.plans["dictia-16"]).toEqual({
    periods: {
      monthly: { available: true, price: { amount: 4900, currency: "cad" } },
      yearly: { available: true, price: { amount: 49000, currency: "cad" } },
    },
    hasSetupFee: false,
    setupFee: null,
    yearlySaving: { amount: 9800, currency: "cad" },
  });
  expect(pricing.plans["dictia-cloud"].setupFee).toEqual({
    amount: 19900,
    currency: "cad",
  });
  expect(priceReads().sort()).toEqual([
    "/v1/prices/price_dictia16_monthly",
    "/v1/prices/price_dictia16_yearly",
    "/v1/prices/price_dictia8_monthly",
    "/v1/prices/price_dictia8_setup",
    "/v1/prices/price_dictia8_yearly",
    "/v1/prices/price_dictiacloud_monthly",
    "/v1/prices/price_dictiacloud_setup",
    "/v1/prices/price_dictiacloud_yearly",
  ]);
});

test("answers from memory for a few minutes, then reads Stripe again", async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date("2026-12-04T12:00:00Z"));
  await getPricing();
  const firstRound = priceReads().length;

  vi.setSystemTime(new Date("2026-12-04T12:04:00Z"));
  await getPricing();
  expect(priceReads()).toHaveLength(firstRound);

  vi.setSystemTime(new Date("2026-12-04T12:06:00Z"));
  await getPricing();
  expect(priceReads()).toHaveLength(firstRound * 2);
});

test("a cleared cache is read again at once", async () => {
  await getPricing();
  const firstRound = priceReads().length;

  clearPriceCache();
  await getPricing();

  expect(firstRound).toBeGreaterThan(0);
  expect(priceReads()).toHaveLength(firstRound * 2);
});

test("concurrent page views share one round of requests", async () => {
  await Promise.all([getPricing(), getPricing(), getPricing()]);

  expect(priceReads()).toHaveLength(8);
});

test("a period without a configured Price is unavailable and has no saving", async () => {
  vi.stubEnv("STRIPE_DICTIA_16_YEARLY", "");

  const pricing = await getPricing();

  expect(pricing.status).toBe("ok");
  expect(pricing.plans["dictia-16"].periods.yearly).toEqual({
    available: false,
    price: null,
  });
  expect(pricing.plans["dictia-16"].periods.monthly.available).toBe(true);
  expect(pricing.plans["dictia-16"].yearlySaving).toBeNull();
  expect(priceReads()).not.toContain("/v1/prices/price_dictia16_yearly");
});

test("without STRIPE_SECRET_KEY the plans come without amounts and Stripe is not called", async () => {
  vi.stubEnv("STRIPE_SECRET_KEY", undefined);

  const pricing = await getPricing();

  expect(pricing.status).toBe("not_configured");
  expect(pricing.plans["dictia-8"]).toEqual({
    periods: {
      monthly: { available: true, price: null },
      yearly: { available: true, price: null },
    },
    hasSetupFee: true,
    setupFee: null,
    yearlySaving: null,
  });
  expect(stripeMock.requests).toHaveLength(0);
});

test("an unreachable Stripe gives a result that says so, kept briefly", async () => {
  const consoleError = vi.spyOn(console, "error").mockImplementation(() => {});
  let attempts = 0;
  server.use(
    http.get(`${STRIPE_API}/v1/prices/:id`, () => {
      attempts += 1;
      return HttpResponse.error();
    }),
  );
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date("2026-12-04T12:00:00Z"));

  const pricing = await getPricing();

  expect(pricing.status).toBe("unavailable");
  expect(pricing.plans["dictia-8"].periods.monthly).toEqual({
    available: true,
    price: null,
  });
  expect(pricing.plans["dictia-8"].setupFee).toBeNull();
  expect(consoleError).toHaveBeenCalledWith(
    expect.stringMatching(
      /^\[prices\] Stripe unreachable: StripeConnectionError/,
    ),
  );

  const attemptsDuringOutage = attempts;
  await getPricing();
  expect(attempts).toBe(attemptsDuringOutage);

  server.resetHandlers();
  vi.setSystemTime(new Date("2026-12-04T12:00:31Z"));
  const recovered = await getPricing();
  expect(recovered.status).toBe("ok");
  expect(recovered.plans["dictia-8"].periods.monthly.price).toEqual({
    amount: 2900,
    currency: "cad",
  });
});

test("an error answer from Stripe also renders the plans without amounts", async () => {
  vi.spyOn(console, "error").mockImplementation(() => {});
  server.use(
    http.get(`${STRIPE_API}/v1/prices/:id`, () =>
      stripeError(401, {
        type: "invalid_request_error",
        message: "Invalid API Key provided.",
      }),
    ),
  );

  const pricing = await getPricing();

  expect(pricing.status).toBe("unavailable");
  expect(pricing.plans["dictia-cloud"].periods.yearly.price).toBeNull();
});

test("a Price id that Stripe does not know hides only its own amount", async () => {
  const consoleWarn = vi.spyOn(console, "warn").mockImplementation(() => {});
  vi.stubEnv("STRIPE_DICTIA_8_SETUP", "price_does_not_exist");

  const pricing = await getPricing();

  expect(pricing.status).toBe("ok");
  expect(pricing.plans["dictia-8"].hasSetupFee).toBe(true);
  expect(pricing.plans["dictia-8"].setupFee).toBeNull();
  expect(pricing.plans["dictia-8"].periods.monthly.price).toEqual({
    amount: 2900,
    currency: "cad",
  });
  expect(consoleWarn).toHaveBeenCalledWith(
    "[prices] price=price_does_not_exist does not exist in Stripe",
  );
});

test("a Price that is not in CAD or has no fixed amount shows no amount", async () => {
  vi.spyOn(console, "warn").mockImplementation(() => {});
  const monthly = stripeMock.prices.get("price_dictia8_monthly");
  const yearly = stripeMock.prices.get("price_dictia8_yearly");
  if (!monthly || !yearly) throw new Error("Test prices are missing");
  monthly.currency = "usd";
  yearly.unit_amount = null;

  const pricing = await getPricing();

  expect(pricing.plans["dictia-8"].periods.monthly.price).toBeNull();
  expect(pricing.plans["dictia-8"].periods.yearly.price).toBeNull();
  expect(pricing.plans["dictia-8"].yearlySaving).toBeNull();
  expect(pricing.plans["dictia-16"].periods.monthly.price).not.toBeNull();
});

function priceReads(): string[] {
  return stripeMock.requests
    .filter((request) => request.method === "GET")
    .map((request) => request.path)
    .filter((path) => path.startsWith("/v1/prices/"));
}
