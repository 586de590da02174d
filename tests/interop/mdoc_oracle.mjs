// An independent ISO/IEC 18013-5 mdoc (mso_mdoc) implementation for the tests: the
// issuing, presenting and verifying of @owf/mdoc (the mdoc library of Credo, formerly
// @animo-id/mdoc), with node's own crypto behind the library's crypto callbacks. Nothing of
// idwallet is used, so our issuer, wallet and verifier can be checked against mdocs and
// DeviceResponses we did not make, and ours can be checked by a verifier we did not write.
//
// One command per run: one JSON object on stdin, one JSON object on stdout (exit 0). A
// command that cannot be carried out (bad input, a key the library refuses) writes its
// reason on stderr and exits 1; a verification that fails is no such error: it answers
// {"ok": false, "error": ...} with every check the library made.
//
// Commands (bytes are base64url without padding, times ISO 8601 strings, keys JWKs,
// certificates PEM or base64 DER); every answer also names {library: {"@owf/mdoc": version}}:
//
// - verify_issuer_signed {issuer_signed, trusted_certificates, doc_type?, now?, skew_seconds?}
//   verifies an IssuerSigned as an OpenID4VCI 1.0 credential response carries it (Appendix
//   A.2): the issuer signature, the document signer's chain to a trusted certificate, the
//   MSO's validity at `now` (default: the present; skew_seconds default 0), every element's
//   digest, issuing_country against the certificates, the docType. Answer: {ok, error,
//   checks: [{status, category, check, reason?}], doc_type, digest_algorithm,
//   validity_info: {signed, valid_from, valid_until, expected_update?}, device_key (JWK),
//   status (the MSO's, or null), claims: {namespace: {element: value}}, digest_ids,
//   value_digest_namespaces, issuer_certificates (x5chain, base64url DER), issuer_algorithm,
//   reencoding_differs (see reencodingDifferences)}; undecodable input: {ok: false, error,
//   checks: []} alone.
// - issue {doc_type, namespaces: {namespace: {element: value}}, device_key (public JWK),
//   validity: {signed?, valid_from?, valid_until, expected_update?}, issuer_key (PKCS#8 PEM),
//   issuer_certificates (leaf first), status?: {idx, uri}, digest_algorithm? (SHA-256),
//   algorithm? (by the key's curve)} signs a new IssuerSigned: {issuer_signed}.
// - device_response {issuer_signed, device_key (private JWK), disclose: {namespace:
//   [element]}, session_transcript, tamper?} presents an IssuerSigned with a deviceSignature
//   over the SessionTranscript: {device_response, session_transcript (the CBOR a verifier
//   should use), tampered}. tamper, for verifier tests: "element_value" (the first disclosed
//   element changed after signing), "other_device_key" (signed by a new key),
//   "other_nonce" (signed over a transcript with another nonce), "issuer_signature" (a bit
//   of the issuer's signature flipped).
// - verify_device_response {device_response, trusted_certificates, session_transcript,
//   doc_type?, now?, skew_seconds?} verifies a DeviceResponse as a verifier would, each
//   document as verify_issuer_signed and its device signature: {ok, error, checks,
//   documents: [as verify_issuer_signed's answer, with device_signed and device_auth]}.
// - session_transcript {session_transcript} gives {session_transcript, handover,
//   jwk_thumbprint} (to compare with the specification's examples or with ours).
//
// Element values are JSON with these markers for what JSON lacks, in and out:
// {"$full_date": "YYYY-MM-DD"} (tag 1004), {"$tdate": "YYYY-MM-DDTHH:MM:SSZ"} (tag 0),
// {"$bytes": base64url} (a byte string); objects are CBOR maps with text keys, integral
// numbers integers. Read only: {"$tag": n, "value": v} for other tags, {"$bigint": "n"}.
//
// session_transcript parameters: {client_id, nonce, response_uri, jwk_thumbprint?
// (base64url of the RFC 7638 SHA-256 thumbprint) or verifier_jwk? (the verifier's
// encryption JWK, whose thumbprint is taken here)}: OpenID4VP 1.0 Appendix B.2.6.1
// (OpenID4VPHandover, built by the library), or {cbor: base64url} for given bytes.

