// calbridge integrations page: one card per provider (status, Connect / Reconnect /
// Disconnect, the Google calendar picker, "Connect from your phone" with a QR code).
//
// Contract (see README.md beside this file):
// - `init(root, options)` renders into `root` and resolves to a controller
//   `{ refresh(), destroy() }`. options: `apiBase` (the calbridge HTTP API; default this
//   page's origin), `token` (the app's bearer token for the signed-in user: a string, or a
//   function returning one or a promise of one, called before every request so the app can
//   refresh it), `providers` (default ["google", "zoom"]; one the deployment does not offer is
//   left out), `returnTo` (where the browser comes back after consent; must be on the
//   deployment's ALLOWED_RETURN_TO), `accountLabel` (how the app names the user, shown on
//   calbridge's launch page so the person in the browser can tell whose app account they
//   connect), `onLaunch(url, provider)` (default: open the launch URL in this tab).
// - Without a call to init, every element with `data-calbridge-integrations` and a
//   `data-config-url` is initialised from that URL's JSON (the same options). The local
//   stack serves one with a demo token; an app serves its own behind its login.
// - On load, every status (and Google's calendar list) is fetched at once, never one after
//   another. `?status=connected|error&reason=` from the connect flow is shown, then removed
//   from the address bar so a reload does not repeat it.
// - The token is only ever sent in the Authorization header to apiBase; nothing is stored
//   except the provider a connect flow was started for (sessionStorage), to name it on return.

const PROVIDERS = {
  google: {
    name: "Google",
    title: "Google Calendar",
    blurb: "Your app adds your appointments to a Google calendar you choose and checks when you are busy.",
    calendars: true,
  },
  gmail: {
    name: "Gmail",
    title: "Gmail",
    blurb: "Your app sends the emails you write in it from your own Gmail address. It cannot read your mailbox.",
    calendars: false,
    // Gmail's grant lives in the Google account.
    account: "Google",
    without: "Your app will not be able to send email from your Gmail address until you connect again.",
  },
  zoom: {
    name: "Zoom",
    title: "Zoom",
    blurb: "Your app creates Zoom meetings for your sessions, hosted by your Zoom account.",
    calendars: false,
  },
};

// Permissions in plain words, by the provider's scope name.
const SCOPE_WORDS = {
  openid: "Know which account you connected",
  email: "See your email address",
  profile: "See your name",
  "https://www.googleapis.com/auth/calendar.events": "Create, change and delete events in your calendars",
  "https://www.googleapis.com/auth/calendar.events.freebusy": "See when you are busy (not what your events are)",
  "https://www.googleapis.com/auth/calendar.calendarlist.readonly": "See the list of your calendars",
  "https://www.googleapis.com/auth/calendar": "See and change everything in your calendars",
  "https://www.googleapis.com/auth/calendar.readonly": "See everything in your calendars",
  "https://www.googleapis.com/auth/gmail.send": "Send email as you (not read it)",
  "user:read:user": "See your Zoom profile (name, email)",
  "meeting:write:meeting": "Create meetings for you",
  "meeting:read:meeting": "See the meetings it created",
  "meeting:read:list_meetings": "List your scheduled meetings",
  "meeting:update:meeting": "Change the meetings it created",
  "meeting:delete:meeting": "Delete the meetings it created",
};

// Why a connect flow came back with status=error, in plain words (reason codes of
// GET /connections/{provider}/callback).
const RETURN_REASONS = {
  access_denied: "You declined on the consent screen, so nothing was connected.",
  insufficient_scope:
    "Some permissions were not granted (a box was unticked on the consent screen). Connect again and allow all of them.",
  no_refresh_token: "The provider did not grant lasting access. Connect again; if it keeps happening, remove the app's access in your account settings first.",
  authorization_failed: "The provider refused the request. Try again in a moment.",
  invalid_issuer: "The answer did not come from the provider it should have. Nothing was connected; try again.",
  invalid_request: "The connect request was not valid. Start again from this page.",
  exchange_failed: "The provider's answer could not be completed. Try again in a moment.",
  identity_failed: "Your account could not be identified at the provider. Try again in a moment.",
  server_error: "Something went wrong on our side. Try again in a moment.",
};

