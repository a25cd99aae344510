// The order-host operator console. Plain JavaScript, no dependencies: hash routes (#/overview, #/orders,
// #/orders/<id>, #/plugins) over the REST API, called with the viewer's own token, so the console can never do more
// than that token may. Every value from the server is put on the page as text, never as HTML.
"use strict";

const TOKEN_KEY = "order-host.token";
const STATES = ["received", "validated", "awaiting_approval", "approved", "charged", "shipping", "shipped",
  "cancelled", "failed", "rejected"];
const FINAL = new Set(["shipped", "cancelled", "failed", "rejected"]);
const ORDERS_POLL_MS = 2000;
const STATUS_POLL_MS = 1500;
const OVERVIEW_POLL_MS = 5000;

const viewer = { token: sessionStorage.getItem(TOKEN_KEY) || "", may: {}, role: null };
// Timers of the page on screen; cleared when another page is shown.
let pageTimers = [];
// Bumped on every page change, so a slow answer for a page no longer shown is dropped.
let pageGeneration = 0;

// ---- the API ----

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
    this.fields = (body && body.fields) || {};
  }
}

/** Calls the API; resolves to {status, body, etag}, rejects with an ApiError for 4xx/5xx. */
async function api(method, path, { body, json, headers = {} } = {}) {
  const sent = { ...headers };
  if (viewer.token) sent.Authorization = `Bearer ${viewer.token}`;
  let payload = body;
  if (json !== undefined) {
    sent["Content-Type"] = "application/json";
    payload = JSON.stringify(json);
  }
  const response = await fetch(path, { method, headers: sent, body: payload, cache: "no-store" });
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = { message: text }; }
  if (response.status >= 400) throw new ApiError(response.status, parsed);
  return { status: response.status, body: parsed, etag: response.headers.get("ETag") };
}

// ---- building the page (text only) ----

/** h("td", {class: "num"}, "42") — attributes set as properties or attributes, children as text or nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const page = () => document.getElementById("page");
const badge = (text) => h("span", { class: `badge ${text}`, "data-state": text }, String(text).replace(/_/g, " "));
const money = (cents) => (cents === null || cents === undefined ? "—" : `$${(cents / 100).toFixed(2)}`);
const shortDigest = (digest) => (digest ? digest.replace(/^sha256:/, "").slice(0, 12) : "—");
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "—");

function age(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

function toast(message, bad = false) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = bad ? "bad" : "";
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 5000);
}

/** Runs `poll` now and every `ms`, skipping a tick while the last one is still waiting for its answer. */
function every(ms, poll) {
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try { await poll(); } finally { busy = false; }
  };
  tick();
  pageTimers.push(setInterval(tick, ms));
}

function show(...nodes) {
  page().replaceChildren(...nodes);
}

/**
 * An error handler for the page of `generation`: it shows the error above the page, only while that page is on
 * screen, and leaves the page as it was, so the next poll that succeeds carries on (and clears it).
 */
function failed(generation) {
  return (error) => {
    if (generation !== pageGeneration) return;
    const hint = error.status === 401 ? " Enter a token above." : "";
    const banner = document.getElementById("page-error");
    banner.textContent = `${error.message}${hint}`;
    banner.dataset.error = error.code || "";
    banner.hidden = false;
  };
}

function clearError() {
  document.getElementById("page-error").hidden = true;
}

// ---- who is looking ----

async function identify() {
  const role = document.getElementById("role");
  try {
    const { body } = await api("GET", "/auth/whoami");
    viewer.may = body.may;
    viewer.role = body.role;
    role.textContent = body.role ? `role: ${body.role}` : "no role";
  } catch (error) {
    viewer.may = {};
    viewer.role = null;
    role.textContent = error.status === 401 ? "unknown token" : "offline";
  }
  role.dataset.role = viewer.role || "";
}

// ---- Overview ----

