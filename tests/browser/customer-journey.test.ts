import fs from "node:fs";
import path from "node:path";

import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, expect, test } from "vitest";

import { statusLabel } from "~/billing/access";

import type { StripeDouble } from "../../scripts/stripe-double";
import { sendEvent } from "../../scripts/webhook-send";
import { ROOT, type AppServer } from "../support/app-server";
import {
  startAppWithDouble,
  type AppWithDouble,
} from "../support/app-with-double";
import {
  expectAccessible,
  expectLabelledFrenchPage,
  focusFirstAndDescribe,
  launchChromium,
  newShutInContext,
  screenshot,
  SCREENSHOTS_DIR,
  waitForHydration,
  type ShutInContext,
} from "../support/browser";
import { databaseFileReader } from "../support/database-file";

/**
 * The customer's whole journey in Chromium, against the built server and
 * the local Stripe double: sign up, choose DictIA 16 yearly, pay on the
 * double's hosted page (which delivers the signed events), see « Actif »,
 * open the billing portal, delete the account. Once with JavaScript and
 * once without: every form and link must work both ways.
 */

const PASSWORD = "motdepasse-solide-42";
const DATE_FORMAT = new Intl.DateTimeFormat("fr-CA", {
  dateStyle: "long",
  timeZone: "America/Toronto",
});
// The README shows these two, as the JavaScript run took them.
const DOCS_SCREENSHOTS = path.join(ROOT, "docs", "screenshots");
const FOR_README: Record<string, string> = {
  "avec-js-tarifs": "tarifs.png",
  "avec-js-compte": "compte.png",
};
const JOURNEY_TIMEOUT = 120_000;

let app: AppWithDouble | undefined;
let webhookSecret: string;
let databaseFile: string;
const { findUser, readUser, readSubscriptionsOf, readSubscription } =
  databaseFileReader(() => databaseFile);
let origin: string;
let webhookUrl: string;
let double: StripeDouble | undefined;
let server: AppServer | undefined;
let browser: Browser | undefined;
// JavaScript on: audits the pages of the run without it (see expectAccessible).
let auditor: ShutInContext | undefined;

beforeAll(async () => {
  app = await startAppWithDouble({ name: "browser" });
  ({ databaseFile, origin, webhookUrl, webhookSecret, double, server } = app);
  browser = await launchChromium();
  auditor = await newShutInContext(browser, { javaScriptEnabled: true });
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    console.log(`Server output:\n${server?.output().slice(-4000)}`);
  });
});

for (const javaScript of [true, false]) {
  const mode = javaScript ? "avec-js" : "sans-js";

  test(
    `${mode}: sign up, pay DictIA 16 yearly, see « Actif », open the portal, delete the account`,
    async () => {
      const { context, blocked } = await newShutInContext(requireBrowser(), {
        javaScriptEnabled: javaScript,
      });
      try {
        await journey({
          context,
          javaScript,
          mode,
          email: `parcours-${mode}@exemple.test`,
        });
        expect(blocked).toEqual([]);
        expect(auditor?.blocked).toEqual([]);
      } finally {
        await context.close();
      }
    },
    JOURNEY_TIMEOUT,
  );
}

test.each([
  { mode: "avec-js", javaScript: true },
  { mode: "sans-js", javaScript: false },
])(
  "$mode: the accessibility checks themselves fail on a page with an unlabelled field",
  async ({ javaScript }) => {
    const { context } = await newShutInContext(requireBrowser(), {
      javaScriptEnabled: javaScript,
    });
    try {
      const page = await context.newPage();
      const url = `${origin}/essai-accessibilite`;
      await page.route(url, (route) =>
        route.fulfill({
          contentType: "text/html; charset=utf-8",
          body: '<!doctype html><html lang="fr-CA"><head><title>Essai</title></head><body><main><h1>Essai</h1><input name="sans-etiquette"></main></body></html>',
        }),
      );
      await page.goto(url);

      await expect(
        expectAccessible(page, javaScript ? undefined : auditor?.context),
      ).rejects.toThrow(/critical label: .*input/);
      await expect(expectLabelledFrenchPage(page)).rejects.toThrow(
        "sans-etiquette",
      );
    } finally {
      await context.close();
    }
  },
);

