import type { SerializeFrom } from "@remix-run/node";
import { http, HttpResponse } from "msw";
import { afterEach, beforeEach, expect, test, vi } from "vitest";

import { clearPriceCache } from "~/billing/prices.server";

import { server } from "../../tests/mocks";
import { STRIPE_API, stripeMock } from "../../tests/mocks/stripe";
import { renderRoute, RENDER_CSRF_TOKEN } from "../../tests/support/render";

import PricingPage, { loader, meta } from "./tarifs";

// The design's formatter, built here on its own: the page must agree with it
// whatever spaces this ICU version puts in an amount.
const cad = new Intl.NumberFormat("fr-CA", {
  style: "currency",
  currency: "CAD",
});

const EVERY_OFFER = [
  ["dictia-8", "monthly"],
  ["dictia-8", "yearly"],
  ["dictia-16", "monthly"],
  ["dictia-16", "yearly"],
  ["dictia-cloud", "monthly"],
  ["dictia-cloud", "yearly"],
];

beforeEach(() => {
  clearPriceCache();
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

test("every plan shows its amount per period in CAD, taxes en sus, with its setup fee and yearly saving", async () => {
  const html = await renderPricingPage();

  for (const [dollars, per] of [
    [29, "par mois"],
    [290, "par année"],
    [49, "par mois"],
    [490, "par année"],
    [99, "par mois"],
    [990, "par année"],
  ] as const) {
    expect(html).toContain(
      `${cad.format(dollars)}</span> ${per}, taxes en sus`,
    );
  }
  expect(html).toContain(
    `Frais d’installation uniques : ${cad.format(49)}, sur la première facture.`,
  );
  expect(html).toContain(
    `Frais d’installation uniques : ${cad.format(199)}, sur la première facture.`,
  );
  for (const saving of [58, 98, 198]) {
    expect(html).toContain(
      `Économisez ${cad.format(saving)} par rapport à 12 paiements mensuels.`,
    );
  }
  expect(planSection(html, "dictia-16")).not.toContain("installation");
});

test("each offer is a POST form to /checkout/<plan> with its period, the page's attempt and the CSRF token", async () => {
  const data = await loadPricing();
  const html = renderRoute({
    url: "/tarifs",
    Component: PricingPage,
    loaderData: data,
  });

  const forms = formsOf(html);
  expect(forms.map(({ plan, period }) => [plan, period])).toEqual(EVERY_OFFER);
  for (const form of forms) {
    expect(form.csrf).toBe(RENDER_CSRF_TOKEN);
    expect(form.attempt).toBe(data.attempt);
    expect(form.button).toMatch(/^S’abonner à DictIA/);
  }
});

test("each page view brings a new attempt nonce", async () => {
  const first = await loadPricing();
  const second = await loadPricing();

  expect(first.attempt).toMatch(/^[\w-]{22}$/);
  expect(second.attempt).not.toBe(first.attempt);
});

test("a period without a configured Price is shown as not offered, without a form", async () => {
  vi.stubEnv("STRIPE_DICTIA_16_YEARLY", "");

  const html = await renderPricingPage();

  expect(formsOf(html).map(({ plan, period }) => [plan, period])).toEqual(
    EVERY_OFFER.filter(
      ([plan, period]) => !(plan === "dictia-16" && period === "yearly"),
    ),
  );
  expect(planSection(html, "dictia-16")).toContain(
    "Non offert pour le moment.",
  );
  expect(planSection(html, "dictia-16")).not.toContain("Économisez");
  expect(html).toContain(`${cad.format(49)}</span> par mois, taxes en sus`);
});

test("when Stripe cannot be reached, the plans are listed without amounts, with a notice", async () => {
  vi.spyOn(console, "error").mockImplementation(() => {});
  server.use(
    http.get(`${STRIPE_API}/v1/prices/:id`, () => HttpResponse.error()),
  );

  const data = await loadPricing();
  const html = renderRoute({
    url: "/tarifs",
    Component: PricingPage,
    loaderData: data,
  });

  expect(data.status).toBe("unavailable");
  expect(html).toContain(
    "Les montants ne peuvent pas être affichés pour le moment.",
  );
  expect(html).not.toContain("$");
  expect(html).not.toContain("Économisez");
  for (const name of ["DictIA 8", "DictIA 16", "DictIA Cloud"]) {
    expect(html).toContain(name);
  }
  expect(planSection(html, "dictia-8")).toContain(
    "Des frais d’installation uniques s’ajoutent à la première facture.",
  );
  // Checkout may still work: the offers stay open.
  expect(formsOf(html)).toHaveLength(EVERY_OFFER.length);
});

test("without STRIPE_SECRET_KEY the plans are listed with a notice and no form", async () => {
  vi.stubEnv("STRIPE_SECRET_KEY", undefined);

  const html = await renderPricingPage();

  expect(html).toContain("Le paiement en ligne n’est pas encore offert.");
  expect(html).toContain("DictIA Cloud");
  expect(html).not.toContain("$");
  expect(formsOf(html)).toHaveLength(0);
  expect(stripeMock.requests).toHaveLength(0);
});

test("the page has a French title", () => {
  const descriptors = meta({
    data: undefined,
    params: {},
    location: {
      pathname: "/tarifs",
      search: "",
      hash: "",
      state: null,
      key: "default",
    },
    matches: [],
  });

  expect(descriptors).toContainEqual({ title: "Tarifs – DictIA" });
});

async function loadPricing() {
  const response = await loader();
  return (await response.json()) as SerializeFrom<typeof loader>;
}

async function renderPricingPage() {
  return renderRoute({
    url: "/tarifs",
    Component: PricingPage,
    loaderData: await loadPricing(),
  });
}

/** The markup of one plan's card. */
function planSection(html: string, plan: string): string {
  const card = html.match(
    new RegExp(`<article [^>]*aria-labelledby="plan-${plan}".*?</article>`),
  );
  if (!card) throw new Error(`No card for ${plan}`);
  return card[0];
}

/** Every form of the page: where it posts, and what it carries. */
function formsOf(html: string) {
  return [...html.matchAll(/<form ([^>]*)>(.*?)<\/form>/g)].map(
    ([, attributes = "", body = ""]) => {
      const valueOf = (name: string) =>
        body
          .match(new RegExp(`<input [^>]*name="${name}"[^>]*>`))?.[0]
          .match(/value="([^"]*)"/)?.[1];
      expect(attributes).toMatch(/method="post"/);
      return {
        plan: attributes.match(/action="\/checkout\/([^"]+)"/)?.[1],
        period: valueOf("period"),
        csrf: valueOf("csrf"),
        attempt: valueOf("attempt"),
        button: body.match(/<button [^>]*>(.*?)<\/button>/)?.[1],
      };
    },
  );
}
