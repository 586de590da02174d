// An agency's page where the citizen chooses how to prove who they are, where the agency
// allows several ways: which agency asks, what it will issue and from which register data,
// one link per way (the agency sends the browser on: to the national eID provider, or to
// its page for a presentation from the wallet), and the way back to the wallet. The page
// decides nothing itself: the agency does, at "choose" and "cancel".
import { ApiError, client } from "./api.js";
import { applyLanguage, localized, t } from "./i18n.js";
import { renderFacts } from "./issuance-facts.js";

const $ = (id) => document.getElementById(id);
const base = location.pathname.replace(/\/+$/, ""); // /issuers/{id}/sign-in/{state}
const api = client({ base });
let view = null;
let problem = null; // [the message (in the language shown), whether the way back is offered]

function render() {
  if (problem) {
    const [message, canGoBack] = problem;
    $("choosing").hidden = true;
    $("problem").hidden = false;
    $("problem-text").textContent = message();
    $("back").hidden = !canGoBack;
    $("back").href = view ? view.cancel_url : "#";
    return;
  }
  if (!view) return;
  const agency = localized(view.agency, "name");
  $("choosing-title").textContent = t("choice.asks", { agency });
  renderFacts($("facts"), view);
  const ways = $("ways");
  ways.replaceChildren();
  for (const way of view.ways) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.className = "button-link";
    link.href = way.url;
    link.id = `way-${way.way}`;
    link.textContent = t(`choice.way.${way.way}`);
    const help = document.createElement("p");
    help.className = "note";
    help.textContent = t(`choice.help.${way.way}`);
    item.append(link, help);
    ways.append(item);
  }
  $("cancel").href = view.cancel_url;
  $("choosing").hidden = false;
}

function showProblem(message, canGoBack) {
  problem = [message, canGoBack];
  render();
  $("problem-title").focus();
}

async function load() {
  try {
    view = await api.call("GET", "/view");
  } catch (error) {
    if (error instanceof ApiError) {
      // unknown or forged: nothing to go back to; another browser's: not this one's to end
      const unknown = error.code === "invalid_request";
      showProblem(() => (unknown ? t("issuance.unknown") : t("issuance.otherSession")), false);
    } else {
      showProblem(() => t("counter.unavailable"), false);
    }
    return;
  }
  if (view.status === "chosen") {
    showProblem(() => t("choice.chosen"), true);
  } else if (view.status === "ended") {
    showProblem(() => t("issuance.ended"), true);
  } else {
    render();
  }
}

applyLanguage(render);
load();
