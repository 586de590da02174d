// An agency's authorization page for presentation during issuance: the agency asks the
// citizen's wallet for the credential that identifies them (a QR code for a wallet on
// another device, a link for one on this device), follows the answer, and once it is in,
// completes the authorization, which sends the browser back to the wallet with the code or
// with the refusal. The page decides nothing itself: the agency does, at "complete".
import { ApiError, client } from "./api.js";
import { applyLanguage, localized, t } from "./i18n.js";
import { renderFacts } from "./issuance-facts.js";

const $ = (id) => document.getElementById(id);
const base = location.pathname.replace(/\/+$/, ""); // /issuers/{id}/presentation-login/{state}
const api = client({ base });
const POLL_MS = 1500;
let view = null;
let timer = null;

function complete(responseCode) {
  const query = responseCode ? `?response_code=${encodeURIComponent(responseCode)}` : "";
  location.replace(`${base}/complete${query}`);
}

function showProblem(text, canGoBack) {
  clearTimeout(timer);
  $("asking").hidden = true;
  $("problem").hidden = false;
  $("problem-text").textContent = text;
  $("back").hidden = !canGoBack;
  $("back").href = `${base}/complete`;
  $("problem-title").focus?.();
}

function render() {
  if (!view) return;
  const agency = localized(view.agency, "name");
  const credential = localized(view.credential, "name");
  $("asking-title").textContent = t("issuance.asks", { agency, credential });
  $("explanation").textContent = t("issuance.explain", { agency, credential });
  renderFacts($("facts"), view);
  $("status-text").textContent = t(`status.${view.status}`);
  $("qr").alt = t("issuance.qrAlt");
  $("wallet-link").textContent = view.uri;
  $("wallet-link").href = view.uri;
  $("cancel").href = `${base}/cancel`;
}

async function refresh() {
  try {
    view = await api.call("GET", "/status");
  } catch (error) {
    if (error instanceof ApiError) {
      // unknown or forged: nothing to go back to; another browser's: not this one's to end
      showProblem(error.code === "invalid_request" ? t("issuance.unknown") : t("issuance.otherSession"), false);
      return;
    }
    timer = setTimeout(refresh, POLL_MS * 2); // not reachable now: try again
    return;
  }
  $("asking").hidden = false;
  if (!$("qr").src) $("qr").src = view.qr_svg_url;
  render();
  if (view.status === "verified" && !view.same_device) {
    complete(null);
  } else if (view.status === "failed" || view.status === "expired") {
    showProblem(t(`issuance.reason.${view.reason || view.status}`), true);
  } else if (view.status === "ended") {
    showProblem(t("issuance.ended"), true);
  } else {
    timer = setTimeout(refresh, POLL_MS);
  }
}

async function thisDevice() {
  $("this-device").disabled = true;
  try {
    const asked = await api.call("POST", "/same-device");
    location.href = asked.link; // the wallet answers and sends the browser back here
  } catch (error) {
    $("this-device").disabled = false;
    showProblem(error instanceof ApiError ? t("issuance.otherSession") : t("counter.unavailable"), false);
  }
}

// Back from a wallet on this device: the one-time code releases its answer to this session.
const responseCode = new URLSearchParams(location.hash.slice(1)).get("response_code");
applyLanguage(render);
if (responseCode) {
  history.replaceState(null, "", base);
  complete(responseCode);
} else {
  $("this-device").addEventListener("click", thisDevice);
  refresh();
}