async function overviewPage(generation) {
  const render = async () => {
    const { body } = await api("GET", "/overview");
    if (generation !== pageGeneration) return;
    clearError();
    const counts = STATES.map((s) => h("a", { class: "count", href: `#/orders?state=${s}` },
      h("b", {}, body.counts[s] || 0), h("span", {}, s.replace(/_/g, " "))));
    const rate = body.per_minute;
    show(
      h("h1", {}, "Overview"),
      h("div", { class: "counts", "data-testid": "counts" }, counts),
      h("div", { class: "panels" },
        h("div", { class: "panel" }, h("h2", {}, "Orders per minute"), h("dl", {},
          h("dt", {}, "last minute"), h("dd", {}, rate.last_1m.toFixed(1)),
          h("dt", {}, "last 10 minutes"), h("dd", {}, rate.last_10m.toFixed(1)),
          h("dt", {}, "last hour"), h("dd", {}, rate.last_60m.toFixed(1)))),
        h("div", { class: "panel" }, h("h2", {}, "Needing attention"),
          body.needing_attention.length === 0 ? h("p", { class: "muted" }, "Nothing needs a person.") :
            h("ul", {}, body.needing_attention.map((a) => h("li", {},
              h("a", { href: `#/orders/${encodeURIComponent(a.order_id)}` }, a.order_id), " — ", a.message))))),
      h("h2", {}, "Recent failures"),
      failuresTable(body.recent_failures),
    );
  };
  every(OVERVIEW_POLL_MS, () => render().catch(failed(generation)));
}

function failuresTable(events) {
  if (events.length === 0) return h("p", { class: "muted" }, "No failed attempts.");
  return h("table", {},
    h("thead", {}, h("tr", {}, ["at", "order", "activity", "attempt", "outcome", "message"].map((c) => h("th", {}, c)))),
    h("tbody", {}, events.map((e) => h("tr", {},
      h("td", {}, time(e.created_at)),
      h("td", {}, h("a", { href: `#/orders/${encodeURIComponent(e.order_id)}` }, e.order_id)),
      h("td", {}, e.activity), h("td", { class: "num" }, e.attempt), h("td", {}, e.outcome),
      h("td", { class: "error" }, e.message)))));
}

// ---- Orders ----

async function ordersPage(generation, query) {
  const filter = query.get("state") || "";
  const select = h("select", { "aria-label": "state", id: "state-filter",
    onchange: (e) => { location.hash = e.target.value ? `#/orders?state=${e.target.value}` : "#/orders"; } },
  h("option", { value: "" }, "all states"),
  STATES.map((s) => h("option", { value: s, selected: s === filter }, s.replace(/_/g, " "))));
  const body = h("tbody", { id: "orders" });
  const updated = h("span", { class: "muted" });
  show(
    h("h1", {}, "Orders"),
    h("div", { class: "toolbar" }, select,
      h("button", { type: "button", id: "awaiting", onclick: () => { location.hash = "#/orders?state=awaiting_approval"; } },
        "Awaiting approval"),
      updated),
    h("table", {},
      h("thead", {}, h("tr", {}, ["order", "state", "total", "age", "last error"].map((c) => h("th", {}, c)))), body),
  );
  const render = async () => {
    const path = `/orders?limit=100${filter ? `&state=${filter}` : ""}`;
    const { body: list } = await api("GET", path);
    if (generation !== pageGeneration) return;
    clearError();
    body.replaceChildren(...list.orders.map((o) => h("tr", { "data-order-id": o.order_id },
      h("td", {}, h("a", { href: `#/orders/${encodeURIComponent(o.order_id)}` }, o.order_id)),
      h("td", {}, badge(o.state)),
      h("td", { class: "num" }, money(o.total_cents)),
      h("td", { class: "num", title: o.created_at }, age(o.created_at)),
      h("td", { class: "error" }, o.last_error || ""))));
    if (list.orders.length === 0) body.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No orders.")));
    updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
  };
  every(ORDERS_POLL_MS, () => render().catch(failed(generation)));
}

// ---- One order ----

async function orderPage(generation, id) {
  let etag = null;
  let doc = null;
  let countdown = null;
  const header = h("h1", {}, id);
  const panels = h("div", { class: "panels" });
  const timeline = h("div", { id: "timeline" });
  const actions = h("div", { class: "actions panel", id: "actions" }, h("h2", {}, "Actions"));
  const notes = h("div");
  show(header, notes, panels, actions, h("h2", {}, "Timeline"), timeline);

  const refresh = async () => {
    const answer = await api("GET", `/orders/${encodeURIComponent(id)}/status`,
      { headers: etag ? { "If-None-Match": etag } : {} });
    if (generation !== pageGeneration) return;
    clearError();
    if (answer.status === 304) return;
    etag = answer.etag;
    const first = doc === null;
    const changedState = !first && doc.state !== answer.body.state;
    doc = answer.body;
    header.replaceChildren(id, badge(doc.state));
    const attention = doc.attention ? [h("p", { class: "note", "data-attention": true }, `Needs attention: ${doc.attention}`)] : [];
    notes.replaceChildren(...doc.notes.map((n) => h("p", { class: "note" }, n)), ...attention);
    panels.replaceChildren(...orderPanels(doc));
    countdown = doc.state === "awaiting_approval" && doc.approval.deadline ? new Date(doc.approval.deadline) : null;
    tick();
    if (first || changedState) renderActions(actions, doc, refreshNow);
    await renderTimeline(timeline, id, doc);
  };
  const refreshNow = () => refresh().catch(failed(generation));
  const tick = () => {
    const el = document.getElementById("countdown");
    if (!el) return;
    if (!countdown) { el.textContent = "—"; return; }
    const left = Math.max(0, Math.round((countdown - Date.now()) / 1000));
    el.textContent = `${left}s left`;
  };
  every(STATUS_POLL_MS, refreshNow);
  pageTimers.push(setInterval(tick, 250));
}

