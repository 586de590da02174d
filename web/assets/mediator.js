// The mediator's screen at a citizen space (docs/mediators.md), used with the citizen
// beside: the mediator opens it with their key, asks the citizen's consent (a code and QR
// code the citizen takes in their own wallet), then receives and presents for the citizen
// with the mediation's token until the citizen (or the mediator) ends it or it expires.
import { ApiError, client } from "./api.js";
import { applyLanguage, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "idwallet.mediator";
const SECTIONS = ["sign-in", "start", "asking", "helping", "ended"];
const TASKS = ["receive", "present", "credentials", "activity"];
const mediatorApi = client({ base: "/mediator/api", key: () => sessionStorage.getItem(KEY_STORE) });
// The mediation's token lives in this page only: a reload ends the mediator's part.
let mediationToken = null;
const wallet = client({ key: () => mediationToken });
let profile = null;
let helpRequest = null;
let mediation = null;
let poller = null;
let currentOffer = null;
let currentConsent = null;
let lastStatus = "waiting";
let endedReason = null;

function show(section) {
  for (const id of SECTIONS) $(id).hidden = id !== section;
  const heading = $(section).querySelector("h2");
  if (heading) { heading.tabIndex = -1; heading.focus(); }
}

function say(text) {
  $("message").textContent = text || "";
  $("message").hidden = !text;
}

function time(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
}

async function signIn(event) {
  event?.preventDefault();
  if (event) sessionStorage.setItem(KEY_STORE, $("mediator-key").value);
  try {
    profile = await mediatorApi.call("GET", "/me");
  } catch (error) {
    sessionStorage.removeItem(KEY_STORE);
    say(error instanceof ApiError ? t("mediator.badKey") : t("mediator.unavailable"));
    show("sign-in");
    return;
  }
  $("mediator-key").value = "";
  say("");
  renderProfile();
  show("start");
}

function renderProfile() {
  if (!profile) return;
  $("whoami").textContent = t("mediator.whoami", { name: profile.name, space: profile.space.name, minutes: profile.mediation_minutes });
}

async function startHelp(consent) {
  say("");
  try {
    helpRequest = await mediatorApi.call("POST", "/help-requests", { consent });
  } catch {
    say(t("mediator.unavailable"));
    return;
  }
  mediationToken = helpRequest.mediation_token;
  const byId = helpRequest.consent === "national_id";
  $("ask-by-code").hidden = byId;
  $("code-panel").hidden = byId;
  $("ask-by-id").hidden = !byId;
  $("help-code").textContent = helpRequest.code;
  $("consent-link").href = helpRequest.consent_uri;
  $("consent-link").textContent = helpRequest.consent_uri;
  $("help-qr").src = "data:image/svg+xml;base64," + btoa(unescape(encodeURIComponent(helpRequest.qr_svg)));
  $("help-qr").alt = byId ? t("mediator.qrAltById") : t("mediator.qrAlt", { code: helpRequest.code });
  setStatus("waiting");
  show("asking");
  clearInterval(poller);
  poller = setInterval(follow, 2000);
}

function setStatus(status) {
  lastStatus = status;
  $("asking-status").textContent = t(`helpStatus.${status}`);
}

async function follow() {
  if (!helpRequest) return;
  let status;
  try {
    status = await mediatorApi.call("GET", `/help-requests/${helpRequest.request_id}`);
  } catch {
    return; // not reachable now: asked again in a moment
  }
  setStatus(status.status);
  if (status.status === "consented") {
    clearInterval(poller);
    mediation = { ...status.mediation, proven_name: status.proven_name };
    renderHelping();
    show("helping");
  } else if (status.status !== "waiting") {
    clearInterval(poller);
    end("expired");
  }
}

function renderHelping() {
  if (!mediation) return;
  $("helping-until").textContent = t("mediator.until", { time: time(mediation.expires_at) });
  $("helping-check").textContent = t("mediator.check", { number: mediation.confirmation });
  // consent by the national ID: the name it proved, to compare with the person beside
  $("helping-proven").hidden = !mediation.proven_name;
  $("helping-proven").textContent = mediation.proven_name ? t("mediator.proven", { name: mediation.proven_name }) : "";
}

function task(name) {
  say("");
  $("outcome").textContent = "";
  for (const id of TASKS) $(`task-${id}`).hidden = id !== name;
  for (const button of document.querySelectorAll(".action")) {
    if (button.dataset.task === name) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  const heading = $(`${name}-title`);
  heading.focus();
  if (name === "receive") { $("receive-form").hidden = false; $("accept-form").hidden = true; }
  if (name === "present") { $("present-form").hidden = false; $("share-form").hidden = true; }
  if (name === "credentials") listCredentials().catch(refused);
  if (name === "activity") listActivity().catch(refused);
}

// Whatever the wallet refuses: a mediation that ended (401) or an action it may not do
// (403) ends the screen's part; anything else is said and the mediator may try again.
function refused(error) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    end("ended");
    return;
  }
  say(`${t("mediator.refused")} ${error.message}`);
}