const RECONNECT_REASONS = {
  invalid_grant: "{provider} no longer accepts the app's access (it was revoked or expired).",
  refresh_failed: "{provider} has not renewed the app's access lately.",
};

const REVOKE_SKIPPED = {
  grant_shared: "Its access at {provider} was kept, because another connection uses the same {provider} account.",
  not_connected: "Nothing was connected.",
  revocation_failed: "{provider} did not confirm the revocation; you can remove the app's access in your {provider} account settings.",
  tokens_unreadable: "The stored access could not be read to revoke it; you can remove the app's access in your {provider} account settings.",
};

const PENDING_KEY = "calbridge:pending-provider";
const QR_POLL_MS = 3000;

/** An error answer of the API, with its stable code. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The calbridge HTTP API with the app's bearer token. */
export class CalbridgeClient {
  constructor({ apiBase, token, fetch: fetchImpl }) {
    this.base = (apiBase || globalThis.location.origin).replace(/\/+$/, "");
    this.token = token;
    this.fetch = fetchImpl || globalThis.fetch.bind(globalThis);
  }

  async request(method, path, body) {
    const token = typeof this.token === "function" ? await this.token() : this.token;
    const headers = { authorization: `Bearer ${token}`, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await this.fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "network", "The service could not be reached. Check your connection and try again.");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = data.error || {};
      const message =
        response.status === 401 ? "Your session has expired. Sign in again." : error.message || data.message || `HTTP ${response.status}`;
      throw new ApiError(response.status, error.code || (response.status === 401 ? "unauthenticated" : "http_error"), message);
    }
    return data;
  }

  status(provider) {
    return this.request("GET", `/connections/${provider}`);
  }
  authorize(provider, { returnTo, accountLabel } = {}) {
    const body = {};
    if (returnTo) body.return_to = returnTo;
    if (accountLabel) body.account_label = accountLabel;
    return this.request("POST", `/connections/${provider}/authorize`, body);
  }
  disconnect(provider) {
    return this.request("DELETE", `/connections/${provider}`);
  }
  calendars() {
    return this.request("GET", "/calendars");
  }
  selectCalendar(calendarId) {
    return this.request("PUT", "/calendars/selected", { calendar_id: calendarId });
  }
}

// ---------------------------------------------------------------------------------------
// DOM helpers: text goes in as text nodes, never as HTML.

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

function when(iso) {
  const date = new Date(iso);
  return h("time", { datetime: iso }, Number.isNaN(date.getTime()) ? iso : dateTime.format(date));
}

function fill(template, provider) {
  return template.replaceAll("{provider}", provider);
}

let instances = 0;
let qrSerial = 0; // tells one QR code from the next (tests wait on it)

// ---------------------------------------------------------------------------------------