function orderPanels(doc) {
  const a = doc.address;
  const plugins = Object.entries(doc.plugins).map(([slot, p]) => [
    h("dt", {}, slot), h("dd", {}, `${p.name || "?"} ${p.version || ""} `, h("code", { title: p.digest }, shortDigest(p.digest)))]);
  return [
    h("div", { class: "panel", id: "order-panel" }, h("h2", {}, "Order"), h("dl", {},
      h("dt", {}, "state"), h("dd", {}, badge(doc.state)),
      h("dt", {}, "step"), h("dd", {}, doc.step || "—"),
      h("dt", {}, "total"), h("dd", {}, money(doc.total_cents)),
      h("dt", {}, "items"), h("dd", {}, doc.items.map((i) => `${i.quantity} × ${i.sku}`).join(", ")),
      h("dt", {}, "address"), h("dd", { id: "address" }, `${a.street}, ${a.city}, ${a.state} ${a.zip_code}`),
      h("dt", {}, "approval"), h("dd", {}, doc.approval.approved ? "approved" : h("span", { class: "countdown", id: "countdown" })),
      h("dt", {}, "workflow"), h("dd", {}, `${doc.workflow.status} `, h("code", {}, doc.workflow.run_id.slice(0, 8))))),
    h("div", { class: "panel", id: "payment-panel" }, h("h2", {}, "Payment"), h("dl", {},
      h("dt", {}, "payment"), h("dd", {}, doc.payment.payment_id),
      h("dt", {}, "status"), h("dd", {}, badge(doc.payment.status)),
      h("dt", {}, "amount"), h("dd", {}, money(doc.payment.amount_cents)),
      h("dt", {}, "transaction"), h("dd", {}, doc.payment.transaction_id || "—"))),
    h("div", { class: "panel", id: "shipping-panel" }, h("h2", {}, "Shipping"), h("dl", {},
      h("dt", {}, "attempt"), h("dd", {}, doc.shipping.attempt),
      h("dt", {}, "package"), h("dd", {}, doc.shipping.package_id || "—"),
      h("dt", {}, "carrier"), h("dd", {}, doc.shipping.carrier || "—"),
      h("dt", {}, "tracking"), h("dd", {}, doc.shipping.tracking || "—"))),
    h("div", { class: "panel" }, h("h2", {}, "Plugins that ran"), h("dl", {}, plugins)),
  ];
}

function renderActions(box, doc, refresh) {
  const id = doc.order_id;
  const path = (command) => `/orders/${encodeURIComponent(id)}/signals/${command}`;
  const children = [h("h2", {}, "Actions")];
  const done = FINAL.has(doc.state);
  const run = async (button, call, success) => {
    button.disabled = true;
    try {
      const { body } = await call();
      toast(body && body.message ? body.message : success);
      refresh();
      return true;
    } catch (error) {
      toast(error.message, true);
      return error;
    } finally {
      button.disabled = false;
    }
  };
  if (viewer.may.operator && doc.state === "awaiting_approval") {
    const approve = h("button", { class: "primary", id: "approve", type: "button",
      onclick: () => run(approve, () => api("POST", path("approve")), "approved") }, "Approve");
    children.push(h("div", {}, approve));
  }
  if (viewer.may.client && !done) {
    const reason = h("input", { id: "cancel-reason", placeholder: "reason", "aria-label": "cancel reason" });
    const cancel = h("button", { class: "danger", id: "cancel", type: "button",
      onclick: () => run(cancel, () => api("POST", path("cancel"), { json: reason.value ? { reason: reason.value } : {} }),
        "cancellation accepted") }, "Cancel order");
    children.push(h("div", { class: "toolbar" }, reason, cancel));

    const fields = ["street", "city", "state", "zip_code"];
    const inputs = Object.fromEntries(fields.map((f) => [f, h("input", { name: f, id: `address-${f}`, value: doc.address[f] })]));
    const errors = Object.fromEntries(fields.map((f) => [f, h("span", { class: "field-error", id: `error-${f}` })]));
    const formError = h("span", { class: "field-error", id: "address-error" });
    const submit = h("button", { type: "submit", id: "change-address" }, "Change address");
    const form = h("form", { class: "stack", id: "address-form", novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        for (const f of fields) errors[f].textContent = "";
        formError.textContent = "";
        const address = Object.fromEntries(fields.map((f) => [f, inputs[f].value]));
        const outcome = await run(submit, () => api("POST", path("update-address"), { json: address }), "address changed");
        if (outcome instanceof ApiError) {
          for (const [field, problem] of Object.entries(outcome.fields)) if (errors[field]) errors[field].textContent = problem;
          if (Object.keys(outcome.fields).length === 0) formError.textContent = outcome.message;
        }
      } },
    h("h2", {}, "Delivery address"),
    fields.map((f) => h("label", {}, f.replace("_", " "), inputs[f], errors[f])),
    formError, h("div", {}, submit));
    children.push(form);
  }
  if (children.length === 1) children.push(h("p", { class: "muted" }, done ? "The order has finished." : "This token may not act on orders."));
  box.replaceChildren(...children);
}

