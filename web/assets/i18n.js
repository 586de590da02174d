// Every text a person reads on the screens, in each language of messages/<language>.json;
// the page carries them all in its "messages" data block (no request, nothing to wait for
// before the first text is shown). The choice is kept.
const MESSAGES = JSON.parse(document.getElementById("messages")?.textContent || "{}");

const STORE = "idwallet.language";
const known = (language_) => Boolean(language_) && Object.hasOwn(MESSAGES, language_);

export function language() {
  const chosen = localStorage.getItem(STORE);
  if (known(chosen)) return chosen;
  const browser = (navigator.language || "en").slice(0, 2);
  return known(browser) ? browser : "en";
}

export function t(key, values = {}) {
  const text = MESSAGES[language()]?.[key] ?? MESSAGES.en?.[key] ?? key;
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
