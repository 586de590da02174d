// Keys made and kept by this browser (WebCrypto, not extractable, in IndexedDB): the
// device key that opens the wallet and one holder key per credential instance.
const DB = "idwallet-keys";

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore("keys");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function store(mode, action) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction("keys", mode);
    const request = action(transaction.objectStore("keys"));
    transaction.oncomplete = () => resolve(request.result);
    transaction.onerror = () => reject(transaction.error);
  });
}

export const saveKey = (name, pair) => store("readwrite", (s) => s.put(pair, name));
export const loadKey = (name) => store("readonly", (s) => s.get(name));
export const forgetAll = () => store("readwrite", (s) => s.clear());

export async function newKeyPair() {
  return crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
}

export async function publicJwk(pair) {
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
  return { kty, crv, x, y };
}

const encoder = new TextEncoder();

export function b64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromB64url(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

export async function sign(pair, signingInput) {
  // WebCrypto's ECDSA signature is r||s, exactly the JWS form (RFC 7518 §3.4). A string
  // is a JWS signing input (signed as its characters); bytes are signed as they are.
  const data = typeof signingInput === "string" ? encoder.encode(signingInput) : signingInput;
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, data);
  return b64url(signature);
}

export async function jws(pair, header, payload) {
  const input = b64url(encoder.encode(JSON.stringify(header))) + "." + b64url(encoder.encode(JSON.stringify(payload)));
  return input + "." + await sign(pair, input);
}
