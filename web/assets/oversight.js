// The oversight body's screen: sign in with the auditor key, choose a period, read the
// figures per counter and per agency. Figures below the deployment's threshold come as
// "suppressed" and are shown as "fewer than N", never as a number.
import { ApiError, client } from "./api.js";
import { applyLanguage, t } from "./i18n.js";

const KEY_STORE = "idwallet.oversight";
const api = client({ base: "/oversight/api", key: () => sessionStorage.getItem(KEY_STORE) });
const COUNTER_COLUMNS = ["requested", "answered_ok", "declined", "failed", "refused"];
const AGENCY_COLUMNS = ["issued", "revoked", "suspended", "reinstated"];
let profile = null;
let shown = null; // the figures on screen, drawn again when the language changes

const $ = (id) => document.getElementById(id);

function show(section) {
  for (const id of ["sign-in", "figures"]) $(id).hidden = id !== section;
  const heading = $(section).querySelector("h2");
  if (heading) { heading.tabIndex = -1; heading.focus(); }
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function defaultPeriod() {
  // this month so far (UTC)
  const today = new Date();
  const first = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1));
  $("period-from").value = isoDay(first);
  $("period-to").value = isoDay(today);
}

async function signIn(event) {
  event?.preventDefault();
  if (event) sessionStorage.setItem(KEY_STORE, $("auditor-key").value);
  try {
    profile = await api.call("GET", "/auditor");
  } catch (error) {
    sessionStorage.removeItem(KEY_STORE);
    $("sign-in-error").textContent = error instanceof ApiError ? t("oversight.badKey") : t("oversight.unavailable");
    $("sign-in-error").hidden = false;
    show("sign-in");
    return;
  }
  $("auditor-key").value = "";
  $("sign-in-error").hidden = true;
  $("oversight-name").textContent = profile.name;
  defaultPeriod();
  show("figures");
}

function cell(value) {
  const td = document.createElement("td");
  if (value === "suppressed") {
    td.textContent = t("oversight.fewerThan", { min: profile.min_count });
    td.className = "suppressed";
  } else {
    td.textContent = String(value);
  }
  return td;
}

function text(value) {
  const td = document.createElement("td");
  td.textContent = value;
  return td;
}

function fill(table, rows, leading, columns, empty) {
  const body = $(table).querySelector("tbody");
  body.replaceChildren();
  for (const row of rows) {
    const tr = document.createElement("tr");
    const [head, ...rest] = leading(row);
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = head;
    tr.append(th, ...rest.map(text), ...columns.map((c) => cell(row[c])));
    body.append(tr);
  }
  $(table).hidden = rows.length === 0;
  $(empty).hidden = rows.length !== 0;
}

function render() {
  if (!shown) return;
  fill("counters", shown.counters, (r) => [r.counter, r.purpose || "—", r.claims.join(", ") || "—"], COUNTER_COLUMNS, "no-counters");
  fill("agencies", shown.agencies, (r) => [r.agency, r.credential_configuration || "—"], AGENCY_COLUMNS, "no-agencies");
  $("figures-status").textContent = t("oversight.shown", { from: shown.from, to: shown.to, min: shown.min_count });
}

async function read(event) {
  event.preventDefault();
  const query = new URLSearchParams({ from: $("period-from").value, to: $("period-to").value });
  try {
    shown = await api.call("GET", `/figures?${query}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      sessionStorage.removeItem(KEY_STORE);
      show("sign-in");
      return;
    }
    $("period-error").textContent = error instanceof ApiError
      ? t("oversight.badPeriod", { detail: error.message })
      : t("oversight.unavailable");
    $("period-error").hidden = false;
    return;
  }
  $("period-error").hidden = true;
  render();
}

function signOut() {
  sessionStorage.removeItem(KEY_STORE);
  profile = null;
  shown = null;
  $("counters").hidden = $("agencies").hidden = true;
  $("no-counters").hidden = $("no-agencies").hidden = true;
  $("figures-status").textContent = "";
  $("oversight-name").textContent = t("oversight.title");
  show("sign-in");
}

applyLanguage(render);
$("sign-in-form").addEventListener("submit", signIn);
$("period-form").addEventListener("submit", read);
$("sign-out").addEventListener("click", signOut);
if (sessionStorage.getItem(KEY_STORE)) signIn();
