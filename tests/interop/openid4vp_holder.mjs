// The presenting side of the interop wallet (haip_wallet.mjs): OpenID4VP 1.0 with the
// independent libraries of the same family as the wallet's issuance side, and SD-JWT VC
// presentations with the reference TypeScript SD-JWT libraries.
//
// - @openid4vc/openid4vp parses the openid4vp:// link, fetches the signed request object
//   (request_uri), checks its signature through the wallet's verifyJwt callback and the
//   client identifier against the signing certificate (x509_hash, x509_san_dns), builds the
//   authorization response (state from the request) and, for direct_post.jwt, encrypts it to
//   the verifier's key from client_metadata through the wallet's encryptJwe callback, and
//   posts it to the response_uri;
// - dcql (the DCQL library of the same organisation) parses the request's DCQL query and
//   matches it against the credentials the wallet holds: the claims it selects are the
//   only ones disclosed;
// - @sd-jwt/sd-jwt-vc builds the presentation: the selected disclosures and a key binding
//   JWT (aud the verifier's client_id, the request's nonce, sd_hash) signed with the
//   credential's holder key; @sd-jwt/crypto-nodejs is its hasher.
//
// This file supplies what the libraries leave to a wallet: trusting the request object's
// certificate chain (to the trust anchors the test gives), the holder keys' signatures, and
// choosing which credential of a batch to use (a fresh one for each presentation, as HAIP
// recommends against linkability), and its own POST for a request object where the
// library's falls short of OpenID4VP 1.0 §5.10.1 (LIBRARY_POST_WITHOUT_WALLET_NONCE). It
// decides nothing about what to share: the DCQL match does.

import { X509Certificate, randomBytes, verify as verifySignature } from "node:crypto";

import { decodeJwt } from "@openid4vc/oauth2";
import { Openid4vpClient } from "@openid4vc/openid4vp";
import { digest } from "@sd-jwt/crypto-nodejs";
import { SDJwtVcInstance } from "@sd-jwt/sd-jwt-vc";
import { DcqlQuery } from "dcql";

const base64url = (bytes) => Buffer.from(bytes).toString("base64url");
const SD_JWT_VC_FORMAT = "dc+sd-jwt";
/** Hash names of JWS algorithms, for node's verify. */
const JWS_HASHES = { ES256: "sha256", ES384: "sha384", ES512: "sha512" };
/** What this wallet does for encrypted responses (OpenID4VP 1.0 §8.3, HAIP 1.0 §5): the
 * library picks the first of these the verifier lists. */
const RESPONSE_ENCRYPTION = {
  authorization_signing_alg_values_supported: ["ES256"],
  authorization_encryption_alg_values_supported: ["ECDH-ES"],
  authorization_encryption_enc_values_supported: ["A128GCM", "A256GCM"],
};

/** What the wallet tells a verifier of itself when it fetches a request object by POST
 * (OpenID4VP 1.0 §5.10.1, §10). */
const WALLET_METADATA = {
  vp_formats_supported: {
    [SD_JWT_VC_FORMAT]: { "sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"] },
  },
  client_id_prefixes_supported: ["x509_hash", "x509_san_dns"],
  request_object_signing_alg_values_supported: ["ES256"],
  response_modes_supported: ["direct_post", "direct_post.jwt"],
};
/** What @openid4vc/openid4vp 0.4.6 does with request_uri_method=post (fetchJarRequestObject):
 * it posts the members of the wallet metadata as form parameters of their own instead of
 * wallet_metadata (the metadata as one JSON object) and never sends the wallet_nonce it
 * was given (OpenID4VP 1.0 §5.10.1), so a verifier cannot echo it; its own check of the
 * request object then refuses it for lacking that wallet_nonce. */
const LIBRARY_POST_WITHOUT_WALLET_NONCE =
  'The "wallet_nonce" parameter MUST be present in the authorization request';

