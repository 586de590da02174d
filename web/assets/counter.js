// A counter clerk's screen: pick a check, show the QR code, follow the citizen's answer
// live, show what was proven and every check in plain words, then clear the screen.
import { ApiError, client } from "./api.js";
import { applyLanguage, localized, t } from "./i18n.js";
import { renderResult } from "./results.js";

const verifierId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const base = `/verifiers/${encodeURIComponent(verifierId)}`;
const KEY_STORE = `idwallet.counter.${verifierId}`;
const api = client({ base, key: () => sessionStorage.getItem(KEY_STORE) });
const RESET_SECONDS = 60;
let profile = null;
let current = null;
let follower = null;
let resetTimer = null;
let shown = null; // the result on screen, drawn again when the language changes
let lastStatus = "waiting";

const $ = (id) => document.getElementById(id);

function show(section) {
  for (const id of ["sign-in", "choose", "asking", "outcome"]) $(id).hidden = id !== section;
  const heading = $(section).querySelector("h2");
  if (heading) { heading.tabIndex = -1; heading.focus(); }
}

async function signIn(event) {
  event?.preventDefault();
  if (event) sessionStorage.setItem(KEY_STORE, $("counter-key").value);
  try {
    profile = await api.call("GET", "/presentations/checks");
  } catch (error) {
    sessionStorage.removeItem(KEY_STORE);
    $("sign-in-error").textContent = error instanceof ApiError ? t("counter.badKey") : t("counter.unavailable");
    $("sign-in-error").hidden = false;
    show("sign-in");
    return;
  }
  $("sign-in-error").hidden = true;
  renderProfile();
  show("choose");
}

function renderProfile() {
  if (!profile) return;
  $("counter-name").textContent = localized(profile.display, "name") || t("counter.title");
  document.title = $("counter-name").textContent;
  const container = $("checks");
  const chosen = container.querySelector("input:checked")?.value;
  container.replaceChildren();
  profile.checks.forEach((check, index) => {
    const row = document.createElement("div");
    row.className = "choice";
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "check";
    input.id = `check-${check.template}`;
    input.value = check.template;
    input.checked = chosen ? chosen === check.template : index === 0;
    const label = document.createElement("label");
    label.htmlFor = input.id;
    label.textContent = localized(check.description, "text") || check.template;
    row.append(input, label);
    container.append(row);
  });
}

async function ask(event) {
  event.preventDefault();
  const template = $("checks").querySelector("input:checked")?.value;
  const sameDevice = $("same-device").checked;
  try {
    current = await api.call("POST", "/presentations", { template, qr_inline: true, same_device: sameDevice });
  } catch {
    $("sign-in-error").textContent = t("counter.unavailable");
    return;
  }
  const check = profile.checks.find((c) => c.template === template);
  $("asking-purpose").textContent = localized(check?.description, "text");
  $("qr").src = "data:image/svg+xml;base64," + btoa(unescape(encodeURIComponent(current.qr.svg)));
  $("qr").alt = t("counter.scan");
  $("wallet-link").href = current.uri;
  $("wallet-link").textContent = current.uri;
  if (current.session_token) {
    // Same device: this browser session alone may collect the result after the wallet.
    sessionStorage.setItem(`idwallet.same-device.${current.transaction_id}`, current.session_token);
  }
  $("this-device").hidden = !current.session_token;
  $("this-device").href = `/wallet-app#request=${encodeURIComponent(current.uri)}`;
  setStatus("waiting");
  show("asking");
  follow(current.transaction_id);
}

function setStatus(status) {
  lastStatus = status;
  $("status-text").textContent = t(`status.${status}`);
}

async function follow(transactionId) {
  // Server-sent events read with fetch, so the counter key travels in a header.
  follower?.abort();
  follower = new AbortController();
  try {
    const response = await api.send(`/presentations/${transactionId}/events`, {
      signal: follower.signal, headers: { "Accept": "text/event-stream" },
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
        if (!data) continue;
        const view = JSON.parse(data);
        if (view.transaction_id && current && view.transaction_id !== current.transaction_id) continue;
        setStatus(view.status);
        if (["verified", "failed", "expired"].includes(view.status)) { showOutcome(view); return; }
      }
    }
  } catch (error) {
    if (error.name !== "AbortError") setStatus("waiting");
  }
}

function renderOutcome(view) {
  $("outcome-title").textContent = t(`outcome.${view.status}`);
  $("outcome-title").className = view.status === "verified" ? "verified" : "failed-title";
  renderResult(view, $("claims"), $("check-list"));
  const retention = Math.round((profile?.result_retention_seconds || 900) / 60);
  $("reset-note").textContent = t("counter.resetIn", { seconds: RESET_SECONDS, retention });
}

function showOutcome(view) {
  shown = view;
  renderOutcome(view);
  show("outcome");
  clearTimeout(resetTimer);
  resetTimer = setTimeout(reset, RESET_SECONDS * 1000);
}

function reset() {
  clearTimeout(resetTimer);
  follower?.abort();
  current = null;
  shown = null;
  $("claims").querySelector("tbody").replaceChildren();
  $("check-list").replaceChildren();
  $("qr").removeAttribute("src");
  show("choose");
}

applyLanguage(() => {
  renderProfile();
  if (shown) renderOutcome(shown);
  else if (current) setStatus(lastStatus);
});
$("sign-in-form").addEventListener("submit", signIn);
$("choose-form").addEventListener("submit", ask);
$("again").addEventListener("click", reset);
$("cancel").addEventListener("click", reset);
if (sessionStorage.getItem(KEY_STORE)) signIn(); else show("sign-in");