import {
  X509Certificate,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign as nodeSign,
  timingSafeEqual,
  verify as nodeVerify,
} from "node:crypto";
import { readFileSync } from "node:fs";

import {
  CoseKey,
  Curve,
  DataItem,
  DateOnly,
  DeviceKey,
  DeviceRequest,
  DeviceResponse,
  DocRequest,
  IssuerAuth,
  IssuerSigned,
  IssuerSignedBuilder,
  ItemsRequest,
  KeyType,
  MobileSecurityObject,
  SessionTranscript,
  SignatureAlgorithm,
  TypedMap,
  cborDecode,
  cborEncode,
} from "@owf/mdoc";

const LIBRARY = "@owf/mdoc";
const LIBRARY_VERSION = JSON.parse(
  readFileSync(new URL(import.meta.resolve(`${LIBRARY}/package.json`)), "utf8"),
).version;

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
const fromB64url = (text) => new Uint8Array(Buffer.from(text, "base64url"));

class UsageError extends Error {}

// -- keys -------------------------------------------------------------------------------

const CURVES = { "P-256": Curve["P-256"], "P-384": Curve["P-384"], "P-521": Curve["P-521"] };
const CURVE_NAMES = Object.fromEntries(Object.entries(CURVES).map(([n, c]) => [c, n]));
/** The COSE algorithm a key of each curve signs with (ISO 18013-5 §9.1.3.6, RFC 9053). */
const CURVE_ALGORITHMS = {
  "P-256": SignatureAlgorithm.ES256,
  "P-384": SignatureAlgorithm.ES384,
  "P-521": SignatureAlgorithm.ES512,
  Ed25519: SignatureAlgorithm.EdDSA,
};
/** node's hash for each COSE signature algorithm (null: EdDSA hashes by itself). */
const ALGORITHM_HASHES = {
  [SignatureAlgorithm.ES256]: "sha256",
  [SignatureAlgorithm.ES384]: "sha384",
  [SignatureAlgorithm.ES512]: "sha512",
  [SignatureAlgorithm.EdDSA]: null,
};
const ALGORITHM_NAMES = { ES256: -7, ES384: -35, ES512: -36, EdDSA: -8 };

/** A COSE key (of ``KeyClass``) for a JWK: EC P-256/384/521 or OKP Ed25519, the private
 * part kept when there. Built here, not with CoseKey.fromJwk, which knows P-384 and P-521
 * only by lower-case names in 0.6.0. */
function coseKeyFromJwk(jwk, KeyClass = CoseKey, algorithm = undefined) {
  const options = {};
  if (jwk.kty === "EC" && jwk.crv in CURVES) {
    Object.assign(options, { keyType: KeyType.Ec, curve: CURVES[jwk.crv] });
    options.y = fromB64url(jwk.y);
  } else if (jwk.kty === "OKP" && jwk.crv === "Ed25519") {
    Object.assign(options, { keyType: KeyType.Okp, curve: Curve.Ed25519 });
  } else {
    throw new UsageError(`unsupported key: kty ${jwk.kty}, crv ${jwk.crv}`);
  }
  options.x = fromB64url(jwk.x);
  if (jwk.d) options.d = fromB64url(jwk.d);
  if (algorithm !== undefined) options.algorithm = algorithm;
  return KeyClass.create(options);
}

/** The JWK of a COSE key's public part. */
function jwkFromCoseKey(key) {
  if (key.keyType === KeyType.Ec && key.curve in CURVE_NAMES) {
    return { kty: "EC", crv: CURVE_NAMES[key.curve], x: b64url(key.x), y: b64url(key.y) };
  }
  if (key.keyType === KeyType.Okp && key.curve === Curve.Ed25519) {
    return { kty: "OKP", crv: "Ed25519", x: b64url(key.x) };
  }
  throw new Error(`unsupported COSE key: kty ${key.keyType}, crv ${key.curve}`);
}

function nodeKey(key, priv) {
  const jwk = jwkFromCoseKey(key);
  if (!priv) return createPublicKey({ key: jwk, format: "jwk" });
  return createPrivateKey({ key: { ...jwk, d: b64url(key.d) }, format: "jwk" });
}

function curveOf(jwk) {
  if (!(jwk.crv in CURVE_ALGORITHMS)) throw new UsageError(`unsupported curve ${jwk.crv}`);
  return jwk.crv;
}

