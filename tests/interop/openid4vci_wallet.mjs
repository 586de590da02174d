// A wallet built on @openid4vc/openid4vci, the OpenID4VCI library of the Credo and Paradym
// wallets, used by the test suite as an interoperability oracle for idwallet's issuer.
//
// The library does all the protocol work: it resolves the credential offer (by value or by
// reference), resolves and validates the issuer metadata (its schemas are where wallets
// refuse what they do not accept, such as logo URIs), exchanges the pre-authorized code
// (with the transaction code when the offer asks for one), fetches a c_nonce, builds the
// key proof and requests the credential. This file supplies only what the library leaves
// to the wallet: fetch, hashing, randomness, and an ES256 key held with WebCrypto. Where
// the issuer requires key attestations (key_attestations_required, OpenID4VCI 1.0
// §12.2.4), the library's wallet-provider API makes one for the holder key (Appendix D.1),
// signed with the wallet provider's key given on stdin, and the proof carries it.
//
// Input on stdin: {"wallet_provider": {"issuer": str, "x5c": [str], "private_jwk": {EC
// P-256 JWK with d}}, "runs": [{"allow_insecure_urls": bool, "proxy": null | {"public_origin":
// str, "server_origin": str}, "cases": [{"name": str, "offer_uri": str, "tx_code": str |
// null}]}]}. A run's proxy stands for a TLS-terminating reverse proxy: requests to the public
// https origin go to the server's loopback address, as the deployment would route them.
// Output on stdout: {"library": {"name": version}, "results": [one object per case]}, each
// {"name", "ok": true, "credential_issuer", "credential_configuration_id", "format",
//  "openid4vci_version", "credentials": [str], "holder_jwk", "tx_code_asked", "logos": [str],
//  "fetched_logos": [{"uri", "status", "content_type", "bytes"}], "key_attestation": str |
//  null} or
// {"name", "ok": false, "error": str, "details": str}.

import { createHash, randomBytes, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";

import { clientAuthenticationAnonymous, setGlobalConfig } from "@openid4vc/oauth2";
import { Openid4vciClient, Openid4vciWalletProvider } from "@openid4vc/openid4vci";

const { subtle } = webcrypto;

const base64url = (bytes) => Buffer.from(bytes).toString("base64url");

const HASHES = { "sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512" };

/** Private keys of this run, by the x coordinate of their public JWK. */
const privateKeys = new Map();

async function newHolderKey() {
  const pair = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
    "verify",
  ]);
  const { kty, crv, x, y } = await subtle.exportKey("jwk", pair.publicKey);
  const publicJwk = { kty, crv, x, y };
  privateKeys.set(x, pair.privateKey);
  return publicJwk;
}

/** The wallet provider's signing key, by the first certificate of its x5c. */
const providerKeys = new Map();

async function importProviderKey({ x5c, private_jwk: privateJwk }) {
  const key = await subtle.importKey(
    "jwk",
    { ...privateJwk, ext: false },
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["sign"],
  );
  const { kty, crv, x, y } = privateJwk;
  providerKeys.set(x5c[0], { key, publicJwk: { kty, crv, x, y } });
}

/** The key attestation's media type as OpenID4VCI 1.0 Appendix D.1 writes it; the library
 * (0.4.6) writes the drafts' name, corrected before signing. */
const KEY_ATTESTATION_TYP = "key-attestation+jwt";
const LIBRARY_KEY_ATTESTATION_TYP = "keyattestation+jwt";

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
  const protectedHeader =
    header.typ === LIBRARY_KEY_ATTESTATION_TYP ? { ...header, typ: KEY_ATTESTATION_TYP } : header;
  const input = `${base64url(JSON.stringify(protectedHeader))}.${base64url(JSON.stringify(payload))}`;
  // WebCrypto's ECDSA signature is r || s, the JWS form (RFC 7518 §3.4).
  const signature = await subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    key,
    new TextEncoder().encode(input),
  );
  return { jwt: `${input}.${base64url(new Uint8Array(signature))}`, signerJwk };
}

/** The current run's reverse proxy, or null. */
let proxy = null;

function proxiedFetch(input, init) {
  const url = input instanceof Request ? input.url : String(input);
  if (proxy !== null && url.startsWith(`${proxy.public_origin}/`)) {
    const routed = `${proxy.server_origin}${url.slice(proxy.public_origin.length)}`;
    return fetch(input instanceof Request ? new Request(routed, input) : routed, init);
  }
  return fetch(input, init);
}

const callbacks = {
  fetch: proxiedFetch,
  hash: (data, alg) => new Uint8Array(createHash(HASHES[alg]).update(data).digest()),
  generateRandom: (length) => new Uint8Array(randomBytes(length)),
  signJwt,
  // The pre-authorized code grant needs no client authentication here (the agency's
  // authorization server metadata says pre-authorized_grant_anonymous_access_supported).
  clientAuthentication: clientAuthenticationAnonymous(),
};
const client = new Openid4vciClient({ callbacks });
const walletProvider = new Openid4vciWalletProvider({ callbacks });