/** Renders the integrations UI into `root`. See the contract at the top of this file. */
export async function init(root, options = {}) {
  const id = `cb${++instances}`;
  const client = new CalbridgeClient(options);
  const wanted = (options.providers && options.providers.length ? options.providers : Object.keys(PROVIDERS)).filter(
    (p) => PROVIDERS[p],
  );
  const returnTo = options.returnTo || globalThis.location.origin + globalThis.location.pathname;
  const onLaunch = options.onLaunch || ((url) => globalThis.location.assign(url));
  const launchOptions = { returnTo, accountLabel: options.accountLabel };
  const state = {
    statuses: {}, // provider -> status body, or ApiError
    calendars: null, // list, ApiError or null
    qr: {}, // provider -> { url, expiresAt, timer, poll }
    destroyed: false,
  };

  root.classList.add("cb-root");
  const notice = h("div", { class: "cb-notice", id: `${id}-notice`, tabindex: "-1", hidden: true });
  const live = h("div", { class: "cb-visually-hidden", role: "status", "aria-live": "polite" });
  const cards = h("div", { class: "cb-cards" });
  const dialog = buildDialog(id);
  root.replaceChildren(notice, cards, live, dialog.element);

  function announce(text) {
    live.textContent = "";
    // A fresh text node after clearing makes screen readers read a repeated message again.
    setTimeout(() => (live.textContent = text), 30);
  }

  function showNotice(kind, heading, text) {
    notice.hidden = false;
    notice.className = `cb-notice cb-notice-${kind}`;
    notice.setAttribute("role", kind === "error" ? "alert" : "status");
    notice.replaceChildren(h("p", { class: "cb-notice-heading" }, heading), text ? h("p", {}, text) : null);
  }

  // -- the return from a connect flow --------------------------------------------------
  const params = new URLSearchParams(globalThis.location.search);
  const returned = params.get("status");
  const returnedReason = params.get("reason");
  let pending = null;
  try {
    pending = sessionStorage.getItem(PENDING_KEY);
    sessionStorage.removeItem(PENDING_KEY);
  } catch {
    // Storage may be off (private mode, sandboxed frame): the notice just names no provider.
  }
  if (returned) {
    params.delete("status");
    params.delete("reason");
    const query = params.toString();
    history.replaceState(history.state, "", globalThis.location.pathname + (query ? `?${query}` : "") + globalThis.location.hash);
  }

  // -- loading: every request at once --------------------------------------------------
  async function load() {
    const statusRequests = wanted.map((provider) =>
      client.status(provider).then(
        (body) => [provider, body],
        (error) => [provider, error],
      ),
    );
    const calendarRequest = wanted.includes("google")
      ? client.calendars().then(
          (body) => body.calendars || [],
          (error) => error,
        )
      : Promise.resolve(null);
    const [statuses, calendars] = await Promise.all([Promise.all(statusRequests), calendarRequest]);
    state.statuses = Object.fromEntries(statuses);
    state.calendars = calendars;
    // Asked at the same time, the two can disagree: the calendar call is what finds out that
    // Google stopped accepting the grant (409 needs_reconnect), so the status is asked again.
    const google = state.statuses.google;
    if (google && google.status === "connected" && calendars instanceof ApiError && calendars.code === "needs_reconnect") {
      state.statuses.google = await client.status("google").catch((error) => error);
    }
  }

  function render() {
    const shown = wanted.filter((p) => !(state.statuses[p] instanceof ApiError && state.statuses[p].code === "unknown_provider"));
    const focused = document.activeElement && root.contains(document.activeElement) ? document.activeElement.id : null;
    cards.replaceChildren(...shown.map(renderCard));
    if (focused) document.getElementById(focused)?.focus();
    const unauthenticated = Object.values(state.statuses).find((s) => s instanceof ApiError && s.status === 401);
    if (unauthenticated) showNotice("error", "You are signed out", unauthenticated.message);
  }

  function renderCard(provider) {
    const meta = PROVIDERS[provider];
    const status = state.statuses[provider];
    const titleId = `${id}-${provider}-title`;
    const card = h("section", { class: "cb-card", "aria-labelledby": titleId, dataset: { provider } });
    let badge;
    let body;
    let actions;
    if (status instanceof ApiError) {
      badge = h("span", { class: "cb-badge cb-badge-unknown" }, "Unavailable");
      body = [h("p", { class: "cb-error" }, `The status could not be loaded: ${status.message}`)];
      actions = [h("button", { type: "button", class: "cb-button", onclick: () => refresh() }, "Try again")];
    } else if (status.status === "not_connected") {
      badge = h("span", { class: "cb-badge cb-badge-off", dataset: { status: "not_connected" } }, "Not connected");
      body = [h("p", {}, meta.blurb)];
      actions = [connectButton(provider, `Connect ${meta.name}`, true)];
    } else {
      const reconnect = status.status === "needs_reconnect";
      badge = reconnect
        ? h("span", { class: "cb-badge cb-badge-warn", dataset: { status: "needs_reconnect" } }, "Needs reconnecting")
        : h("span", { class: "cb-badge cb-badge-on", dataset: { status: "connected" } }, "Connected");
      body = [
        h(
          "p",
          { class: "cb-account" },
          "Connected as ",
          h("strong", { class: "cb-email" }, status.email || status.account_id || "an account"),
          status.connected_at ? [" since ", when(status.connected_at)] : null,
          ".",
        ),
        reconnect ? reconnectWarning(provider, status) : null,
        permissions(provider, status.scopes || []),
        meta.calendars && !reconnect ? calendarPicker() : null,
      ];
      actions = [
        reconnect ? connectButton(provider, `Reconnect ${meta.name}`, true) : null,
        h(
          "button",
          { type: "button", class: "cb-button cb-button-danger", id: `${id}-${provider}-disconnect`, onclick: () => disconnect(provider) },
          `Disconnect ${meta.name}`,
        ),
      ];
    }
    card.append(
      h("header", { class: "cb-card-header" }, h("h2", { id: titleId }, meta.title), badge),
      h("div", { class: "cb-card-body" }, body),
      h("div", { class: "cb-actions" }, actions),
    );
    if (!(status instanceof ApiError) && status.status !== "connected") card.append(phoneSection(provider));
    return card;
  }

  function reconnectWarning(provider, status) {
    const name = PROVIDERS[provider].name;
    const why = fill(RECONNECT_REASONS[status.last_error_code] || "The app's access stopped working.", name);
    return h(
      "div",
      { class: "cb-warning" },
      h("p", {}, h("strong", {}, "Reconnect needed. "), why, ` Until you reconnect, your app cannot use your ${name} account.`),
      status.last_error ? h("p", { class: "cb-detail" }, `Details: ${status.last_error}`) : null,
    );
  }

  function permissions(provider, scopes) {
    if (!scopes.length) return null;
    return h(
      "details",
      { class: "cb-permissions" },
      h("summary", {}, `Permissions granted (${scopes.length})`),
      h(
        "ul",
        {},
        scopes.map((scope) => h("li", {}, SCOPE_WORDS[scope] || scope, SCOPE_WORDS[scope] ? h("span", { class: "cb-scope" }, scope) : null)),
      ),
    );
  }

  function calendarPicker() {
    const selectId = `${id}-calendar`;
    const hintId = `${id}-calendar-hint`;
    const calendars = state.calendars;
    if (calendars instanceof ApiError) {
      return h("p", { class: "cb-error" }, `Your calendars could not be loaded: ${calendars.message}`);
    }
    if (!calendars) return null;
    const writable = calendars.filter((c) => c.access_role === "owner" || c.access_role === "writer");
    const current = writable.find((c) => c.selected) || writable.find((c) => c.primary);
    const select = h(
      "select",
      { id: selectId, "aria-describedby": hintId, onchange: (event) => chooseCalendar(event.target) },
      writable.map((c) =>
        h("option", { value: c.id, selected: c === current }, c.summary || c.id, c.primary ? " (primary)" : ""),
      ),
    );
    select.dataset.current = current ? current.id : "";
    const hidden = calendars.length - writable.length;
    return h(
      "div",
      { class: "cb-field" },
      h("label", { for: selectId }, "Calendar that receives your app's events"),
      select,
      h(
        "p",
        { class: "cb-hint", id: hintId },
        hidden > 0
          ? `Only calendars you can add events to are listed (${hidden} read-only ${hidden === 1 ? "calendar is" : "calendars are"} left out).`
          : "Only calendars you can add events to are listed.",
      ),
    );
  }

  async function chooseCalendar(select) {
    const calendarId = select.value;
    const previous = select.dataset.current;
    select.disabled = true;
    select.setAttribute("aria-busy", "true");
    try {
      const { selected } = await client.selectCalendar(calendarId);
      select.dataset.current = calendarId;
      state.calendars = (state.calendars || []).map((c) => ({ ...c, selected: c.id === calendarId }));
      announce(`Saved. Your app's events now go to ${selected?.summary || calendarId}.`);
      showNotice("success", "Calendar saved", `Your app's events now go to ${selected?.summary || calendarId}.`);
    } catch (error) {
      select.value = previous;
      showNotice("error", "The calendar was not changed", error.message);
    } finally {
      select.disabled = false;
      select.removeAttribute("aria-busy");
      select.focus();
    }
  }

  function connectButton(provider, label, primary) {
    const button = h(
      "button",
      { type: "button", class: primary ? "cb-button cb-button-primary" : "cb-button", id: `${id}-${provider}-connect` },
      label,
    );
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.textContent = `Opening ${PROVIDERS[provider].name}…`;
      try {
        const { launch_url: url } = await client.authorize(provider, launchOptions);
        try {
          sessionStorage.setItem(PENDING_KEY, provider);
        } catch {
          // See above: the return notice then names no provider.
        }
        onLaunch(url, provider);
      } catch (error) {
        showNotice("error", `${PROVIDERS[provider].name} could not be connected`, error.message);
        button.disabled = false;
        button.textContent = label;
      }
    });
    return button;
  }

  // -- connect from your phone ---------------------------------------------------------
  function phoneSection(provider) {
    const name = PROVIDERS[provider].name;
    const panelId = `${id}-${provider}-qr`;
    const qr = state.qr[provider];
    const toggle = h(
      "button",
      {
        type: "button",
        class: "cb-button cb-button-quiet",
        id: `${id}-${provider}-phone`,
        "aria-expanded": qr ? "true" : "false",
        "aria-controls": panelId,
        onclick: () => (state.qr[provider] ? hideQr(provider) : showQr(provider)),
      },
      qr ? "Hide the QR code" : state.statuses[provider]?.status === "needs_reconnect" ? "Reconnect from your phone" : "Connect from your phone",
    );
    const panel = h("div", { class: "cb-qr", id: panelId, hidden: !qr });
    if (qr) panel.append(...qrContents(provider, qr, name));
    return h("div", { class: "cb-phone" }, toggle, panel);
  }

  function qrContents(provider, qr, name) {
    if (qr.error) return [h("p", { class: "cb-error" }, `No QR code: ${qr.error}`)];
    if (!qr.svg) return [h("p", {}, "Making a QR code…")];
    const expired = Date.now() >= qr.expiresAt.getTime();
    const figure = h("figure", { class: expired ? "cb-qr-figure cb-qr-expired" : "cb-qr-figure" });
    figure.append(qr.svg.cloneNode(true));
    figure.append(
      h(
        "figcaption",
        {},
        expired
          ? h("strong", {}, "This code has expired. Make a new one.")
          : [`Scan with your phone's camera to connect ${name} there. Works once; expires at `, h("time", { datetime: qr.expiresAt.toISOString(), class: "cb-qr-expiry" }, clock.format(qr.expiresAt)), ` (${remaining(qr.expiresAt)}).`],
      ),
    );
    return [
      figure,
      h(
        "button",
        { type: "button", class: "cb-button", id: `${id}-${provider}-qr-new`, onclick: () => showQr(provider) },
        "New code",
      ),
    ];
  }

  function remaining(at) {
    const seconds = Math.max(0, Math.round((at.getTime() - Date.now()) / 1000));
    return seconds >= 60 ? `in ${Math.ceil(seconds / 60)} min` : `in ${seconds} s`;
  }

  async function showQr(provider) {
    stopQr(provider);
    state.qr[provider] = {};
    render();
    try {
      const [{ launch_url: url, expires_at: expiresAt }, { qrcode }] = await Promise.all([
        client.authorize(provider, launchOptions),
        import("./vendor/qrcode-generator/qrcode.mjs"),
      ]);
      const code = qrcode(0, "M");
      code.addData(url);
      code.make();
      const svg = qrSvg(code, PROVIDERS[provider].name);
      svg.dataset.serial = String(++qrSerial);
      state.qr[provider] = { url, expiresAt: new Date(expiresAt), svg };
      const qr = state.qr[provider];
      // Redrawn every 15 s for the countdown, and the status polled so the card turns
      // "connected" when the phone finishes; both stop at expiry, hide or destroy.
      qr.timer = setInterval(() => {
        if (Date.now() >= qr.expiresAt.getTime()) stopQr(provider, true);
        renderQr(provider);
      }, 15000);
      qr.poll = setInterval(() => pollStatus(provider), QR_POLL_MS);
      qr.stop = setTimeout(() => {
        stopQr(provider, true);
        renderQr(provider);
      }, Math.max(0, qr.expiresAt.getTime() - Date.now()));
    } catch (error) {
      state.qr[provider] = { error: error.message };
    }
    render();
  }

  function renderQr(provider) {
    const panel = document.getElementById(`${id}-${provider}-qr`);
    const qr = state.qr[provider];
    if (panel && qr) panel.replaceChildren(...qrContents(provider, qr, PROVIDERS[provider].name));
  }

  function stopQr(provider, keep = false) {
    const qr = state.qr[provider];
    if (!qr) return;
    clearInterval(qr.timer);
    clearInterval(qr.poll);
    clearTimeout(qr.stop);
    if (!keep) delete state.qr[provider];
  }

  function hideQr(provider) {
    stopQr(provider);
    render();
    document.getElementById(`${id}-${provider}-phone`)?.focus();
  }

  async function pollStatus(provider) {
    if (state.destroyed) return;
    const status = await client.status(provider).catch(() => null);
    if (!status || status.status !== "connected") return;
    stopQr(provider);
    await load();
    render();
    const name = PROVIDERS[provider].name;
    showNotice("success", `${name} connected`, `Connected from your phone as ${status.email || status.account_id}.`);
  }

  // -- disconnect ----------------------------------------------------------------------
  async function disconnect(provider) {
    const name = PROVIDERS[provider].name;
    // Where the grant is revoked: the provider, or the account it belongs to (Gmail: Google).
    const at = PROVIDERS[provider].account || name;
    const status = state.statuses[provider];
    const confirmed = await dialog.ask({
      title: `Disconnect ${name}?`,
      text: [
        `The app's access to ${status.email || `your ${name} account`} will be revoked at ${at}, and the tokens stored for it will be erased.`,
        PROVIDERS[provider].without ||
          (PROVIDERS[provider].calendars
            ? `Your app will stop adding events to your calendar until you connect again. Events already in your calendar stay there.`
            : `Your app will not be able to create ${name} meetings for you until you connect again.`),
      ],
      confirm: `Disconnect ${name}`,
    });
    if (!confirmed) {
      document.getElementById(`${id}-${provider}-disconnect`)?.focus();
      return;
    }
    try {
      const result = await client.disconnect(provider);
      const outcome = result.revoked
        ? `Access was revoked at ${at} and the stored tokens were erased.`
        : `The stored tokens were erased. ${fill(REVOKE_SKIPPED[result.revoke_skipped_reason] || "", at)}`;
      await load();
      render();
      showNotice("success", `${name} disconnected`, outcome);
      document.getElementById(`${id}-${provider}-connect`)?.focus();
    } catch (error) {
      showNotice("error", `${name} was not disconnected`, error.message);
    }
  }

  // -- start -----------------------------------------------------------------------------
  async function refresh() {
    await load();
    if (!state.destroyed) render();
  }

  await refresh();
  if (returned) {
    // A flow started elsewhere (a phone that scanned the QR code) left no pending provider:
    // then the connection made last is the one that just finished.
    if (!(pending && PROVIDERS[pending]) && returned === "connected") {
      const connected = wanted.filter((p) => state.statuses[p]?.status === "connected");
      pending = connected.sort((a, b) => (state.statuses[b].updated_at || "").localeCompare(state.statuses[a].updated_at || ""))[0];
    }
    const name = pending && PROVIDERS[pending] ? PROVIDERS[pending].name : null;
    if (returned === "connected") {
      const status = name ? state.statuses[pending] : null;
      const who = status && !(status instanceof ApiError) && status.email ? ` as ${status.email}` : "";
      showNotice("success", `${name || "Account"} connected`, `${name || "Your account"} is connected${who}.`);
    } else {
      const why = RETURN_REASONS[returnedReason] || "The connection did not complete. Try again.";
      showNotice("error", `${name || "The account"} was not connected`, why);
    }
    notice.focus();
  }
  performance.mark("calbridge:ready");

  return {
    refresh,
    destroy() {
      state.destroyed = true;
      for (const provider of Object.keys(state.qr)) stopQr(provider);
      root.replaceChildren();
    },
  };
}