/** RFC 7638 JWK SHA-256 thumbprint: the required members, in lexicographic order. */
function jwkThumbprint(jwk) {
  const required = {
    EC: ["crv", "kty", "x", "y"],
    OKP: ["crv", "kty", "x"],
    RSA: ["e", "kty", "n"],
  };
  const members = required[jwk.kty];
  if (!members) throw new UsageError(`no thumbprint for kty ${jwk.kty}`);
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  return new Uint8Array(createHash("sha256").update(canonical).digest());
}

// -- certificates -----------------------------------------------------------------------

/** DER certificates from PEM (one or more blocks) or base64 DER strings. */
function certificatesDer(items) {
  const list = typeof items === "string" ? [items] : (items ?? []);
  const ders = [];
  for (const item of list) {
    const blocks = item.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    if (blocks) {
      for (const block of blocks) ders.push(new Uint8Array(new X509Certificate(block).raw));
    } else {
      ders.push(new Uint8Array(Buffer.from(item, "base64")));
    }
  }
  return ders;
}

/** The values of one attribute (C, ST, CN, ...) of a distinguished name as node prints it. */
function nameField(name, field) {
  return (name ?? "")
    .split("\n")
    .flatMap((line) => line.split("+"))
    .filter((part) => part.startsWith(`${field}=`))
    .map((part) => part.slice(field.length + 1));
}

/** The chain of x5chain (leaf first) to one of the trusted certificates: each certificate
 * signed by the next (or, for the last, by a trusted one, or trusted itself), every
 * issuer a CA, every certificate valid at ``now``. */
function verifyChain({ trustedCertificates, x5chain, now }) {
  if (x5chain.length === 0) throw new Error("the x5chain is empty");
  const at = now ?? new Date();
  const chain = x5chain.map((der) => new X509Certificate(der));
  const trusted = trustedCertificates.map((der) => new X509Certificate(der));
  const valid = (cert, role) => {
    if (new Date(cert.validFrom) > at || new Date(cert.validTo) < at) {
      throw new Error(
        `the ${role} certificate (${cert.subject.replaceAll("\n", ", ")}) is not valid at ${at.toISOString()}`,
      );
    }
  };
  const signedBy = (cert, issuer) =>
    issuer.ca && cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  for (let i = 0; i < chain.length; i += 1) {
    valid(chain[i], i === 0 ? "document signer" : "intermediate");
    if (trusted.some((t) => t.raw.equals(chain[i].raw))) return;
    const next = chain[i + 1];
    if (next) {
      if (!signedBy(chain[i], next))
        throw new Error(`certificate ${i} of the x5chain is not signed by certificate ${i + 1}`);
      continue;
    }
    const anchor = trusted.find((t) => signedBy(chain[i], t));
    if (!anchor) throw new Error("the x5chain does not lead to a trusted certificate");
    valid(anchor, "trusted");
    return;
  }
}

// -- the library's context: node's crypto -------------------------------------------------

