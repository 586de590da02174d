// An agency clerk's desk: look a citizen up, offer a credential from the agency's data,
// show the QR code (on screen and as a printable letter) and the transaction code apart,
// revoke or suspend what was issued, and decide the applications for credentials a clerk
// approves first. Everything goes through the operator API.
import { client } from "./api.js";
import { applyLanguage, localized, t } from "./i18n.js";

const issuerId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const base = `/issuers/${encodeURIComponent(issuerId)}`;
const KEY_STORE = `idwallet.desk.${issuerId}`;
const { call: api } = client({ base, key: () => sessionStorage.getItem(KEY_STORE) });
const $ = (id) => document.getElementById(id);
let agency = null;
let subject = null;
// The register's record, shown and left as it is: the offer asks the agency to read the
// register itself, so the citizen's wallet is told where the data came from. Any edit by
// the clerk (or another credential chosen) sends what the form holds instead.
let fromRegister = null;

function show(section) {
  for (const id of ["sign-in", "desk", "offer-made"]) $(id).hidden = id !== section;
  $("applications").hidden = section !== "desk" || !decidesApplications();
  const heading = $(section).querySelector("h2");
  if (heading) { heading.tabIndex = -1; heading.focus(); }
}

function say(text) { $("message").textContent = text || ""; $("message").hidden = !text; }

async function signIn(event) {
  event?.preventDefault();
  if (event) sessionStorage.setItem(KEY_STORE, $("operator-key").value);
  try {
    agency = await api("GET", "/configurations");
  } catch {
    sessionStorage.removeItem(KEY_STORE);
    if (event) say(t("desk.badKey"));
    show("sign-in");
    return;
  }
  say("");
  renderAgency();
  show("desk");
  loadApplications().catch((error) => say(error.message));
}

function renderAgency() {
  if (!agency) return;
  $("agency-name").textContent = localized(agency.display, "name");
  $("letter-agency").textContent = $("agency-name").textContent;
  document.title = `${$("agency-name").textContent} — ${t("desk.title")}`;
  const select = $("configuration");
  const chosen = select.value;
  select.replaceChildren(...agency.configurations.map((c) => {
    const option = document.createElement("option");
    option.value = c.credential_configuration_id;
    option.textContent = localized(c.display, "name");
    return option;
  }));
  if (chosen) select.value = chosen;
  renderFields();
  renderOtherFormats();
}

function configuration() {
  return agency.configurations.find((c) => c.credential_configuration_id === $("configuration").value);
}

function fieldId(path) { return "claim-" + path.map((p) => (p === null ? "n" : p)).join("-"); }

function input(claim, prefix = "") {
  const wrapper = document.createElement("div");
  const id = prefix + fieldId(claim.path);
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = localized(claim.display, "name") || claim.path.join(".");
  const field = document.createElement("input");
  field.id = id;
  field.dataset.name = String(claim.path[claim.path.length - 1]);
  field.dataset.type = claim.type;
  field.type = claim.type === "date" ? "date" : claim.type === "boolean" ? "checkbox" : "text";
  field.required = claim.mandatory && claim.type !== "boolean";
  if (claim.type === "boolean") { wrapper.className = "choice"; wrapper.append(field, label); }
  else wrapper.append(label, field);
  return wrapper;
}

function renderFields(values = {}) {
  const container = $("claim-fields");
  container.replaceChildren();
  const claims = configuration()?.claims || [];
  for (const claim of claims.filter((c) => c.path.length === 1)) {
    if (claim.type === "object") {
      const group = document.createElement("fieldset");
      group.dataset.object = claim.path[0];
      const legend = document.createElement("legend");
      legend.textContent = localized(claim.display, "name");
      group.append(legend);
      for (const child of claims.filter((c) => c.path.length === 2 && c.path[0] === claim.path[0])) group.append(input(child));
      container.append(group);
    } else if (claim.type === "array") {
      const group = document.createElement("fieldset");
      group.dataset.array = claim.path[0];
      const legend = document.createElement("legend");
      legend.textContent = localized(claim.display, "name");
      const add = document.createElement("button");
      add.type = "button";
      add.className = "secondary";
      add.textContent = t("desk.addRow");
      const children = claims.filter((c) => c.path.length === 3 && c.path[0] === claim.path[0] && c.path[1] === null);
      add.onclick = () => addRow(group, add, children);
      group.append(legend, add);
      container.append(group);
      const rows = values[claim.path[0]] || [{}];
      for (const row of rows) fillInputs(addRow(group, add, children).querySelectorAll("input"), row);
    } else {
      container.append(input(claim));
    }
  }
  fillInputs(container.querySelectorAll(":scope > div > input"), values);
  for (const group of container.querySelectorAll("fieldset[data-object]")) {
    fillInputs(group.querySelectorAll("input"), values[group.dataset.object]);
  }
}