// An SVG of the code's modules, with a quiet zone of 4 modules and an accessible name.
function qrSvg(code, name) {
  const count = code.getModuleCount();
  const size = count + 8;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `QR code: a single-use link to connect ${name} from your phone`);
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.classList.add("cb-qr-code");
  let path = "";
  for (let row = 0; row < count; row += 1) {
    for (let col = 0; col < count; col += 1) {
      if (code.isDark(row, col)) path += `M${col + 4} ${row + 4}h1v1h-1z`;
    }
  }
  const background = document.createElementNS(ns, "rect");
  background.setAttribute("width", String(size));
  background.setAttribute("height", String(size));
  background.setAttribute("fill", "#fff");
  const modules = document.createElementNS(ns, "path");
  modules.setAttribute("d", path);
  modules.setAttribute("fill", "#000");
  svg.append(background, modules);
  return svg;
}

// The confirmation dialog: a native <dialog> (focus kept inside, Escape cancels).
function buildDialog(id) {
  const title = h("h2", { id: `${id}-dialog-title` });
  const text = h("div", { id: `${id}-dialog-text` });
  const cancel = h("button", { type: "submit", value: "cancel", class: "cb-button", autofocus: true }, "Cancel");
  const confirm = h("button", { type: "submit", value: "confirm", class: "cb-button cb-button-danger" });
  const element = h(
    "dialog",
    { class: "cb-dialog", "aria-labelledby": title.id, "aria-describedby": text.id },
    h("form", { method: "dialog" }, title, text, h("div", { class: "cb-actions" }, cancel, confirm)),
  );
  return {
    element,
    ask({ title: heading, text: paragraphs, confirm: label }) {
      title.textContent = heading;
      text.replaceChildren(...paragraphs.map((p) => h("p", {}, p)));
      confirm.textContent = label;
      return new Promise((resolve) => {
        element.addEventListener("close", () => resolve(element.returnValue === "confirm"), { once: true });
        element.returnValue = "";
        element.showModal();
        cancel.focus();
      });
    },
  };
}

// Auto-start: every element that names a config URL.
async function boot() {
  for (const root of document.querySelectorAll("[data-calbridge-integrations][data-config-url]")) {
    try {
      const response = await fetch(root.dataset.configUrl, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      await init(root, await response.json());
    } catch (error) {
      root.replaceChildren(
        h("p", { class: "cb-error", role: "alert" }, `The integrations could not be loaded (${error.message}). Reload the page to try again.`),
      );
    }
  }
}

if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot, { once: true });
  else boot();
}