const context = {
  crypto: {
    random: (length) => new Uint8Array(randomBytes(length)),
    digest: ({ digestAlgorithm, bytes }) =>
      new Uint8Array(
        createHash(digestAlgorithm.replace("-", "").toLowerCase()).update(bytes).digest(),
      ),
    calculateEphemeralMacKey: () => {
      throw new Error(
        "deviceMac (ephemeral MAC keys) is not used with OpenID4VP; this oracle signs",
      );
    },
  },
  cose: {
    sign1: {
      sign: ({ toBeSigned, key, algorithm }) => {
        const alg = algorithm ?? key.algorithm;
        if (!(alg in ALGORITHM_HASHES)) throw new UsageError(`unsupported COSE algorithm ${alg}`);
        return new Uint8Array(
          nodeSign(ALGORITHM_HASHES[alg], toBeSigned, {
            key: nodeKey(key, true),
            dsaEncoding: "ieee-p1363",
          }),
        );
      },
      verify: ({ key, sign1 }) => {
        const alg = ALGORITHM_NAMES[sign1.signatureAlgorithmName];
        if (alg === undefined) return false;
        return nodeVerify(
          ALGORITHM_HASHES[alg],
          sign1.toBeSigned,
          { key: nodeKey(key, false), dsaEncoding: "ieee-p1363" },
          sign1.signature,
        );
      },
    },
    mac0: {
      sign: ({ key, toBeAuthenticated }) =>
        new Uint8Array(createHmac("sha256", key.privateKey).update(toBeAuthenticated).digest()),
      verify: ({ mac0, key }) => {
        const tag = createHmac("sha256", key.privateKey).update(mac0.toBeAuthenticated).digest();
        return tag.length === mac0.tag.length && timingSafeEqual(tag, mac0.tag);
      },
    },
  },
  x509: {
    // As the library's own test context: the field of the certificate's issuer name.
    getIssuerNameField: ({ certificate, field }) =>
      nameField(new X509Certificate(certificate).issuer, field),
    getPublicKey: ({ certificate }) =>
      coseKeyFromJwk(new X509Certificate(certificate).publicKey.export({ format: "jwk" })),
    verifyCertificateChain: verifyChain,
    getCertificateData: ({ certificate }) => {
      const cert = new X509Certificate(certificate);
      return {
        issuerName: cert.issuer.replaceAll("\n", ", "),
        subjectName: cert.subject.replaceAll("\n", ", "),
        serialNumber: cert.serialNumber,
        thumbprint: cert.fingerprint256.replaceAll(":", "").toLowerCase(),
        notBefore: new Date(cert.validFrom),
        notAfter: new Date(cert.validTo),
        pem: cert.toString(),
      };
    },
  },
};

// -- values: JSON in and out ---------------------------------------------------------------

/** A JSON element value (with the markers) as the JS value the library encodes. */
function toCborValue(value) {
  if (Array.isArray(value)) return value.map(toCborValue);
  if (value === null || typeof value !== "object") return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === "$full_date") return new DateOnly(value.$full_date);
  if (keys.length === 1 && keys[0] === "$tdate") return new Date(value.$tdate);
  if (keys.length === 1 && keys[0] === "$bytes") return fromB64url(value.$bytes);
  return new Map(keys.map((key) => [key, toCborValue(value[key])]));
}

/** A decoded CBOR value as JSON with the markers. */
function toJsonValue(value) {
  if (value instanceof DateOnly) return { $full_date: value.toISOString() };
  if (value instanceof Date) {
    return {
      $tdate: Number.isNaN(value.getTime()) ? null : `${value.toISOString().split(".")[0]}Z`,
    };
  }
  if (value instanceof DataItem) return { $tag: 24, value: b64url(value.buffer) };
  if (value instanceof Uint8Array) return { $bytes: b64url(value) };
  if (typeof value === "bigint") {
    return Number.isSafeInteger(Number(value)) ? Number(value) : { $bigint: value.toString() };
  }
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value instanceof Map || value instanceof TypedMap) {
    return Object.fromEntries(Array.from(value.entries(), ([k, v]) => [String(k), toJsonValue(v)]));
  }
  if (value !== null && typeof value === "object") {
    if ("tag" in value && "value" in value)
      return { $tag: value.tag, value: toJsonValue(value.value) };
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v)]));
  }
  return value;
}

function parseTime(text, what) {
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new UsageError(`${what} is no time: ${text}`);
  return date;
}

// -- session transcripts ----------------------------------------------------------------

async function sessionTranscript(params, overrides = {}) {
  if (!params) throw new UsageError("session_transcript is missing");
  if (params.cbor) return SessionTranscript.decode(fromB64url(params.cbor));
  const { client_id: clientId, nonce, response_uri: responseUri } = { ...params, ...overrides };
  for (const [name, value] of Object.entries({
    client_id: clientId,
    nonce,
    response_uri: responseUri,
  })) {
    if (typeof value !== "string")
      throw new UsageError(`session_transcript.${name} must be a string`);
  }
  let jwkThumbprintBytes;
  if (params.jwk_thumbprint) jwkThumbprintBytes = fromB64url(params.jwk_thumbprint);
  else if (params.verifier_jwk) jwkThumbprintBytes = jwkThumbprint(params.verifier_jwk);
  return SessionTranscript.forOid4Vp(
    { clientId, nonce, responseUri, jwkThumbprint: jwkThumbprintBytes },
    context,
  );
}

// -- reading an IssuerSigned --------------------------------------------------------------

