// A HAIP wallet built on the client APIs of @openid4vc/oauth2 and @openid4vc/openid4vci (the
// libraries of the Credo and Paradym wallets), used by the test suite as an
// interoperability oracle for the agencies' authorization servers and credential issuers.
//
// The libraries do the protocol work: they resolve and validate the issuer and
// authorization server metadata, push the authorization request with PKCE (S256) and a
// DPoP proof, authenticate the wallet with its wallet attestation and a fresh PoP at the
// pushed request and the token endpoint (attest_jwt_client_auth), check the authorization
// response (iss, RFC 9207), exchange the code and later the refresh token with DPoP proofs
// (retrying with the server's DPoP-Nonce on use_dpop_nonce), fetch a c_nonce, build the
// wallet attestation, the key attestation and the jwt key proofs carrying it, request
// the credentials with a DPoP-bound token, ask the Deferred Credential Endpoint for
// credentials a clerk approves first, and send the notification. This file supplies only
// what the libraries leave to the wallet: fetch, hashing, randomness, ES256 keys held with
// WebCrypto and the signing callback, the JWE callbacks (ECDH-ES with A128GCM or A256GCM),
// encrypting the credential requests and opening the encrypted responses (which the
// libraries do not do: see "encrypted requests and responses" below), and following the
// authorization endpoint's redirect with a plain fetch (there is no browser: the
// development authenticator of the server signs the citizen in).
//
// The wallet keeps the credentials it received and presents them with OpenID4VP 1.0 when
// the test asks it to (openid4vp_holder.mjs: @openid4vc/openid4vp, dcql, @sd-jwt).
//
// Input on stdin, one line:
// {"allow_insecure_urls": bool,
//  "client_id": str, "redirect_uri": str,
//  "wallet_provider": {"issuer": str, "x5c": [str], "private_jwk": {EC P-256 JWK with d}},
//  "verifier_trust_anchors": [PEM certificates the signed request objects must chain to],
//  "cases": [{"name": str, "credential_issuer": str, "credential_configuration_id": str,
//             "options": {see OPTIONS below}}
//            or {"name": str, "presentation": true} (a case that only presents)]}
// The wallet provider's key signs the wallet attestations of this wallet (one for each
// case, so for each issuer) and the key attestations of its holder keys; its certificate
// chain (x5c, leaf first, without the root) leads to a root the server trusts.
//
// A case with the browser option hands its authorization request to the test as to a
// browser: {"event": "open_in_browser", "name", "url"} on stdout, {"location": str} back.
// Before that answer the test may ask the wallet to present (the agency's page showed a
// request): {"present": openid4vp link, "resend": bool} or {"replay": openid4vp link,
// "of": an earlier case's name}; the wallet answers each with {"event": "presented",
// "name", "response", "error"} (see followTheTest). A presentation case starts with
// {"event": "ready_to_present", "name"} and ends at {"done": true}.
//
// While a deferred case waits for the clerk, the wallet writes a line on stdout,
// {"event": "waiting_for_the_clerk", "name", "transaction_id", "interval"}, and reads the
// next line of stdin ({"decided": str}, what the clerk did) before it asks again.
//
// Output on stdout, the last line: {"library": {"name": version}, "results": [one object per
// case]}, each
// {"name", "ok": true, "wallet": {"client_id", "instance_jwk"}, "credential_issuer",
//  "credential_configuration_id", "format",
//  "openid4vci_version", "authorization_server", "library_support", "authorization",
//  "dpop_jwk", "token", "batches": [{"credentials", "holder_jwks", "key_attestation",
//  "proof_headers", "dpop_nonce", "notification_id", "response_encryption", "deferred"}],
//  "refresh", "reuse", "successor_after_reuse", "presentations": [what the holder reports
//  of each], "exchanges": [each HTTP exchange], "corrections": [str], "workarounds": [str]}
// or {"name", "ok": false, "error": str, "details": str, "presentations", "exchanges",
// "corrections", "workarounds"}.
// "corrections" lists what this wallet had to change in what the libraries built;
// "workarounds" what it did itself where the libraries refused or lacked something the
// specification asks for.

import { createHash, randomBytes, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

import {
  Oauth2Client,
  Oauth2ClientErrorResponseError,
  clientAuthenticationClientAttestationJwt,
  decodeJwt,
  getAuthorizationServerMetadataFromList,
  setGlobalConfig,
} from "@openid4vc/oauth2";
import {
  Openid4vciClient,
  Openid4vciRetrieveCredentialsError,
  Openid4vciWalletProvider,
} from "@openid4vc/openid4vci";
import { ValidationError } from "@openid4vc/utils";

import { createHolder } from "./openid4vp_holder.mjs";

const { subtle } = webcrypto;

const base64url = (bytes) => Buffer.from(bytes).toString("base64url");
const HASHES = { "sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512" };
const ES256 = { name: "ECDSA", namedCurve: "P-256" };

/** What a case may ask for, and the defaults. Later variants add their options here. */
const OPTIONS = {
  // Send a key attestation of the holder keys (OpenID4VCI 1.0 Appendix D.1), signed by
  // the wallet provider, in the key_attestation header of every jwt proof (Appendix F.1).
  key_attestation: true,
  // Exchange the refresh token for a new access token and fetch a second batch, then
  // present the used refresh token again (RFC 6749 §6, RFC 9700 §4.14.2).
  refresh: true,
  // Encrypt the credential requests to the agency's key for requests and ask for each
  // response encrypted to a new key of the wallet (OpenID4VCI 1.0 §8.2, §10), with this
  // content encryption, "A128GCM" or "A256GCM" (the agencies publish both); null: plain JSON.
  encryption: null,
  // The credential waits for a clerk (§8.3): expect 202 with transaction_id and interval,
  // ask the Deferred Credential Endpoint once while it is pending (§9), wait for the clerk
  // (see the input above), ask again and collect the credentials, then tell the agency
  // they were kept (Notification Endpoint, §11).
  deferred: false,
  // Open the authorization request in the citizen's browser instead of fetching it: the
  // wallet writes {"event": "open_in_browser", "name", "url"} on stdout and reads the
  // redirect to its redirect_uri the browser ended at, {"location": str}, from stdin (the
  // agency's login, at the national eID provider, happens in the browser).
  browser: false,
};

// -- keys and signing ------------------------------------------------------------------

/** Private keys by the x coordinate of their public JWK; the wallet provider's by its
 * certificate (x5c[0]). */
const privateKeys = new Map();
const providerKeys = new Map();

function publicPart({ kty, crv, x, y }) {
  return { kty, crv, x, y };
}

async function newKey() {
  const pair = await subtle.generateKey(ES256, false, ["sign", "verify"]);
  const publicJwk = publicPart(await subtle.exportKey("jwk", pair.publicKey));
  privateKeys.set(publicJwk.x, pair.privateKey);
  return publicJwk;
}

/** ES256 signature (r || s) of ``bytes`` with the wallet's key of ``publicJwk``. */
async function signWith(publicJwk, bytes) {
  const key = privateKeys.get(publicJwk.x);
  if (key === undefined) throw new Error("this wallet holds no such key");
  return new Uint8Array(await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, bytes));
}