function addRow(group, before, children) {
  const row = document.createElement("div");
  row.className = "row-group";
  const index = group.querySelectorAll(".row-group").length;
  for (const child of children) row.append(input(child, `r${index}-`));
  group.insertBefore(row, before);
  return row;
}

function fillInputs(fields, values) {
  for (const field of fields) {
    const value = values?.[field.dataset.name];
    if (value === undefined) continue;
    if (field.type === "checkbox") field.checked = Boolean(value); else field.value = String(value);
  }
}

function valueOf(field) {
  return field.type === "checkbox" ? field.checked : field.value.trim();
}

function collect() {
  const claims = {};
  const container = $("claim-fields");
  for (const field of container.querySelectorAll(":scope > div > input")) claims[field.dataset.name] = valueOf(field);
  for (const group of container.querySelectorAll("fieldset[data-object]")) {
    claims[group.dataset.object] = Object.fromEntries([...group.querySelectorAll("input")].map((f) => [f.dataset.name, valueOf(f)]));
  }
  for (const group of container.querySelectorAll("fieldset[data-array]")) {
    claims[group.dataset.array] = [...group.querySelectorAll(".row-group")]
      .map((row) => Object.fromEntries([...row.querySelectorAll("input")].map((f) => [f.dataset.name, valueOf(f)])))
      .filter((row) => Object.values(row).some((v) => v !== ""));
  }
  return claims;
}

async function lookUp(event) {
  event?.preventDefault();
  say("");
  subject = $("subject").value.trim();
  const view = await api("GET", `/subjects/${encodeURIComponent(subject)}`);
  if (view.register_unavailable) say(t("desk.registerUnavailable"));
  const body = $("issued").querySelector("tbody");
  body.replaceChildren();
  // A batch (one offer, several unlinkable copies in the wallet) is one credential to the
  // citizen: it is shown and revoked as one.
  const batches = new Map();
  for (const credential of view.credentials) {
    const batch = batches.get(credential.offer_id) || [];
    batch.push(credential);
    batches.set(credential.offer_id, batch);
  }
  for (const batch of batches.values()) {
    const first = batch[0];
    const statuses = new Set(batch.map((c) => c.status));
    const status = statuses.has("revoked") ? "revoked" : statuses.has("suspended") ? "suspended" : "valid";
    const row = body.insertRow();
    const config = agency.configurations.find((c) => c.credential_configuration_id === first.credential_configuration_id);
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = localized(config?.display, "name") || first.credential_configuration_id;
    row.append(name);
    row.insertCell().textContent = new Date(first.issued_at).toLocaleDateString(document.documentElement.lang);
    // No notification from the wallet: the credential may never have reached the citizen
    // (a lost answer), and the clerk can revoke it and offer anew.
    const confirmed = batch.some((c) => c.wallet_notification === "credential_accepted");
    row.insertCell().textContent = t(`cardStatus.${status}`) + (confirmed ? "" : ` · ${t("desk.unconfirmed")}`);
    const actions = row.insertCell();
    for (const action of status === "valid" ? ["revoke", "suspend"] : status === "suspended" ? ["revoke", "unsuspend"] : []) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.textContent = t(`desk.${action}`);
      button.setAttribute("aria-label", `${t(`desk.${action}`)}: ${name.textContent}`);
      button.onclick = () => change(action, batch.map((c) => c.credential_id));
      actions.append(button);
    }
  }
  $("issued-area").hidden = view.credentials.length === 0;
  // Once only: what the agency already holds fills the form (its latest offer that still
  // holds the data, else the register), so nobody types it again. An offer that ended keeps
  // no personal data.
  const chosen = $("configuration").value;
  const pending = view.offers.filter((o) => o.claims && Object.keys(o.claims).length > 0);
  const latest = pending.findLast((o) => o.credential_configuration_id === chosen) || pending.at(-1);
  const register = view.register || {};
  const [configurationId, claims] = latest?.claims
    ? [latest.credential_configuration_id, latest.claims]
    : register[chosen] ? [chosen, register[chosen]] : Object.entries(register)[0] || [];
  if (claims) {
    $("configuration").value = configurationId;
    renderFields(claims);
    renderOtherFormats();
    fromRegister = latest?.claims ? null : configurationId;
  }
}

