import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

import {
  chromium,
  type Browser,
  type BrowserContext,
  type Locator,
  type Page,
} from "playwright-core";

import { ROOT } from "./app-server";

/**
 * Debian's Chromium driven by playwright-core, shut in on 127.0.0.1: the
 * flags stop its own background traffic, and every request to another host
 * is refused and remembered, so a test can assert there was none.
 */

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOTS_DIR = path.join(ROOT, "artifacts", "screenshots");

const LAUNCH_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

const AXE_SOURCE = fs.readFileSync(
  createRequire(import.meta.url).resolve("axe-core/axe.min.js"),
  "utf8",
);

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `No Chromium at ${CHROMIUM_PATH}: install Debian's (apt-get install -y chromium, as .ci/run does) or set CHROMIUM_PATH.`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: LAUNCH_ARGS });
}

export type ShutInContext = {
  context: BrowserContext;
  /** Every URL the page tried to reach outside 127.0.0.1. */
  blocked: string[];
};

/** A fresh profile (cookies, cache) that reaches 127.0.0.1 only. */
export async function newShutInContext(
  browser: Browser,
  options: { javaScriptEnabled: boolean },
): Promise<ShutInContext> {
  const context = await browser.newContext({
    javaScriptEnabled: options.javaScriptEnabled,
    locale: "fr-CA",
    timezoneId: "America/Toronto",
    viewport: { width: 1024, height: 768 },
  });
  const blocked: string[] = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1") return route.continue();
    blocked.push(url.href);
    return route.abort("blockedbyclient");
  });
  return { context, blocked };
}

type AxeViolation = {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
};

/**
 * Runs axe-core on the page as it is now and throws, with one readable line
 * per problem, on any serious or critical violation.
 *
 * Chromium closes a page whose JavaScript is off as soon as axe starts its
 * timers there, so such a page is audited through a copy: the same HTML,
 * scripts removed, served at the same address (its styles load as usual)
 * in `auditContext`, whose JavaScript is on.
 */
export async function expectAccessible(
  page: Page,
  auditContext?: BrowserContext,
): Promise<void> {
  let target = page;
  if (auditContext) {
    const url = page.url();
    const html = (await page.content()).replace(
      /<script\b[\s\S]*?<\/script>/gi,
      "",
    );
    target = await auditContext.newPage();
    await target.route(
      (candidate) => candidate.href === url,
      (route) =>
        route.fulfill({
          status: 200,
          contentType: "text/html; charset=utf-8",
          body: html,
        }),
    );
    await target.goto(url);
  } else {
    await page.addScriptTag({ content: AXE_SOURCE });
  }
  try {
    if (auditContext) await target.evaluate(AXE_SOURCE);
    const violations = await target.evaluate(async () => {
      const axe = (
        window as unknown as {
          axe: {
            run: (options: object) => Promise<{ violations: AxeViolation[] }>;
          };
        }
      ).axe;
      const result = await axe.run({ resultTypes: ["violations"] });
      return result.violations;
    });
    const serious = violations.filter(
      (violation) =>
        violation.impact === "serious" || violation.impact === "critical",
    );
    if (serious.length > 0) {
      const lines = serious.map(
        (violation) =>
          `- ${violation.impact} ${violation.id}: ${violation.help} (${violation.nodes
            .map((node) => node.target.join(" "))
            .join(", ")})`,
      );
      throw new Error(
        `Accessibility violations on ${page.url()}:\n${lines.join("\n")}`,
      );
    }
  } finally {
    if (target !== page) await target.close();
  }
}

/**
 * Every visible form field has a label, and the document says it is in
 * Canadian French. Axe checks labels too; this names the field that lacks
 * one.
 */
export async function expectLabelledFrenchPage(page: Page): Promise<void> {
  const lang = await page.locator("html").getAttribute("lang");
  if (lang !== "fr-CA") {
    throw new Error(`${page.url()} has lang="${lang}", not fr-CA`);
  }
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea")]
      .filter(
        (field) =>
          !(field instanceof HTMLInputElement && field.type === "hidden") &&
          (field as HTMLInputElement).labels?.length === 0 &&
          !field.getAttribute("aria-label"),
      )
      .map((field) => field.getAttribute("name") ?? field.id),
  );
  if (unlabelled.length > 0) {
    throw new Error(
      `Fields without a label on ${page.url()}: ${unlabelled.join(", ")}`,
    );
  }
}

/**
 * The first Tab lands on the skip link, which then shows on screen with an
 * outline: keyboard users see where they are.
 */
export async function focusFirstAndDescribe(page: Page) {
  await page.locator("body").focus();
  await page.keyboard.press("Tab");
  return page.evaluate(() => {
    const element = document.activeElement as HTMLElement | null;
    if (!element) return null;
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    return {
      text: element.textContent?.trim() ?? "",
      outlineStyle: style.outlineStyle,
      outlineWidth: parseFloat(style.outlineWidth),
      onScreen: box.left >= 0 && box.top >= 0 && box.width > 0,
    };
  });
}

/**
 * Waits until React has taken over this element, so a click goes through
 * the router rather than the browser's own form submission.
 */
export async function waitForHydration(locator: Locator): Promise<void> {
  await locator.evaluate(
    (element) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (Object.keys(element).some((key) => key.startsWith("__react"))) {
            resolve();
          } else {
            requestAnimationFrame(check);
          }
        };
        check();
      }),
  );
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  const file = path.join(SCREENSHOTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
