// An independent HAIP credential issuer for the test suite, built on the server APIs of
// @openid4vc/oauth2 (Oauth2AuthorizationServer, Oauth2ResourceServer) and
// @openid4vc/openid4vci (Openid4vciIssuer), the libraries of the Credo issuer, with the
// SD-JWT VC of @sd-jwt/sd-jwt-vc. Our wallet receives from it through the authorization
// code flow of OpenID4VCI 1.0 as HAIP 1.0 §4 profiles it; the tests see, through its
// record of every request, what it checked.
//
// The libraries do the protocol work: metadata documents validated as they build them, the
// pushed authorization request parsed and verified (DPoP key bound by dpop_jkt, the wallet
// attestation and its PoP, OAuth 2.0 Attestation-Based Client Authentication), the token
// request parsed and verified (PKCE S256, the DPoP proof against the pushed dpop_jkt, a
// fresh wallet attestation whose client id is the pushed one), a JWT access token bound to
// the DPoP key (cnf.jkt), the resource request verified (the token's signature, audience
// and the DPoP proof with ath), the credential request parsed, the jwt proofs verified
// (audience, nonce, signature) with their key attestation (signature, attested_keys
// holding the proof's key), the refresh token grant (RFC 6749 §6: the DPoP proof against the
// bound key, a fresh wallet attestation of the bound client id, a new random refresh token),
// the deferred credential request and the nonce, credential and deferred credential
// responses (OpenID4VCI 1.0 §8.3, §9). This file supplies what
// the libraries leave to a server: HTTP, keys and signatures (ES256, node:crypto), the
// X.509 chain of an x5c header validated to the wallet providers it trusts, state, the
// DPoP nonces (the libraries' token and resource checks take none), one-time use of codes,
// c_nonces and jtis, the freshness of DPoP proofs and PoPs (they check exp and nbf only),
// the key attestation's nonce (they check the proof's), the refresh tokens' state (which
// grant each stands for, each used once and rotated), the deferred transactions, and the
// SD-JWT VC itself.
//
// Input on stdin, one JSON object:
// {"port": int (it listens on 127.0.0.1:port; the issuer is http://127.0.0.1:port),
//  "signing": {"private_jwk": EC P-256 JWK with d, "x5c": [leaf, intermediates]: the
//              credential signing key and its chain (the test holds the root)},
//  "wallet_provider_cas": [PEM certificates: the wallet providers whose wallet and key
//                          attestations it accepts],
//  "citizen": {"subject": str, "claims": {claim: value}}: who the authorization endpoint
//             signs in (there is no login page: the test plays the browser),
//  "mode": null or one of MODES}
// It prints one JSON line {"issuer", "port"} on stdout once it accepts connections and
// runs until killed. Its own log goes to stderr.
//
// Test controls (no part of any protocol):
//   GET  /_test/seen           {"events": [...]}: what each endpoint received and checked
//   POST /_test/mode           {"mode": null | one of MODES}: from now on, behave that way
//   POST /_test/ready          the deferred transactions waiting so far are ready: the
//                              deferred credential endpoint answers them with credentials
//   POST /_test/expire_tokens  every access token issued so far has expired: a request with
//                              one is answered 401 invalid_token (RFC 6750 §3.1, RFC 9449
//                              §7.1), as the library answers a token past its exp

import {
  X509Certificate,
  createHash,
  createPublicKey,
  randomBytes,
  verify,
  webcrypto,
} from "node:crypto";
import * as http from "node:http";

import {
  Oauth2AuthorizationServer,
  Oauth2ErrorCodes,
  Oauth2ResourceServer,
  Oauth2ResourceUnauthorizedError,
  Oauth2ServerErrorResponseError,
  authorizationCodeGrantIdentifier,
  calculateJwkThumbprint,
  clientAuthenticationNone,
  decodeJwt,
  refreshTokenGrantIdentifier,
  setGlobalConfig,
} from "@openid4vc/oauth2";
import { Openid4vciIssuer } from "@openid4vc/openid4vci";
import { ES256, digest, generateSalt } from "@sd-jwt/crypto-nodejs";
import { SDJwtVcInstance } from "@sd-jwt/sd-jwt-vc";

// The issuer runs on loopback over plain http, as a development peer of the wallet.
setGlobalConfig({ allowInsecureUrls: true });

/** Ways to misbehave, one at a time, for the wallet to refuse. */
const MODES = new Set([
  // the authorization response names another server in iss (RFC 9207 mix-up)
  "wrong_iss",
  // the authorization server metadata names another issuer than its own (RFC 8414 §3.3)
  "metadata_issuer",
  // the token endpoint asks for a new DPoP nonce however often it gets one (RFC 9449 §8)
  "nonce_loop",
  // the credentials are bound to a key of the issuer, not to the wallet's attested keys
  "unattested_key",
  // the credentials are of another vct than the configuration promises
  "other_vct",
  // no misbehaviour (RFC 9449 §8.2: a server may change its nonce at any time): the
  // resource server's nonce changes as soon as the nonce endpoint has handed it out, so
  // the credential endpoint asks for the new one (§9, 401 and WWW-Authenticate)
  "rotating_nonce",
  // no misbehaviour either: the authorization server takes no authorization_details, so
  // the credential is asked for by its scope (OpenID4VCI 1.0 §5.1.2) and requested by its
  // credential_configuration_id (§8.2: no credential_identifiers in the token response)
  "scope_only",
  // no misbehaviour: the credential endpoint defers every request (OpenID4VCI 1.0 §8.3: 202
  // with transaction_id and interval) until the test says the credentials are ready
  "deferred",
]);