async function importProviderKey(x5c, privateJwk) {
  const key = await subtle.importKey("jwk", { ...privateJwk, ext: false }, ES256, false, [
    "sign",
  ]);
  providerKeys.set(x5c[0], { key, publicJwk: publicPart(privateJwk) });
}

/** The key attestation's media type, as OpenID4VCI 1.0 Appendix D.1 writes it. */
const KEY_ATTESTATION_TYP = "key-attestation+jwt";
/** What createKeyAttestationJwt of @openid4vc/openid4vci 0.4.6 writes instead (the name of
 * the drafts before 1.0); corrected before signing, the one place this wallet changes a
 * header the library built. */
const LIBRARY_KEY_ATTESTATION_TYP = "keyattestation+jwt";
const corrections = [];
const workarounds = [];

async function signJwt(signer, { header, payload }) {
  let key;
  let signerJwk;
  if (signer.method === "jwk") {
    key = privateKeys.get(signer.publicJwk.x);
    signerJwk = signer.publicJwk;
  } else if (signer.method === "x5c") {
    ({ key, publicJwk: signerJwk } = providerKeys.get(signer.x5c[0]) ?? {});
  }
  if (key === undefined || signer.alg !== "ES256") {
    throw new Error(`this wallet signs only ES256 with its own keys, not ${signer.method}`);
  }
  let protectedHeader = header;
  if (header.typ === LIBRARY_KEY_ATTESTATION_TYP) {
    protectedHeader = { ...header, typ: KEY_ATTESTATION_TYP };
    corrections.push(`key attestation typ ${header.typ} -> ${KEY_ATTESTATION_TYP}`);
  }
  const encodedHeader = base64url(JSON.stringify(protectedHeader));
  const input = `${encodedHeader}.${base64url(JSON.stringify(payload))}`;
  // WebCrypto's ECDSA signature is r || s, the JWS form (RFC 7518 §3.4).
  const signature = await subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    key,
    new TextEncoder().encode(input),
  );
  return { jwt: `${input}.${base64url(new Uint8Array(signature))}`, signerJwk };
}

// -- JWE (RFC 7516) with ECDH-ES on P-256 and AES-GCM (RFC 7518 §4.6, §5.3) ------------

const ECDH = { name: "ECDH", namedCurve: "P-256" };
const KEY_AGREEMENT = "ECDH-ES";
/** The content encryptions this wallet does, by the size of their key in bits: the two
 * HAIP 1.0 §5 names for encrypted presentation responses, which the agencies take for
 * credential requests and responses too. */
const CONTENT_KEY_BITS = { A128GCM: 128, A256GCM: 256 };
const JWT_MEDIA_TYPE = "application/jwt";

/** The wallet's keys for encrypted responses by the x coordinate of their public JWK: the
 * private key, and its JWK, which the output hands to the test (a key used for one
 * response only) so that the test opens the same JWE with another implementation. */
const encryptionKeys = new Map();

async function newEncryptionKey() {
  const pair = await subtle.generateKey(ECDH, true, ["deriveBits"]);
  const privateJwk = await subtle.exportKey("jwk", pair.privateKey);
  const publicJwk = {
    ...publicPart(privateJwk),
    alg: KEY_AGREEMENT,
    use: "enc",
    kid: base64url(randomBytes(12)),
  };
  encryptionKeys.set(publicJwk.x, {
    privateKey: pair.privateKey,
    privateJwk: { ...publicPart(privateJwk), d: privateJwk.d },
  });
  return publicJwk;
}

