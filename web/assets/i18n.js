// Every text a person reads on the screens, in English and German; the choice is kept.
const MESSAGES = {
  en: {
    "common.language": "Language",
    "counter.title": "Counter",
    "counter.signIn": "Open the counter",
    "counter.key": "Counter key",
    "counter.open": "Open",
    "counter.badKey": "This key does not open this counter.",
    "counter.choose": "What do you need to check?",
    "counter.checks": "Checks this counter may ask for",
    "counter.showCode": "Show the QR code",
    "counter.scan": "Please scan with your wallet",
    "counter.status": "Status",
    "counter.cannotScan": "Cannot scan? Open this link in the wallet",
    "counter.cancel": "Cancel",
    "counter.proven": "Proven by the citizen's credential",
    "counter.claim": "Data",
    "counter.value": "Value",
    "counter.checksDone": "Checks",
    "counter.again": "Next citizen",
    "counter.resetIn": "This screen clears itself in {seconds} seconds; nothing is kept longer than {retention} minutes.",
    "counter.unavailable": "The service is not reachable. Please try again.",
    "status.waiting": "Waiting for the wallet",
    "status.request_fetched": "Scanned: the citizen is deciding",
    "status.verified": "Verified",
    "status.failed": "Not verified",
    "status.expired": "Expired: ask again",
    "outcome.verified": "Verified",
    "outcome.failed": "Not verified",
    "outcome.expired": "The request expired",
    "check.sd_jwt": "The credential is well formed",
    "check.trust_chain": "Issued by a trusted authority",
    "check.issuer_signature": "Signed by its issuer",
    "check.disclosures": "The shown data is what the issuer signed",
    "check.freshness": "Valid today",
    "check.key_binding": "Presented by its holder, just now",
    "check.profile": "A proper digital credential",
    "check.status": "Not revoked or suspended",
    "check.dcql": "Shows exactly what was asked",
    "check.dcql.all": "Everything asked for was answered",
    "check.issuer_signature_by": "Signed by {issuer}",
    "check.vp_token.all": "The wallet's answer is readable",
    "check.wallet.all": "The citizen's wallet answered",
    "value.true": "yes",
    "value.false": "no",
  },
  de: {
    "common.language": "Sprache",
    "counter.title": "Schalter",
    "counter.signIn": "Schalter öffnen",
    "counter.key": "Schalterschlüssel",
    "counter.open": "Öffnen",
    "counter.badKey": "Dieser Schlüssel öffnet diesen Schalter nicht.",
    "counter.choose": "Was möchten Sie prüfen?",
    "counter.checks": "Prüfungen, die dieser Schalter anfragen darf",
    "counter.showCode": "QR-Code anzeigen",
    "counter.scan": "Bitte mit der Wallet scannen",
    "counter.status": "Stand",
    "counter.cannotScan": "Scannen nicht möglich? Diesen Link in der Wallet öffnen",
    "counter.cancel": "Abbrechen",
    "counter.proven": "Nachgewiesen durch den Nachweis der Person",
    "counter.claim": "Angabe",
    "counter.value": "Wert",
    "counter.checksDone": "Prüfungen",
    "counter.again": "Nächste Person",
    "counter.resetIn": "Diese Anzeige leert sich in {seconds} Sekunden; nichts wird länger als {retention} Minuten aufbewahrt.",
    "counter.unavailable": "Der Dienst ist nicht erreichbar. Bitte erneut versuchen.",
    "status.waiting": "Warten auf die Wallet",
    "status.request_fetched": "Gescannt: die Person entscheidet",
    "status.verified": "Bestätigt",
    "status.failed": "Nicht bestätigt",
    "status.expired": "Abgelaufen: bitte neu anfragen",
    "outcome.verified": "Bestätigt",
    "outcome.failed": "Nicht bestätigt",
    "outcome.expired": "Die Anfrage ist abgelaufen",
    "check.sd_jwt": "Der Nachweis ist richtig aufgebaut",
    "check.trust_chain": "Von einer vertrauenswürdigen Stelle ausgestellt",
    "check.issuer_signature": "Von der ausstellenden Stelle signiert",
    "check.disclosures": "Die gezeigten Angaben sind die signierten",
    "check.freshness": "Heute gültig",
    "check.key_binding": "Von der Inhaberin oder dem Inhaber vorgelegt, soeben",
    "check.profile": "Ein ordnungsgemäßer digitaler Nachweis",
    "check.status": "Nicht widerrufen oder gesperrt",
    "check.dcql": "Zeigt genau das Angefragte",
    "check.dcql.all": "Alles Angefragte wurde beantwortet",
    "check.issuer_signature_by": "Signiert von {issuer}",
    "check.vp_token.all": "Die Antwort der Wallet ist lesbar",
    "check.wallet.all": "Die Wallet der Person hat geantwortet",
    "value.true": "ja",
    "value.false": "nein",
  },
};

const STORE = "idwallet.language";

export function language() {
  const chosen = localStorage.getItem(STORE);
  if (chosen && MESSAGES[chosen]) return chosen;
  const browser = (navigator.language || "en").slice(0, 2);
  return MESSAGES[browser] ? browser : "en";
}

export function t(key, values = {}) {
  const text = MESSAGES[language()][key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

export function localized(entries, field) {
  // The entry for the chosen language from a [{locale, <field>}] list, English otherwise.
  if (!Array.isArray(entries) || entries.length === 0) return "";
  const wanted = language();
  const pick = entries.find((e) => (e.locale || "").slice(0, 2) === wanted)
    || entries.find((e) => (e.locale || "").slice(0, 2) === "en")
    || entries[0];
  return pick[field] ?? "";
}

export function applyLanguage(onChange) {
  document.documentElement.lang = language();
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  const select = document.getElementById("language");
  if (select) {
    select.value = language();
    select.onchange = () => {
      localStorage.setItem(STORE, select.value);
      applyLanguage(onChange);
      if (onChange) onChange();
    };
  }
}