async function journey(input: {
  context: BrowserContext;
  javaScript: boolean;
  mode: string;
  email: string;
}) {
  const { context, javaScript, mode, email } = input;
  const page = await context.newPage();
  // A script error in the page fails the run even when the page recovers.
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  const audit = (target: Page) =>
    expectAccessible(target, javaScript ? undefined : auditor?.context);

  // Sign up.
  await page.goto(`${origin}/inscription`);
  await expectLabelledFrenchPage(page);
  const focus = await focusFirstAndDescribe(page);
  expect(focus).toMatchObject({ text: "Aller au contenu", onScreen: true });
  expect(focus?.outlineStyle).not.toBe("none");
  expect(focus?.outlineWidth).toBeGreaterThan(0);
  await audit(page);
  await page.getByLabel("Adresse courriel").fill(email);
  await page.getByLabel("Mot de passe").fill(PASSWORD);
  await page.getByRole("button", { name: "Créer mon compte" }).click();
  await page.waitForURL(`${origin}/compte`);
  await expectText(page, "Vous n’avez pas d’abonnement pour le moment.");
  await audit(page);

  // Choose DictIA 16, yearly.
  await page.getByRole("link", { name: "Tarifs", exact: true }).click();
  await page.waitForURL(`${origin}/tarifs`);
  await expectLabelledFrenchPage(page);
  await audit(page);
  await screenshot(page, `${mode}-tarifs`);
  const subscribe = page.getByRole("button", {
    name: "S’abonner à DictIA 16 (annuel)",
  });
  if (javaScript) await waitForHydration(subscribe);
  await subscribe.click();
  await page.waitForURL((url) =>
    url.href.startsWith(`${stripeDouble().url}/checkout/cs_`),
  );
  await expectText(page, "DictIA 16 — Annuel");

  // Pay on the double's hosted page: it delivers the signed events, then
  // sends the customer back.
  await page.getByRole("button", { name: "Payer", exact: true }).click();
  await page.waitForURL(
    (url) => url.origin === origin && url.pathname === "/checkout/success",
  );
  await expect(
    page.getByRole("heading", { level: 1 }).textContent(),
  ).resolves.toBe("Votre abonnement est actif");
  await audit(page);
  await screenshot(page, `${mode}-checkout-success`);

  const user = readUser(email);
  const [subscription] = readSubscriptionsOf(user.id);
  const stripeSubscription = stripeDouble().stripe.subscriptions.get(
    String(subscription?.stripe_subscription_id),
  );
  expect(stripeSubscription?.status).toBe("active");
  const renewal = DATE_FORMAT.format(
    new Date(Number(subscription?.current_period_end) * 1000),
  );

  await page.getByRole("link", { name: "Voir mon compte" }).click();
  await page.waitForURL(`${origin}/compte`);
  await expect(accountFacts(page)).resolves.toEqual({
    Forfait: "DictIA 16 — Annuel",
    Statut: statusLabel("active"),
    "Prochain renouvellement": renewal,
  });
  await audit(page);
  await screenshot(page, `${mode}-compte`);

  // The billing portal: cancel at period end there, come back to /compte.
  const portalButton = page.getByRole("button", {
    name: "Gérer mon abonnement et mes factures",
  });
  const portalRequests = javaScript
    ? await expectPendingWhileSent(page, portalButton, {
        path: "/compte/portail",
        pendingLabel: "Ouverture du portail de facturation…",
      })
    : await portalButton.click().then(() => null);
  await page.waitForURL((url) =>
    url.href.startsWith(`${stripeDouble().url}/portal/`),
  );
  if (portalRequests) expect(portalRequests()).toBe(1);
  await expectText(page, "Portail de facturation");
  await page
    .getByRole("button", { name: "Annuler à la fin de la période" })
    .click();
  await expectText(page, "(ne sera pas renouvelé)");
  const back = page.getByRole("link", { name: "Retour à DictIA" });
  expect(await back.getAttribute("href")).toBe(`${origin}/compte`);
  await back.click();
  await page.waitForURL(`${origin}/compte`);
  await expectText(
    page,
    `Votre abonnement ne sera pas renouvelé : il se termine le ${renewal}.`,
  );
  await expect(accountFacts(page)).resolves.toMatchObject({
    Statut: statusLabel("active"),
    "Date de fin": renewal,
  });

  // Deleting the account: a wrong password first.
  const password = page.getByLabel("Mot de passe actuel, pour confirmer");
  const deleteButton = page.getByRole("button", {
    name: "Supprimer définitivement mon compte",
  });
  if (javaScript) await waitForHydration(deleteButton);
  await password.fill("pas-le-bon-mot-de-passe");
  await deleteButton.click();
  await expectText(
    page,
    "Mot de passe incorrect : votre compte n’a pas été supprimé.",
  );
  // Without JavaScript the browser applies `autofocus` at its next
  // rendering opportunity, which can come after the text is in the page.
  await expect
    .poll(() => page.evaluate(() => document.activeElement?.id))
    .toBe("suppression-password");
  expect(await password.getAttribute("aria-invalid")).toBe("true");
  await audit(page);
  expect(readUser(email).id).toBe(user.id);
  expect(stripeSubscription?.status).toBe("active");

  // Then the right one: Stripe cancels first, then the account goes.
  await password.fill(PASSWORD);
  const deleteRequests = javaScript
    ? await expectPendingWhileSent(page, deleteButton, {
        path: "/compte",
        pendingLabel: "Suppression en cours…",
      })
    : await deleteButton.click().then(() => null);
  await page.waitForURL(`${origin}/tarifs`);
  if (deleteRequests) expect(deleteRequests()).toBe(1);
  await expectText(page, "Votre compte a été supprimé.");
  await audit(page);
  await expect(
    page.getByRole("link", { name: "Se connecter" }).isVisible(),
  ).resolves.toBe(true);
  expect(stripeSubscription?.status).toBe("canceled");
  expect(findUser(email)).toBeUndefined();
  expect(readSubscription(String(stripeSubscription?.id))).toMatchObject({
    user_id: null,
  });

  // Stripe's customer.subscription.deleted lands after the account is gone,
  // and once more as a new event: the row ends canceled, still unlinked,
  // and no account comes back.
  const deliveries = await stripeDouble().deliverPending();
  const deletedEvent = [...stripeDouble().stripe.events]
    .reverse()
    .find(
      (event) =>
        event.type === "customer.subscription.deleted" &&
        (event.data as { object: { id: string } }).object.id ===
          stripeSubscription?.id,
    );
  expect(deletedEvent).toBeDefined();
  expect(
    stripeDouble().deliveries.find(
      (delivery) => delivery.eventId === deletedEvent?.id,
    )?.status,
    `deliveries: ${JSON.stringify(deliveries)}`,
  ).toBe(200);
  const late = await sendEvent({
    json: JSON.stringify(deletedEvent),
    url: webhookUrl,
    secret: webhookSecret,
    fresh: true,
  });
  expect(late.status).toBe(200);
  expect(readSubscription(String(stripeSubscription?.id))).toMatchObject({
    user_id: null,
    status: "canceled",
    ended_at: stripeSubscription?.ended_at,
  });
  expect(findUser(email)).toBeUndefined();

  // The old session is over, and so is the password.
  await page.goto(`${origin}/compte`);
  await page.waitForURL(`${origin}/connexion?redirectTo=%2Fcompte`);
  await page.getByLabel("Adresse courriel").fill(email);
  await page.getByLabel("Mot de passe").fill(PASSWORD);
  const login = page.getByRole("button", { name: "Se connecter" });
  if (javaScript) await waitForHydration(login);
  await login.click();
  await expectText(page, "Adresse courriel ou mot de passe incorrect.");
  await audit(page);

  expect(pageErrors).toEqual([]);
  copyForReadme(mode);
}

