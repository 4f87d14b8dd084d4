// The Zoom card connects and disconnects through the Zoom emulator; a Google grant revoked at
// Google shows "Needs reconnecting" with the reason, and Reconnect brings it back.

import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";

import {
  API,
  DESKTOP,
  GOOGLE_EMULATOR,
  api,
  assertNoPageErrors,
  badge,
  card,
  connectThroughConsent,
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

test("the Zoom card connects through Zoom's consent and disconnects", async () => {
  const context = await newContext(browser, DESKTOP);
  const page = await context.newPage();
  await page.goto(`${API}/integrations`);
  await ready(page);

  await connectThroughConsent(page, "zoom", {});

  assert.match(await page.locator(".cb-notice").textContent(), /Zoom connected.*Zoom is connected as \S+@example\.com/);
  const zoom = card(page, "zoom");
  assert.equal(await badge(page, "zoom"), "Connected");
  assert.equal(await badge(page, "google"), "Not connected", "connecting Zoom changed Google");
  await zoom.getByText(/Permissions granted/).click();
  assert.ok((await zoom.locator(".cb-permissions li").allTextContents()).some((p) => p.startsWith("Create meetings for you")));
  assert.equal(await zoom.getByRole("combobox").count(), 0, "Zoom has no calendar picker");
  await screenshot(page, "desktop-zoom-connected");

  await zoom.getByRole("button", { name: "Disconnect Zoom" }).click();
  const dialog = page.locator("dialog[open]");
  assert.match(await dialog.textContent(), /revoked at Zoom.*erased/);
  await dialog.getByRole("button", { name: "Disconnect Zoom" }).click();
  await page.locator(".cb-notice", { hasText: "Zoom disconnected" }).waitFor();
  assert.match(await page.locator(".cb-notice").textContent(), /Access was revoked at Zoom and the stored tokens were erased/);
  assert.equal(await badge(page, "zoom"), "Not connected");
  assertNoPageErrors(context);
  await context.close();
});

test("the Gmail card connects on its own, shows send-only permission, and disconnects without touching Calendar", async () => {
  const context = await newContext(browser, DESKTOP);
  const page = await context.newPage();
  await page.goto(`${API}/integrations`);
  await ready(page);

  await connectThroughConsent(page, "gmail", {});

  const gmail = card(page, "gmail");
  assert.equal(await badge(page, "gmail"), "Connected");
  assert.equal(await badge(page, "google"), "Not connected", "connecting Gmail connected Calendar");
  await gmail.getByText(/Permissions granted/).click();
  const permissions = await gmail.locator(".cb-permissions li").allTextContents();
  assert.ok(permissions.some((p) => p.startsWith("Send email as you")), JSON.stringify(permissions));
  assert.equal(await gmail.getByRole("combobox").count(), 0, "Gmail has no calendar picker");

  await gmail.getByRole("button", { name: "Disconnect Gmail" }).click();
  const dialog = page.locator("dialog[open]");
  assert.match(await dialog.textContent(), /revoked at Google.*erased.*send email from your Gmail address/);
  await dialog.getByRole("button", { name: "Disconnect Gmail" }).click();
  await page.locator(".cb-notice", { hasText: "Gmail disconnected" }).waitFor();
  assert.equal(await badge(page, "gmail"), "Not connected");
  assertNoPageErrors(context);
  await context.close();
});

test("a grant revoked at Google shows Needs reconnecting with the reason; Reconnect restores it", async () => {
  const context = await newContext(browser, DESKTOP);
  const page = await context.newPage();
  await page.goto(`${API}/integrations`);
  await ready(page);
  await connectThroughConsent(page, "google", { account: "demo@example.com" });
  assert.equal(await badge(page, "google"), "Connected");

  // given the user removed the app's access in their Google account, and the access token ran out
  const tokens = await (await fetch(`${GOOGLE_EMULATOR}/_emulator/tokens`)).json();
  const live = tokens.refresh_tokens.filter((t) => !t.revoked);
  assert.equal(live.length, 1, JSON.stringify(tokens.refresh_tokens));
  const revoked = await fetch(`${GOOGLE_EMULATOR}/revoke`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: live[0].token }),
  });
  assert.equal(revoked.status, 200);
  assert.equal((await fetch(`${GOOGLE_EMULATOR}/_emulator/tokens/expire`, { method: "POST" })).status, 200);
  // ...which calbridge finds out at its next Google call (here the app listing calendars)
  assert.equal((await api("GET", "/calendars")).status, 409);

  // when the page is opened again
  await page.goto(`${API}/integrations`);
  await ready(page);

  // then it says so, with the reason, and offers Reconnect (and still Disconnect)
  const google = card(page, "google");
  assert.equal(await badge(page, "google"), "Needs reconnecting");
  const warning = await google.locator(".cb-warning").textContent();
  assert.match(warning, /Reconnect needed\. Google no longer accepts the app's access/);
  assert.match(warning, /Details: invalid_grant/);
  assert.equal(await google.getByRole("combobox").count(), 0, "a calendar picker on a broken connection");
  assert.equal(await google.getByRole("button", { name: "Reconnect from your phone" }).count(), 1);
  await screenshot(page, "desktop-needs-reconnect");

  // when the user reconnects
  await connectThroughConsent(page, "google", { account: "demo@example.com", button: "Reconnect Google" });
  assert.equal(await badge(page, "google"), "Connected");
  assert.equal(await google.locator(".cb-warning").count(), 0);
  assertNoPageErrors(context);
  await context.close();
});
