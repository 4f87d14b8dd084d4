// The integrations page in Chromium against the local stack, as the demo user: the issue's
// scenarios, one after another in one browser (each starts with nothing connected).

import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";

import {
  API,
  DESKTOP,
  GOOGLE_EMULATOR,
  PHONE,
  api,
  assertNoPageErrors,
  badge,
  card,
  connectThroughConsent,
  consent,
  decodeQr,
  disconnectEverything,
  newContext,
  launch,
  ready,
  screenshot,
  seriousViolations,
  writeArtifact,
} from "./support.js";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});
beforeEach(disconnectEverything);

const PICKER_LABEL = "Calendar that receives your app's events";

test("connect Google, pick a calendar, reload, disconnect (keyboard to Connect; load measured)", async () => {
  const context = await newContext(browser, DESKTOP);
  const page = await context.newPage();

  // given the page, opened cold
  await page.goto(`${API}/`);
  await ready(page);
  const load = await loadFigures(page);
  writeArtifact("load.json", { viewport: "1280 px", ...load });
  assert.deepEqual([...load.api].sort(), ["/calendars", "/connections/gmail", "/connections/google", "/connections/zoom"]);
  assert.equal(await badge(page, "google"), "Not connected");
  assert.equal(await badge(page, "zoom"), "Not connected");
  await screenshot(page, "desktop-not-connected");

  // when the user reaches Connect Google with Tab and presses Enter
  let presses = 0;
  for (; presses < 10; presses += 1) {
    await page.keyboard.press("Tab");
    if ((await page.evaluate(() => document.activeElement?.textContent)) === "Connect Google") break;
  }
  assert.ok(presses < 10, "Connect Google is not reachable with Tab");
  assert.equal(presses, 0, "Connect Google should be the first stop of the tab order");
  await page.keyboard.press("Enter");
  // ...and approves demo@example.com on the consent page
  await consent(page, "google", { account: "demo@example.com" });

  // then the page shows the outcome and the account, and the address bar is clean again
  assert.equal(new URL(page.url()).search, "", "?status= stays in the address bar");
  const notice = page.locator(".cb-notice");
  assert.match(await notice.textContent(), /Google connected.*Google is connected as demo@example\.com/);
  const google = card(page, "google");
  assert.equal(await badge(page, "google"), "Connected");
  assert.equal(await google.locator(".cb-email").textContent(), "demo@example.com");
  assert.match(await google.locator(".cb-account").textContent(), /since/);
  await google.getByText(/Permissions granted/).click();
  const permissions = await google.locator(".cb-permissions li").allTextContents();
  assert.ok(permissions.some((p) => p.startsWith("Create, change and delete events in your calendars")), permissions.join("; "));
  assert.ok(permissions.some((p) => p.startsWith("See when you are busy")), permissions.join("; "));

  // and the picker offers the writable calendars only, the current target selected
  const picker = google.getByLabel(PICKER_LABEL);
  assert.deepEqual(await picker.locator("option").allTextContents(), ["demo@example.com (primary)", "Appointments"]);
  assert.equal(await picker.inputValue(), "demo@example.com");
  assert.match(await google.locator(".cb-hint").textContent(), /1 read-only calendar is left out/);

  // when another calendar is chosen
  await picker.selectOption("appointments@example.com");
  await page.locator(".cb-notice", { hasText: "Calendar saved" }).waitFor();
  const calendars = await api("GET", "/calendars");
  assert.equal(calendars.body.calendars.find((c) => c.selected)?.id, "appointments@example.com");
  // then a reload shows it
  await page.reload();
  await ready(page);
  assert.equal(await card(page, "google").getByLabel(PICKER_LABEL).inputValue(), "appointments@example.com");
  assert.equal(await page.locator(".cb-notice").isVisible(), false, "a reload repeats the return notice");
  assert.doesNotMatch(await page.locator("main").innerText(), /\b(null|undefined|NaN)\b/);
  await screenshot(page, "desktop-connected", "integrations-desktop.png");

  // when the user disconnects, the confirmation says what will happen
  await card(page, "google").getByRole("button", { name: "Disconnect Google" }).click();
  const dialog = page.locator("dialog[open]");
  const warning = await dialog.textContent();
  assert.match(warning, /revoked at Google/);
  assert.match(warning, /erased/);
  await screenshot(page, "desktop-disconnect-dialog");
  await dialog.getByRole("button", { name: "Disconnect Google" }).click();

  // then the outcome says revoked and erased, and the card is back to not connected
  await page.locator(".cb-notice", { hasText: "Google disconnected" }).waitFor();
  assert.match(await page.locator(".cb-notice").textContent(), /Access was revoked at Google and the stored tokens were erased/);
  assert.equal(await badge(page, "google"), "Not connected");
  assert.equal((await api("GET", "/connections/google")).body.status, "not_connected");
  const tokens = await (await fetch(`${GOOGLE_EMULATOR}/_emulator/tokens`)).json();
  assert.ok(tokens.refresh_tokens.length > 0 && tokens.refresh_tokens.every((t) => t.revoked), "Google saw no revocation");
  assertNoPageErrors(context);
  await context.close();
});

