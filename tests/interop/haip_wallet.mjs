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
// wallet attestation, the key attestation and the jwt key proofs carrying it, and request
// the credentials with a DPoP-bound token. This file supplies only what the libraries leave
// to the wallet: fetch, hashing, randomness, ES256 keys held with WebCrypto and the signing
// callback, and following the authorization endpoint's redirect with a plain fetch (there
// is no browser: the development authenticator of the server signs the citizen in).
//
// Input on stdin:
// {"allow_insecure_urls": bool,
//  "client_id": str, "redirect_uri": str,
//  "wallet_provider": {"issuer": str, "x5c": [str], "private_jwk": {EC P-256 JWK with d}},
//  "cases": [{"name": str, "credential_issuer": str, "credential_configuration_id": str,
//             "options": {see OPTIONS below}}]}
// The wallet provider's key signs the wallet attestations of this wallet (one for each
// case, so for each issuer) and the key attestations of its holder keys; its certificate chain (x5c, leaf first, without the
// root) leads to a root the server trusts.
//
// Output on stdout: {"library": {"name": version}, "results": [one object per case]}, each
// {"name", "ok": true, "wallet": {"client_id", "instance_jwk"}, "credential_issuer",
//  "credential_configuration_id", "format",
//  "openid4vci_version", "authorization_server", "library_support", "authorization",
//  "dpop_jwk", "token", "batches": [{"credentials", "holder_jwks", "key_attestation",
//  "proof_headers", "dpop_nonce", "notification_id"}], "refresh", "reuse",
//  "successor_after_reuse", "exchanges": [each HTTP exchange], "corrections": [str]}
// or {"name", "ok": false, "error": str, "details": str, "exchanges", "corrections"}.
// "corrections" lists what this wallet had to change in what the libraries built.

import { createHash, randomBytes, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";

import {
  Oauth2Client,
  Oauth2ClientErrorResponseError,
  clientAuthenticationClientAttestationJwt,
  decodeJwt,
  getAuthorizationServerMetadataFromList,
  setGlobalConfig,
} from "@openid4vc/oauth2";
import { Openid4vciClient, Openid4vciWalletProvider } from "@openid4vc/openid4vci";

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

const callbacks = {
  hash: (data, alg) => new Uint8Array(createHash(HASHES[alg]).update(data).digest()),
  generateRandom: (length) => new Uint8Array(randomBytes(length)),
  signJwt,
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

async function recordingFetch(input, init = {}) {
  const request = new Request(input, init);
  const response = await fetch(request.clone(), { redirect: init.redirect ?? "follow" });
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
  const answer = await openid4vci.retrieveCredentials({
    issuerMetadata,
    accessToken,
    credentialConfigurationId: configurationId,
    proofs: { jwt: jwts },
    dpop,
  });
  const { credentialResponse } = answer;
  return {
    credentials: (credentialResponse.credentials ?? []).map((c) => c.credential),
    holder_jwks: holderJwks,
    key_attestation: keyAttestation ?? null,
    proof_headers: jwts.map((jwt) => decodeJwt({ jwt }).header),
    dpop_nonce: dpopNonce,
    notification_id: credentialResponse.notification_id ?? null,
  };
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
  const redirect = await followAuthorization(initiated.authorizationRequestUrl);
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
  const batchOptions = { openid4vci, wallet, issuerMetadata, configurationId, dpopSigner, options };
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

const request = JSON.parse(readFileSync(0, "utf8"));
// The library's own switch for plain-http URLs, for a development server on loopback.
setGlobalConfig({ allowInsecureUrls: request.allow_insecure_urls === true });
const provider = request.wallet_provider;
await importProviderKey(provider.x5c, provider.private_jwk);
const results = [];
for (const walletCase of request.cases) {
  exchanges = [];
  corrections.length = 0;
  let result;
  try {
    result = await runCase(request, walletCase);
  } catch (error) {
    result = failure(walletCase.name, error);
  }
  results.push({ ...result, exchanges, corrections: [...new Set(corrections)] });
}
const library = Object.fromEntries(
  ["@openid4vc/openid4vci", "@openid4vc/oauth2", "@openid4vc/utils"].map((n) => [
    n,
    installedVersion(n),
  ]),
);
process.stdout.write(`${JSON.stringify({ library, results })}\n`);