async function change(action, credentialIds) {
  try {
    for (const credentialId of credentialIds) {
      await api("POST", `/credentials/${action}`, { credential_id: credentialId, reason: $("reason").value });
    }
    await lookUp();
  } catch (error) { say(error.message); }
}

// Applications: credential requests that wait for a clerk of this agency (deferred issuance).
let applications = [];

function decidesApplications() {
  return Boolean(agency?.configurations.some((c) => c.approval_reason));
}

async function loadApplications() {
  if (!decidesApplications()) return;
  applications = (await api("GET", "/applications?state=pending")).applications;
  renderApplications();
}

// A claim's value in words: objects and rows of arrays as "label: value" parts.
function described(value, path, claims) {
  if (Array.isArray(value)) return value.map((row) => described(row, [...path, null], claims)).join("; ");
  if (value && typeof value === "object") {
    return Object.entries(value).map(([name, part]) => `${label([...path, name], claims)}: ${described(part, [...path, name], claims)}`).join(", ");
  }
  if (typeof value === "boolean") return t(`value.${value}`);
  return String(value);
}

function label(path, claims) {
  const claim = claims.find((c) => c.path.length === path.length && c.path.every((p, i) => p === path[i]));
  return localized(claim?.display, "name") || String(path[path.length - 1]);
}

function renderApplications() {
  const list = $("application-list");
  list.replaceChildren();
  $("no-applications").hidden = applications.length > 0;
  for (const application of applications) {
    const config = agency.configurations.find((c) => c.credential_configuration_id === application.credential_configuration_id);
    const name = localized(config?.display, "name") || application.credential_configuration_id;
    const item = document.createElement("li");
    const heading = document.createElement("h3");
    heading.textContent = `${name} · ${application.subject_id}`;
    const when = document.createElement("p");
    when.textContent = `${t("desk.requestedAt")}: ${new Date(application.requested_at).toLocaleString(document.documentElement.lang)}`;
    const check = document.createElement("p");
    check.className = "to-check";
    check.textContent = `${t("desk.toCheck")}: ${localized(config?.approval_reason, "text")}`;
    const claims = document.createElement("dl");
    for (const [claimName, value] of Object.entries(application.claims)) {
      const term = document.createElement("dt");
      term.textContent = label([claimName], config?.claims || []);
      const detail = document.createElement("dd");
      detail.textContent = described(value, [claimName], config?.claims || []);
      claims.append(term, detail);
    }
    const reasonId = `refusal-${application.application_id}`;
    const reasonLabel = document.createElement("label");
    reasonLabel.htmlFor = reasonId;
    reasonLabel.textContent = t("desk.refusalReason");
    const reason = document.createElement("input");
    reason.id = reasonId;
    reason.type = "text";
    reason.maxLength = 500;
    const approve = document.createElement("button");
    approve.type = "button";
    approve.textContent = t("desk.approve");
    approve.setAttribute("aria-label", `${t("desk.approve")}: ${heading.textContent}`);
    approve.onclick = () => decide(application, "approve");
    const refuse = document.createElement("button");
    refuse.type = "button";
    refuse.className = "secondary";
    refuse.textContent = t("desk.refuse");
    refuse.setAttribute("aria-label", `${t("desk.refuse")}: ${heading.textContent}`);
    refuse.onclick = () => {
      if (!reason.value.trim()) { say(t("desk.needReason")); reason.focus(); return; }
      decide(application, "refuse", reason.value.trim());
    };
    const approval = document.createElement("div");
    approval.append(approve);
    item.append(heading, when, check, claims, approval, reasonLabel, reason, refuse);
    list.append(item);
  }
}