/** The received IssuerSignedItemBytes (tag 24) of each element, and the issuer signature's
 * protected header, from the raw CBOR of an IssuerSigned. */
function receivedItemBytes(rawIssuerSigned) {
  const received = new Map();
  if (!(rawIssuerSigned instanceof Map)) return received;
  const issuerAuth = rawIssuerSigned.get("issuerAuth");
  if (Array.isArray(issuerAuth) && issuerAuth[0] instanceof Uint8Array) {
    received.set(PROTECTED_HEADER, issuerAuth[0]);
  }
  const namespaces = rawIssuerSigned.get("nameSpaces");
  for (const [namespace, items] of namespaces instanceof Map ? namespaces : []) {
    for (const item of Array.isArray(items) ? items : []) {
      if (!(item instanceof DataItem)) continue;
      const decoded = cborDecode(item.buffer);
      const element = decoded instanceof Map ? decoded.get("elementIdentifier") : undefined;
      received.set(`${namespace}/${element}`, cborEncode(DataItem.fromBuffer(item.buffer)));
    }
  }
  return received;
}

const PROTECTED_HEADER = "issuerAuth/protected";

/** Elements whose digest @owf/mdoc 0.6.0 takes over its own re-encoding (it decodes each
 * IssuerSignedItem and encodes it again) and whose re-encoding differs from the bytes
 * received: the library then reports a digest mismatch even where the issuer's digest over
 * the received bytes is right (ISO 18013-5 §9.1.2.5 digests the bytes as sent). The same
 * for the issuer signature's protected header ("issuerAuth/protected"), which it also
 * re-encodes before checking the signature. */
function reencodingDifferences(issuerSigned, received) {
  const differing = [];
  const protectedHeader = received.get(PROTECTED_HEADER);
  const reencodedHeader = issuerSigned.issuerAuth.protectedHeaders.encodedStructure;
  if (protectedHeader && !Buffer.from(protectedHeader).equals(Buffer.from(reencodedHeader))) {
    differing.push(PROTECTED_HEADER);
  }
  for (const [namespace, items] of issuerSigned.issuerNamespaces?.issuerNamespaces ?? []) {
    for (const item of items) {
      const key = `${namespace}/${item.elementIdentifier}`;
      const original = received.get(key);
      const reencoded = item.encode({ asDataItem: true });
      if (original && !Buffer.from(original).equals(Buffer.from(reencoded))) differing.push(key);
    }
  }
  return differing;
}

/** What a verified (or refused) IssuerSigned says: JSON-friendly. */
function describeIssuerSigned(issuerSigned) {
  const mso = issuerSigned.issuerAuth.mobileSecurityObject;
  const claims = {};
  const digestIds = {};
  for (const [namespace, items] of issuerSigned.issuerNamespaces?.issuerNamespaces ?? []) {
    claims[namespace] = {};
    digestIds[namespace] = {};
    for (const item of items) {
      claims[namespace][item.elementIdentifier] = toJsonValue(item.elementValue);
      digestIds[namespace][item.elementIdentifier] = item.digestId;
    }
  }
  const validity = mso.validityInfo;
  const status = mso.decodedStructure.get("status");
  return {
    doc_type: mso.docType,
    digest_algorithm: mso.digestAlgorithm,
    validity_info: {
      signed: toJsonValue(validity.signed).$tdate,
      valid_from: toJsonValue(validity.validFrom).$tdate,
      valid_until: toJsonValue(validity.validUntil).$tdate,
      ...(validity.expectedUpdate
        ? { expected_update: toJsonValue(validity.expectedUpdate).$tdate }
        : {}),
    },
    device_key: jwkFromCoseKey(mso.deviceKeyInfo.deviceKey),
    status: status === undefined ? null : toJsonValue(status),
    claims,
    digest_ids: digestIds,
    value_digest_namespaces: mso.valueDigests.getNamespaces(),
    issuer_certificates: issuerSigned.issuerAuth.certificateChain.map((der) => b64url(der)),
    issuer_algorithm: issuerSigned.issuerAuth.signatureAlgorithmName,
  };
}

function checkCollector() {
  const checks = [];
  return {
    checks,
    onCheck: (item) =>
      checks.push({
        status: item.status,
        category: item.category,
        check: item.check,
        ...(item.reason ? { reason: item.reason } : {}),
      }),
    failed: () => checks.filter((c) => c.status === "FAILED"),
  };
}

