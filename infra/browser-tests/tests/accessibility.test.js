// axe-core in the page in each state a user meets (not connected, connected with the
// calendar picker, the QR code, the disconnect dialog, an error notice), at desktop and phone
// width: no serious or critical violation. Also the keyboard path of the dialog.

import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";

import {
  API,
  DESKTOP,
  PHONE,
  assertNoPageErrors,
  card,
  connectThroughConsent,
  disconnectEverything,
  launch,
  newContext,
  ready,
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

test("axe-core finds no serious or critical violation in any state, at 1280 px and 390 px", async () => {
  const report = {};
  for (const [label, options] of [
    ["desktop", DESKTOP],
    ["phone", PHONE],
  ]) {
    await disconnectEverything();
    // bypassCSP: the page's policy forbids the inline script that carries axe-core.
    const context = await newContext(browser, { ...options, bypassCSP: true });
    const page = await context.newPage();
    const check = async (state) => {
      const result = await seriousViolations(page);
      report[`${label}: ${state}`] = result;
      assert.deepEqual(result.serious, [], `${label}, ${state}: ${JSON.stringify(result.serious, null, 2)}`);
      assert.ok(result.rules > 50 && result.passed > 10, `axe ran ${result.rules} rules, ${result.passed} passed`);
    };

    await page.goto(`${API}/`);
    await ready(page);
    await check("not connected");

    await card(page, "google").getByRole("button", { name: "Connect from your phone" }).click();
    await card(page, "google").getByRole("img", { name: /QR code/ }).waitFor();
    await check("QR code shown");

    await connectThroughConsent(page, "google", { account: "demo@example.com", approve: false });
    await check("consent denied notice");

    await connectThroughConsent(page, "google", { account: "demo@example.com" });
    await card(page, "google").getByText(/Permissions granted/).click();
    await check("connected, permissions open, calendar picker");

    await card(page, "google").getByRole("button", { name: "Disconnect Google" }).click();
    await page.locator("dialog[open]").waitFor();
    await check("disconnect dialog");
    await page.keyboard.press("Escape");
    assertNoPageErrors(context);
    await context.close();
  }
  writeArtifact("axe.json", report);
});

test("keyboard: the dialog opens on Cancel, Escape keeps the connection, focus returns to Disconnect", async () => {
  const context = await newContext(browser, DESKTOP);
  const page = await context.newPage();
  await page.goto(`${API}/`);
  await ready(page);
  await connectThroughConsent(page, "google", { account: "demo@example.com" });

  const disconnect = card(page, "google").getByRole("button", { name: "Disconnect Google" });
  await disconnect.focus();
  await page.keyboard.press("Enter");
  await page.locator("dialog[open]").waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Cancel", "the safe choice has focus");
  await page.keyboard.press("Escape");
  assert.equal(await page.locator("dialog[open]").count(), 0);
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Disconnect Google");
  assert.equal(await card(page, "google").locator(".cb-badge").textContent(), "Connected", "Escape disconnected");

  // The calendar picker is reachable and usable from the keyboard too.
  const picker = card(page, "google").getByLabel("Calendar that receives your app's events");
  await picker.focus();
  await page.keyboard.press("ArrowDown");
  await page.locator(".cb-notice", { hasText: "Calendar saved" }).waitFor();
  assert.equal(await picker.inputValue(), "appointments@example.com");
  assertNoPageErrors(context);
  await context.close();
});
