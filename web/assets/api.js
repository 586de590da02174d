// The one way the screens talk to the API: the bearer key of the screen (a counter's or an
// operator's key, the wallet's access token), JSON bodies, the screen's language, and
// errors read from either form the API answers with: OAuth's {error, error_description}
// or problem details ({title, detail}).

export class ApiError extends Error {
  constructor(status, answer) {
    const said = answer && typeof answer === "object" ? answer : {};
    super(said.error_description || said.detail || said.error || said.title || String(status));
    this.name = "ApiError";
    this.status = status;
    this.code = said.error; // the OAuth error code, where the answer has one
  }
}

// A client for the paths under `base`; `key` gives the bearer key at the time of each call
// (none: no Authorization header).
export function client({ base = "", key = () => null } = {}) {
  // The raw response (for streams, or to look at the status alone); rejects only when the
  // service cannot be reached.
  function send(path, { method = "GET", body, headers = {}, signal } = {}) {
    const bearer = key();
    return fetch(base + path, {
      method,
      signal,
      headers: {
        "Accept-Language": document.documentElement.lang,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...(bearer ? { "Authorization": `Bearer ${bearer}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  // The answer's JSON ({} when empty); throws ApiError when the API says no.
  async function call(method, path, body) {
    const response = await send(path, { method, body });
    const text = await response.text();
    let document_ = {};
    try {
      document_ = text ? JSON.parse(text) : {};
    } catch {
      if (response.ok) throw new Error(`unreadable answer (${response.status})`);
    }
    if (!response.ok) throw new ApiError(response.status, document_);
    return document_;
  }

  return { send, call };
}