async function decide(application, decision, reason) {
  say("");
  $("applications-status").textContent = "";
  try {
    const path = `/applications/${encodeURIComponent(application.application_id)}/${decision}`;
    await api("POST", path, decision === "refuse" ? { reason } : undefined);
    $("applications-status").textContent = decision === "approve" ? t("desk.approved") : t("desk.refused");
  } catch (error) {
    say(error.status === 409 ? t("desk.decidedAlready") : error.message);
  }
  await loadApplications().catch((error) => say(error.message));
}

// Signing in online authenticates the citizen; a transaction code goes with the QR code only.
function online() { return $("grant-online").checked; }
function showGrantChoice() {
  $("with-tx-code").disabled = online();
  for (const box of $("other-format-list").querySelectorAll("input")) box.disabled = online();
}

// The same credential in other formats (an ISO mdoc made from the same record), offered in
// the same QR code: one record filled in, every format the citizen's wallet may need.
function renderOtherFormats() {
  const chosen = $("configuration").value;
  const others = agency.configurations.filter((c) => c.claims_of === chosen);
  $("other-formats").hidden = others.length === 0;
  $("other-format-list").replaceChildren(...others.map((c) => {
    const row = document.createElement("div");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.id = `also-${c.credential_configuration_id}`;
    box.value = c.credential_configuration_id;
    box.disabled = online();
    const label = document.createElement("label");
    label.htmlFor = box.id;
    label.textContent = localized(c.display, "name");
    row.append(box, label);
    return row;
  }));
}

function otherFormats() {
  if (online()) return [];
  return [...$("other-format-list").querySelectorAll("input:checked")].map((box) => box.value);
}

async function createOffer(event) {
  event.preventDefault();
  say("");
  subject = $("subject").value.trim();
  if (!subject) { say(t("desk.needSubject")); $("subject").focus(); return; }
  try {
    const offer = await api("POST", "/offers", {
      subject_id: subject,
      credential_configuration_id: $("configuration").value,
      claims: fromRegister === $("configuration").value ? {} : collect(),
      grant: online() ? "authorization_code" : "pre-authorized_code",
      tx_code: !online() && $("with-tx-code").checked,
      other_formats: otherFormats(),
    });
    $("offer-qr").src = "data:image/svg+xml;base64," + btoa(unescape(encodeURIComponent(offer.qr.svg)));
    $("offer-qr").alt = t("desk.qrAlt");
    $("offer-qr").dataset.uri = offer.offer_uri;
    $("offer-expires").textContent = new Date(offer.expires_at).toLocaleString(document.documentElement.lang);
    $("code-panel").hidden = !offer.tx_code;
    $("tx-code").textContent = offer.tx_code || "";
    show("offer-made");
  } catch (error) { say(error.message); }
}

applyLanguage(() => { renderAgency(); if (agency) renderApplications(); });
$("sign-in-form").addEventListener("submit", signIn);
$("lookup-form").addEventListener("submit", (e) => lookUp(e).catch((error) => say(error.message)));
$("offer-form").addEventListener("submit", createOffer);
$("grant-qr").addEventListener("change", showGrantChoice);
$("grant-online").addEventListener("change", showGrantChoice);
$("configuration").addEventListener("change", () => { fromRegister = null; renderFields(); renderOtherFormats(); });
for (const edited of ["input", "change"]) $("claim-fields").addEventListener(edited, () => { fromRegister = null; });
$("refresh-applications").onclick = () => { $("applications-status").textContent = ""; loadApplications().catch((error) => say(error.message)); };
$("print").onclick = () => window.print();
$("another").onclick = () => { show("desk"); lookUp().catch(() => {}); loadApplications().catch(() => {}); };
if (sessionStorage.getItem(KEY_STORE)) signIn(); else show("sign-in");
