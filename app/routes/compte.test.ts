import type { SerializeFrom } from "@remix-run/node";
import { http } from "msw";
import { expect, test } from "vitest";

import { ACCOUNT_DELETION_ERROR_MESSAGES } from "~/billing/account-deletion.server";
import { readSubscriptionState } from "~/billing/stripe-objects.server";
import { getDb } from "~/db.server";
import {
  applySubscriptionState,
  getSubscriptionByStripeId,
  type SubscriptionState,
} from "~/models/subscription.server";
import {
  getUserByEmail,
  getUserById,
  setUserStripeCustomerId,
} from "~/models/user.server";

import { server } from "../../tests/mocks";
import { STRIPE_API, stripeError, stripeMock } from "../../tests/mocks/stripe";
import {
  browserCookies,
  createTestUser,
  flashOf,
  formRequest,
  pageRequest,
  responseOf,
  sessionUserIdOf,
  TEST_PASSWORD,
} from "../../tests/support/requests";
import { renderRoute } from "../../tests/support/render";
import { deliver } from "../../tests/support/stripe-webhooks";

import AccountPage, { action, loader } from "./compte";
import { captureLogs } from "../../tests/support/logs";

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

const DELETE_INTENT = "supprimer-compte";

const logs = captureLogs();

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

test("a subscription canceled at once shows the day it ended, not the end of its paid period", async () => {
  const user = await createTestUser();
  const endedAt = PERIOD_END - 90 * 86_400;
  await subscribe(user.id, { status: "canceled", endedAt });

  const { html } = await accountPage(user.id);

  expect(html).toContain(`<dt>Date de fin</dt><dd>${formatDate(endedAt)}</dd>`);
  expect(html).not.toContain(TORONTO_DATE);
});

test.each([
  ["past_due", "Mettre à jour mon moyen de paiement"],
  ["unpaid", "Régler ma facture"],
])(
  "a %s subscription's warning has a button to the billing portal",
  async (status, button) => {
    const user = await createTestUser();
    await setUserStripeCustomerId(await getDb(), user.id, `cus_${status}`);
    await subscribe(user.id, { status });

    const { html } = await accountPage(user.id);

    const warning =
      /<div class="notice notice-warning" role="alert">.*?<\/div>/s.exec(
        html,
      )?.[0];
    expect(warning).toMatch(
      new RegExp(
        `<form method="post" action="/compte/portail"[^>]*>.*<button type="submit">${button}</button>`,
        "s",
      ),
    );
  },
);

test("with a Stripe customer, /compte offers the billing portal through a CSRF-checked form", async () => {
  const user = await createTestUser();
  await setUserStripeCustomerId(await getDb(), user.id, "cus_compte_portail");
  await subscribe(user.id, { status: "active" });

  const { data, html } = await accountPage(user.id);

  expect(data.hasBillingAccount).toBe(true);
  expect(html).toMatch(
    /<form method="post" action="\/compte\/portail"[^>]*><input type="hidden" name="csrf" value="[^"]+"\/><button type="submit">Gérer mon abonnement et mes factures<\/button><\/form>/,
  );
});

test("a subscription linked only through the email offers no portal: the customer is someone else's", async () => {
  const user = await createTestUser();
  await subscribe(user.id, { status: "past_due" });

  const { data, html } = await accountPage(user.id);

  expect(data.hasBillingAccount).toBe(false);
  expect(html).toContain("Le dernier paiement n’a pas abouti.");
  expect(html).not.toContain("/compte/portail");
});