async function renderTimeline(box, id, doc) {
  if (!viewer.may.operator) {
    box.replaceChildren(h("p", { class: "muted" }, "The full timeline needs an operator token; recent errors:"),
      failuresFromDoc(doc));
    return;
  }
  const { body } = await api("GET", `/orders/${encodeURIComponent(id)}/events`);
  const byDigest = Object.fromEntries(Object.values(doc.plugins).map((p) => [p.digest, p]));
  const rows = body.events.map((e) => {
    const plugin = e.plugin_digest ? byDigest[e.plugin_digest] : null;
    const failed = e.kind === "activity" && e.outcome && e.outcome !== "completed";
    return h("tr", { class: failed ? "failed" : "", "data-kind": e.kind, "data-activity": e.activity || "",
      "data-outcome": e.outcome || "" },
    h("td", { title: e.created_at }, time(e.created_at)),
    h("td", {}, e.activity || e.kind),
    h("td", { class: "num" }, e.attempt ?? ""),
    h("td", {}, e.state ? badge(e.state) : e.outcome || ""),
    h("td", { class: failed ? "error" : "" }, e.message || ""),
    h("td", {}, e.plugin_digest ? [plugin ? `${plugin.name} ${plugin.version} ` : "",
      h("code", { title: e.plugin_digest }, shortDigest(e.plugin_digest))] : ""));
  });
  box.replaceChildren(h("table", {},
    h("thead", {}, h("tr", {}, ["at", "step", "attempt", "outcome", "message", "plugin"].map((c) => h("th", {}, c)))),
    h("tbody", {}, rows)));
}

function failuresFromDoc(doc) {
  if (doc.recent_errors.length === 0) return h("p", { class: "muted" }, "None.");
  return h("ul", {}, doc.recent_errors.map((e) => h("li", {}, `${e.activity} attempt ${e.attempt}: ${e.message}`)));
}

// ---- Plugins ----

async function pluginsPage(generation) {
  const render = async () => {
    const { body } = await api("GET", "/plugins");
    if (generation !== pageGeneration) return;
    clearError();
    show(h("h1", {}, "Plugins"), ...body.slots.map(slotPanel));
  };
  pluginsPage.render = () => render().catch(failed(generation));
  pluginsPage.render();
}