const CONFIGURATION_ID = "library_card";
const VCT = "https://credentials.example/library_card";
const OTHER_VCT = "https://credentials.example/parking_permit";
const BATCH_SIZE = 2;
const ALG = "ES256";
const ATTESTATION_METHOD = "attest_jwt_client_auth";
const OPENID_CREDENTIAL = "openid_credential";
/** Seconds a pushed request, a code, an access token and a c_nonce live. */
const PUSHED_LIFETIME = 60;
const CODE_LIFETIME = 60;
const TOKEN_LIFETIME = 300;
const REFRESH_TOKEN_LIFETIME = 24 * 3600;
const C_NONCE_LIFETIME = 300;
/** Seconds the wallet is asked to wait before it asks for a deferred credential again: long
 * enough that its poller leaves the asking to the test. */
const DEFERRAL_INTERVAL = 3600;
/** How far a DPoP proof's or a PoP's iat may be from now, in seconds. */
const FRESHNESS = 60;
const MAX_BODY = 64 * 1024;
const HASHES = { "sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512" };
/** What only a trusted wallet provider signs (with x5c): wallet and key attestations (the
 * key attestation under its name in OpenID4VCI 1.0 and in the drafts). */
const WALLET_PROVIDER_TYPES = new Set([
  "oauth-client-attestation+jwt",
  "key-attestation+jwt",
  "keyattestation+jwt",
]);

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const config = await readStdin();
const issuer = `http://127.0.0.1:${config.port}`;
let mode = config.mode ?? null;
if (mode !== null && !MODES.has(mode)) throw new Error(`unknown mode ${mode}`);
const events = [];
const record = (event) => events.push({ at: Date.now() / 1000, mode, ...event });

const random = (bytes = 24) => randomBytes(bytes).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

// -- keys, signatures and certificates ------------------------------------------------------

function publicPart({ kty, crv, x, y }) {
  return { kty, crv, x, y };
}

/** The wallet providers this issuer trusts, as X.509 certificates. */
const walletProviderCas = config.wallet_provider_cas.map((pem) => new X509Certificate(pem));

function within(certificate, at) {
  return new Date(certificate.validFrom) <= at && at <= new Date(certificate.validTo);
}

/** The leaf of an x5c chain (leaf first, base64 DER, without the root) that leads to one of
 * the trusted wallet-provider CAs: each certificate issued and signed by the next, the last
 * by a trusted CA, every one valid now, every issuer a CA and the leaf none. Throws
 * otherwise. */
function walletProviderLeaf(x5c) {
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > 4) {
    throw new Error("x5c is not a chain");
  }
  const chain = x5c.map((der) => new X509Certificate(Buffer.from(der, "base64")));
  const at = new Date();
  if (chain[0].ca) throw new Error("the x5c leaf is a CA");
  for (const [index, certificate] of chain.entries()) {
    if (!within(certificate, at)) throw new Error("a certificate of x5c is not valid now");
    const next = chain[index + 1];
    if (next === undefined) break;
    if (!next.ca || !certificate.checkIssued(next) || !certificate.verify(next.publicKey)) {
      throw new Error("x5c is not a chain of issued certificates");
    }
  }
  const last = chain[chain.length - 1];
  const anchor = walletProviderCas.find(
    (ca) => within(ca, at) && last.checkIssued(ca) && last.verify(ca.publicKey),
  );
  if (anchor === undefined) {
    throw new Error("x5c does not lead to a wallet provider this issuer trusts");
  }
  return { leaf: chain[0], anchor };
}

function es256Verifies(publicKey, compact) {
  const [header, payload, signature] = compact.split(".");
  return verify(
    "sha256",
    Buffer.from(`${header}.${payload}`),
    { key: publicKey, dsaEncoding: "ieee-p1363" },
    Buffer.from(signature, "base64url"),
  );
}

/** The access-token key of the authorization server, made at start. */
const tokenKeys = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
  "sign",
  "verify",
]);
const tokenJwk = {
  ...publicPart(await webcrypto.subtle.exportKey("jwk", tokenKeys.publicKey)),
  kid: random(8),
  use: "sig",
  alg: ALG,
};

async function es256Sign(privateKey, input) {
  const signature = await webcrypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    privateKey,
    new TextEncoder().encode(input),
  );
  return Buffer.from(signature).toString("base64url");
}

const callbacks = {
  hash: (data, alg) => new Uint8Array(createHash(HASHES[alg]).update(data).digest()),
  generateRandom: (length) => new Uint8Array(randomBytes(length)),
  clientAuthentication: clientAuthenticationNone({ clientId: issuer }),
  // the resource server reads the authorization server's JWK Set: this one's own
  fetch: async (url, init) =>
    url.toString() === `${issuer}/jwks`
      ? new Response(JSON.stringify({ keys: [tokenJwk] }), {
          headers: { "Content-Type": "application/jwk-set+json" },
        })
      : fetch(url, init),
  async signJwt(signer, { header, payload }) {
    // the one key this server signs JWTs with: its access tokens
    if (signer.method !== "jwk" || signer.publicJwk.x !== tokenJwk.x || header.alg !== ALG) {
      throw new Error("this server signs only its access tokens");
    }
    const encode = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const input = `${encode({ ...header, kid: tokenJwk.kid })}.${encode(payload)}`;
    return { jwt: `${input}.${await es256Sign(tokenKeys.privateKey, input)}`, signerJwk: tokenJwk };
  },
  async verifyJwt(signer, { header, compact }) {
    if (header.alg !== ALG) return { verified: false };
    // the libraries take whatever signer the header names: an attestation signed with a
    // key of its own (jwk) must not pass, nor anything else with x5c
    if (WALLET_PROVIDER_TYPES.has(header.typ) !== (signer.method === "x5c")) {
      return { verified: false };
    }
    if (signer.method === "jwk") {
      const key = createPublicKey({ key: publicPart(signer.publicJwk), format: "jwk" });
      return es256Verifies(key, compact)
        ? { verified: true, signerJwk: signer.publicJwk }
        : { verified: false };
    }
    if (signer.method === "x5c") {
      const { leaf } = walletProviderLeaf(signer.x5c);
      const signerJwk = publicPart(leaf.publicKey.export({ format: "jwk" }));
      return es256Verifies(leaf.publicKey, compact)
        ? { verified: true, signerJwk }
        : { verified: false, signerJwk };
    }
    return { verified: false };
  },
};