/** ok when no check failed; else the failed checks' text, and the elements the library
 * re-encoded otherwise than received (whose digest failures may be the library's). */
function verdict(checks, reencodingDiffers = []) {
  const failed = checks.filter((c) => c.status === "FAILED");
  if (failed.length === 0) return { ok: true, error: null };
  const texts = failed.map((c) => (c.reason ? `${c.check}: ${c.reason}` : c.check));
  if (reencodingDiffers.length > 0) {
    texts.push(
      `(${LIBRARY} ${LIBRARY_VERSION} digests its own re-encoding of each IssuerSignedItem, ` +
        `which differs from the bytes received for ${reencodingDiffers.join(", ")})`,
    );
  }
  return { ok: false, error: texts.join("; ") };
}

function refused(error) {
  return {
    ok: false,
    error: `cannot be decoded: ${error instanceof Error ? error.message : String(error)}`,
    checks: [],
  };
}

// -- commands -------------------------------------------------------------------------------

async function verifyIssuerSigned(input) {
  let issuerSigned;
  let raw;
  try {
    const bytes = fromB64url(input.issuer_signed);
    raw = cborDecode(bytes);
    issuerSigned = IssuerSigned.decode(bytes);
    issuerSigned.issuerAuth.mobileSecurityObject; // decodes the MSO, or throws
  } catch (error) {
    return refused(error);
  }
  const collector = checkCollector();
  try {
    await issuerSigned.verify(
      {
        verificationCallback: collector.onCheck,
        now: input.now ? parseTime(input.now, "now") : new Date(),
        trustedCertificates: certificatesDer(input.trusted_certificates),
        skewSeconds: input.skew_seconds ?? 0,
      },
      context,
    );
  } catch (error) {
    if (error instanceof UsageError) throw error;
    collector.onCheck({
      status: "FAILED",
      category: "ISSUER_AUTH",
      check: "verification ended early",
      reason: error.message,
    });
  }
  const described = describeIssuerSigned(issuerSigned);
  if (input.doc_type !== undefined) {
    collector.onCheck({
      status: described.doc_type === input.doc_type ? "PASSED" : "FAILED",
      category: "DOCUMENT_FORMAT",
      check: `The MSO's docType must be ${input.doc_type}`,
      reason: `it is ${described.doc_type}`,
    });
  }
  const reencoding = reencodingDifferences(issuerSigned, receivedItemBytes(raw));
  return {
    ...verdict(collector.checks, reencoding),
    checks: collector.checks,
    ...described,
    reencoding_differs: reencoding,
  };
}

async function issue(input) {
  const issuerKeyJwk = createPrivateKey(input.issuer_key).export({ format: "jwk" });
  const algorithm = input.algorithm
    ? ALGORITHM_NAMES[input.algorithm]
    : CURVE_ALGORITHMS[curveOf(issuerKeyJwk)];
  if (algorithm === undefined) throw new UsageError(`unsupported algorithm ${input.algorithm}`);
  const signingKey = coseKeyFromJwk(issuerKeyJwk, CoseKey, algorithm);
  const deviceKey = coseKeyFromJwk(input.device_key, DeviceKey);
  if (deviceKey.d) throw new UsageError("device_key must be the public key");
  const certificates = certificatesDer(input.issuer_certificates);
  const validity = input.validity ?? {};
  const validityInfo = {
    signed: parseTime(validity.signed ?? new Date().toISOString(), "validity.signed"),
    validFrom: parseTime(
      validity.valid_from ?? validity.signed ?? new Date().toISOString(),
      "validity.valid_from",
    ),
    validUntil: parseTime(validity.valid_until, "validity.valid_until"),
    ...(validity.expected_update
      ? { expectedUpdate: parseTime(validity.expected_update, "validity.expected_update") }
      : {}),
  };
  const builder = new IssuerSignedBuilder(input.doc_type, context);
  for (const [namespace, elements] of Object.entries(input.namespaces ?? {})) {
    builder.addIssuerNamespace(
      namespace,
      new Map(Object.entries(elements).map(([k, v]) => [k, toCborValue(v)])),
    );
  }
  let issuerSigned = await builder.sign({
    signingKey,
    algorithm,
    digestAlgorithm: input.digest_algorithm ?? "SHA-256",
    validityInfo,
    deviceKeyInfo: { deviceKey },
    certificates,
  });
  if (input.status) {
    // 0.6.0 has no option for the MSO's status (Token Status List §6.3): the same MSO with
    // it added, signed again with the same headers.
    const { idx, uri } = input.status;
    const structure = TypedMap.fromMap(
      issuerSigned.issuerAuth.mobileSecurityObject.decodedStructure.toMap(),
    );
    structure.set(
      "status",
      new Map([
        [
          "status_list",
          new Map([
            ["idx", idx],
            ["uri", uri],
          ]),
        ],
      ]),
    );
    const issuerAuth = await IssuerAuth.create(
      {
        payload: MobileSecurityObject.fromDecodedStructure(structure),
        protectedHeaders: issuerSigned.issuerAuth.protectedHeaders,
        unprotectedHeaders: issuerSigned.issuerAuth.unprotectedHeaders,
        signingKey,
        algorithm,
      },
      context,
    );
    issuerSigned = IssuerSigned.create({
      issuerNamespaces: issuerSigned.issuerNamespaces,
      issuerAuth,
    });
  }
  return { issuer_signed: issuerSigned.encodedForOid4Vci };
}