function uint32(value) {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

function lengthPrefixed(bytes) {
  return Buffer.concat([uint32(bytes.length), bytes]);
}

/** The content encryption key from the shared secret: the Concat KDF of NIST SP 800-56A
 * with SHA-256, as RFC 7518 §4.6.2 uses it for direct key agreement (AlgorithmID is the
 * enc value; one round gives up to 256 bits). */
function contentKey(sharedSecret, { enc, apu, apv }) {
  const bits = CONTENT_KEY_BITS[enc];
  const otherInfo = Buffer.concat([
    lengthPrefixed(Buffer.from(enc, "ascii")),
    lengthPrefixed(apu ? Buffer.from(apu, "base64url") : Buffer.alloc(0)),
    lengthPrefixed(apv ? Buffer.from(apv, "base64url") : Buffer.alloc(0)),
    uint32(bits),
  ]);
  const round = createHash("sha256")
    .update(Buffer.concat([uint32(1), Buffer.from(sharedSecret), otherInfo]))
    .digest();
  return round.subarray(0, bits / 8);
}

/** The library's EncryptJweCallback: ``data`` as a compact JWE to the recipient's public
 * key, with a fresh ephemeral key (``epk``) and the recipient key's ``kid`` in the header,
 * as OpenID4VCI 1.0 §10 asks. */
async function encryptJwe(jweEncryptor, data) {
  const { method, alg, enc, publicJwk, apu, apv } = jweEncryptor;
  if (method !== "jwk" || alg !== KEY_AGREEMENT || !(enc in CONTENT_KEY_BITS)) {
    throw new Error(`this wallet encrypts only ${KEY_AGREEMENT} with A128GCM or A256GCM`);
  }
  const recipient = await subtle.importKey("jwk", publicPart(publicJwk), ECDH, false, []);
  // the sender's key of this one message: its private part never leaves WebCrypto
  const ephemeral = await subtle.generateKey(ECDH, false, ["deriveBits"]);
  const epk = publicPart(await subtle.exportKey("jwk", ephemeral.publicKey));
  const sharedSecret = await subtle.deriveBits(
    { name: "ECDH", public: recipient },
    ephemeral.privateKey,
    256,
  );
  const header = { alg, enc, ...(publicJwk.kid ? { kid: publicJwk.kid } : {}), epk };
  if (apu) header.apu = apu;
  if (apv) header.apv = apv;
  const encodedHeader = base64url(JSON.stringify(header));
  const key = await subtle.importKey(
    "raw",
    contentKey(sharedSecret, { enc, apu, apv }),
    "AES-GCM",
    false,
    ["encrypt"],
  );
  const iv = randomBytes(12);
  const sealed = new Uint8Array(
    await subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: Buffer.from(encodedHeader, "ascii"), tagLength: 128 },
      key,
      new TextEncoder().encode(data),
    ),
  );
  const tag = sealed.subarray(sealed.length - 16);
  const ciphertext = sealed.subarray(0, sealed.length - 16);
  const jwe = [encodedHeader, "", base64url(iv), base64url(ciphertext), base64url(tag)].join(".");
  return { encryptionJwk: publicJwk, jwe };
}

/** The library's DecryptJweCallback: a compact JWE to the wallet's key ``options.jwk``
 * (ECDH-ES, A128GCM or A256GCM, no compression, the key's ``kid`` in the header when it
 * has one); ``decrypted: false`` for anything else. */
async function decryptJwe(jwe, options = {}) {
  const own = options.jwk ? encryptionKeys.get(options.jwk.x) : undefined;
  const parts = jwe.split(".");
  if (own === undefined || parts.length !== 5 || parts[1] !== "") return { decrypted: false };
  let header;
  try {
    header = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8"));
  } catch {
    return { decrypted: false };
  }
  if (
    header.alg !== KEY_AGREEMENT ||
    !(header.enc in CONTENT_KEY_BITS) ||
    "zip" in header ||
    "crit" in header ||
    (options.jwk.kid !== undefined && header.kid !== options.jwk.kid)
  ) {
    return { decrypted: false };
  }
  try {
    const epk = await subtle.importKey("jwk", publicPart(header.epk), ECDH, false, []);
    const sharedSecret = await subtle.deriveBits(
      { name: "ECDH", public: epk },
      own.privateKey,
      256,
    );
    const key = await subtle.importKey("raw", contentKey(sharedSecret, header), "AES-GCM", false, [
      "decrypt",
    ]);
    const [, , iv, ciphertext, tag] = parts.map((part) => Buffer.from(part, "base64url"));
    const plaintext = await subtle.decrypt(
      {
        name: "AES-GCM",
        iv,
        additionalData: Buffer.from(parts[0], "ascii"),
        tagLength: 128,
      },
      key,
      Buffer.concat([ciphertext, tag]),
    );
    return {
      decrypted: true,
      decryptionJwk: options.jwk,
      payload: new TextDecoder("utf-8", { fatal: true }).decode(plaintext),
    };
  } catch {
    return { decrypted: false };
  }
}

const callbacks = {
  hash: (data, alg) => new Uint8Array(createHash(HASHES[alg]).update(data).digest()),
  generateRandom: (length) => new Uint8Array(randomBytes(length)),
  signJwt,
  encryptJwe,
  decryptJwe,
};

// -- what went over the wire -----------------------------------------------------------

/** The exchanges of the current case: enough of each request and answer to check what
 * the libraries sent (the JWT headers decoded, never the tokens themselves). */
let exchanges = [];
/** The latest DPoP-Nonce each URL answered. */
const dpopNonces = new Map();

function claimsOf(jwt) {
  if (!jwt) return null;
  try {
    const { header, payload } = decodeJwt({ jwt });
    return { header, payload };
  } catch {
    return { malformed: true };
  }
}

function jweHeader(jwe) {
  try {
    return JSON.parse(Buffer.from(jwe.split(".")[0], "base64url").toString("utf8"));
  } catch {
    return { malformed: true };
  }
}

