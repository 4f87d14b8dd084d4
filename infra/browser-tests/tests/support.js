// Shared by the browser scenarios: the browser, the stack's URLs, the demo user's API calls,
// the emulators' consent pages, artifacts, QR decoding and axe-core.
//
// Contract: infra/scripts/browser-tests.sh sets CALBRIDGE_API, GOOGLE_EMULATOR, ZOOM_EMULATOR,
// CHROMIUM and BROWSER_ARTIFACTS_DIR. A missing variable or a Chromium that does not start
// fails the run (never a skip).

import assert from "node:assert/strict";
import { mkdirSync, copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import jsQR from "jsqr";

const require = createRequire(import.meta.url);

function required(name) {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run infra/scripts/browser-tests.sh`);
  return value;
}

export const API = required("CALBRIDGE_API");
export const GOOGLE_EMULATOR = required("GOOGLE_EMULATOR");
export const ZOOM_EMULATOR = required("ZOOM_EMULATOR");
export const ARTIFACTS = required("BROWSER_ARTIFACTS_DIR");
const CHROMIUM = required("CHROMIUM");
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

export const DESKTOP = { viewport: { width: 1280, height: 860 } };
export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

/** Debian's Chromium, headless, with the flags this closed network needs (see the README). */
export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A context whose pages fail a test on any console error or uncaught exception. */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ locale: "en-GB", timezoneId: "Europe/Berlin", ...options });
  context.setDefaultTimeout(15_000);
  context.errors = [];
  context.on("page", (page) => watch(context, page));
  return context;
}

function watch(context, page) {
  page.on("pageerror", (error) => context.errors.push(`${page.url()}: ${error.message}`));
  page.on("console", (message) => {
    // The browser logs a failed fetch's status (e.g. the deliberate 409 of /calendars while
    // not connected) as a console error; only script errors count.
    if (message.type() === "error" && !/Failed to load resource/.test(message.text())) {
      context.errors.push(`${page.url()}: console: ${message.text()}`);
    }
  });
}

export function assertNoPageErrors(context) {
  assert.deepEqual(context.errors, [], "the page logged errors");
}

// -- the demo user's API, straight (for set-up and for checking what the page did) ----------

let demoToken;
export async function demoTokenValue() {
  if (!demoToken) {
    const response = await fetch(`${API}/_local/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tenant_id: "demo-tenant", user_id: "demo-user" }),
    });
    assert.equal(response.status, 200);
    demoToken = (await response.json()).token;
  }
  return demoToken;
}

export async function api(method, route, body) {
  const token = await demoTokenValue();
  const response = await fetch(`${API}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

/** Every scenario starts with nothing connected. */
export async function disconnectEverything() {
  for (const provider of ["google", "gmail", "zoom"]) {
    const { status } = await api("DELETE", `/connections/${provider}`);
    assert.equal(status, 200, `DELETE /connections/${provider}`);
  }
}

// -- the page ------------------------------------------------------------------------------

/** Waits for the page's first render (the `calbridge:ready` mark) after a navigation. */
export async function ready(page) {
  await page.waitForFunction(() => performance.getEntriesByName("calbridge:ready").length > 0);
}

export function card(page, provider) {
  return page.locator(`section.cb-card[data-provider="${provider}"]`);
}

export async function badge(page, provider) {
  return (await card(page, provider).locator(".cb-badge").textContent()).trim();
}

/**
 * Clicks Connect (or Reconnect) on the card, confirms on calbridge's launch page, and
 * decides on the emulator's consent page; resolves once the browser is back on the page.
 */
/** How the page and calbridge's launch page name each provider. */
const NAMES = { google: "Google", gmail: "Gmail", zoom: "Zoom" };

export async function connectThroughConsent(page, provider, { account, approve = true, button } = {}) {
  const name = NAMES[provider];
  await card(page, provider).getByRole("button", { name: button || `Connect ${name}` }).click();
  await consent(page, provider, { account, approve });
}

/** From calbridge's launch page (already open in `page`) through the provider's consent. */
export async function consent(page, provider, { account, approve = true }) {
  const atGoogle = provider !== "zoom";
  await page.waitForURL(`**/connections/${provider}/launch?ticket=*`);
  await page.getByRole("button", { name: `Continue to ${NAMES[provider]}` }).click();
  await page.waitForURL(`${atGoogle ? GOOGLE_EMULATOR : ZOOM_EMULATOR}/**`);
  if (account) await page.getByLabel(account).check();
  const decision = atGoogle ? (approve ? "Approve" : "Deny") : approve ? "Allow" : "Decline";
  await page.getByRole("button", { name: decision }).click();
  await page.waitForURL((url) => url.origin === API && url.pathname === "/integrations");
  await ready(page);
}

// -- artifacts -----------------------------------------------------------------------------

/**
 * Saves a full-page screenshot as `<name>.png` in the artifacts directory; with
 * UPDATE_DOCS_SCREENSHOTS=1 also as docs/<docs> (the README's pictures).
 */
export async function screenshot(page, name, docs) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: "disabled" });
  if (docs && process.env.UPDATE_DOCS_SCREENSHOTS === "1") {
    mkdirSync(path.join(REPO, "docs"), { recursive: true });
    copyFileSync(file, path.join(REPO, "docs", docs));
  }
  return file;
}

export function writeArtifact(name, value) {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(path.join(ARTIFACTS, name), JSON.stringify(value, null, 2));
}

// -- QR ------------------------------------------------------------------------------------

/**
 * The text of the QR code as rendered: a screenshot of the element (pixels, not the DOM),
 * turned into RGBA by a blank page's canvas, read by jsQR.
 */
export async function decodeQr(page, locator) {
  const png = await locator.screenshot();
  const scratch = await page.context().newPage();
  try {
    const image = await scratch.evaluate(async (base64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${base64}`;
      await img.decode();
      const canvas = document.createElement("canvas");
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const context = canvas.getContext("2d");
      context.drawImage(img, 0, 0);
      const { data, width, height } = context.getImageData(0, 0, canvas.width, canvas.height);
      return { data: Array.from(data), width, height };
    }, png.toString("base64"));
    const code = jsQR(Uint8ClampedArray.from(image.data), image.width, image.height);
    assert.ok(code, "jsQR found no QR code in the screenshot");
    return code.data;
  } finally {
    await scratch.close();
  }
}

// -- axe-core --------------------------------------------------------------------------------

const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/**
 * Runs axe-core (WCAG 2.0-2.2 A and AA rules, and best practices) in the page and returns the
 * serious and critical violations. The page's CSP forbids inline scripts, so the context that
 * runs it is made with `bypassCSP: true`.
 */
export async function seriousViolations(page) {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: AXE_SOURCE });
  const results = await page.evaluate(() =>
    window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
    }),
  );
  return {
    rules: results.passes.length + results.violations.length + results.incomplete.length + results.inapplicable.length,
    passed: results.passes.length,
    serious: results.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) })),
    minor: results.violations.filter((v) => v.impact !== "serious" && v.impact !== "critical").map((v) => v.id),
  };
}
