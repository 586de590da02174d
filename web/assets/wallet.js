// The citizen web wallet: a reference client of the mobile API standing in for the phone
// app. Keys never leave the browser; everything else is the API's.
import { client } from "./api.js";
import { applyLanguage, localized, t } from "./i18n.js";
import { forgetAll, fromB64url, jws, loadKey, newKeyPair, publicJwk, saveKey, sign } from "./keys.js";
import { followNotices, loadNotices, markAllRead, stopNotices, subscribePush, unsubscribePush } from "./wallet-notices.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["welcome", "home", "card", "scan", "get", "arriving", "offer", "consent", "done", "activity", "settings", "help", "help-consent"];
const PROOF_TYP = "wallet-device-proof+jwt";
let token = null;
let currentOffer = null;
let currentConsent = null;
let currentCard = null;
const { call, send } = client({ key: () => token });

function show(view) {
  for (const id of VIEWS) $(id).hidden = id !== view;
  $("tabs").hidden = view === "welcome";
  for (const tab of document.querySelectorAll(".tab")) {
    if (tab.dataset.view === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  const heading = $(view).querySelector("h2");
  if (heading) { heading.tabIndex = -1; heading.focus(); }
}

function say(text) {
  $("message").textContent = text || "";
  $("message").hidden = !text;
}

async function deviceProof(pair, header) {
  const { challenge } = await call("POST", "/wallet/challenges");
  return jws(pair, { alg: "ES256", typ: PROOF_TYP, ...header }, { aud: `${location.origin}/wallet`, iat: Math.floor(Date.now() / 1000), nonce: challenge });
}

async function register() {
  const pair = await newKeyPair();
  const proof = await deviceProof(pair, { jwk: await publicJwk(pair) });
  const session = await call("POST", "/wallet/accounts", { device_proof: proof, device_name: navigator.userAgent.slice(0, 60) });
  await saveKey("device", pair);
  localStorage.setItem("idwallet.device", session.device_id);
  token = session.access_token;
  notices().catch(() => {});
  await home();
}

async function login() {
  const deviceId = localStorage.getItem("idwallet.device");
  const pair = deviceId ? await loadKey("device") : null;
  if (!pair) return false;
  const session = await call("POST", "/wallet/sessions", { device_proof: await deviceProof(pair, { kid: deviceId }) });
  token = session.access_token;
  return true;
}

function statusText(status) {
  return t(`cardStatus.${status}`);
}

// `quiet`: the cards brought up to date where they are shown, the focus left alone (a
// notification that a status changed).
async function home({ quiet = false } = {}) {
  if (!quiet) say("");
  const { credentials } = await call("GET", "/wallet/credentials");
  const list = $("cards");
  list.replaceChildren();
  $("no-cards").hidden = credentials.length > 0;
  for (const credential of credentials) {
    const item = document.createElement("li");
    // The issuer's own colours for the card, where its display data has them.
    if (credential.display?.background_color) item.style.background = credential.display.background_color;
    if (credential.display?.text_color) item.style.color = credential.display.text_color;
    const name = document.createElement("p");
    name.className = "card-name";
    name.textContent = credential.name;
    const issuer = document.createElement("p");
    issuer.textContent = `${t("wallet.from")}: ${credential.issuer.name}`;
    const status = document.createElement("p");
    const badge = document.createElement("span");
    badge.className = `badge status-${credential.status}`;
    badge.textContent = `${t("wallet.status")}: ${statusText(credential.status)}`;
    status.append(badge);
    const open = document.createElement("button");
    open.type = "button";
    open.textContent = t("wallet.open");
    open.setAttribute("aria-label", `${t("wallet.open")}: ${credential.name}`);
    open.onclick = () => card(credential.credential_id);
    item.append(name, issuer, status, open);
    list.append(item);
  }
  await requested();
  if (quiet) return;
  show("home");
  renewDue(credentials);
}

// One-time credentials whose keys this phone keeps: only the phone can sign the proofs of
// fresh copies, so it asks for them when they are due, quietly; a refusal is tried again
// the next time the wallet opens.
async function renewDue(credentials) {
  for (const credential of credentials) {
    if (credential.renewed_by !== "phone" || !credential.renewal_due) continue;
    try {
      const path = `/wallet/credentials/${encodeURIComponent(credential.credential_id)}/renew`;
      let outcome = await call("POST", path, { holder_keys: await newHolderKeys(credential.holder_keys_needed) });
      while (outcome.status === "proofs_needed") {
        const signatures = await signAll(outcome.signing_requests);
        outcome = await call("POST", `/wallet/offers/${outcome.offer_id}/complete`, { signatures });
      }
    } catch {
      // the issuer or the network refused now; the copies left are shown meanwhile
    }
  }
}

// Credentials an agency will issue later: the wallet asks by itself, except where this
// phone keeps the issuance's keys; then the citizen asks here, and the phone signs.
async function requested() {
  const { issuances } = await call("GET", "/wallet/issuances");
  $("pending-title").hidden = issuances.length === 0;
  $("pending").replaceChildren(...issuances.map((issuance) => {
    const item = document.createElement("li");
    const name = document.createElement("p");
    name.className = "card-name";
    name.textContent = issuance.pending.map((c) => c.name).join(", ");
    const issuer = document.createElement("p");
    issuer.textContent = `${t("wallet.from")}: ${issuance.issuer_name}`;
    const check = document.createElement("button");
    check.type = "button";
    check.textContent = t("wallet.checkNow");
    check.setAttribute("aria-label", `${t("wallet.checkNow")}: ${name.textContent}`);
    check.onclick = async () => {
      say("");
      try {
        await received(await call("POST", `/wallet/issuances/${issuance.issuance_id}/fetch`));
      } catch (error) {
        say(`${t("wallet.refused")} ${error.message}`);
      }
    };
    item.append(name, issuer, check);
    return item;
  }));
}

async function card(id) {
  const credential = await call("GET", `/wallet/credentials/${encodeURIComponent(id)}`);
  currentCard = credential;
  $("card-title").textContent = credential.name;
  $("card-issuer").textContent = `${t("wallet.from")}: ${credential.issuer.name}`;
  $("card-status").textContent = statusText(credential.status);
  // one-time credentials: each copy is shown once, so no two verifiers can link them
  $("card-copies").hidden = credential.use_policy !== "one_time";
  $("card-copies").textContent = t("wallet.freshCopies", { count: credential.fresh_instances ?? 0 });
  const body = $("card-claims").querySelector("tbody");
  body.replaceChildren();
  for (const row of credential.claim_labels) {
    const tr = body.insertRow();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = row.label;
    tr.append(th);
    tr.insertCell().textContent = typeof row.value === "object" ? JSON.stringify(row.value) : String(row.value);
  }
  show("card");
}

async function scanned(event) {
  event?.preventDefault();
  say("");
  try {
    const result = await call("POST", "/wallet/scans", { uri: $("scanned").value.trim() });
    $("scanned").value = "";
    if (result.kind === "offer") offer(result.offer); else consent(result.presentation);
  } catch (error) {
    say(`${t("wallet.refused")} ${error.message}`);
  }
}

async function camera() {
  // Where the browser can read QR codes (BarcodeDetector) and has a camera: look until a
  // code is seen, then handle it as if its text had been pasted.
  const video = $("viewfinder");
  const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  try {
    for (let tries = 0; tries < 600; tries++) {
      const codes = await detector.detect(video);
      if (codes.length > 0) {
        $("scanned").value = codes[0].rawValue;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    for (const track of stream.getTracks()) track.stop();
    video.hidden = true;
  }
  if ($("scanned").value) await scanned();
}

function offer(view) {
  currentOffer = view;
  $("offer-issuer").textContent = view.issuer.name;
  const list = $("offer-credentials");
  list.replaceChildren(...view.credentials.map((c) => { const li = document.createElement("li"); li.textContent = c.name; return li; }));
  $("tx-code-field").hidden = !view.tx_code;
  $("offer-online").hidden = !view.authorization_required;
  $("tx-code").required = Boolean(view.tx_code);
  $("tx-code").value = "";
  show("offer");
}

async function newHolderKeys(count) {
  const pairs = [];
  for (let i = 0; i < count; i++) pairs.push(await newKeyPair());
  const jwks = await Promise.all(pairs.map(publicJwk));
  for (let i = 0; i < pairs.length; i++) await saveKey(`holder:${jwks[i].x}`, pairs[i]);
  return jwks;
}

// This wallet instance's keys for one issuer: the wallet attestation's key and the DPoP key.
async function newInstanceKeys() {
  const [attestation, dpop] = await newHolderKeys(2);
  return { attestation, dpop };
}

// Received, or the phone's keys sign first; an online issuance goes to the agency's page.
async function received(outcome) {
  // the phone signs each round it is asked to: the holder keys' proofs, and the proofs of
  // this wallet instance's attestation and DPoP keys, which it keeps too
  while (outcome.status === "proofs_needed") {
    const signatures = await signAll(outcome.signing_requests);
    outcome = await call("POST", `/wallet/offers/${outcome.offer_id}/complete`, { signatures });
  }
  if (outcome.status === "authorization_required") {
    location.assign(outcome.authorization_url); // the agency sends the browser back to /wallet/callback
    return;
  }
  if (outcome.status === "pending") {
    done(t("wallet.pending"), outcome.pending.map((c) => c.name).join(", "));
    return;
  }
  done(t("wallet.received"), outcome.credentials.map((c) => c.name).join(", "));
}

async function accept(event) {
  event.preventDefault();
  say("");
  const body = { custody: "device", holder_keys: await newHolderKeys(currentOffer.holder_keys_needed) };
  if (currentOffer.authorization_required) body.instance_keys = await newInstanceKeys();
  if (currentOffer.tx_code) body.tx_code = $("tx-code").value.trim();
  try {
    await received(await call("POST", `/wallet/offers/${currentOffer.offer_id}/accept`, body));
  } catch (error) {
    say(error.code === "invalid_grant" ? t("wallet.wrongCode") : `${t("wallet.refused")} ${error.message}`);
  }
}

async function issuers() {
  say("");
  const { issuers: listed } = await call("GET", "/wallet/issuers");
  const items = [];
  for (const issuer of listed) {
    const li = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = issuer.name;
    li.append(name);
    if (!issuer.available) li.append(` — ${t("wallet.unavailable")}`);
    for (const credential of issuer.credentials) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.textContent = `${t("wallet.getFrom")}: ${credential.name}`;
      button.onclick = () => ask(issuer, credential).catch((e) => say(`${t("wallet.refused")} ${e.message}`));
      li.append(" ", button);
    }
    items.push(li);
  }
  if (!items.length) {
    const li = document.createElement("li");
    li.textContent = t("wallet.noIssuers");
    items.push(li);
  }
  $("issuers").replaceChildren(...items);
  show("get");
}

async function ask(issuer, credential) {
  say("");
  await received(await call("POST", "/wallet/issuances", {
    credential_issuer: issuer.credential_issuer,
    credential_configuration_id: credential.credential_configuration_id,
    custody: "device",
    holder_keys: await newHolderKeys(credential.holder_keys_needed),
    instance_keys: await newInstanceKeys(),
  }));
}

// Back from the agency's page: the redirect (code, state, iss) finishes the issuance.
async function arrived() {
  const redirect = location.href;
  history.replaceState(null, "", "/wallet-app");
  show("arriving");
  try {
    await received(await call("POST", "/wallet/issuances/authorized", { redirect_url: redirect }));
  } catch (error) {
    await home();
    if (error.code === "access_denied") say(`${t("wallet.issuerDenied")} ${error.message}`);
    else if (error.status === 404 || error.code === "invalid_request") say(t("wallet.returnUnknown"));
    else say(`${t("wallet.refused")} ${error.message}`);
  }
}

async function signAll(requests) {
  const signatures = [];
  for (const request of requests) {
    const pair = await loadKey(`holder:${request.holder_key.x}`);
    // an mdoc's DeviceAuth comes as the COSE Sig_structure, base64url: its bytes are signed
    const input = request.encoding === "base64url" ? fromB64url(request.signing_input) : request.signing_input;
    signatures.push(await sign(pair, input));
  }
  return signatures;
}

function showIssuance(issuance) {
  // The registrar's word that the verifier asks in order that an issuer can issue the
  // citizen a credential: the ones this wallet waits for, else all it names.
  $("consent-issuance").hidden = !issuance;
  if (!issuance) return;
  const waiting = issuance.credentials.filter((c) => c.awaiting_authorization);
  const names = (waiting.length ? waiting : issuance.credentials).map((c) => c.name);
  const credentials = names.length > 1 ? `${names.slice(0, -1).join(", ")} ${t("wallet.or")} ${names.at(-1)}` : names[0];
  $("consent-issuance-text").textContent = t("wallet.issuance", { issuer: issuance.issuer_name, credentials });
  $("consent-issuance-waiting").textContent = issuance.awaiting_authorization ? t("wallet.issuanceWaiting", { issuer: issuance.issuer_name }) : "";
  $("consent-issuance-waiting").hidden = !issuance.awaiting_authorization;
}

function consent(view) {
  currentConsent = view;
  const verifier = view.verifier;
  $("consent-verifier").textContent = verifier.authenticated ? verifier.name : (verifier.claimed_name || verifier.client_id);
  $("consent-verified").textContent = verifier.authenticated ? t("wallet.verifiedVerifier") : t("wallet.unverifiedVerifier");
  $("consent-purpose").textContent = view.purpose?.description ? `${t("wallet.purpose")}: ${view.purpose.description}` : "";
  showIssuance(view.issuance);
  const warnings = $("consent-warnings");
  warnings.replaceChildren(...view.warnings.map((w) => { const li = document.createElement("li"); li.textContent = t(`warning.${w.split(":")[0]}`); return li; }));
  const claims = $("consent-claims");
  claims.replaceChildren();
  for (const request of view.requests) {
    for (const claim of request.claims) {
      const row = document.createElement("div");
      row.className = "choice";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.id = `claim-${request.query_id}-${claim.name}`;
      input.value = claim.name;
      input.checked = true;
      input.disabled = !claim.optional;
      const label = document.createElement("label");
      label.htmlFor = input.id;
      const notes = [claim.optional ? t("wallet.optional") : null, claim.intent_to_retain ? t("wallet.retained") : null].filter(Boolean);
      label.textContent = claim.label + (notes.length ? ` (${notes.join(", ")})` : "");
      row.append(input, label);
      claims.append(row);
    }
  }
  $("share").disabled = !view.satisfiable;
  show("consent");
}

async function share(event) {
  event.preventDefault();
  say("");
  const omit = [...$("consent-claims").querySelectorAll("input:not(:checked):not(:disabled)")].map((i) => i.value);
  try {
    let result = await call("POST", `/wallet/presentations/${currentConsent.presentation_id}/approve`, { omit });
    if (result.status === "signatures_needed") {
      result = await call("POST", `/wallet/presentations/${currentConsent.presentation_id}/complete`, { signatures: await signAll(result.signing_requests) });
    }
    done(
      result.outcome === "accepted" ? t("wallet.shared") : t("wallet.notAccepted"),
      result.redirect_refused ? t("wallet.redirectRefused") : "",
    );
    if (result.redirect_uri && followable(result.redirect_uri)) location.assign(result.redirect_uri);
  } catch (error) {
    say(`${t("wallet.refused")} ${error.message}`);
  }
}

// The server passes on only https, this origin and the deployment's app schemes; the page
// checks again before leaving, so nothing that would run or render here ever does.
const NEVER_FOLLOWED = new Set(["javascript:", "data:", "vbscript:", "blob:", "file:", "about:"]);

function followable(address) {
  try {
    const target = new URL(address);
    if (NEVER_FOLLOWED.has(target.protocol)) return false;
    return target.protocol !== "http:" || target.origin === location.origin;
  } catch {
    return false;
  }
}

async function decline() {
  await call("POST", `/wallet/presentations/${currentConsent.presentation_id}/decline`);
  done(t("wallet.declined"), "");
}

function done(title, text) {
  $("done-title").textContent = title;
  $("done-text").textContent = text;
  show("done");
}

// why the issuer read the register (RegisterRead.purpose): an issuance unless it says
// what a register read was for, in the citizen's words
function registerReadText(entry) {
  const values = {
    issuer: entry.issuer_name,
    register: localized(entry.register, "name") || t("activity.own_register"),
    credential: entry.credential,
  };
  if (entry.purpose === "refresh_credential") return t("activity.register_read_refresh_text", values);
  if (entry.purpose === "identify_citizen") return t("activity.register_read_identify_text", values);
  return t("activity.register_read_text", values);
}

async function activity() {
  const { activity: entries } = await call("GET", "/wallet/activity");
  const list = $("activity-list");
  list.replaceChildren();
  for (const entry of entries) {
    const item = document.createElement("li");
    const when = new Date(entry.at * 1000).toLocaleString(document.documentElement.lang);
    const whom = entry.verifier || entry.issuer_name || entry.issuer || entry.mediator || "";
    const what = (entry.shared || []).flatMap((s) => s.claims).concat(entry.credentials || []).join(", ");
    // done through a mediation: said with the entry (docs/mediators.md)
    const helped = entry.assisted_by ? ` — ${t("activity.assisted", entry.assisted_by)}` : "";
    const kind = entry.kind === "mediator_acted" ? `mediator_acted_${entry.what}` : entry.kind;
    item.textContent = entry.kind === "register_read"
      ? `${when}: ${registerReadText(entry)}${helped}`
      : entry.kind === "mediator_acted"
        ? `${when}: ${t(`activity.${kind}`)}${helped}`
        : `${when}: ${t(`activity.${kind}`)}${whom ? ` — ${whom}` : ""}${what ? ` (${what})` : ""}${helped}`;
    list.append(item);
  }
  show("activity");
}

async function deleteCard() {
  if (!currentCard) return;
  await call("DELETE", `/wallet/credentials/${encodeURIComponent(currentCard.credential_id)}`);
  await home();
}

async function deleteAccount() {
  stopNotices();
  await unsubscribePush(call);
  await call("DELETE", "/wallet/account");
  await forgetAll();
  localStorage.removeItem("idwallet.device");
  token = null;
  stopNotices();
  $("notices").hidden = true;
  show("welcome");
}

// Help from a mediator at a citizen space (docs/mediators.md): the citizen consents with
// the mediator's code, sees who may help now, and ends it at any time.
let helpCode = null;

async function helpers() {
  say("");
  const { mediations } = await call("GET", "/wallet/mediations");
  $("no-helpers").hidden = mediations.length > 0;
  $("helpers").replaceChildren(...mediations.map((m) => {
    const item = document.createElement("li");
    const who = document.createElement("p");
    who.className = "card-name";
    who.textContent = t("wallet.helper", { mediator: m.mediator, space: m.space });
    const until = document.createElement("p");
    const time = new Date(m.expires_at * 1000).toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
    until.textContent = t("wallet.helperUntil", { time, number: m.confirmation });
    const end = document.createElement("button");
    end.type = "button";
    end.textContent = t("wallet.helpEndNow");
    end.setAttribute("aria-label", `${t("wallet.helpEndNow")}: ${m.mediator}`);
    end.onclick = () => endHelp(m).catch((e) => say(e.message));
    item.append(who, until, end);
    return item;
  }));
  show("help");
}

async function lookUpHelp(event) {
  event?.preventDefault();
  say("");
  helpCode = $("help-code").value.trim();
  try {
    const view = await call("POST", "/wallet/help-requests/lookup", { code: helpCode });
    $("help-mediator").textContent = `${view.mediator} (${view.mediator_languages.join(", ")})`;
    $("help-space").textContent = view.space;
    $("help-minutes").textContent = t("wallet.helpMinutes", { minutes: view.minutes });
    show("help-consent");
  } catch (error) {
    say(error.status === 404 ? t("wallet.helpUnknown") : `${t("wallet.refused")} ${error.message}`);
  }
}

async function allowHelp() {
  say("");
  try {
    await call("POST", "/wallet/mediations", { code: helpCode });
  } catch (error) {
    await helpers();
    say(error.status === 404 ? t("wallet.helpUnknown") : `${t("wallet.refused")} ${error.message}`);
    return;
  }
  $("help-code").value = "";
  helpCode = null;
  await helpers();
}

async function endHelp(mediation) {
  await call("DELETE", `/wallet/mediations/${encodeURIComponent(mediation.mediation_id)}`);
  await helpers();
}

applyLanguage();
$("help-form").addEventListener("submit", lookUpHelp);
$("help-allow").onclick = () => allowHelp();
$("help-refuse").onclick = () => { helpCode = null; $("help-code").value = ""; helpers().catch((e) => say(e.message)); };
$("camera-area").hidden = !("BarcodeDetector" in window && navigator.mediaDevices?.getUserMedia);
$("camera").onclick = () => camera().catch((e) => say(`${t("wallet.refused")} ${e.message}`));
$("register").onclick = () => register().catch((e) => say(e.message));
$("scan-form").addEventListener("submit", scanned);
$("offer-form").addEventListener("submit", accept);
$("consent-form").addEventListener("submit", share);
$("decline").onclick = () => decline().catch((e) => say(e.message));
$("done-home").onclick = () => home();
$("card-back").onclick = () => home();
$("card-delete").onclick = () => deleteCard().catch((e) => say(e.message));
$("delete-account").onclick = () => deleteAccount().catch((e) => say(e.message));
$("notices-read").onclick = () => markAllRead(call).catch((e) => say(e.message));
$("push-on").onclick = () => subscribePush(call);

// The notifications: the feed once signed in, then new ones live; a status that changed
// shows on the cards at once.
const STATUS_NOTICES = ["revoked", "suspended", "reinstated", "expired", "deferred_ready"];
async function notices() {
  await loadNotices(call);
  followNotices(send, login, (notice) => {
    if (STATUS_NOTICES.includes(notice.kind) && !$("home").hidden) home({ quiet: true }).catch(() => {});
  });
}
for (const tab of document.querySelectorAll(".tab")) {
  tab.onclick = () => ({ home, scan: () => show("scan"), get: () => issuers().catch((e) => say(e.message)), activity, settings: () => show("settings"), help: () => helpers().catch((e) => say(e.message)) })[tab.dataset.view]();
}
async function start() {
  if (!(await login())) { show("welcome"); return; }
  notices().catch(() => {});
  if (location.pathname === "/wallet/callback") { await arrived(); return; }
  // A link on this device (a service's "open my wallet") hands its request over here.
  const handed = new URLSearchParams(location.hash.slice(1)).get("request");
  // A mediator's QR code (#help=CODE): the consent, once the citizen has read it.
  const help = new URLSearchParams(location.hash.slice(1)).get("help");
  if (help) {
    history.replaceState(null, "", location.pathname);
    $("help-code").value = help;
    await lookUpHelp();
    return;
  }
  if (handed) {
    history.replaceState(null, "", location.pathname);
    $("scanned").value = handed;
    await scanned();
    return;
  }
  await home();
}

start().catch(() => show("welcome"));