const authorizationServer = new Oauth2AuthorizationServer({ callbacks });
const resourceServer = new Oauth2ResourceServer({ callbacks });
const credentialIssuer = new Openid4vciIssuer({ callbacks });

const thumbprint = (jwk) =>
  calculateJwkThumbprint({ hashAlgorithm: "sha-256", hashCallback: callbacks.hash, jwk });

// -- metadata ----------------------------------------------------------------------------------

const credentialIssuerMetadata = credentialIssuer.createCredentialIssuerMetadata({
  credential_issuer: issuer,
  credential_endpoint: `${issuer}/credential`,
  deferred_credential_endpoint: `${issuer}/deferred_credential`,
  nonce_endpoint: `${issuer}/nonce`,
  notification_endpoint: `${issuer}/notification`,
  batch_credential_issuance: { batch_size: BATCH_SIZE },
  display: [{ name: "City Library", locale: "en" }],
  credential_configurations_supported: {
    [CONFIGURATION_ID]: {
      format: "dc+sd-jwt",
      vct: VCT,
      scope: CONFIGURATION_ID,
      cryptographic_binding_methods_supported: ["jwk"],
      credential_signing_alg_values_supported: [ALG],
      proof_types_supported: {
        // a key attestation with every proof, of any level: a phone's keys qualify too
        jwt: { proof_signing_alg_values_supported: [ALG], key_attestations_required: {} },
      },
      credential_metadata: {
        display: [{ name: "Library card", locale: "en", background_color: "#2d5016" }],
        claims: Object.keys(config.citizen.claims).map((name) => ({
          path: [name],
          display: [{ name: name.replaceAll("_", " "), locale: "en" }],
        })),
      },
    },
  },
});

function authorizationServerMetadata() {
  return authorizationServer.createAuthorizationServerMetadata({
    // misbehaving: a document that names another server than the one it describes
    issuer: mode === "metadata_issuer" ? `${issuer}/elsewhere` : issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    pushed_authorization_request_endpoint: `${issuer}/par`,
    require_pushed_authorization_requests: true,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ["code"],
    grant_types_supported: [authorizationCodeGrantIdentifier, refreshTokenGrantIdentifier],
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: [ATTESTATION_METHOD],
    client_attestation_signing_alg_values_supported: [ALG],
    client_attestation_pop_signing_alg_values_supported: [ALG],
    dpop_signing_alg_values_supported: [ALG],
    authorization_response_iss_parameter_supported: true,
    ...(mode === "scope_only"
      ? {}
      : { authorization_details_types_supported: [OPENID_CREDENTIAL] }),
    scopes_supported: [CONFIGURATION_ID],
  });
}

/** What the libraries verify against: the server as it really is. */
const asMetadata = authorizationServer.createAuthorizationServerMetadata({
  ...authorizationServerMetadata(),
  issuer,
});
const issuerMetadata = {
  credentialIssuer: credentialIssuerMetadata,
  authorizationServers: [asMetadata],
  knownCredentialConfigurations: credentialIssuer.getKnownCredentialConfigurationsSupported(
    credentialIssuerMetadata,
  ),
};

// -- state -------------------------------------------------------------------------------------

const pushed = new Map(); // request_uri -> the verified pushed request
const codes = new Map(); // code -> the grant it stands for
const cNonces = new Map(); // c_nonce -> expiry
const usedJtis = new Set(); // DPoP proof and PoP jtis seen
const refreshGrants = new Map(); // refresh token -> the grant it stands for, used or not
const issuedTokens = new Set(); // jti of every access token issued
const expiredTokens = new Set(); // jti of every access token the test expired
const transactions = new Map(); // transaction_id -> the deferred credential request
let authorizationServerNonce = random();
let resourceServerNonce = random();

class Refusal extends Error {
  constructor(status, error, description, headers = {}) {
    super(description);
    this.status = status;
    this.body = { error, error_description: description };
    this.headers = headers;
  }
}

/** The jti of a DPoP proof or PoP not seen before, and its iat close to now. */
function freshAndUnused(jwt, what, status = 400, error = Oauth2ErrorCodes.InvalidDpopProof) {
  const { payload } = decodeJwt({ jwt });
  if (typeof payload.iat !== "number" || Math.abs(payload.iat - now()) > FRESHNESS) {
    throw new Refusal(status, error, `the ${what} is not fresh`);
  }
  if (typeof payload.jti !== "string" || usedJtis.has(payload.jti)) {
    throw new Refusal(status, error, `the ${what} was used before`);
  }
  usedJtis.add(payload.jti);
  return payload;
}

