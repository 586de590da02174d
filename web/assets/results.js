// How a verification result reads: the proven claims as rows, each named by its label
// in the screen's language, every check in plain words.
import { language, t } from "./i18n.js";

export function claimRows(claims, prefix = []) {
  // [path, value] of every proven claim, nested objects opened up.
  const rows = [];
  for (const [name, value] of Object.entries(claims || {})) {
    if (value && typeof value === "object" && !Array.isArray(value)) rows.push(...claimRows(value, [...prefix, name]));
    else rows.push([[...prefix, name], value]);
  }
  return rows;
}

const primary = (locale) => String(locale || "").toLowerCase().split("-")[0];

export function claimLabel(labels, path) {
  // The label the credential's type gives this claim path (the result's claim_labels):
  // in the screen's language, else in English, else the claim's own name.
  const entry = (labels || []).find((l) => Array.isArray(l.path) && l.path.length === path.length
    && l.path.every((part, i) => part === path[i]));
  const display = Array.isArray(entry?.display) ? entry.display : [];
  const wanted = language();
  const pick = display.find((d) => String(d.locale || "").toLowerCase() === wanted)
    || display.find((d) => primary(d.locale) === wanted)
    || display.find((d) => primary(d.locale) === "en");
  return typeof pick?.label === "string" && pick.label ? pick.label : String(path[path.length - 1]);
}

export function claimHeading(labels, path) {
  // A nested claim reads with its parents: "Address › Street".
  return path.map((_, i) => claimLabel(labels, path.slice(0, i + 1))).join(" › ");
}

function rowHeading(presentation, path) {
  // An mdoc's claims are by name space, then element: the element reads without its
  // name space ("Family name", "Vehicle categories").
  if (presentation.format === "mso_mdoc" && path.length > 1) {
    return path.slice(1).map((_, i) => claimLabel(presentation.claim_labels, path.slice(0, i + 2))).join(" › ");
  }
  return claimHeading(presentation.claim_labels, path);
}

export function display(value) {
  if (value === true) return t("value.true");
  if (value === false) return t("value.false");
  if (Array.isArray(value)) return value.map((v) => (typeof v === "object" ? Object.values(v).join(" ") : v)).join("; ");
  return String(value);
}

export function renderResult(view, table, list) {
  const body = table.querySelector("tbody");
  body.replaceChildren();
  const credentials = view.result?.credentials || {};
  for (const presentations of Object.values(credentials)) {
    for (const presentation of presentations) {
      for (const [path, value] of claimRows(presentation.claims)) {
        const row = body.insertRow();
        const header = document.createElement("th");
        header.scope = "row";
        header.textContent = rowHeading(presentation, path);
        row.append(header);
        row.insertCell().textContent = display(value);
      }
    }
  }
  table.hidden = body.rows.length === 0;
  list.replaceChildren();
  const issuers = Object.values(credentials).flat().map((p) => p.issuer_name).filter(Boolean);
  for (const check of view.result?.checks || []) {
    const item = document.createElement("li");
    const parts = check.check.split(": ");
    const kind = parts.length > 1 ? parts[1] : `${parts[0]}.all`;
    item.className = check.passed ? "passed" : "failed";
    let text = t(`check.${kind}`, { issuer: issuers[0] || "" });
    if (kind === "issuer_signature" && issuers[0]) text = t("check.issuer_signature_by", { issuer: issuers[0] });
    item.textContent = text + (check.passed || !check.detail ? "" : ` — ${check.detail}`);
    list.append(item);
  }
}