function slotPanel(slot) {
  const active = slot.active;
  const live = slot.processes.length;
  const running = slot.processes.filter((p) => slot.release && p.digest === slot.release.digest).length;
  const panel = h("section", { class: "panel", id: `slot-${slot.slot}`, "data-slot": slot.slot },
    h("h2", {}, `${slot.slot} `, h("span", { class: "muted" }, slot.world)),
    h("dl", {},
      h("dt", {}, "active"), h("dd", { class: "active-version" }, active ? `${active.name} ${active.version} ` : "none ",
        active ? h("code", { title: active.digest }, shortDigest(active.digest)) : ""),
      h("dt", {}, "canary"), h("dd", {}, slot.canary ? `${slot.canary.name} ${slot.canary.version} to ${slot.canary.canary_percent} % of new orders` : "none"),
      h("dt", {}, "processes"), h("dd", {}, `${running} of ${live} run the release${slot.converged ? " (converged)" : ""}`)),
    slot.last_refusal ? h("p", { class: "note" }, `Last refused: ${slot.last_refusal.message}`) : null,
    h("h2", {}, "Processes"),
    live === 0 ? h("p", { class: "muted" }, "No process has reported.") : h("table", {},
      h("thead", {}, h("tr", {}, ["process", "role", "host", "digest", "seen"].map((c) => h("th", {}, c)))),
      h("tbody", {}, slot.processes.map((p) => h("tr", {},
        h("td", {}, h("code", {}, p.process_id)), h("td", {}, p.role), h("td", {}, p.host),
        h("td", {}, h("code", { title: p.digest || "" }, shortDigest(p.digest)), p.refused ? h("span", { class: "error-text" }, " refused a release") : ""),
        h("td", {}, time(p.seen_at)))))),
    h("h2", {}, "Releases"),
    h("table", {},
      h("thead", {}, h("tr", {}, ["#", "action", "version", "digest", "source", "at"].map((c) => h("th", {}, c)))),
      h("tbody", {}, slot.releases.map((r) => h("tr", {},
        h("td", { class: "num" }, r.id), h("td", {}, r.action + (r.canary_percent ? ` ${r.canary_percent} %` : "")),
        h("td", {}, `${r.name} ${r.version}`), h("td", {}, h("code", { title: r.digest }, shortDigest(r.digest))),
        h("td", {}, r.source), h("td", {}, time(r.created_at)))))));
  if (viewer.may.admin) panel.append(adminForm(slot));
  return panel;
}

function adminForm(slot) {
  const file = h("input", { type: "file", accept: ".wasm", name: "component", id: `upload-${slot.slot}` });
  const canary = h("input", { type: "number", min: 1, max: 99, placeholder: "canary %", "aria-label": "canary percent", class: "narrow" });
  const result = h("p", { class: "field-error", id: `refusal-${slot.slot}` });
  const act = async (button, call, done) => {
    button.disabled = true;
    result.textContent = "";
    try {
      await call();
      toast(done);
      pluginsPage.render();
    } catch (error) {
      result.textContent = error.message;
      toast(error.message, true);
    } finally {
      button.disabled = false;
    }
  };
  const publish = h("button", { class: "primary", type: "button", id: `publish-${slot.slot}`, onclick: () => {
    if (!file.files.length) { result.textContent = "Choose a .wasm component first."; return; }
    const query = canary.value ? `?canary=${encodeURIComponent(canary.value)}` : "";
    act(publish, async () => api("PUT", `/plugins/${slot.slot}${query}`, { body: await file.files[0].arrayBuffer() }),
      `${slot.slot}: published`);
  } }, "Upload and publish");
  const promote = h("button", { type: "button", disabled: !slot.canary, id: `promote-${slot.slot}`,
    onclick: () => act(promote, () => api("POST", `/plugins/${slot.slot}/promote`), `${slot.slot}: canary promoted`) }, "Promote canary");
  const rollback = h("button", { class: "danger", type: "button", id: `rollback-${slot.slot}`,
    onclick: () => {
      const expect = slot.release ? `?expect=${slot.release.id}` : "";
      act(rollback, () => api("POST", `/plugins/${slot.slot}/rollback${expect}`), `${slot.slot}: rolled back`);
    } }, "Roll back");
  return h("div", { class: "admin" }, h("h2", {}, "Administer"),
    h("div", { class: "toolbar" }, file, canary, publish, promote, rollback), result);
}

// ---- routing ----

async function route() {
  pageTimers.forEach(clearInterval);
  pageTimers = [];
  pageGeneration += 1;
  const generation = pageGeneration;
  clearError();
  const [path, search] = (location.hash.slice(1) || "/overview").split("?");
  const query = new URLSearchParams(search || "");
  const parts = path.split("/").filter(Boolean);
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("current", link.dataset.page === parts[0]);
  if (parts[0] === "orders" && parts[1]) return orderPage(generation, decodeURIComponent(parts[1]));
  if (parts[0] === "orders") return ordersPage(generation, query);
  if (parts[0] === "plugins") return pluginsPage(generation);
  return overviewPage(generation);
}

function start() {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    viewer.token = input.value.trim();
    input.value = "";
    // Kept for this browser tab only, never put in a URL.
    if (viewer.token) sessionStorage.setItem(TOKEN_KEY, viewer.token); else sessionStorage.removeItem(TOKEN_KEY);
    await identify();
    route();
  });
  document.getElementById("forget-token").addEventListener("click", async () => {
    viewer.token = "";
    sessionStorage.removeItem(TOKEN_KEY);
    await identify();
    route();
  });
  window.addEventListener("hashchange", route);
  identify().then(route);
}

start();