async function scanOffer(event) {
  event.preventDefault();
  say("");
  try {
    const result = await wallet.call("POST", "/wallet/scans", { uri: $("offer-text").value.trim() });
    if (result.kind !== "offer") { say(t("mediator.notOffer")); return; }
    currentOffer = result.offer;
  } catch (error) {
    refused(error);
    return;
  }
  $("offer-text").value = "";
  $("offer-issuer").textContent = currentOffer.issuer.name;
  $("offer-credentials").replaceChildren(...currentOffer.credentials.map((c) => { const li = document.createElement("li"); li.textContent = c.name; return li; }));
  $("tx-code-field").hidden = !currentOffer.tx_code;
  $("tx-code").required = Boolean(currentOffer.tx_code);
  $("tx-code").value = "";
  $("receive-form").hidden = true;
  $("accept-form").hidden = false;
  $("accept-form").querySelector("input:not([hidden]), button").focus();
  if (currentOffer.tx_code) $("tx-code").focus();
}

async function acceptOffer(event) {
  event.preventDefault();
  say("");
  const body = { custody: "server" };
  if (currentOffer.tx_code) body.tx_code = $("tx-code").value.trim();
  try {
    const outcome = await wallet.call("POST", `/wallet/offers/${currentOffer.offer_id}/accept`, body);
    const names = (outcome.credentials || outcome.pending || []).map((c) => c.name).join(", ");
    done(outcome.status === "received" ? t("mediator.received", { names }) : t("mediator.pending", { names }));
  } catch (error) {
    if (error.code === "invalid_grant") say(t("mediator.wrongCode"));
    else refused(error);
  }
}

async function scanRequest(event) {
  event.preventDefault();
  say("");
  try {
    const result = await wallet.call("POST", "/wallet/scans", { uri: $("request-text").value.trim() });
    if (result.kind !== "presentation") { say(t("mediator.notRequest")); return; }
    currentConsent = result.presentation;
  } catch (error) {
    refused(error);
    return;
  }
  $("request-text").value = "";
  const verifier = currentConsent.verifier;
  $("consent-verifier").textContent = verifier.authenticated ? verifier.name : (verifier.claimed_name || verifier.client_id);
  $("consent-purpose").textContent = currentConsent.purpose?.description ? `${t("mediator.purpose")}: ${currentConsent.purpose.description}` : "";
  $("consent-claims").replaceChildren(...currentConsent.requests.flatMap((r) => r.claims).map((c) => { const li = document.createElement("li"); li.textContent = c.label; return li; }));
  $("share").disabled = !currentConsent.satisfiable;
  $("present-form").hidden = true;
  $("share-form").hidden = false;
  $("share").focus();
}

