// The page a browser is shown where an agency cannot tie what it brought (a used or expired
// request_uri, an unknown or forged state) to a wallet's request: what happened in plain
// words (the agency's server picked the paragraph), in the reader's language.
import { applyLanguage } from "./i18n.js";

applyLanguage();