/**
 * Holds the form's request until the button has shown its pending label
 * and refused a second click, then lets it go. Returns the count of POSTs
 * sent to that path, to read once the next page is there: exactly one.
 */
async function expectPendingWhileSent(
  page: Page,
  button: Locator,
  expected: { path: string; pendingLabel: string },
): Promise<() => number> {
  await waitForHydration(button);
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let sent = 0;
  let arrived: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const matches = (url: URL) =>
    url.origin === origin && url.pathname === expected.path;
  await page.route(matches, async (route) => {
    if (route.request().method() !== "POST") return route.fallback();
    sent += 1;
    arrived();
    await released;
    await route.fallback();
  });
  await button.click();
  await held;
  const pending = page.getByRole("button", { name: expected.pendingLabel });
  expect(await pending.isDisabled()).toBe(true);
  expect(await pending.getAttribute("aria-busy")).toBe("true");
  await pending.click({ force: true });
  release();
  return () => sent;
}

async function expectText(page: Page, text: string) {
  await page.getByText(text, { exact: false }).first().waitFor();
}

/** The « Abonnement » section's terms and values, as shown. */
async function accountFacts(page: Page): Promise<Record<string, string>> {
  const section = page.locator("section", {
    has: page.getByRole("heading", { name: "Abonnement" }),
  });
  // With JavaScript the URL changes before the new page renders, and
  // allTextContents does not wait: wait for the section's facts first.
  await section.locator("dt").first().waitFor();
  const terms = await section.locator("dt").allTextContents();
  const values = await section.locator("dd").allTextContents();
  return Object.fromEntries(terms.map((term, i) => [term, values[i] ?? ""]));
}

function copyForReadme(mode: string) {
  // Committed images change only on request, so a test run leaves the
  // work tree clean; missing ones are made.
  const update = process.env.UPDATE_SCREENSHOTS === "1";
  for (const [name, target] of Object.entries(FOR_README)) {
    if (!name.startsWith(mode)) continue;
    const destination = path.join(DOCS_SCREENSHOTS, target);
    if (update || !fs.existsSync(destination)) {
      fs.mkdirSync(DOCS_SCREENSHOTS, { recursive: true });
      fs.copyFileSync(path.join(SCREENSHOTS_DIR, `${name}.png`), destination);
    }
  }
}

function requireBrowser(): Browser {
  if (!browser) throw new Error("Chromium did not start");
  return browser;
}

function stripeDouble(): StripeDouble {
  if (!double) throw new Error("The Stripe double did not start");
  return double;
}