/** The wallet provider given on stdin. */
let provider = null;

/** A key attestation of holderJwk for this c_nonce where the configuration requires one. */
async function keyAttestationFor(configuration, holderJwk, nonce) {
  if (configuration.proof_types_supported?.jwt?.key_attestations_required === undefined) {
    return undefined;
  }
  const now = new Date();
  return walletProvider.createKeyAttestationJwt({
    use: "proof_type.jwt",
    signer: { method: "x5c", alg: "ES256", x5c: provider.x5c },
    attestedKeys: [holderJwk],
    nonce,
    issuedAt: now,
    expiresAt: new Date(now.getTime() + 300 * 1000),
    keyStorage: ["iso_18045_moderate"],
    userAuthentication: ["iso_18045_moderate"],
  });
}

function logosOf(issuerMetadata) {
  const issuer = issuerMetadata.credentialIssuer;
  const displays = [
    ...(issuer.display ?? []),
    ...Object.values(issuer.credential_configurations_supported).flatMap(
      (c) => c.credential_metadata?.display ?? c.display ?? [],
    ),
  ];
  return displays.flatMap((d) => (d.logo?.uri ? [d.logo.uri] : []));
}

/** What a wallet showing the logos gets for each https one (data URLs need no fetch). */
async function fetchLogos(uris) {
  const fetched = [];
  for (const uri of new Set(uris.filter((u) => u.startsWith("https://")))) {
    const response = await proxiedFetch(uri);
    const body = new Uint8Array(await response.arrayBuffer());
    fetched.push({
      uri,
      status: response.status,
      content_type: response.headers.get("content-type"),
      bytes: base64url(body),
    });
  }
  return fetched;
}

async function receive({ name, offer_uri: offerUri, tx_code: txCode }) {
  const credentialOffer = await client.resolveCredentialOffer(offerUri);
  const issuerMetadata = await client.resolveIssuerMetadata(credentialOffer.credential_issuer);
  const preAuthorized =
    credentialOffer.grants?.["urn:ietf:params:oauth:grant-type:pre-authorized_code"];
  const { accessTokenResponse } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer,
    issuerMetadata,
    txCode: txCode ?? undefined,
  });
  const [credentialConfigurationId] = credentialOffer.credential_configuration_ids;
  const configuration =
    issuerMetadata.credentialIssuer.credential_configurations_supported[credentialConfigurationId];
  const { c_nonce: nonce } = await client.requestNonce({ issuerMetadata });
  const holderJwk = await newHolderKey();
  const keyAttestation = await keyAttestationFor(configuration, holderJwk, nonce);
  const { jwt } = await client.createCredentialRequestJwtProof({
    issuerMetadata,
    credentialConfigurationId,
    signer: { method: "jwk", alg: "ES256", publicJwk: holderJwk },
    nonce,
    issuedAt: new Date(),
    keyAttestationJwt: keyAttestation,
  });
  const { credentialResponse } = await client.retrieveCredentials({
    issuerMetadata,
    accessToken: accessTokenResponse.access_token,
    credentialConfigurationId,
    proofs: { jwt: [jwt] },
  });
  const logos = logosOf(issuerMetadata);
  return {
    name,
    ok: true,
    credential_issuer: credentialOffer.credential_issuer,
    credential_configuration_id: credentialConfigurationId,
    format: configuration.format,
    openid4vci_version: issuerMetadata.originalDraftVersion,
    tx_code_asked: preAuthorized?.tx_code !== undefined,
    credentials: (credentialResponse.credentials ?? []).map((c) => c.credential),
    holder_jwk: holderJwk,
    logos,
    fetched_logos: await fetchLogos(logos),
    key_attestation: keyAttestation ?? null,
  };
}

function failure(name, error) {
  // A validation error's message lists the failed checks already; a response error carries
  // the body the server answered.
  const details = [error.responseText, error.cause?.message].filter(Boolean).join("\n");
  return { name, ok: false, error: `${error.name}: ${error.message}`, details };
}

function installedVersion(name) {
  const manifest = new URL(`./node_modules/${name}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(manifest, "utf8")).version;
}

const request = JSON.parse(readFileSync(0, "utf8"));
provider = request.wallet_provider;
await importProviderKey(provider);
const results = [];
for (const run of request.runs) {
  // The library's own switch for plain-http URLs, for a development server on loopback.
  setGlobalConfig({ allowInsecureUrls: run.allow_insecure_urls === true });
  proxy = run.proxy ?? null;
  for (const walletCase of run.cases) {
    try {
      results.push(await receive(walletCase));
    } catch (error) {
      results.push(failure(walletCase.name, error));
    }
  }
}
const library = Object.fromEntries(
  ["@openid4vc/openid4vci", "@openid4vc/oauth2", "@openid4vc/utils"].map((n) => [
    n,
    installedVersion(n),
  ]),
);
process.stdout.write(`${JSON.stringify({ library, results })}\n`);
