// Where the wallet sends the citizen back after a same-device presentation: the session
// that started the request exchanges the one-time response_code for the result, once.
import { ApiError, client } from "./api.js";
import { applyLanguage, t } from "./i18n.js";
import { renderResult } from "./results.js";

const $ = (id) => document.getElementById(id);
const parts = location.pathname.split("/").filter(Boolean); // verifiers/{id}/presentations/{tx}/same-device
const [verifierId, transactionId] = [parts[1], parts[3]];
const responseCode = new URLSearchParams(location.hash.slice(1)).get("response_code");
const sessionToken = sessionStorage.getItem(`idwallet.same-device.${transactionId}`);
const api = client({ base: `/verifiers/${encodeURIComponent(verifierId)}` });

async function release() {
  if (!responseCode || !sessionToken) {
    $("outcome-title").textContent = t("sameDevice.otherSession");
    return;
  }
  let view = null;
  try {
    view = await api.call("POST", `/presentations/${encodeURIComponent(transactionId)}/release`, {
      response_code: responseCode, session_token: sessionToken,
    });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error; // not reachable: the code stays for a retry
  }
  sessionStorage.removeItem(`idwallet.same-device.${transactionId}`);
  history.replaceState(null, "", location.pathname); // the code is single-use: drop it
  if (!view) {
    $("outcome-title").textContent = t("sameDevice.otherSession");
    return;
  }
  $("outcome-title").textContent = t(`outcome.${view.status}`);
  $("outcome-title").className = view.status === "verified" ? "verified" : "failed-title";
  renderResult(view, $("claims"), $("check-list"));
}

applyLanguage();
release().catch(() => { $("outcome-title").textContent = t("counter.unavailable"); });