test("consent denied: the page says so plainly and nothing is connected", async () => {
  const context = await newContext(browser, DESKTOP);
  const page = await context.newPage();
  await page.goto(`${API}/integrations`);
  await ready(page);

  await connectThroughConsent(page, "google", { account: "demo@example.com", approve: false });

  const alert = page.getByRole("alert");
  assert.match(await alert.textContent(), /Google was not connected.*You declined on the consent screen/);
  assert.equal(await page.evaluate(() => document.activeElement?.classList.contains("cb-notice")), true, "focus is not on the message");
  assert.equal(await badge(page, "google"), "Not connected");
  await screenshot(page, "desktop-consent-denied");
  assertNoPageErrors(context);
  await context.close();
});

test("no request waterfall: every API call is made before any is answered", async () => {
  const context = await newContext(browser, DESKTOP);
  const page = await context.newPage();
  // Every API answer is held until all four calls have arrived (or 5 s have passed): a page
  // that waited for one answer before asking the next would be caught here, whatever the timing.
  const held = [];
  let release;
  const allArrived = new Promise((resolve) => (release = resolve));
  const timeout = setTimeout(() => release([...held]), 5000);
  await page.route(/\/(connections\/(google|gmail|zoom)|calendars)$/, async (route) => {
    held.push(new URL(route.request().url()).pathname);
    if (held.length === 4) release([...held]);
    await allArrived;
    await route.continue();
  });
  await page.goto(`${API}/`);
  await ready(page);
  clearTimeout(timeout);
  const beforeAnyAnswer = await allArrived;
  assert.deepEqual(
    beforeAnyAnswer.sort(),
    ["/calendars", "/connections/gmail", "/connections/google", "/connections/zoom"],
    "calls made one after another",
  );
  assertNoPageErrors(context);
  await context.close();
});

// Load figures of the page just opened: navigation timing, the ready mark, and the API calls.
async function loadFigures(page) {
  return page.evaluate(() => {
    const [navigation] = performance.getEntriesByType("navigation");
    const resources = performance.getEntriesByType("resource");
    const api = resources.filter((r) => /\/(connections|calendars)(\/|$)/.test(new URL(r.name).pathname));
    const starts = api.map((r) => r.startTime);
    return {
      responseStart: navigation.responseStart,
      domContentLoaded: navigation.domContentLoadedEventEnd,
      load: navigation.loadEventEnd,
      ready: performance.getEntriesByName("calbridge:ready")[0].startTime,
      requests: resources.length + 1,
      bytes: navigation.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0),
      api: api.map((r) => new URL(r.name).pathname),
      apiStartSpread: Math.max(...starts) - Math.min(...starts),
      firstApiAnswer: Math.min(...api.map((r) => r.responseEnd)) - Math.min(...starts),
      resources: resources.map((r) => ({ name: new URL(r.name).pathname, start: r.startTime, end: r.responseEnd })),
    };
  });
}
