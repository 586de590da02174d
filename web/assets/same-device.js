// Where the wallet sends the citizen back after a same-device presentation: the session
// that started the request exchanges the one-time response_code for the result, once.
import { applyLanguage, t } from "./i18n.js";
import { renderResult } from "./results.js";

const $ = (id) => document.getElementById(id);
const parts = location.pathname.split("/").filter(Boolean); // verifiers/{id}/presentations/{tx}/same-device
const [verifierId, transactionId] = [parts[1], parts[3]];
const responseCode = new URLSearchParams(location.hash.slice(1)).get("response_code");
const sessionToken = sessionStorage.getItem(`idwallet.same-device.${transactionId}`);

async function release() {
  if (!responseCode || !sessionToken) {
    $("outcome-title").textContent = t("sameDevice.otherSession");
    return;
  }
  const response = await fetch(`/verifiers/${encodeURIComponent(verifierId)}/presentations/${encodeURIComponent(transactionId)}/release`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ response_code: responseCode, session_token: sessionToken }),
  });
  sessionStorage.removeItem(`idwallet.same-device.${transactionId}`);
  history.replaceState(null, "", location.pathname); // the code is single-use: drop it
  if (!response.ok) {
    $("outcome-title").textContent = t("sameDevice.otherSession");
    return;
  }
  const view = await response.json();
  $("outcome-title").textContent = t(`outcome.${view.status}`);
  $("outcome-title").className = view.status === "verified" ? "verified" : "failed-title";
  renderResult(view, $("claims"), $("check-list"));
}

applyLanguage();
release().catch(() => { $("outcome-title").textContent = t("counter.unavailable"); });