async function share(event) {
  event.preventDefault();
  try {
    const result = await wallet.call("POST", `/wallet/presentations/${currentConsent.presentation_id}/approve`, {});
    done(result.outcome === "accepted" ? t("mediator.shared") : t("mediator.notAccepted"));
  } catch (error) {
    refused(error);
  }
}

async function decline() {
  try {
    await wallet.call("POST", `/wallet/presentations/${currentConsent.presentation_id}/decline`);
    done(t("mediator.declined"));
  } catch (error) {
    refused(error);
  }
}

function done(text) {
  for (const id of TASKS) $(`task-${id}`).hidden = true;
  $("outcome").textContent = text;
  $("helping-title").focus();
}

async function listCredentials() {
  const { credentials } = await wallet.call("GET", "/wallet/credentials");
  const items = credentials.map((c) => {
    const li = document.createElement("li");
    li.textContent = `${c.name} — ${t("mediator.from")}: ${c.issuer.name} — ${t(`cardStatus.${c.status}`)}`;
    return li;
  });
  if (!items.length) { const li = document.createElement("li"); li.textContent = t("mediator.noCredentials"); items.push(li); }
  $("credential-list").replaceChildren(...items);
}

async function listActivity() {
  const { activity } = await wallet.call("GET", "/wallet/activity");
  $("activity-list").replaceChildren(...activity.map((entry) => {
    const li = document.createElement("li");
    const when = new Date(entry.at * 1000).toLocaleString(document.documentElement.lang);
    const whom = entry.verifier || entry.issuer_name || entry.mediator || "";
    const helped = entry.assisted_by ? ` — ${t("activity.assisted", entry.assisted_by)}` : "";
    const kind = entry.kind === "mediator_acted" ? `mediator_acted_${entry.what}` : entry.kind;
    li.textContent = `${when}: ${t(`activity.${kind}`)}${whom ? ` — ${whom}` : ""}${helped}`;
    return li;
  }));
}

// the code and QR code stop working at once, not only on this screen (a consent that
// came just before the cancel: the mediation ends too)
async function cancel() {
  if (helpRequest) {
    try {
      await mediatorApi.call("DELETE", `/help-requests/${encodeURIComponent(helpRequest.request_id)}`);
    } catch {
      // expired or withdrawn already: the same for this screen
    }
  }
  end("cancelled");
}

async function stop() {
  if (mediation) {
    try {
      await mediatorApi.call("DELETE", `/mediations/${mediation.mediation_id}`);
    } catch {
      // ended already (by the citizen, or the time is up): the same for this screen
    }
  }
  end("stopped");
}

function end(reason) {
  clearInterval(poller);
  endedReason = reason;
  mediationToken = null;
  helpRequest = null;
  mediation = null;
  currentOffer = null;
  currentConsent = null;
  for (const id of TASKS) $(`task-${id}`).hidden = true;
  $("outcome").textContent = "";
  $("help-qr").removeAttribute("src");
  $("ended-text").textContent = t(`helpEnded.${reason}`);
  show("ended");
}

applyLanguage(() => {
  renderProfile();
  renderHelping();
  if (helpRequest) setStatus(lastStatus);
  if (endedReason) $("ended-text").textContent = t(`helpEnded.${endedReason}`);
});
$("sign-in-form").addEventListener("submit", signIn);
$("start-help").onclick = () => startHelp("wallet");
$("start-by-id").onclick = () => startHelp("national_id");
$("cancel").onclick = () => cancel();
$("again").onclick = () => { endedReason = null; show("start"); };
$("stop").onclick = () => stop();
$("receive-form").addEventListener("submit", scanOffer);
$("accept-form").addEventListener("submit", acceptOffer);
$("present-form").addEventListener("submit", scanRequest);
$("share-form").addEventListener("submit", share);
$("decline").onclick = () => decline();
for (const button of document.querySelectorAll(".action")) button.onclick = () => task(button.dataset.task);
if (sessionStorage.getItem(KEY_STORE)) signIn(); else show("sign-in");