function mediaTypeOf(headers) {
  return (headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase() || null;
}

// -- encrypted requests and responses (OpenID4VCI 1.0 §10) -------------------------------
//
// @openid4vc/openid4vci 0.4.6 sends every credential and deferred credential request as
// JSON and reads only JSON answers: it does not encrypt a request to the issuer's
// credential_request_encryption key (a member its metadata schema does not know) nor open
// an application/jwt answer, which it takes for a failed request (Openid4vciClient takes no
// JWE callbacks; encryptJwe and decryptJwe of the libraries' CallbackContext serve only JAR
// request objects in @openid4vc/oauth2). It does carry credential_response_encryption in
// the request (additionalRequestPayload) and checks its shape. The wallet does the rest
// where every request passes, in its fetch, with the JWE callbacks above: the request the
// library built (its JSON) goes out as a compact JWE to the agency's key, and an
// application/jwt answer is opened with the key the request named and handed to the
// library as the JSON it expects, which it then checks as any other.

/** Where the current case encrypts: the URLs of the credential and deferred credential
 * endpoints, and the agency's key for requests as the library's JweEncryptor; null for a
 * plain case. */
let sealing = null;

/** The request's JSON as a compact JWE to the agency, in a request otherwise the same. */
async function sealedRequest(request) {
  const plaintext = await request.clone().text();
  const { jwe } = await callbacks.encryptJwe(sealing.encryptor, plaintext);
  const headers = new Headers(request.headers);
  headers.set("content-type", JWT_MEDIA_TYPE);
  return {
    sealed: new Request(request.url, { method: request.method, headers, body: jwe }),
    plaintext,
    jwe,
  };
}

/** The answer to an encrypted request, opened when it is a JWE: the response the library
 * reads, and what the test checks of the JWE. */
async function openedResponse(response, plaintext) {
  const responseJwk = JSON.parse(plaintext).credential_response_encryption?.jwk;
  if (mediaTypeOf(response.headers) !== JWT_MEDIA_TYPE) return { response, opened: null };
  const jwe = await response.text();
  const result = await callbacks.decryptJwe(jwe, { jwk: responseJwk });
  const opened = {
    header: jweHeader(jwe),
    jwe,
    private_jwk: encryptionKeys.get(responseJwk?.x)?.privateJwk ?? null,
  };
  if (!result.decrypted) {
    throw new Error(`the encrypted answer does not open: ${JSON.stringify(opened.header)}`);
  }
  opened.body = JSON.parse(result.payload);
  const headers = new Headers(response.headers);
  headers.set("content-type", "application/json");
  headers.delete("content-length");
  const plain = new Response(result.payload, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
  return { response: plain, opened };
}

async function recordingFetch(input, init = {}) {
  let request = new Request(input, init);
  let encrypted = null;
  let plaintext = null;
  if (sealing?.endpoints.has(request.url) && request.method === "POST") {
    let jwe;
    ({ sealed: request, plaintext, jwe } = await sealedRequest(request));
    encrypted = { request_body: JSON.parse(plaintext), request_header: jweHeader(jwe) };
  }
  let response = await fetch(request.clone(), { redirect: init.redirect ?? "follow" });
  const answeredMediaType = mediaTypeOf(response.headers);
  if (encrypted !== null) {
    let opened;
    ({ response, opened } = await openedResponse(response, plaintext));
    encrypted.response = opened;
  }
  const authorization = request.headers.get("authorization");
  let error = null;
  if (!response.ok && response.status !== 303) {
    const body = await response
      .clone()
      .json()
      .catch(() => null);
    error = body?.error ?? null;
  }
  exchanges.push({
    method: request.method,
    url: request.url.split("?")[0],
    status: response.status,
    authorization_scheme: authorization ? authorization.split(" ")[0] : null,
    dpop: claimsOf(request.headers.get("dpop")),
    client_attestation: claimsOf(request.headers.get("oauth-client-attestation")),
    client_attestation_pop: claimsOf(request.headers.get("oauth-client-attestation-pop")),
    content_type: mediaTypeOf(request.headers),
    answer_content_type: answeredMediaType,
    encrypted,
    error,
    www_authenticate: response.headers.get("www-authenticate"),
    dpop_nonce_answered: response.headers.has("dpop-nonce"),
  });
  const dpopNonce = response.headers.get("dpop-nonce");
  if (dpopNonce) dpopNonces.set(request.url, dpopNonce);
  return response;
}

// -- the wallet --------------------------------------------------------------------------

/** The wallet instance as one issuer sees it: a key (the attestation's cnf) and a wallet
 * attestation from the wallet provider (OpenID4VCI 1.0 Appendix E), made with the library's
 * own builder. Each issuer gets its own: HAIP 1.0 §4.4.1 forbids reusing a wallet
 * attestation across issuers. */
async function walletInstance(request) {
  const provider = request.wallet_provider;
  const instanceJwk = await newKey();
  const walletProvider = new Openid4vciWalletProvider({ callbacks });
  const now = new Date();
  const attestation = await walletProvider.createWalletAttestationJwt({
    signer: { method: "x5c", alg: "ES256", x5c: provider.x5c },
    issuer: provider.issuer,
    clientId: request.client_id,
    confirmation: { jwk: instanceJwk },
    issuedAt: now,
    expiresAt: new Date(now.getTime() + 3600 * 1000),
    walletName: "Interop HAIP Wallet",
    walletLink: `${provider.issuer}/wallet`,
  });
  return {
    clientId: request.client_id,
    redirectUri: request.redirect_uri,
    provider,
    walletProvider,
    instanceJwk,
    attestation,
  };
}

/** The libraries' clients for this wallet instance: every request to an authorization
 * server carries its attestation and a fresh PoP (attest_jwt_client_auth). */
function clientsFor(wallet) {
  const clientCallbacks = {
    ...callbacks,
    fetch: recordingFetch,
    clientAuthentication: clientAuthenticationClientAttestationJwt({
      clientAttestationJwt: wallet.attestation,
      callbacks,
    }),
  };
  return {
    oauth2: new Oauth2Client({ callbacks: clientCallbacks }),
    openid4vci: new Openid4vciClient({ callbacks: clientCallbacks }),
  };
}

/** The citizen's browser at the authorization endpoint: the answer is a redirect to the
 * wallet's redirect_uri, which is read, not followed. */
async function followAuthorization(authorizationRequestUrl) {
  const response = await recordingFetch(authorizationRequestUrl, { redirect: "manual" });
  const location = response.headers.get("location");
  if (response.status < 300 || response.status >= 400 || !location) {
    throw new Error(
      `the authorization endpoint answered ${response.status}: ${await response.text()}`,
    );
  }
  return { status: response.status, location };
}

/** The citizen's browser, as a wallet app hands it the authorization request: the test
 * plays the browser (and the citizen logging in, or showing a credential from this wallet
 * where the agency asks for a presentation) and answers with where it ended. */
async function openInBrowser(name, authorizationRequestUrl) {
  const { location } = await followTheTest(name, {
    event: "open_in_browser",
    name,
    url: authorizationRequestUrl,
  });
  return { status: 303, location };
}

// -- presentations (OpenID4VP 1.0), as the test asks for them -----------------------------

/** The presenting side (openid4vp_holder.mjs), once the request is read. */
let holder = null;
/** The presentations of the current case, as the holder reports them. */
let presentations = [];
/** The first vp_token each case sent, by case name: what a later case may replay. */
const sentTokens = new Map();

/** Writes ``event`` on stdout and follows the test's instructions on stdin until one that
 * is not about a presentation, which it returns: {"present": openid4vp link, "resend":
 * bool} (answer the request; with resend, send the same response again afterwards) or
 * {"replay": openid4vp link, "of": case name} (send that case's vp_token, as it is, in
 * answer to this other request). After each it writes {"event": "presented", "name",
 * "response": what the verifier answered, "error": null or why the wallet could not}. */
async function followTheTest(name, event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
  for (;;) {
    const instruction = JSON.parse(await nextInputLine(`the test's answer to ${event.event}`));
    if (instruction.present === undefined && instruction.replay === undefined) return instruction;
    let outcome;
    try {
      if (instruction.present !== undefined) {
        outcome = await holder.present(instruction.present, { resend: instruction.resend === true });
        if (!sentTokens.has(name)) sentTokens.set(name, outcome.vp_token);
      } else {
        const vpToken = sentTokens.get(instruction.of);
        if (vpToken === undefined) throw new Error(`no vp_token sent in ${instruction.of}`);
        outcome = await holder.replay(instruction.replay, vpToken);
      }
    } catch (error) {
      outcome = { error: `${error.name}: ${error.message}`, details: error.stack };
    }
    presentations.push(outcome);
    const answered = {
      event: "presented",
      name,
      response: outcome.response ?? null,
      error: outcome.error ?? null,
    };
    process.stdout.write(`${JSON.stringify(answered)}\n`);
  }
}

/** A case that only presents: the test hands the wallet requests (a counter's QR code) until
 * it says {"done": true}. */
async function runPresentationCase(walletCase) {
  await followTheTest(walletCase.name, { event: "ready_to_present", name: walletCase.name });
  return { name: walletCase.name, ok: true };
}

/** Holder keys, their key attestation (when asked for), jwt proofs, and the credentials,
 * with a DPoP proof of ``dpopSigner`` carrying the nonce ``dpopNonce`` says where from:
 * "none" (the server's use_dpop_nonce answer gives one, and the library retries, RFC 9449
 * §9) or "nonce_endpoint" (the DPoP-Nonce header of the nonce endpoint's answer, which
 * HAIP 1.0 §4 asks wallets to take and the library's requestNonce does not return: this
 * wallet's fetch keeps it). */
async function receiveBatch({
  openid4vci,
  wallet,
  issuerMetadata,
  configurationId,
  accessToken,
  dpopSigner,
  dpopNonce,
  options,
  name,
}) {
  const batchSize = issuerMetadata.credentialIssuer.batch_credential_issuance?.batch_size ?? 1;
  const { c_nonce: nonce } = await openid4vci.requestNonce({ issuerMetadata });
  const dpop = { signer: dpopSigner };
  if (dpopNonce === "nonce_endpoint") {
    dpop.nonce = dpopNonces.get(issuerMetadata.credentialIssuer.nonce_endpoint);
    if (!dpop.nonce) throw new Error("the nonce endpoint answered no DPoP-Nonce");
  }
  const holderJwks = [];
  for (let i = 0; i < batchSize; i += 1) holderJwks.push(await newKey());
  let keyAttestation;
  if (options.key_attestation) {
    const now = new Date();
    keyAttestation = await wallet.walletProvider.createKeyAttestationJwt({
      use: "proof_type.jwt",
      signer: { method: "x5c", alg: "ES256", x5c: wallet.provider.x5c },
      attestedKeys: holderJwks,
      nonce,
      issuedAt: now,
      expiresAt: new Date(now.getTime() + 3600 * 1000),
      keyStorage: ["iso_18045_high"],
      userAuthentication: ["iso_18045_moderate"],
    });
  }
  const jwts = [];
  for (const holderJwk of holderJwks) {
    const { jwt } = await openid4vci.createCredentialRequestJwtProof({
      issuerMetadata,
      credentialConfigurationId: configurationId,
      signer: { method: "jwk", alg: "ES256", publicJwk: holderJwk },
      nonce,
      issuedAt: new Date(),
      clientId: wallet.clientId,
      keyAttestationJwt: keyAttestation,
    });
    jwts.push(jwt);
  }
  const { answer, responseEncryption } = await askingForEncryptedAnswer(
    options,
    (additionalRequestPayload) =>
      openid4vci.retrieveCredentials({
        issuerMetadata,
        accessToken,
        credentialConfigurationId: configurationId,
        proofs: { jwt: jwts },
        dpop,
        additionalRequestPayload,
      }),
  );
  let { credentialResponse } = answer;
  let deferred = null;
  if (options.deferred) {
    ({ credentialResponse, deferred } = await collectDeferred({
      openid4vci,
      issuerMetadata,
      accessToken,
      dpopSigner,
      answer,
      options,
      name,
    }));
  } else if (credentialResponse.transaction_id !== undefined) {
    throw new Error(`the credential was deferred: ${JSON.stringify(credentialResponse)}`);
  }
  const credentials = (credentialResponse.credentials ?? []).map((c) => c.credential);
  for (const credential of credentials) await holder.keep(configurationId, credential);
  return {
    credentials,
    holder_jwks: holderJwks,
    key_attestation: keyAttestation ?? null,
    proof_headers: jwts.map((jwt) => decodeJwt({ jwt }).header),
    dpop_nonce: dpopNonce,
    notification_id: credentialResponse.notification_id ?? null,
    response_encryption: responseEncryption,
    deferred,
  };
}

/** What ``send`` (a request of the library, given its additionalRequestPayload) answers,
 * asking, for a case that encrypts, for the answer encrypted to a new key of the wallet
 * (ECDH-ES, with its ``kid``) with the case's ``enc``: OpenID4VCI 1.0 §8.2
 * ``credential_response_encryption`` with ``jwk`` and ``enc``. The library's request schemas
 * (0.4.6) require an ``alg`` member beside them, as the drafts before 1.0 had it (1.0 has the
 * algorithm in the jwk only), and refuse the request before sending it; the wallet then sends
 * it with that member too (the issuer ignores what it does not know, §8.2). */
async function askingForEncryptedAnswer(options, send) {
  if (!options.encryption) return { answer: await send(undefined), responseEncryption: null };
  const asked = { jwk: await newEncryptionKey(), enc: options.encryption };
  try {
    const answer = await send({ credential_response_encryption: asked });
    return { answer, responseEncryption: asked };
  } catch (error) {
    const draftAlg = '"credential_response_encryption.alg"';
    if (!(error instanceof ValidationError) || !error.message.includes(draftAlg)) throw error;
    workarounds.push(
      "credential_response_encryption carries alg beside jwk and enc: the library's request " +
        "schema requires the member of the drafts",
    );
    const withAlg = { ...asked, alg: KEY_AGREEMENT };
    return {
      answer: await send({ credential_response_encryption: withAlg }),
      responseEncryption: asked,
    };
  }
}

/** What zDeferredCredentialResponse of @openid4vc/openid4vci 0.4.6 says of a deferred
 * credential response with credentials and a notification_id: its check is inverted (it
 * refuses notification_id exactly when credentials are there, which §9.2 and §8.3 allow;
 * oid4vc-ts issue 245). */
const LIBRARY_DEFERRED_NOTIFICATION_ISSUE =
  "'notification_id' MUST NOT be defined when 'credentials' is not defined.";

/** The library's retrieveDeferredCredentials; a response it refuses for that inverted check
 * alone is taken as it came (the library read it as JSON; nothing else was wrong). */
async function retrieveDeferredCredentials(openid4vci, request) {
  try {
    return await openid4vci.retrieveDeferredCredentials(request);
  } catch (error) {
    const result = error instanceof Openid4vciRetrieveCredentialsError ? error.response : null;
    const issues = result?.deferredCredentialResponseResult?.error?.issues ?? [];
    if (
      result?.response.status !== 200 ||
      issues.length !== 1 ||
      issues[0].message !== LIBRARY_DEFERRED_NOTIFICATION_ISSUE
    ) {
      throw error;
    }
    const body = await result.response.clone().json();
    if (!Array.isArray(body.credentials) || typeof body.notification_id !== "string") throw error;
    workarounds.push(
      "deferred credential response with credentials and notification_id, refused by the " +
        "library's inverted notification_id check, read as it came",
    );
    return { ...result, ok: true, deferredCredentialResponse: body };
  }
}

/** The credentials of a deferred credential request (OpenID4VCI 1.0 §8.3, §9): the
 * Deferred Credential Endpoint asked at once, while no clerk has decided (a test wallet
 * asking sooner than the interval the agency gave), then again once the test says the clerk
 * decided; each request with the agency's latest DPoP-Nonce (as the library returns it) and,
 * when the case encrypts, a new key for its response (§9.1: it may differ from the
 * credential request's). The wallet then tells the agency it kept them (§11). */
async function collectDeferred({
  openid4vci,
  issuerMetadata,
  accessToken,
  dpopSigner,
  answer,
  options,
  name,
}) {
  const { transaction_id: transactionId, interval } = answer.credentialResponse;
  if (transactionId === undefined) {
    throw new Error("the credential was issued at once, not deferred");
  }
  let nonce = answer.dpop?.nonce;
  async function ask() {
    const { answer: result, responseEncryption } = await askingForEncryptedAnswer(
      options,
      (additionalRequestPayload) =>
        retrieveDeferredCredentials(openid4vci, {
          issuerMetadata,
          accessToken,
          transactionId,
          dpop: { signer: dpopSigner, nonce },
          additionalRequestPayload,
        }),
    );
    nonce = result.dpop?.nonce ?? nonce;
    return {
      status: result.response.status,
      ...result.deferredCredentialResponse,
      response_encryption: responseEncryption,
    };
  }
  const deferred = {
    credential_response: {
      status: answer.response.status,
      transaction_id: transactionId,
      interval,
    },
  };
  deferred.pending = await ask();
  if (deferred.pending.credentials !== undefined) {
    throw new Error("the credentials were issued before any clerk decided");
  }
  deferred.clerk = await waitForTheClerk({ name, transaction_id: transactionId, interval });
  const collected = await ask();
  if (collected.credentials === undefined) {
    throw new Error(`still deferred after the clerk's decision: ${JSON.stringify(collected)}`);
  }
  deferred.collected = {
    status: collected.status,
    notification_id: collected.notification_id ?? null,
    response_encryption: collected.response_encryption,
  };
  const notified = await openid4vci.sendNotification({
    issuerMetadata,
    accessToken,
    notification: { notificationId: collected.notification_id, event: "credential_accepted" },
    dpop: { signer: dpopSigner, nonce },
  });
  deferred.notification = { status: notified.response.status };
  return { credentialResponse: collected, deferred };
}

// -- the test's side: stdin and stdout ----------------------------------------------------

const input = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
const inputLines = input[Symbol.asyncIterator]();

async function nextInputLine(awaited) {
  const { value, done } = await inputLines.next();
  if (done) throw new Error(`stdin ended before ${awaited}`);
  return value;
}

/** A line on stdout that the case waits for a clerk, and the test's answer, the next line
 * on stdin: the test stands in for the clerk and for the clock. */
async function waitForTheClerk(waiting) {
  process.stdout.write(`${JSON.stringify({ event: "waiting_for_the_clerk", ...waiting })}\n`);
  return JSON.parse(await nextInputLine("the clerk decided"));
}

function tokenSummary({ accessTokenResponse }) {
  return {
    token_type: accessTokenResponse.token_type,
    expires_in: accessTokenResponse.expires_in ?? null,
    refresh_token_issued: typeof accessTokenResponse.refresh_token === "string",
  };
}

async function refused(attempt) {
  try {
    await attempt();
  } catch (error) {
    if (error instanceof Oauth2ClientErrorResponseError) {
      return {
        refused: true,
        status: error.response.status,
        error: error.errorResponse.error,
        error_description: error.errorResponse.error_description ?? null,
      };
    }
    throw error;
  }
  return { refused: false };
}

/** The library's JweEncryptor for the credential requests of an issuer: its key of
 * ``credential_request_encryption`` (an EC P-256 key for ECDH-ES, with its kid), provided
 * it takes and answers with ``enc`` (OpenID4VCI 1.0 §12.2.4). */
function requestEncryptor(issuerMetadata, enc) {
  const { credential_request_encryption: requests, credential_response_encryption: responses } =
    issuerMetadata.credentialIssuer;
  if (
    !requests?.enc_values_supported?.includes(enc) ||
    !responses?.enc_values_supported?.includes(enc) ||
    !responses.alg_values_supported?.includes(KEY_AGREEMENT)
  ) {
    throw new Error(`the credential issuer does not encrypt with ${KEY_AGREEMENT} and ${enc}`);
  }
  const publicJwk = (requests.jwks?.keys ?? []).find(
    (key) =>
      key.kty === "EC" &&
      key.crv === "P-256" &&
      key.alg === KEY_AGREEMENT &&
      (key.use ?? "enc") === "enc" &&
      typeof key.kid === "string",
  );
  if (publicJwk === undefined) throw new Error("the credential issuer has no P-256 request key");
  return { method: "jwk", alg: KEY_AGREEMENT, publicJwk, enc };
}

async function runCase(request, walletCase) {
  const options = { ...OPTIONS };
  for (const [name, value] of Object.entries(walletCase.options ?? {})) {
    if (!(name in OPTIONS)) throw new Error(`unknown case option ${name}`);
    options[name] = value;
  }
  const wallet = await walletInstance(request);
  const { oauth2, openid4vci } = clientsFor(wallet);
  const credentialIssuer = walletCase.credential_issuer;
  const configurationId = walletCase.credential_configuration_id;

  const issuerMetadata = await openid4vci.resolveIssuerMetadata(credentialIssuer);
  const configuration =
    issuerMetadata.credentialIssuer.credential_configurations_supported[configurationId];
  const [authorizationServer] = issuerMetadata.credentialIssuer.authorization_servers ?? [
    credentialIssuer,
  ];
  const authorizationServerMetadata = getAuthorizationServerMetadataFromList(
    issuerMetadata.authorizationServers,
    authorizationServer,
  );
  if (options.encryption) {
    const { credential_endpoint: credential, deferred_credential_endpoint: deferred } =
      issuerMetadata.credentialIssuer;
    sealing = {
      endpoints: new Set([credential, deferred].filter(Boolean)),
      encryptor: requestEncryptor(issuerMetadata, options.encryption),
    };
  }
  const librarySupport = {
    dpop: oauth2.isDpopSupported({ authorizationServerMetadata }),
    client_attestation: oauth2.isClientAttestationSupported({ authorizationServerMetadata })
      .supported,
    pushed_authorization_request_endpoint:
      authorizationServerMetadata.pushed_authorization_request_endpoint ?? null,
  };
  if (!librarySupport.dpop.supported || !librarySupport.client_attestation) {
    throw new Error("the authorization server does not offer DPoP and wallet attestations");
  }

  // Wallet-initiated issuance (OpenID4VCI 1.0 §5): the credential named by its scope, the
  // request pushed (RFC 9126), PKCE S256, the code bound to this DPoP key (RFC 9449 §10).
  const dpopJwk = await newKey();
  const dpopSigner = { method: "jwk", alg: "ES256", publicJwk: dpopJwk };
  const state = base64url(randomBytes(16));
  const initiated = await oauth2.initiateAuthorization({
    authorizationServerMetadata,
    clientId: wallet.clientId,
    redirectUri: wallet.redirectUri,
    scope: configuration.scope,
    state,
    resource: credentialIssuer,
    dpop: { signer: dpopSigner },
  });
  const redirect = options.browser
    ? await openInBrowser(walletCase.name, initiated.authorizationRequestUrl)
    : await followAuthorization(initiated.authorizationRequestUrl);
  const authorizationResponse = openid4vci.parseAndVerifyAuthorizationResponseRedirectUrl({
    url: redirect.location,
    authorizationServerMetadata,
  });
  if (authorizationResponse.error) {
    throw new Error(`authorization refused: ${JSON.stringify(authorizationResponse)}`);
  }
  if (authorizationResponse.state !== state) throw new Error("the state came back changed");
  const authorizationUrl = new URL(initiated.authorizationRequestUrl);

  // The token requests carry the authorization server's latest DPoP nonce, as the library
  // hands it on from one answer to the next; the credential requests the nonces of the
  // credential issuer (RFC 9449 §8 and §9 keep the two apart).
  const token = await oauth2.retrieveAuthorizationCodeAccessToken({
    authorizationServerMetadata,
    authorizationCode: authorizationResponse.code,
    pkceCodeVerifier: initiated.pkce.codeVerifier,
    redirectUri: wallet.redirectUri,
    resource: credentialIssuer,
    dpop: initiated.dpop,
  });
  const batchOptions = {
    openid4vci,
    wallet,
    issuerMetadata,
    configurationId,
    dpopSigner,
    options,
    name: walletCase.name,
  };
  const batches = [
    await receiveBatch({
      ...batchOptions,
      accessToken: token.accessTokenResponse.access_token,
      dpopNonce: "none",
    }),
  ];

  let refresh = null;
  let reuse = null;
  let successorAfterReuse = null;
  if (options.refresh) {
    const used = token.accessTokenResponse.refresh_token;
    const refreshed = await oauth2.retrieveRefreshTokenAccessToken({
      authorizationServerMetadata,
      refreshToken: used,
      resource: credentialIssuer,
      dpop: token.dpop,
    });
    const successor = refreshed.accessTokenResponse.refresh_token;
    refresh = {
      ...tokenSummary(refreshed),
      rotated: typeof successor === "string" && successor !== used,
      new_access_token:
        refreshed.accessTokenResponse.access_token !== token.accessTokenResponse.access_token,
    };
    batches.push(
      await receiveBatch({
        ...batchOptions,
        accessToken: refreshed.accessTokenResponse.access_token,
        dpopNonce: "nonce_endpoint",
      }),
    );
    const again = {
      authorizationServerMetadata,
      resource: credentialIssuer,
      dpop: refreshed.dpop,
    };
    reuse = await refused(() =>
      oauth2.retrieveRefreshTokenAccessToken({ ...again, refreshToken: used }),
    );
    // The reuse ended the token's family: its successor is refused too (RFC 9700 §4.14.2).
    successorAfterReuse = await refused(() =>
      oauth2.retrieveRefreshTokenAccessToken({ ...again, refreshToken: successor }),
    );
  }

  return {
    name: walletCase.name,
    ok: true,
    wallet: { client_id: wallet.clientId, instance_jwk: wallet.instanceJwk },
    credential_issuer: credentialIssuer,
    credential_configuration_id: configurationId,
    format: configuration.format,
    openid4vci_version: issuerMetadata.originalDraftVersion,
    authorization_server: authorizationServerMetadata.issuer,
    library_support: librarySupport,
    authorization: {
      request_url_parameters: [...authorizationUrl.searchParams.keys()].sort(),
      pkce_method: initiated.pkce?.codeChallengeMethod ?? null,
      redirect_status: redirect.status,
      redirect_to: redirect.location.split("?")[0],
      iss: authorizationResponse.iss ?? null,
    },
    options,
    dpop_jwk: dpopJwk,
    token: tokenSummary(token),
    batches,
    refresh,
    reuse,
    successor_after_reuse: successorAfterReuse,
  };
}

function failure(name, error) {
  // A validation error's message lists the failed checks already; a response error carries
  // the body the server answered.
  const details = [
    error.responseText,
    error.errorResponse ? JSON.stringify(error.errorResponse) : null,
    error.cause?.message,
    error.stack,
  ]
    .filter(Boolean)
    .join("\n");
  return { name, ok: false, error: `${error.name}: ${error.message}`, details };
}

function installedVersion(name) {
  const manifest = new URL(`./node_modules/${name}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(manifest, "utf8")).version;
}

const request = JSON.parse(await nextInputLine("the request"));
// The library's own switch for plain-http URLs, for a development server on loopback.
setGlobalConfig({ allowInsecureUrls: request.allow_insecure_urls === true });
const provider = request.wallet_provider;
await importProviderKey(provider.x5c, provider.private_jwk);
holder = createHolder({
  callbacks: { ...callbacks, fetch: recordingFetch },
  signWith,
  trustAnchors: request.verifier_trust_anchors ?? [],
});
const results = [];
for (const walletCase of request.cases) {
  exchanges = [];
  corrections.length = 0;
  workarounds.length = 0;
  sealing = null;
  presentations = [];
  let result;
  try {
    result = walletCase.presentation
      ? await runPresentationCase(walletCase)
      : await runCase(request, walletCase);
  } catch (error) {
    result = failure(walletCase.name, error);
  }
  results.push({
    ...result,
    presentations,
    exchanges,
    corrections: [...new Set(corrections)],
    workarounds: [...new Set(workarounds)],
  });
}
input.close();
const manifest = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));
const library = Object.fromEntries(
  Object.keys(manifest.dependencies).map((n) => [n, installedVersion(n)]),
);
process.stdout.write(`${JSON.stringify({ library, results })}\n`);