/** The attestation as the test reads it back. */
function describeAttestation(verified) {
  const { clientAttestation, clientAttestationPop } = verified;
  const { leaf, anchor } = walletProviderLeaf(clientAttestation.header.x5c);
  return {
    typ: clientAttestation.header.typ,
    iss: clientAttestation.payload.iss,
    sub: clientAttestation.payload.sub,
    cnf_jwk: clientAttestation.payload.cnf.jwk,
    wallet_name: clientAttestation.payload.wallet_name,
    x5c_subject: leaf.subject,
    anchor_subject: anchor.subject,
    pop: {
      typ: clientAttestationPop.header.typ,
      iss: clientAttestationPop.payload.iss,
      aud: clientAttestationPop.payload.aud,
    },
  };
}

// -- HTTP ----------------------------------------------------------------------------------------

async function readBody(request) {
  const chunks = [];
  let size = 0;
  for await (const chunk of request) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Refusal(413, "invalid_request", "the body is too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function requestLike(request) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  return { method: request.method, url: `${issuer}${request.url}`, headers };
}

function send(response, status, body, headers = {}) {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

function fromForm(text) {
  return Object.fromEntries(new URLSearchParams(text));
}

// -- endpoints -----------------------------------------------------------------------------------

async function pushedAuthorizationRequest(request) {
  const form = fromForm(await readBody(request));
  const like = requestLike(request);
  const parsed = await authorizationServer.parsePushedAuthorizationRequest({
    request: like,
    authorizationRequest: form,
  });
  const verified = await authorizationServer.verifyPushedAuthorizationRequest({
    authorizationServerMetadata: asMetadata,
    authorizationRequest: parsed.authorizationRequest,
    request: like,
    dpop: {
      required: true,
      jwt: parsed.dpop?.jwt,
      jwkThumbprint: parsed.dpop?.jwkThumbprint,
      allowedSigningAlgs: [ALG],
    },
    clientAttestation: {
      required: true,
      clientAttestationJwt: parsed.clientAttestation?.clientAttestationJwt,
      clientAttestationPopJwt: parsed.clientAttestation?.clientAttestationPopJwt,
    },
  });
  freshAndUnused(
    parsed.clientAttestation.clientAttestationPopJwt,
    "client attestation PoP",
    401,
    "invalid_client",
  );
  const authorizationRequest = parsed.authorizationRequest;
  if (authorizationRequest.response_type !== "code") {
    throw new Refusal(400, "unsupported_response_type", "only the code response type is served");
  }
  const { code_challenge: challenge, code_challenge_method: method } = authorizationRequest;
  if (method !== "S256" || !challenge) {
    throw new Refusal(400, "invalid_request", "PKCE with S256 is required");
  }
  if (!authorizationRequest.redirect_uri) {
    throw new Refusal(400, "invalid_request", "a redirect_uri is required");
  }
  const asked = requestedCredentials(authorizationRequest);
  const requestUri = `urn:ietf:params:oauth:request_uri:${random()}`;
  pushed.set(requestUri, {
    authorizationRequest,
    asked,
    dpopJkt: verified.dpop.jwkThumbprint,
    clientId: verified.clientAttestation.clientAttestation.payload.sub,
    expiresAt: now() + PUSHED_LIFETIME,
  });
  record({
    endpoint: "par",
    client_id: authorizationRequest.client_id,
    redirect_uri: authorizationRequest.redirect_uri,
    code_challenge_method: authorizationRequest.code_challenge_method,
    dpop_jkt: verified.dpop.jwkThumbprint,
    asked,
    attestation: describeAttestation(verified.clientAttestation),
  });
  const { pushedAuthorizationResponse } = authorizationServer.createPushedAuthorizationResponse({
    requestUri,
    expiresInSeconds: PUSHED_LIFETIME,
  });
  return [201, pushedAuthorizationResponse];
}

/** The credential the request asks for: by authorization_details (OpenID4VCI 1.0 §5.1.1) or
 * by scope (§5.1.2). */
function requestedCredentials(authorizationRequest) {
  if (authorizationRequest.authorization_details !== undefined) {
    let details;
    try {
      details = JSON.parse(authorizationRequest.authorization_details);
    } catch {
      throw new Refusal(400, "invalid_request", "authorization_details is not JSON");
    }
    if (
      !Array.isArray(details) ||
      details.length !== 1 ||
      details[0].type !== OPENID_CREDENTIAL ||
      details[0].credential_configuration_id !== CONFIGURATION_ID
    ) {
      throw new Refusal(400, "invalid_authorization_details", `only ${CONFIGURATION_ID} is issued`);
    }
    return { by: "authorization_details", configuration_id: CONFIGURATION_ID };
  }
  if ((authorizationRequest.scope ?? "").split(" ").includes(CONFIGURATION_ID)) {
    return { by: "scope", configuration_id: CONFIGURATION_ID };
  }
  throw new Refusal(400, "invalid_scope", `ask for ${CONFIGURATION_ID}`);
}

/** No login page: the citizen of the configuration is signed in, and the browser is sent
 * back to the wallet with a code at once (RFC 6749 §4.1.2, RFC 9207 iss). */
function authorize(request) {
  const query = new URL(`${issuer}${request.url}`).searchParams;
  const session = pushed.get(query.get("request_uri") ?? "");
  pushed.delete(query.get("request_uri") ?? "");
  if (session === undefined || session.expiresAt < now()) {
    throw new Refusal(400, "invalid_request", "no such pushed authorization request");
  }
  if (query.get("client_id") !== session.authorizationRequest.client_id) {
    throw new Refusal(400, "invalid_request", "the client_id is not the pushed one");
  }
  const code = random();
  const expiresAt = now() + CODE_LIFETIME;
  codes.set(code, { ...session, subject: config.citizen.subject, expiresAt });
  const back = new URL(session.authorizationRequest.redirect_uri);
  back.searchParams.set("code", code);
  if (session.authorizationRequest.state !== undefined) {
    back.searchParams.set("state", session.authorizationRequest.state);
  }
  back.searchParams.set("iss", mode === "wrong_iss" ? "https://another-server.example" : issuer);
  record({ endpoint: "authorize", redirect_uri: session.authorizationRequest.redirect_uri });
  return back.toString();
}

async function token(request) {
  const like = requestLike(request);
  const parsed = authorizationServer.parseAccessTokenRequest({
    request: like,
    accessTokenRequest: fromForm(await readBody(request)),
  });
  // RFC 9449 §8: this server's nonce in every proof; the library checks none here
  const proof = parsed.dpop?.jwt ? decodeJwt({ jwt: parsed.dpop.jwt }).payload : {};
  if (mode === "nonce_loop" || proof.nonce !== authorizationServerNonce) {
    authorizationServerNonce = random();
    throw new Refusal(400, Oauth2ErrorCodes.UseDpopNonce, "use the DPoP-Nonce of this server", {
      "DPoP-Nonce": authorizationServerNonce,
    });
  }
  if (parsed.grant.grantType === refreshTokenGrantIdentifier) {
    return refreshGrant(parsed, like, proof);
  }
  if (parsed.grant.grantType !== authorizationCodeGrantIdentifier) {
    throw new Refusal(400, "unsupported_grant_type", "only codes and refresh tokens are redeemed");
  }
  const grant = codes.get(parsed.grant.code);
  codes.delete(parsed.grant.code);
  if (grant === undefined) throw new Refusal(400, "invalid_grant", "no such code");
  if (parsed.accessTokenRequest.redirect_uri !== grant.authorizationRequest.redirect_uri) {
    throw new Refusal(400, "invalid_grant", "the redirect_uri is not the one of the code");
  }
  const verified = await authorizationServer.verifyAuthorizationCodeAccessTokenRequest({
    authorizationServerMetadata: asMetadata,
    grant: parsed.grant,
    accessTokenRequest: parsed.accessTokenRequest,
    request: like,
    expectedCode: parsed.grant.code,
    codeExpiresAt: new Date(grant.expiresAt * 1000),
    pkce: {
      codeVerifier: parsed.pkceCodeVerifier,
      codeChallenge: grant.authorizationRequest.code_challenge,
      codeChallengeMethod: grant.authorizationRequest.code_challenge_method,
    },
    dpop: {
      required: true,
      jwt: parsed.dpop?.jwt,
      expectedJwkThumbprint: grant.dpopJkt,
      allowedSigningAlgs: [ALG],
    },
    clientAttestation: {
      required: true,
      clientAttestationJwt: parsed.clientAttestation?.clientAttestationJwt,
      clientAttestationPopJwt: parsed.clientAttestation?.clientAttestationPopJwt,
      expectedClientId: grant.clientId,
    },
  });
  freshAndUnused(parsed.dpop.jwt, "DPoP proof");
  freshAndUnused(
    parsed.clientAttestation.clientAttestationPopJwt,
    "client attestation PoP",
    401,
    "invalid_client",
  );
  const answer = await tokenResponse({
    subject: grant.subject,
    clientId: grant.clientId,
    dpopJwk: verified.dpop.jwk,
    dpopJkt: verified.dpop.jwkThumbprint,
    asked: grant.asked,
    identifier: `${CONFIGURATION_ID}-${random(6)}`,
  });
  record({
    endpoint: "token",
    grant_type: parsed.grant.grantType,
    dpop_jkt: verified.dpop.jwkThumbprint,
    pushed_dpop_jkt: grant.dpopJkt,
    dpop_nonce: proof.nonce,
    ...described(answer),
    attestation: describeAttestation(verified.clientAttestation),
  });
  return [200, answer, { "DPoP-Nonce": authorizationServerNonce }];
}

/** RFC 6749 §6 with RFC 9449 §5: a refresh token, bound to the client id and the DPoP key of
 * its grant, redeemed once for a new DPoP-bound access token and its successor (rotation,
 * RFC 9700 §4.14.2). */
async function refreshGrant(parsed, like, proof) {
  const presented = parsed.grant.refreshToken;
  const grant = refreshGrants.get(presented);
  if (grant === undefined) throw new Refusal(400, "invalid_grant", "no such refresh token");
  const { client_id: clientId } = parsed.accessTokenRequest;
  if (clientId !== undefined && clientId !== grant.clientId) {
    throw new Refusal(400, "invalid_grant", "the refresh token is another client's");
  }
  const verified = await authorizationServer.verifyRefreshTokenAccessTokenRequest({
    authorizationServerMetadata: asMetadata,
    grant: parsed.grant,
    accessTokenRequest: parsed.accessTokenRequest,
    request: like,
    // found by the token presented, so equal to it: what the library adds is the expiry
    expectedRefreshToken: presented,
    refreshTokenExpiresAt: new Date(grant.expiresAt * 1000),
    dpop: {
      required: true,
      jwt: parsed.dpop?.jwt,
      expectedJwkThumbprint: grant.dpopJkt,
      allowedSigningAlgs: [ALG],
    },
    clientAttestation: {
      required: true,
      clientAttestationJwt: parsed.clientAttestation?.clientAttestationJwt,
      clientAttestationPopJwt: parsed.clientAttestation?.clientAttestationPopJwt,
      expectedClientId: grant.clientId,
    },
  });
  freshAndUnused(parsed.dpop.jwt, "DPoP proof");
  freshAndUnused(
    parsed.clientAttestation.clientAttestationPopJwt,
    "client attestation PoP",
    401,
    "invalid_client",
  );
  // single use, checked and spent with no await in between (two requests racing with one
  // token: only one gets through)
  if (grant.used) throw new Refusal(400, "invalid_grant", "the refresh token was used before");
  grant.used = true;
  const answer = await tokenResponse({ ...grant, dpopJwk: verified.dpop.jwk });
  record({
    endpoint: "token",
    grant_type: parsed.grant.grantType,
    dpop_jkt: verified.dpop.jwkThumbprint,
    bound_dpop_jkt: grant.dpopJkt,
    dpop_nonce: proof.nonce,
    refresh_token_presented: fingerprint(presented),
    ...described(answer),
    attestation: describeAttestation(verified.clientAttestation),
  });
  return [200, answer, { "DPoP-Nonce": authorizationServerNonce }];
}

/** A DPoP-bound access token for a grant, with a refresh token for the same grant (the
 * library makes it: 32 random bytes), kept for its redemption. */
async function tokenResponse({ subject, clientId, dpopJwk, dpopJkt, asked, identifier }) {
  const answer = await authorizationServer.createAccessTokenResponse({
    authorizationServer: issuer,
    audience: issuer,
    subject,
    clientId,
    expiresInSeconds: TOKEN_LIFETIME,
    signer: { method: "jwk", alg: ALG, publicJwk: tokenJwk },
    dpop: { jwk: dpopJwk },
    refreshToken: true,
    additionalAccessTokenPayload: { credential_identifiers: [identifier] },
    additionalAccessTokenResponsePayload:
      asked.by === "authorization_details"
        ? {
            authorization_details: [
              {
                type: OPENID_CREDENTIAL,
                credential_configuration_id: CONFIGURATION_ID,
                credential_identifiers: [identifier],
              },
            ],
          }
        : {},
  });
  issuedTokens.add(decodeJwt({ jwt: answer.access_token }).payload.jti);
  refreshGrants.set(answer.refresh_token, {
    subject,
    clientId,
    dpopJkt,
    asked,
    identifier,
    expiresAt: now() + REFRESH_TOKEN_LIFETIME,
    used: false,
  });
  return answer;
}

/** A token response as the test reads it back (the refresh token by its fingerprint). */
function described(answer) {
  const { payload } = decodeJwt({ jwt: answer.access_token });
  return {
    token_type: answer.token_type,
    token_cnf_jkt: payload.cnf?.jkt,
    access_token_jti: payload.jti,
    refresh_token_issued: fingerprint(answer.refresh_token),
  };
}

/** What the events show of a refresh token: enough to follow its rotation, not to use it. */
function fingerprint(token) {
  return createHash("sha256").update(token).digest("base64url").slice(0, 16);
}

function nonce() {
  const cNonce = random();
  cNonces.set(cNonce, now() + C_NONCE_LIFETIME);
  record({ endpoint: "nonce" });
  // HAIP 1.0 §4: the nonce endpoint hands out the resource server's DPoP nonce too
  const answer = credentialIssuer.createNonceResponse({ cNonce });
  const handedOut = resourceServerNonce;
  if (mode === "rotating_nonce") resourceServerNonce = random();
  return [200, answer, { "DPoP-Nonce": handedOut }];
}

/** The DPoP-bound access token of a request to the credential, deferred credential or
 * notification endpoint, not expired by the test, with this resource server's nonce in the
 * proof (RFC 9449 §7, §9). */
async function authorized(request) {
  const like = requestLike(request);
  const verified = await resourceServer.verifyResourceRequest({
    request: like,
    resourceServer: issuer,
    authorizationServers: [asMetadata],
    allowedAuthenticationSchemes: ["DPoP"],
  });
  if (expiredTokens.has(verified.tokenPayload.jti)) {
    // as the library refuses a token past its exp (verifyResourceRequest)
    throw new Oauth2ResourceUnauthorizedError("the access token expired", {
      scheme: verified.scheme,
      error: Oauth2ErrorCodes.InvalidToken,
      error_description: "the access token expired",
    });
  }
  const proof = decodeJwt({ jwt: like.headers.get("DPoP") }).payload;
  if (proof.nonce !== resourceServerNonce) {
    throw new Oauth2ResourceUnauthorizedError("the DPoP proof lacks this server's nonce", {
      scheme: "DPoP",
      error: Oauth2ErrorCodes.UseDpopNonce,
      error_description: "use the DPoP-Nonce of this server",
    });
  }
  freshAndUnused(like.headers.get("DPoP"), "DPoP proof", 401);
  return { verified, dpopJkt: await thumbprint(verified.dpop.jwk) };
}

async function credential(request) {
  const { verified, dpopJkt } = await authorized(request);
  const parsed = credentialIssuer.parseCredentialRequest({
    issuerMetadata,
    credentialRequest: JSON.parse(await readBody(request)),
  });
  const identifiers = verified.tokenPayload.credential_identifiers ?? [];
  if (
    parsed.credentialIdentifier !== undefined
      ? !identifiers.includes(parsed.credentialIdentifier)
      : parsed.credentialConfigurationId !== CONFIGURATION_ID
  ) {
    const refused = "the token does not cover this credential";
    throw new Refusal(400, "invalid_credential_request", refused);
  }
  const jwts = parsed.proofs?.jwt ?? [];
  if (jwts.length === 0 || jwts.length > BATCH_SIZE) {
    throw new Refusal(400, "invalid_proof", `send 1 to ${BATCH_SIZE} jwt proofs`);
  }
  // one c_nonce for the request (§7.2), in every proof of it, used up by it
  const cNonce = decodeJwt({ jwt: jwts[0] }).payload.nonce;
  const expiresAt = cNonces.get(cNonce);
  cNonces.delete(cNonce);
  if (expiresAt === undefined || expiresAt < now()) {
    throw new Refusal(400, "invalid_nonce", "the proof's nonce is not a c_nonce of this issuer");
  }
  const proofs = [];
  for (const jwt of jwts) {
    const checked = await credentialIssuer.verifyCredentialRequestJwtProof({
      issuerMetadata,
      jwt,
      expectedNonce: cNonce,
    });
    const { payload } = checked;
    // key_attestations_required: every proof carries one, for this very nonce
    const attestation = checked.keyAttestation;
    if (attestation === undefined) {
      throw new Refusal(400, "invalid_proof", "a key attestation is required with every proof");
    }
    if (attestation.payload.nonce !== payload.nonce) {
      throw new Refusal(400, "invalid_proof", "the key attestation is not for this c_nonce");
    }
    const { leaf, anchor } = walletProviderLeaf(attestation.header.x5c);
    proofs.push({
      jwk: checked.signer.publicJwk,
      jkt: await thumbprint(checked.signer.publicJwk),
      key_attestation: {
        typ: attestation.header.typ,
        iss: attestation.payload.iss,
        attested_jkts: await Promise.all(attestation.payload.attested_keys.map(thumbprint)),
        key_storage: attestation.payload.key_storage ?? null,
        user_authentication: attestation.payload.user_authentication ?? null,
        x5c_subject: leaf.subject,
        anchor_subject: anchor.subject,
      },
    });
  }
  const seen = {
    endpoint: "credential",
    scheme: verified.scheme,
    dpop_jkt: dpopJkt,
    token_cnf_jkt: verified.tokenPayload.cnf?.jkt,
    token_client_id: verified.tokenPayload.client_id,
    token_jti: verified.tokenPayload.jti,
    by:
      parsed.credentialIdentifier !== undefined
        ? "credential_identifier"
        : "credential_configuration_id",
    proofs: proofs.map(({ jwk, ...rest }) => rest),
  };
  if (mode === "deferred") {
    // §8.3: kept with the proofs' keys, issued at the deferred credential endpoint (§9) to
    // this client with its DPoP key, once the test says it is ready
    const transactionId = random();
    transactions.set(transactionId, {
      clientId: verified.tokenPayload.client_id,
      subject: verified.tokenPayload.sub,
      dpopJkt,
      holderJwks: proofs.map(({ jwk }) => publicPart(jwk)),
      ready: false,
    });
    record({ ...seen, transaction_id: transactionId, interval: DEFERRAL_INTERVAL });
    return [
      202,
      credentialIssuer.createCredentialResponse({
        credentialRequest: parsed,
        transactionId,
        interval: DEFERRAL_INTERVAL,
      }),
    ];
  }
  const credentials = await issueFor(proofs.map(({ jwk }) => publicPart(jwk)));
  const notificationId = random(12);
  record({
    ...seen,
    credentials: credentials.map(({ credential: value }) => value),
    notification_id: notificationId,
  });
  return [
    200,
    credentialIssuer.createCredentialResponse({
      credentialRequest: parsed,
      credentials,
      notificationId,
    }),
  ];
}

/** A credential for each holder key. */
async function issueFor(holderJwks) {
  const credentials = [];
  for (const jwk of holderJwks) {
    // misbehaving: bound to a key the wallet never attested
    const holderJwk =
      mode === "unattested_key" ? publicPart((await ES256.generateKeyPair()).publicKey) : jwk;
    credentials.push({ credential: await issueSdJwtVc(holderJwk) });
  }
  return credentials;
}

/** §9: the credentials of a deferred request, for the access token of its client (a renewed
 * one as well: it is bound to the same DPoP key), once ready; 202 with the interval until
 * then (§9.2); an unknown or used transaction_id is invalid_transaction_id (§9.3). */
async function deferredCredential(request) {
  const { verified, dpopJkt } = await authorized(request);
  const { deferredCredentialRequest } = credentialIssuer.parseDeferredCredentialRequest({
    deferredCredentialRequest: JSON.parse(await readBody(request)),
  });
  const transactionId = deferredCredentialRequest.transaction_id;
  const transaction = transactions.get(transactionId);
  if (
    transaction === undefined ||
    transaction.clientId !== verified.tokenPayload.client_id ||
    transaction.subject !== verified.tokenPayload.sub ||
    transaction.dpopJkt !== dpopJkt
  ) {
    throw new Refusal(400, "invalid_transaction_id", "no such transaction of this client");
  }
  const seen = {
    endpoint: "deferred_credential",
    transaction_id: transactionId,
    dpop_jkt: dpopJkt,
    token_cnf_jkt: verified.tokenPayload.cnf?.jkt,
    token_client_id: verified.tokenPayload.client_id,
    token_jti: verified.tokenPayload.jti,
  };
  if (!transaction.ready) {
    record({ ...seen, pending: true });
    return [
      202,
      credentialIssuer.createDeferredCredentialResponse({
        transactionId,
        interval: DEFERRAL_INTERVAL,
      }),
    ];
  }
  transactions.delete(transactionId);
  const credentials = await issueFor(transaction.holderJwks);
  const notificationId = random(12);
  // §9.2 lets the response carry a notification_id with the credentials; the library's
  // schema (0.4.6) refuses exactly that (its check is the wrong way round: "notification_id
  // MUST NOT be defined when credentials is not defined" fires when they are), so it is
  // added to what the library made
  const answer = {
    ...credentialIssuer.createDeferredCredentialResponse({ credentials }),
    notification_id: notificationId,
  };
  record({
    ...seen,
    pending: false,
    holder_jkts: await Promise.all(transaction.holderJwks.map(thumbprint)),
    credentials: credentials.map(({ credential: value }) => value),
    notification_id: notificationId,
  });
  return [200, answer];
}

const signing = {
  signer: await ES256.getSigner(config.signing.private_jwk),
  x5c: config.signing.x5c,
};
const sdJwtVc = new SDJwtVcInstance({
  hasher: digest,
  hashAlg: "sha-256",
  saltGenerator: generateSalt,
  signer: signing.signer,
  signAlg: ALG,
});

/** An SD-JWT VC of the citizen (every claim selectively disclosable), signed with the key
 * of the test's certificate, x5c in its header. */
async function issueSdJwtVc(holderJwk) {
  const issuedAt = now();
  const claims = config.citizen.claims;
  return sdJwtVc.issue(
    {
      iss: issuer,
      vct: mode === "other_vct" ? OTHER_VCT : VCT,
      iat: issuedAt,
      exp: issuedAt + 365 * 24 * 3600,
      cnf: { jwk: holderJwk },
      ...claims,
    },
    { _sd: Object.keys(claims) },
    { header: { x5c: signing.x5c } },
  );
}

async function notification(request) {
  const { verified } = await authorized(request);
  const body = JSON.parse(await readBody(request));
  record({
    endpoint: "notification",
    notification_id: body.notification_id,
    event: body.event,
    token_jti: verified.tokenPayload.jti,
  });
  return [204, null];
}

// -- the server -----------------------------------------------------------------------------------

async function route(request) {
  const path = new URL(`${issuer}${request.url}`).pathname;
  const route = `${request.method} ${path}`;
  switch (route) {
    case "GET /.well-known/openid-credential-issuer":
      return [200, credentialIssuerMetadata];
    case "GET /.well-known/oauth-authorization-server":
      return [200, authorizationServerMetadata()];
    case "GET /jwks":
      return [200, { keys: [tokenJwk] }];
    case "POST /par":
      return pushedAuthorizationRequest(request);
    case "GET /authorize":
      return [303, null, { Location: authorize(request) }];
    case "POST /token":
      return token(request);
    case "POST /nonce":
      return nonce();
    case "POST /credential":
      return credential(request);
    case "POST /deferred_credential":
      return deferredCredential(request);
    case "POST /notification":
      return notification(request);
    case "GET /_test/seen":
      return [200, { events }];
    case "POST /_test/mode": {
      const wanted = JSON.parse(await readBody(request)).mode ?? null;
      if (wanted !== null && !MODES.has(wanted)) {
        throw new Refusal(400, "invalid_request", "no such mode");
      }
      mode = wanted;
      return [200, { mode }];
    }
    case "POST /_test/ready": {
      const ready = [...transactions].filter(([, transaction]) => !transaction.ready);
      for (const [, transaction] of ready) transaction.ready = true;
      return [200, { ready: ready.map(([transactionId]) => transactionId) }];
    }
    case "POST /_test/expire_tokens": {
      const expired = [...issuedTokens].filter((jti) => !expiredTokens.has(jti));
      for (const jti of expired) expiredTokens.add(jti);
      return [200, { expired: expired.length }];
    }
    default:
      return [404, { error: "not_found" }];
  }
}

/** Every refusal as the libraries and RFC 6749 §5.2 write it, recorded for the test. */
function refusal(error, path) {
  if (error instanceof Refusal) return [error.status, error.body, error.headers];
  if (error instanceof Oauth2ResourceUnauthorizedError) {
    const [first] = error.wwwAuthenticateHeaders;
    const headers = { "WWW-Authenticate": error.toHeaderValue() };
    if (first.error === Oauth2ErrorCodes.UseDpopNonce) headers["DPoP-Nonce"] = resourceServerNonce;
    return [401, { error: first.error, error_description: first.error_description }, headers];
  }
  if (error instanceof Oauth2ServerErrorResponseError) {
    if (error.cause !== undefined) {
      console.error(`${path}: ${error.message}\n  cause:`, error.cause);
    }
    return [error.status, error.errorResponse, {}];
  }
  console.error(`${path}:`, error);
  return [500, { error: "server_error", error_description: "see the issuer's log" }, {}];
}

const server = http.createServer(async (request, response) => {
  const path = request.url;
  try {
    const [status, body, headers = {}] = await route(request);
    if (body === null) {
      response.writeHead(status, { "Cache-Control": "no-store", ...headers });
      response.end();
    } else {
      send(response, status, body, headers);
    }
  } catch (error) {
    const [status, body, headers] = refusal(error, path);
    if (!path.startsWith("/_test/")) {
      record({
        endpoint: path.split("?")[0].slice(1),
        refused: body.error,
        description: body.error_description,
        www_authenticate: headers["WWW-Authenticate"],
      });
    }
    send(response, status, body, headers);
  }
});

server.listen(config.port, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ issuer, port: config.port })}\n`);
});
