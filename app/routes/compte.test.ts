import type { SerializeFrom } from "@remix-run/node";
import { expect, test } from "vitest";

import { getDb } from "~/db.server";
import {
  applySubscriptionState,
  type SubscriptionState,
} from "~/models/subscription.server";

import {
  browserCookies,
  createTestUser,
  pageRequest,
  responseOf,
} from "../../tests/support/requests";
import { renderRoute } from "../../tests/support/render";

import AccountPage, { loader } from "./compte";

// 22 h 30 on December 31 in Toronto, already January 1 in UTC: the page must
// show Toronto's date.
const PERIOD_END = Date.UTC(2027, 0, 1, 3, 30) / 1000;
const TORONTO_DATE = new Intl.DateTimeFormat("fr-CA", {
  dateStyle: "long",
  timeZone: "America/Toronto",
}).format(new Date(PERIOD_END * 1000));
const UTC_DATE = new Intl.DateTimeFormat("fr-CA", {
  dateStyle: "long",
  timeZone: "UTC",
}).format(new Date(PERIOD_END * 1000));

test("an anonymous visitor is sent to log in and back to the account", async () => {
  const response = await responseOf(() =>
    loader({ request: pageRequest("/compte"), params: {}, context: {} }),
  );

  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toBe(
    "/connexion?redirectTo=%2Fcompte",
  );
});

test("without a subscription the page shows the email and a link to the plans", async () => {
  const user = await createTestUser();

  const { data, html } = await accountPage(user.id);

  expect(data.subscription).toBeNull();
  expect(html).toContain(user.email);
  expect(html).toMatch(/<a [^>]*href="\/tarifs"[^>]*>Voir les forfaits<\/a>/);
});

test("an active subscription shows its plan, « Actif » and the renewal date in Toronto", async () => {
  const user = await createTestUser();
  await subscribe(user.id, { status: "active" });

  const { html } = await accountPage(user.id);

  expect(TORONTO_DATE).not.toBe(UTC_DATE);
  expect(html).toContain("DictIA 16 — Annuel");
  expect(html).toContain("<dd>Actif</dd>");
  expect(html).toContain(
    `<dt>Prochain renouvellement</dt><dd>${TORONTO_DATE}</dd>`,
  );
  expect(html).not.toContain(UTC_DATE);
  expect(html).not.toContain("ne sera pas renouvelé");
  expect(html).not.toContain("n’a pas abouti");
});

test("a subscription canceled at period end says when it ends", async () => {
  const user = await createTestUser();
  await subscribe(user.id, { status: "active", cancelAtPeriodEnd: true });

  const { data, html } = await accountPage(user.id);

  expect(data.subscription?.cancelAtPeriodEnd).toBe(true);
  expect(html).toContain(
    `Votre abonnement ne sera pas renouvelé : il se termine le ${TORONTO_DATE}.`,
  );
  expect(html).toContain(`<dt>Date de fin</dt><dd>${TORONTO_DATE}</dd>`);
  expect(html).not.toContain("Prochain renouvellement");
});

test("a past-due subscription shows « Paiement en retard » and a warning", async () => {
  const user = await createTestUser();
  await subscribe(user.id, { status: "past_due" });

  const { html } = await accountPage(user.id);

  expect(html).toContain("<dd>Paiement en retard</dd>");
  expect(html).toContain("Le dernier paiement n’a pas abouti.");
});

test("an unpaid subscription says access is suspended", async () => {
  const user = await createTestUser();
  await subscribe(user.id, { status: "unpaid" });

  const { html } = await accountPage(user.id);

  expect(html).toContain("<dd>Impayé</dd>");
  expect(html).toContain("l’accès à DictIA est suspendu");
  expect(html).not.toContain("Prochain renouvellement");
});

test("a canceled subscription shows « Annulé », its end date and a way back to the plans", async () => {
  const user = await createTestUser();
  await subscribe(user.id, { status: "canceled" });

  const { html } = await accountPage(user.id);

  expect(html).toContain("<dd>Annulé</dd>");
  expect(html).toContain(`<dt>Date de fin</dt><dd>${TORONTO_DATE}</dd>`);
  expect(html).toMatch(
    /<a [^>]*href="\/tarifs"[^>]*>Choisir un nouveau forfait<\/a>/,
  );
});

let subscriptionCount = 0;

async function subscribe(
  userId: number,
  overrides: Partial<SubscriptionState>,
): Promise<void> {
  subscriptionCount += 1;
  const created = 1_790_000_000 + subscriptionCount;
  await applySubscriptionState(
    await getDb(),
    {
      stripeSubscriptionId: `sub_compte_${subscriptionCount}`,
      stripeCustomerId: `cus_compte_${subscriptionCount}`,
      status: "active",
      plan: "dictia-16",
      period: "yearly",
      currentPeriodEnd: PERIOD_END,
      cancelAtPeriodEnd: false,
      stripeCreated: created,
      ...overrides,
    },
    created,
    userId,
  );
}

/** The loader's data for a logged-in user, and the page rendered from it. */
async function accountPage(userId: number) {
  const { cookie } = await browserCookies(userId);
  const response = await responseOf(() =>
    loader({
      request: pageRequest("/compte", { cookie }),
      params: {},
      context: {},
    }),
  );
  expect(response.status).toBe(200);
  const data = (await response.json()) as SerializeFrom<typeof loader>;
  const html = renderRoute({
    url: "/compte",
    Component: AccountPage,
    loaderData: data,
  });
  return { data, html };
}