test("the right password cancels the running subscription at Stripe first, then deletes the user, keeps the subscription unlinked and ends the session", async () => {
  const { user, browser, subscriptionId } = await payingUser();
  const db = await getDb();
  let userWhenCanceled: unknown = "not canceled";
  server.use(
    http.delete(`${STRIPE_API}/v1/subscriptions/:id`, async () => {
      userWhenCanceled = await getUserById(db, user.id);
      // Nothing returned: the default handler (the in-memory Stripe) answers.
    }),
  );

  const response = await deleteRequest(browser, TEST_PASSWORD);

  expect(response.status).toBe(303);
  expect(response.headers.get("Location")).toBe("/tarifs");
  expect(await flashOf(response)).toEqual({
    kind: "success",
    message: "Votre compte a été supprimé.",
  });
  expect(await sessionUserIdOf(response)).toBeNull();
  expect(userWhenCanceled).toMatchObject({ id: user.id });
  const [cancel, ...others] = stripeMock.requestsTo(
    "DELETE",
    `/v1/subscriptions/${subscriptionId}`,
  );
  expect(others).toEqual([]);
  expect(cancel?.idempotencyKey).toBe(
    `dictia:subscriptions.cancel:user=${user.id}:subscription=${subscriptionId}:reason=account_deletion`,
  );
  expect(stripeMock.subscriptions.get(subscriptionId)?.status).toBe("canceled");
  expect(await getUserById(db, user.id)).toBeUndefined();
  expect(await getSubscriptionByStripeId(db, subscriptionId)).toMatchObject({
    user_id: null,
    stripe_subscription_id: subscriptionId,
  });
  expect(logs).toContain(
    `[account] user ${user.id} deleted; 1 subscription(s) canceled at Stripe`,
  );
});

test("Stripe's events arriving after the deletion leave the subscription canceled and unlinked, and bring no account back", async () => {
  const { user, browser, subscriptionId } = await payingUser();
  await deleteRequest(browser, TEST_PASSWORD);
  const db = await getDb();
  const deleted = stripeMock.events.find(
    (event) => event.type === "customer.subscription.deleted",
  );
  const created = stripeMock.events.find(
    (event) => event.type === "customer.subscription.created",
  );
  if (!deleted || !created) throw new Error("Stripe recorded no event");

  const late = await deliver(deleted);
  // An older event delivered late names the deleted user in its metadata.
  const older = await deliver({ ...created, id: "evt_compte_rejoue" });

  expect([late.status, older.status]).toEqual([200, 200]);
  const row = await getSubscriptionByStripeId(db, subscriptionId);
  expect(row).toMatchObject({
    user_id: null,
    status: "canceled",
    ended_at: stripeMock.subscriptions.get(subscriptionId)?.ended_at,
  });
  expect(await getUserById(db, user.id)).toBeUndefined();
  expect(await getUserByEmail(db, user.email)).toBeUndefined();
});

test("a wrong password deletes nothing, calls Stripe for nothing, and puts the message on the field", async () => {
  const { user, browser, subscriptionId } = await payingUser();
  const requestsBefore = stripeMock.requests.length;

  const response = await deleteRequest(browser, "pas-le-bon-mot-de-passe");

  expect(response.status).toBe(400);
  const actionData = (await response.json()) as SerializeFrom<typeof action>;
  expect(actionData.errors).toEqual({
    password: "Mot de passe incorrect : votre compte n’a pas été supprimé.",
  });
  expect(stripeMock.requests).toHaveLength(requestsBefore);
  expect(await getUserById(await getDb(), user.id)).toMatchObject({
    id: user.id,
  });
  expect(stripeMock.subscriptions.get(subscriptionId)?.status).toBe("active");
  expect(logs).toContain(
    `[account] deletion refused user=${user.id}: wrong password`,
  );

  const { html } = await accountPage(user.id, actionData);
  const field = /<input [^>]*id="suppression-password"[^>]*>/.exec(html)?.[0];
  expect(field).toContain('aria-invalid="true"');
  expect(field).toContain('aria-describedby="suppression-password-erreur"');
  expect(field).toMatch(/autofocus=""/i);
  expect(html).toContain(
    '<p id="suppression-password-erreur" class="field-error">Mot de passe incorrect : votre compte n’a pas été supprimé.</p>',
  );
});

test("an empty password is asked for, and nothing is deleted", async () => {
  const user = await createTestUser();
  const browser = await browserCookies(user.id);

  const response = await deleteRequest(browser, "");

  expect(response.status).toBe(400);
  expect(await response.json()).toEqual({
    errors: {
      password: "Entrez votre mot de passe pour confirmer la suppression.",
    },
  });
  expect(await getUserById(await getDb(), user.id)).toBeDefined();
});

