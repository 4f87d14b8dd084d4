// The module API an app embeds (init with a token function and a provider list), a token the
// API refuses, a provider the deployment does not offer, and a QR code that expires.

import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";

import {
  API,
  DESKTOP,
  assertNoPageErrors,
  badge,
  card,
  demoTokenValue,
  disconnectEverything,
  launch,
  newContext,
  ready,
} from "./support.js";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});
beforeEach(disconnectEverything);

test("an app embeds the page with init(): its token function, its providers, its container", async () => {
  const context = await newContext(browser, DESKTOP);
  const page = await context.newPage();
  const token = await demoTokenValue();
  // An app's own page on the API's origin (so no CORS is involved here), served by the test.
  await page.route(`${API}/app/settings`, (route) =>
    route.fulfill({
      contentType: "text/html",
      body: `<!doctype html><html lang="en"><head><title>App settings</title>
        <link rel="stylesheet" href="/integrations.css"></head><body><main><h1>Settings</h1>
        <section id="mine"></section></main>
        <script type="module">
          import { init } from "/integrations.js";
          window.tokenCalls = 0;
          window.controller = await init(document.getElementById("mine"), {
            token: async () => { window.tokenCalls += 1; return ${JSON.stringify(token)}; },
            providers: ["google"],
            returnTo: "${API}/integrations",
          });
        </script></body></html>`,
    }),
  );
  await page.goto(`${API}/app/settings`);
  await ready(page);
  assert.equal(await page.locator("#mine section.cb-card").count(), 1, "only the providers asked for");
  assert.equal(await badge(page, "google"), "Not connected");
  assert.equal(await page.evaluate(() => window.tokenCalls), 2, "the token function is called per request (status, calendars)");
  await page.evaluate(() => window.controller.refresh());
  assert.equal(await page.evaluate(() => window.tokenCalls), 4);
  await page.evaluate(() => window.controller.destroy());
  assert.equal(await page.locator("#mine").innerHTML(), "");
  assertNoPageErrors(context);
  await context.close();
});

test("a token the API refuses: the page says the session has expired", async () => {
  const context = await newContext(browser, DESKTOP);
  const page = await context.newPage();
  await page.route(`${API}/config.json`, (route) =>
    route.fulfill({ json: { token: "not-a-token", returnTo: `${API}/integrations` } }),
  );
  await page.goto(`${API}/integrations`);
  await ready(page);
  assert.match(await page.getByRole("alert").textContent(), /You are signed out.*Your session has expired/);
  assert.equal(await badge(page, "google"), "Unavailable");
  assert.match(await card(page, "google").textContent(), /could not be loaded/);
  assertNoPageErrors(context);
  await context.close();
});

test("a provider the deployment does not offer (404 unknown_provider) gets no card", async () => {
  const context = await newContext(browser, DESKTOP);
  const page = await context.newPage();
  await page.route(`${API}/connections/zoom`, (route) =>
    route.fulfill({ status: 404, json: { error: { code: "unknown_provider", message: "unknown provider" } } }),
  );
  await page.goto(`${API}/integrations`);
  await ready(page);
  assert.deepEqual(await page.locator("section.cb-card").evaluateAll((cards) => cards.map((c) => c.dataset.provider)), ["google", "gmail"]);
  assertNoPageErrors(context);
  await context.close();
});

test("a QR code past its expiry says so and offers a new one", async () => {
  const context = await newContext(browser, DESKTOP);
  const page = await context.newPage();
  await page.goto(`${API}/integrations`);
  await ready(page);
  // Installed once the page is up: from here the page's timers and Date follow the test's clock.
  await page.clock.install();
  const google = card(page, "google");
  await google.getByRole("button", { name: "Connect from your phone" }).click();
  await google.getByRole("img", { name: /QR code/ }).waitFor();
  assert.match(await google.locator("figcaption").textContent(), /Works once/);

  await page.clock.fastForward("05:05");
  await google.getByText("This code has expired. Make a new one.").waitFor();
  // Back to the real time, which the server's next expiry is counted from.
  await page.clock.setSystemTime(new Date());
  await google.getByRole("button", { name: "New code" }).click();
  await google.locator("figcaption", { hasText: "Works once" }).waitFor();
  assertNoPageErrors(context);
  await context.close();
});