const TAMPERINGS = ["element_value", "other_device_key", "other_nonce", "issuer_signature"];

async function deviceResponse(input) {
  const issuerSigned = IssuerSigned.fromEncodedForOid4Vci(input.issuer_signed);
  const docType = issuerSigned.issuerAuth.mobileSecurityObject.docType;
  const tamper = input.tamper ?? null;
  if (tamper !== null && !TAMPERINGS.includes(tamper)) {
    throw new UsageError(`tamper must be one of ${TAMPERINGS.join(", ")}`);
  }
  const disclose = input.disclose ?? {};
  if (Object.keys(disclose).length === 0) throw new UsageError("disclose names no element");
  const deviceRequest = DeviceRequest.create({
    docRequests: [
      DocRequest.create({
        itemsRequest: ItemsRequest.create({
          docType,
          namespaces: Object.fromEntries(
            Object.entries(disclose).map(([ns, elements]) => [
              ns,
              Object.fromEntries(elements.map((e) => [e, false])),
            ]),
          ),
        }),
      }),
    ],
  });
  let signingJwk = input.device_key;
  if (tamper === "other_device_key") {
    signingJwk = generateKeyPairSync("ec", {
      namedCurve: curveOf(input.device_key),
    }).privateKey.export({ format: "jwk" });
  }
  if (!signingJwk?.d) throw new UsageError("device_key must be the private JWK");
  const signingKey = coseKeyFromJwk(signingJwk, CoseKey, CURVE_ALGORITHMS[curveOf(signingJwk)]);
  const transcript = await sessionTranscript(input.session_transcript);
  const signedTranscript =
    tamper === "other_nonce"
      ? await sessionTranscript(input.session_transcript, {
          nonce: `${input.session_transcript.nonce}-other`,
        })
      : transcript;
  const response = await DeviceResponse.createWithDeviceRequest(
    {
      deviceRequest,
      sessionTranscript: signedTranscript,
      issuerSigned: [issuerSigned],
      signature: { signingKey },
    },
    context,
  );
  const [document] = response.documents;
  if (tamper === "element_value") {
    const [, items] = document.issuerSigned.issuerNamespaces.issuerNamespaces
      .entries()
      .next().value;
    const item = items[0];
    const value = item.elementValue;
    item.decodedStructure.set(
      "elementValue",
      typeof value === "string"
        ? `${value}-tampered`
        : typeof value === "boolean"
          ? !value
          : typeof value === "number"
            ? value + 1
            : "tampered",
    );
  }
  if (tamper === "issuer_signature") document.issuerSigned.issuerAuth.signature[0] ^= 0x01;
  return {
    device_response: response.encodedForOid4Vp,
    session_transcript: b64url(transcript.encode()),
    tampered: tamper,
  };
}