test("a form without the CSRF token deletes nothing", async () => {
  const { user, browser } = await payingUser();
  const requestsBefore = stripeMock.requests.length;

  const response = await deleteRequest(
    { cookie: browser.cookie, csrfToken: "jeton-d-un-autre-site" },
    TEST_PASSWORD,
  );

  expect(response.status).toBe(303);
  expect(response.headers.get("Location")).toBe("/compte");
  expect(await flashOf(response)).toMatchObject({ kind: "error" });
  expect(stripeMock.requests).toHaveLength(requestsBefore);
  expect(await getUserById(await getDb(), user.id)).toBeDefined();
});

test("when Stripe cannot cancel the subscription, nothing is deleted and the user is told why in French", async () => {
  server.use(
    http.delete(`${STRIPE_API}/v1/subscriptions/:id`, () =>
      stripeError(500, { type: "api_error", message: "Server error." }),
    ),
  );
  const { user, browser, subscriptionId } = await payingUser();

  const response = await deleteRequest(browser, TEST_PASSWORD);

  expect(response.status).toBe(503);
  const actionData = (await response.json()) as SerializeFrom<typeof action>;
  expect(actionData.errors).toEqual({
    form: ACCOUNT_DELETION_ERROR_MESSAGES.stripe_failed,
  });
  expect(response.headers.get("Set-Cookie")).toBeNull();
  const db = await getDb();
  expect(await getUserById(db, user.id)).toBeDefined();
  expect(await getSubscriptionByStripeId(db, subscriptionId)).toMatchObject({
    user_id: user.id,
    status: "active",
  });
  expect(logs).toContainEqual(
    expect.stringMatching(
      new RegExp(
        `^\\[account\\] deletion aborted code=stripe_failed user=${user.id} StripeAPIError`,
      ),
    ),
  );

  const { html } = await accountPage(user.id, actionData);
  expect(html).toContain(
    `<p id="suppression-erreur" class="field-error" role="alert">${ACCOUNT_DELETION_ERROR_MESSAGES.stripe_failed}</p>`,
  );
});

test("the deletion form says a running subscription will be canceled at once", async () => {
  const user = await createTestUser();
  await subscribe(user.id, { status: "active" });

  const { html } = await accountPage(user.id);

  expect(html).toContain(
    "Votre abonnement DictIA 16 sera d’abord annulé immédiatement",
  );
  expect(html).toMatch(
    /<label for="suppression-password">Mot de passe actuel, pour confirmer<\/label>/,
  );
  expect(html).toContain(
    `<input type="hidden" name="intent" value="${DELETE_INTENT}"/>`,
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
async function accountPage(userId: number, actionData?: unknown) {
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
    actionData,
  });
  return { data, html };
}

function formatDate(unixSeconds: number): string {
  return new Intl.DateTimeFormat("fr-CA", {
    dateStyle: "long",
    timeZone: "America/Toronto",
  }).format(new Date(unixSeconds * 1000));
}

/**
 * A logged-in user with a Stripe customer and an active subscription, the
 * same at Stripe (the in-memory one) and in the database.
 */
async function payingUser() {
  const user = await createTestUser();
  const customerId = `cus_suppression_${user.id}`;
  stripeMock.createCustomer({ email: user.email }, customerId);
  await setUserStripeCustomerId(await getDb(), user.id, customerId);
  const subscription = stripeMock.createSubscription({
    customer: customerId,
    price: stripeMock.prices.get("price_dictia16_yearly") ?? null,
    status: "active",
    metadata: {
      dictia_user_id: String(user.id),
      plan: "dictia-16",
      period: "yearly",
    },
  });
  stripeMock.recordEvent("customer.subscription.created", subscription);
  const state = readSubscriptionState(subscription);
  await applySubscriptionState(
    await getDb(),
    state,
    state.stripeCreated,
    user.id,
  );
  return {
    user,
    browser: await browserCookies(user.id),
    subscriptionId: state.stripeSubscriptionId,
  };
}

function deleteRequest(
  browser: { cookie: string; csrfToken: string },
  password: string,
) {
  return responseOf(() =>
    action({
      request: formRequest(
        "/compte",
        { intent: DELETE_INTENT, password },
        browser,
      ),
      params: {},
      context: {},
    }),
  );
}