function decoded(jwt) {
  try {
    return decodeJwt({ jwt });
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

/** A certificate of an x5c header (base64 DER). */
function certificate(der) {
  return new X509Certificate(Buffer.from(der, "base64"));
}

/** The chain of an x5c header, leaf first, checked link by link and to one of the anchors:
 * each certificate issued and signed by the next, the last by an anchor, all valid now. */
function checkedChain(x5c, anchors) {
  const chain = x5c.map(certificate);
  const now = Date.now();
  for (const [index, cert] of chain.entries()) {
    if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) {
      throw new Error(`certificate ${index} of the request object's x5c is not valid now`);
    }
    const issuer = chain[index + 1];
    if (issuer !== undefined && !(cert.checkIssued(issuer) && cert.verify(issuer.publicKey))) {
      throw new Error(`certificate ${index} of the request object's x5c is not signed by the next`);
    }
  }
  const last = chain[chain.length - 1];
  const anchor = anchors.find((a) => last.checkIssued(a) && last.verify(a.publicKey));
  if (anchor === undefined) throw new Error("the request object's x5c leads to no trusted anchor");
  return chain;
}

function sanNames(cert) {
  const names = { sanDnsNames: [], sanUriNames: [] };
  for (const entry of (cert.subjectAltName ?? "").split(", ")) {
    if (entry.startsWith("DNS:")) names.sanDnsNames.push(entry.slice(4));
    if (entry.startsWith("URI:")) names.sanUriNames.push(entry.slice(4));
  }
  return names;
}

/** The disclosures of an SD-JWT presentation, decoded: [salt, name, value] (or [salt,
 * value] for an array element), by the name they disclose. */
function disclosedClaims(presentation) {
  const [, ...rest] = presentation.split("~");
  const disclosures = rest.slice(0, -1).filter(Boolean);
  const claims = {};
  for (const disclosure of disclosures) {
    const decodedDisclosure = JSON.parse(Buffer.from(disclosure, "base64url").toString("utf8"));
    if (decodedDisclosure.length === 3) claims[decodedDisclosure[1]] = decodedDisclosure[2];
  }
  return claims;
}

/** A @sd-jwt presentation frame disclosing exactly what a DCQL match output holds. */
function presentationFrame(output) {
  if (Array.isArray(output)) {
    return Object.fromEntries(
      output.map((item, index) => [
        index,
        item !== null && typeof item === "object" ? presentationFrame(item) : true,
      ]),
    );
  }
  return Object.fromEntries(
    Object.entries(output).map(([name, value]) => [
      name,
      value !== null && typeof value === "object" ? presentationFrame(value) : true,
    ]),
  );
}

/**
 * The wallet's presenting side.
 *
 * ``callbacks`` are the wallet's (hash, signJwt, encryptJwe, decryptJwe, fetch);
 * ``signWith(publicJwk, bytes)`` signs with a holder key (ES256, r || s);
 * ``trustAnchors`` are the PEM certificates whose chains the wallet trusts for request
 * objects.
 */
export function createHolder({ callbacks, signWith, trustAnchors }) {
  const anchors = trustAnchors.map((pem) => new X509Certificate(pem));
  const hasher = (data, alg) => digest(data, alg);
  /** The credentials held, in the order received: {configuration_id, compact, holderJwk,
   * claims, used}. */
  const held = [];

  function verifyJwt(signer, { header, compact }) {
    if (signer.method !== "x5c") return { verified: false };
    const hash = JWS_HASHES[header.alg];
    if (hash === undefined) return { verified: false };
    const [leaf] = checkedChain(signer.x5c, anchors);
    const [encodedHeader, encodedPayload, signature] = compact.split(".");
    const verified = verifySignature(
      hash,
      Buffer.from(`${encodedHeader}.${encodedPayload}`, "ascii"),
      { key: leaf.publicKey, dsaEncoding: "ieee-p1363" },
      Buffer.from(signature, "base64url"),
    );
    return { verified, signerJwk: leaf.publicKey.export({ format: "jwk" }) };
  }

  /** The request objects the library fetched for the current request: method and the
   * names of the form parameters it sent. */
  let fetchedByLibrary = [];
  let requestUri = null;
  async function libraryFetch(input, init = {}) {
    const request = new Request(input, init);
    if (request.url === requestUri) {
      const body = request.method === "POST" ? await request.clone().text() : "";
      fetchedByLibrary.push({
        method: request.method,
        parameters: [...new URLSearchParams(body).keys()].sort(),
      });
    }
    return callbacks.fetch(request);
  }

  const openid4vp = new Openid4vpClient({
    callbacks: {
      ...callbacks,
      fetch: libraryFetch,
      verifyJwt,
      getX509CertificateMetadata: (der) => sanNames(certificate(der)),
    },
  });

  /** §5.10.1 as the specification has it: the request object by POST, with the wallet's
   * metadata as one JSON object and a fresh wallet_nonce, form-encoded. */
  async function postForRequestObject(uri, walletNonce) {
    const answer = await callbacks.fetch(uri, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/oauth-authz-req+jwt",
      },
      body: new URLSearchParams({
        wallet_metadata: JSON.stringify(WALLET_METADATA),
        wallet_nonce: walletNonce,
      }).toString(),
    });
    if (!answer.ok) throw new Error(`the request_uri answered ${answer.status} to a POST`);
    return answer.text();
  }

  /** A request offered with request_uri_method=post: first as the library does it with
   * the wallet's metadata and a wallet_nonce; where it falls short (see
   * LIBRARY_POST_WITHOUT_WALLET_NONCE), the wallet posts as §5.10.1 says and hands the
   * library the request object by value, with the nonce the object must carry. */
  async function resolvePosted(params) {
    const libraryNonce = base64url(randomBytes(16));
    const post = { library: null, workaround: null };
    try {
      const resolved = await openid4vp.resolveOpenId4vpAuthorizationRequest({
        authorizationRequestPayload: params,
        wallet: { metadata: WALLET_METADATA, nonce: libraryNonce, expectedNonce: libraryNonce },
      });
      post.library = { fetched: fetchedByLibrary, error: null };
      return { resolved, post };
    } catch (error) {
      post.library = { fetched: fetchedByLibrary, error: error.error_description ?? error.message };
      if (!String(post.library.error).includes(LIBRARY_POST_WITHOUT_WALLET_NONCE)) throw error;
    }
    const walletNonce = base64url(randomBytes(16));
    const requestObject = await postForRequestObject(params.request_uri, walletNonce);
    const resolved = await openid4vp.resolveOpenId4vpAuthorizationRequest({
      authorizationRequestPayload: { client_id: params.client_id, request: requestObject },
      wallet: { expectedNonce: walletNonce },
    });
    post.workaround = {
      wallet_nonce_sent: walletNonce,
      wallet_nonce_returned: resolved.authorizationRequestPayload.wallet_nonce ?? null,
    };
    return { resolved, post };
  }

  /** A credential the wallet received, bound (cnf) to one of its holder keys. */
  async function keep(configurationId, compact) {
    const claims = await new SDJwtVcInstance({ hasher }).getClaims(compact);
    const holderJwk = claims.cnf?.jwk;
    if (holderJwk === undefined) throw new Error("a credential without a holder key (cnf.jwk)");
    held.push({ configuration_id: configurationId, compact, holderJwk, claims, used: false });
  }

  /** The request behind an openid4vp:// link, resolved and verified by the library. */
  async function resolve(uri) {
    const parsed = openid4vp.parseOpenid4vpAuthorizationRequest({ authorizationRequest: uri });
    requestUri = parsed.params.request_uri ?? null;
    fetchedByLibrary = [];
    let resolved;
    let post = null;
    if (parsed.params.request_uri_method === "post") {
      ({ resolved, post } = await resolvePosted(parsed.params));
    } else {
      resolved = await openid4vp.resolveOpenId4vpAuthorizationRequest({
        authorizationRequestPayload: parsed.params,
      });
    }
    const request = resolved.authorizationRequestPayload;
    const summary = {
      link: {
        parameters: Object.keys(parsed.params).sort(),
        type: parsed.type,
        provided: parsed.provided,
      },
      request_object: resolved.jar
        ? {
            header: resolved.jar.jwt.header,
            send_by: resolved.jar.sendBy,
            signer_method: resolved.jar.signer.method,
            aud: resolved.jar.jwt.payload.aud ?? null,
          }
        : null,
      version: resolved.version,
      client: { prefix: resolved.client.prefix, effective: resolved.client.effective },
      client_name: request.client_metadata?.client_name ?? null,
      response_type: request.response_type,
      response_mode: request.response_mode ?? null,
      response_uri: request.response_uri ?? null,
      nonce: request.nonce,
      state: request.state ?? null,
      dcql_query: resolved.dcql?.query ?? null,
      fetched_by_library: fetchedByLibrary,
      request_uri_post: post,
    };
    return { resolved, request, summary };
  }

  /** The unused credentials the DCQL query matches, and what of each it asks for. */
  function matched(query) {
    const parsed = DcqlQuery.parse(query);
    DcqlQuery.validate(parsed);
    const candidates = held.filter((c) => !c.used);
    const result = DcqlQuery.query(
      parsed,
      candidates.map((c) => ({
        credential_format: SD_JWT_VC_FORMAT,
        vct: c.claims.vct,
        claims: c.claims,
        cryptographic_holder_binding: true,
      })),
    );
    return { result, candidates };
  }

  async function presentationOf(credential, output, { client, nonce }) {
    const sdJwtVc = new SDJwtVcInstance({
      hasher,
      kbSignAlg: "ES256",
      kbSigner: async (data) =>
        base64url(await signWith(credential.holderJwk, new TextEncoder().encode(data))),
    });
    return sdJwtVc.present(credential.compact, presentationFrame(output), {
      kb: { payload: { iat: Math.floor(Date.now() / 1000), aud: client.effective, nonce } },
    });
  }

  /** The library's authorization response for ``request``: form-encoded for direct_post,
   * a JWE to the verifier's key for direct_post.jwt. */
  async function response(request, vpToken) {
    const jarm =
      request.response_mode === "direct_post.jwt"
        ? {
            // the library puts this nonce in apu (and the request's nonce in apv)
            encryption: { nonce: base64url(randomBytes(16)) },
            serverMetadata: RESPONSE_ENCRYPTION,
          }
        : undefined;
    return openid4vp.createOpenid4vpAuthorizationResponse({
      authorizationRequestPayload: request,
      authorizationResponsePayload: { vp_token: vpToken },
      jarm,
    });
  }

  async function submit(request, created) {
    const { response: answer, responseMode } = await openid4vp.submitOpenid4vpAuthorizationResponse({
      authorizationRequestPayload: request,
      authorizationResponsePayload: created.authorizationResponsePayload,
      jarm: created.jarm ? { responseJwt: created.jarm.responseJwt } : undefined,
    });
    const text = await answer.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { unreadable: text.slice(0, 200) };
    }
    return {
      status: answer.status,
      response_mode: responseMode,
      body,
      encrypted: created.jarm ? { header: jweHeader(created.jarm.responseJwt) } : null,
    };
  }

  /** Present what the request behind ``uri`` asks for; with ``resend``, send the very same
   * response to the same request once more afterwards. */
  async function present(uri, { resend = false } = {}) {
    const { request, resolved, summary } = await resolve(uri);
    const { result, candidates } = matched(summary.dcql_query);
    const outcome = { request: summary, dcql: { can_be_satisfied: result.can_be_satisfied } };
    if (!result.can_be_satisfied) throw new Error("the wallet holds nothing the request asks for");
    const vpToken = {};
    const selected = [];
    for (const [queryId, match] of Object.entries(result.credential_matches)) {
      if (!match.success) continue;
      const [first] = match.valid_credentials;
      const credential = candidates[first.input_credential_index];
      const [claimSet] = first.claims.valid_claim_sets;
      const presentation = await presentationOf(credential, claimSet.output, {
        client: resolved.client,
        nonce: request.nonce,
      });
      credential.used = true;
      vpToken[queryId] = [presentation];
      const kbJwt = presentation.split("~").at(-1);
      selected.push({
        query_id: queryId,
        configuration_id: credential.configuration_id,
        credential_index: held.indexOf(credential),
        asked: claimSet.output,
        disclosed: disclosedClaims(presentation),
        key_binding: decoded(kbJwt),
        holder_jwk: credential.holderJwk,
        presentation,
      });
    }
    outcome.presented = selected;
    const created = await response(request, vpToken);
    outcome.response = await submit(request, created);
    if (resend) outcome.resent = await submit(request, created);
    outcome.vp_token = vpToken;
    return outcome;
  }

  /** A vp_token made for another request sent, as it is, in answer to the request behind
   * ``uri`` (with that request's state, as a thief of the token would). */
  async function replay(uri, vpToken) {
    const { request, summary } = await resolve(uri);
    const created = await response(request, vpToken);
    return { request: summary, replayed: true, response: await submit(request, created) };
  }

  return { keep, present, replay, held };
}