async function verifyDeviceResponse(input) {
  let response;
  const raws = [];
  try {
    const bytes = fromB64url(input.device_response);
    response = DeviceResponse.decode(bytes);
    const raw = cborDecode(bytes);
    for (const doc of raw.get("documents") ?? []) raws.push(doc.get("issuerSigned"));
  } catch (error) {
    return { ...refused(error), documents: [] };
  }
  const transcript = await sessionTranscript(input.session_transcript);
  const collector = checkCollector();
  try {
    await response.verify(
      {
        sessionTranscript: transcript,
        trustedCertificates: certificatesDer(input.trusted_certificates),
        now: input.now ? parseTime(input.now, "now") : new Date(),
        onCheck: collector.onCheck,
        skewSeconds: input.skew_seconds ?? 0,
      },
      context,
    );
  } catch (error) {
    if (error instanceof UsageError) throw error;
    collector.onCheck({
      status: "FAILED",
      category: "DOCUMENT_FORMAT",
      check: "verification ended early",
      reason: error.message,
    });
  }
  collector.onCheck({
    status: response.status === 0 ? "PASSED" : "FAILED",
    category: "DOCUMENT_FORMAT",
    check: "The DeviceResponse's status must be 0 (OK)",
    reason: `it is ${response.status}`,
  });
  collector.onCheck({
    status: (response.documents ?? []).length > 0 ? "PASSED" : "FAILED",
    category: "DOCUMENT_FORMAT",
    check: "The DeviceResponse must hold a document",
  });
  const documents = [];
  for (const [index, document] of (response.documents ?? []).entries()) {
    let described;
    try {
      described = describeIssuerSigned(document.issuerSigned);
    } catch (error) {
      collector.onCheck({
        status: "FAILED",
        category: "DOCUMENT_FORMAT",
        check: `document ${index} cannot be read`,
        reason: error.message,
      });
      continue;
    }
    collector.onCheck({
      status: document.docType === described.doc_type ? "PASSED" : "FAILED",
      category: "DOCUMENT_FORMAT",
      check: "The document's docType must be the MSO's",
      reason: `${document.docType} against ${described.doc_type}`,
    });
    if (input.doc_type !== undefined) {
      collector.onCheck({
        status: document.docType === input.doc_type ? "PASSED" : "FAILED",
        category: "DOCUMENT_FORMAT",
        check: `The document's docType must be ${input.doc_type}`,
        reason: `it is ${document.docType}`,
      });
    }
    const deviceSigned = {};
    for (const [namespace, items] of document.deviceSigned.deviceNamespaces.deviceNamespaces ??
      []) {
      deviceSigned[namespace] = toJsonValue(items.deviceSignedItems);
    }
    documents.push({
      ...described,
      device_signed: deviceSigned,
      device_auth: document.deviceSigned.deviceAuth.deviceSignature
        ? "deviceSignature"
        : "deviceMac",
      reencoding_differs: reencodingDifferences(
        document.issuerSigned,
        receivedItemBytes(raws[index]),
      ),
    });
  }
  const reencoding = documents.flatMap((d) => d.reencoding_differs);
  return { ...verdict(collector.checks, reencoding), checks: collector.checks, documents };
}

async function transcriptOnly(input) {
  const transcript = await sessionTranscript(input.session_transcript);
  const params = input.session_transcript;
  const thumbprint = params.jwk_thumbprint
    ? params.jwk_thumbprint
    : params.verifier_jwk
      ? b64url(jwkThumbprint(params.verifier_jwk))
      : null;
  return {
    session_transcript: b64url(transcript.encode()),
    handover: b64url(cborEncode(transcript.handover.encodedStructure)),
    jwk_thumbprint: thumbprint,
  };
}

const COMMANDS = {
  verify_issuer_signed: verifyIssuerSigned,
  issue,
  device_response: deviceResponse,
  verify_device_response: verifyDeviceResponse,
  session_transcript: transcriptOnly,
};

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const command = COMMANDS[input.command];
  if (!command)
    throw new UsageError(
      `unknown command ${input.command}; one of ${Object.keys(COMMANDS).join(", ")}`,
    );
  const result = await command(input);
  process.stdout.write(
    `${JSON.stringify({ ...result, library: { [LIBRARY]: LIBRARY_VERSION } })}\n`,
  );
}

main().catch((error) => {
  process.stderr.write(
    `mdoc_oracle: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
