// "Connect from your phone": the QR code decodes to a launch URL that works once, a phone
// that opens it connects, and the desktop page notices; the page at phone widths.

import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";

import {
  API,
  DESKTOP,
  GOOGLE_EMULATOR,
  PHONE,
  assertNoPageErrors,
  badge,
  card,
  consent,
  decodeQr,
  disconnectEverything,
  launch,
  newContext,
  ready,
  screenshot,
} from "./support.js";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});
beforeEach(disconnectEverything);

const LAUNCH = new RegExp(`^${API.replace(/[.]/g, "\\.")}/connections/google/launch\\?ticket=[A-Za-z0-9_-]+$`);

test("the QR code is a fresh single-use launch URL; the phone connects and the desktop page shows it", async () => {
  const desktop = await newContext(browser, DESKTOP);
  const page = await desktop.newPage();
  await page.goto(`${API}/integrations`);
  await ready(page);
  const google = card(page, "google");

  // when the user asks for a QR code
  const toggle = google.getByRole("button", { name: "Connect from your phone" });
  assert.equal(await toggle.getAttribute("aria-expanded"), "false");
  await toggle.click();
  const code = google.getByRole("img", { name: /QR code/ });
  await code.waitFor();
  assert.equal(await google.getByRole("button", { name: "Hide the QR code" }).getAttribute("aria-expanded"), "true");

  // then it shows its expiry (5 minutes ahead) and says it works once
  const caption = await google.locator("figcaption").textContent();
  assert.match(caption, /Works once; expires at \d\d:\d\d \(in [45] min\)/);
  const expiry = Date.parse(await google.locator("time.cb-qr-expiry").getAttribute("datetime"));
  assert.ok(expiry > Date.now() + 4 * 60_000 && expiry <= Date.now() + 5 * 60_000 + 5_000, `expiry ${new Date(expiry).toISOString()}`);
  await screenshot(page, "desktop-qr");

  // and it decodes (from its pixels) to a launch URL
  const first = await decodeQr(page, code);
  assert.match(first, LAUNCH);

  // when it is regenerated, the new code is another URL
  const serial = await code.getAttribute("data-serial");
  await google.getByRole("button", { name: "New code" }).click();
  await page.waitForFunction((old) => document.querySelector(".cb-qr-code")?.dataset.serial > old, serial);
  const second = await decodeQr(page, google.getByRole("img", { name: /QR code/ }));
  assert.match(second, LAUNCH);
  assert.notEqual(second, first);

  // The first URL works (the launch page, then the provider's consent page) once.
  await assertLaunchUrlWorksOnce(first);

  // when a phone opens the second URL and approves alex@example.com
  const phone = await newContext(browser, PHONE);
  const handset = await phone.newPage();
  await handset.goto(second);
  // (calbridge's launch page names the app account, as the page's accountLabel gave it)
  assert.match(await handset.locator("body").textContent(), /Demo User \(demo-user of demo-tenant\) \(user id demo-user\)/);
  await consent(handset, "google", { account: "alex@example.com" });
  // then the phone shows the connection
  assert.match(await handset.locator(".cb-notice").textContent(), /Google connected.*as alex@example\.com/);
  assert.equal(await badge(handset, "google"), "Connected");
  assert.equal(await card(handset, "google").locator(".cb-email").textContent(), "alex@example.com");
  await screenshot(handset, "phone-connected");
  // and the desktop page notices without a reload
  await page.locator(".cb-notice", { hasText: "Connected from your phone as alex@example.com" }).waitFor({ timeout: 10_000 });
  assert.equal(await badge(page, "google"), "Connected");
  assert.equal(await card(page, "google").locator(".cb-qr-code").count(), 0, "the QR code is still shown");

  // and the URL the phone used is spent
  const again = await fetch(second, { redirect: "manual" });
  assert.equal(again.status, 400, "a launch URL worked twice");
  assertNoPageErrors(desktop);
  assertNoPageErrors(phone);
  await phone.close();
  await desktop.close();
});

test("at 390 px and 360 px wide nothing scrolls sideways; phone screenshots", async () => {
  for (const width of [390, 360]) {
    const context = await newContext(browser, { ...PHONE, viewport: { width, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${API}/`);
    await ready(page);
    await card(page, "google").getByRole("button", { name: "Connect from your phone" }).click();
    await card(page, "google").getByRole("img", { name: /QR code/ }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, `the page is ${overflow} px wider than a ${width} px screen`);
    const button = await card(page, "google").getByRole("button", { name: "Connect Google" }).boundingBox();
    assert.ok(button.height >= 44, `Connect Google is ${button.height} px high, under a 44 px touch target`);
    if (width === 390) await screenshot(page, "phone-not-connected", "integrations-phone.png");
    assertNoPageErrors(context);
    await context.close();
  }
});

/** GET the launch URL (200, the confirmation page), post its form (303 to the emulator's
 * consent page, which answers 200), then GET it again: 400, the ticket is spent. */
async function assertLaunchUrlWorksOnce(url) {
  const page = await fetch(url, { redirect: "manual", headers: { accept: "text/html" } });
  assert.equal(page.status, 200, `GET ${url}`);
  const html = await page.text();
  assert.match(html, /Continue to Google/);
  const formToken = html.match(/name="form_token" value="([^"]+)"/)?.[1];
  assert.ok(formToken, "no form_token on the launch page");
  const cookie = page.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const continued = await fetch(url, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie },
    body: new URLSearchParams({ form_token: formToken }),
  });
  assert.equal(continued.status, 303);
  const consentPage = continued.headers.get("location");
  assert.ok(consentPage.startsWith(`${GOOGLE_EMULATOR}/o/oauth2/v2/auth?`), consentPage);
  const shown = await fetch(consentPage);
  assert.equal(shown.status, 200);
  assert.match(await shown.text(), /Approve/);
  const again = await fetch(url, { redirect: "manual" });
  assert.equal(again.status, 400, "a launch URL worked twice");
}
