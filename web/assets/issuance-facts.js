// What an agency's authorization pages say about the credential: who issues it, what it is,
// which register its data comes from and what it will contain (from the agency's catalog,
// as the page's view gives it: agency, credential, register {name, claims}).
import { localized, t } from "./i18n.js";

function row(list, term, describe) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  describe(dd);
  list.append(dt, dd);
}

export function renderFacts(list, view) {
  const agency = localized(view.agency, "name");
  const register = localized(view.register?.name, "name") || t("issuance.agencyRegister", { agency });
  list.replaceChildren();
  row(list, t("issuance.credential"), (dd) => { dd.textContent = localized(view.credential, "name"); });
  row(list, t("issuance.issuedBy"), (dd) => { dd.textContent = agency; });
  row(list, t("issuance.dataFrom"), (dd) => { dd.textContent = register; });
  row(list, t("issuance.contains"), (dd) => {
    const claims = document.createElement("ul");
    for (const claim of view.register?.claims || []) {
      const item = document.createElement("li");
      item.textContent = localized(claim.display, "name") || claim.name;
      claims.append(item);
    }
    dd.append(claims);
  });
}
