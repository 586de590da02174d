"""X.509 for the deployment's trust: a root CA (the trust anchor), access certificates
for issuers and verifiers under it, ``x5c`` chains (RFC 7515 §4.1.6: standard base64 DER,
leaf first) and path validation to configured anchors.

HAIP 1.0 and OpenID4VP 1.0 §5.9.3 say an ``x5c`` chain must not contain the trust anchor;
validation refuses a chain that does, or that carries a self-signed certificate.
Path validation itself is ``cryptography``'s verifier (RFC 5280 rules, CA extensions
checked to the web PKI profile; leaf extensions as we issue them).

Certificates are signed through a :class:`~core.keys.signer.Signer`, so that the issuing
key may stay in a hardware module: ``cryptography`` builds the TBSCertificate, the signer
signs it, and the certificate is assembled around that signature and verified with the
signer's public key before it is returned.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from core.jose.algorithms import (
    SIGNATURE_ALGORITHMS,
    PrivateKey,
    PublicKey,
    SignatureAlgorithm,
    algorithm_for_key,
)
from core.jose.errors import InvalidJwk
from core.jose.jwk import public_key_from_jwk
from core.keys.signer import Signer

MAX_CHAIN_LENGTH = 5
MAX_CERTIFICATE_BYTES = 8 * 1024


class CertificateError(ValueError):
    """A certificate or chain that is malformed or does not validate to a trust anchor."""


class CertificateSigningError(CertificateError):
    """The issuer's signer cannot sign a certificate that verifies with its public key (its
    algorithm does not fit its key, it is not the issuing certificate's key, or it signed
    with another key): no certificate is issued."""


def _name(
    common_name: str, organization: str | None = None, country: str | None = None
) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    if country:
        attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    return x509.Name(attributes)


#: The hash of each certificate signature algorithm, named by its JWS algorithm: the one
#: the signer hashes the TBSCertificate with (ecdsa-with-SHA256/384/512, RFC 5758 §3.2;
#: Ed25519 hashes nothing of its own, RFC 8410 §6).
_CERTIFICATE_HASHES: dict[str, hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None] = {
    "ES256": hashes.SHA256(),
    "ES384": hashes.SHA384(),
    "ES512": hashes.SHA512(),
    "EdDSA": None,
}

_DER_SEQUENCE = 0x30
_DER_BIT_STRING = 0x03


def _signer_key(signer: Signer) -> tuple[PublicKey, SignatureAlgorithm]:
    """The signer's public key and its algorithm, which must be the one its key is used with."""
    try:
        public = public_key_from_jwk(signer.public_jwk())
    except InvalidJwk as exc:
        raise CertificateSigningError(f"signer {signer.kid!r} has no usable public key") from exc
    algorithm = SIGNATURE_ALGORITHMS.get(signer.alg)
    if (
        algorithm is None
        or algorithm is not algorithm_for_key(public)
        or algorithm.name not in _CERTIFICATE_HASHES
    ):
        raise CertificateSigningError(
            f"signer {signer.kid!r}: algorithm {signer.alg!r} does not fit its key"
        )
    return public, algorithm


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _der_elements(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """The tag, whole encoding and content of each DER element of ``data``, a concatenation
    of them (single-byte tags and definite lengths, as in a certificate's outer structure)."""
    elements = []
    position = 0
    while position < len(data):
        tag = data[position]
        if position + 1 >= len(data):
            raise CertificateError("truncated DER element")
        first = data[position + 1]
        start = position + 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if not 1 <= count <= 4 or start + count > len(data):
                raise CertificateError("unsupported DER length")
            length = int.from_bytes(data[start : start + count], "big")
            start += count
        end = start + length
        if end > len(data):
            raise CertificateError("truncated DER element")
        elements.append((tag, data[position:end], data[start:end]))
        position = end
    return elements


def _signature_value(algorithm: SignatureAlgorithm, signature: bytes) -> bytes:
    """The certificate's signature value from a JWS one: an ECDSA-Sig-Value (RFC 3279
    §2.2.3) from raw r||s, or Ed25519's 64 bytes as they are (RFC 8410 §6)."""
    if algorithm.hash is None:
        if len(signature) != algorithm.size:
            raise CertificateSigningError("the signer's signature has the wrong length")
        return signature
    if len(signature) != 2 * algorithm.size:
        raise CertificateSigningError("the signer's signature has the wrong length")
    r = int.from_bytes(signature[: algorithm.size], "big")
    s = int.from_bytes(signature[algorithm.size :], "big")
    return encode_dss_signature(r, s)


def _sign(
    builder: x509.CertificateBuilder, signer: Signer, algorithm: SignatureAlgorithm, key: PublicKey
) -> x509.Certificate:
    """The certificate ``builder`` describes, signed by ``signer`` (whose public key is
    ``key``). Not yet verified: the caller checks it against its issuer.

    ``cryptography`` encodes the TBSCertificate, with the signature algorithm of the
    signer's curve, when it signs the certificate with a one-off key of that curve; the
    signer then signs those exact bytes, and the certificate is SEQUENCE { tbsCertificate,
    signatureAlgorithm, BIT STRING signature } (RFC 5280 §4.1) around its signature."""
    one_off: PrivateKey = (
        ec.generate_private_key(key.curve)
        if isinstance(key, ec.EllipticCurvePublicKey)
        else ed25519.Ed25519PrivateKey.generate()
    )
    template = builder.sign(one_off, _CERTIFICATE_HASHES[algorithm.name])
    outer = _der_elements(template.public_bytes(Encoding.DER))
    if len(outer) != 1 or outer[0][0] != _DER_SEQUENCE:
        raise CertificateError("the built certificate is not one DER SEQUENCE")
    parts = _der_elements(outer[0][2])
    tbs = template.tbs_certificate_bytes
    if len(parts) != 3 or parts[0][1] != tbs or parts[1][0] != _DER_SEQUENCE:
        raise CertificateError("the built certificate has an unexpected structure")
    signature_algorithm = parts[1][1]
    value = _signature_value(algorithm, signer.sign(tbs))
    der = _der(
        _DER_SEQUENCE,
        tbs + signature_algorithm + _der(_DER_BIT_STRING, b"\x00" + value),
    )
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise CertificateSigningError("the signed certificate does not parse") from exc


def _verified(certificate: x509.Certificate, issuer: x509.Certificate) -> x509.Certificate:
    """``certificate`` once its signature verifies with ``issuer``'s key (itself for a
    root): a signer that signed with another key than its public one issues nothing."""
    try:
        certificate.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise CertificateSigningError(
            "the certificate's signature does not verify with the signer's public key"
        ) from exc
    return certificate


def create_trust_anchor(
    signer: Signer,
    *,
    common_name: str,
    organization: str | None = None,
    now: dt.datetime,
    valid_days: int = 3650,
    country: str | None = None,
) -> x509.Certificate:
    """A self-signed root CA over the signer's key that may issue end-entity certificates
    only (pathLen 0); with ``country`` (C), it can be an mdoc IACA (ISO/IEC 18013-5 Annex
    B.1.2)."""
    public, algorithm = _signer_key(signer)
    name = _name(common_name, organization, country)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    certificate = _sign(builder, signer, algorithm, public)
    return _verified(certificate, certificate)


@dataclass(frozen=True, slots=True)
class AccessCertificateRequest:
    """Who an access certificate is for: a name, DNS names and URIs for its SAN."""

    common_name: str
    organization: str | None = None
    dns_names: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    valid_days: int = 365
    #: ISO 3166-1 alpha-2 (C): an mdoc's document signer names its state (ISO/IEC
    #: 18013-5 Annex B), and verifiers compare it with the mdoc's ``issuing_country``.
    country: str | None = None


def issue_access_certificate(
    request: AccessCertificateRequest,
    subject_key: PublicKey,
    *,
    anchor_signer: Signer,
    anchor: x509.Certificate,
    now: dt.datetime,
) -> x509.Certificate:
    """An end-entity certificate for an issuer's or verifier's signing key, signed by
    ``anchor_signer``, whose key must be the one ``anchor`` certifies."""
    if not request.dns_names and not request.uris:
        raise ValueError("an access certificate needs at least one DNS name or URI")
    anchor_public, algorithm = _signer_key(anchor_signer)
    spki = Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    if anchor.public_key().public_bytes(*spki) != anchor_public.public_bytes(*spki):
        raise CertificateSigningError("the signer's key is not the key of the anchor certificate")
    san: list[x509.GeneralName] = [x509.DNSName(d) for d in request.dns_names]
    san += [x509.UniformResourceIdentifier(u) for u in request.uris]
    not_after = min(now + dt.timedelta(days=request.valid_days), anchor.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(request.common_name, request.organization, request.country))
        .issuer_name(anchor.subject)
        .public_key(subject_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(anchor_public), critical=False
        )
    )
    return _verified(_sign(builder, anchor_signer, algorithm, anchor_public), anchor)


def to_x5c(chain: Sequence[x509.Certificate]) -> tuple[str, ...]:
    """``x5c`` values: standard base64 of DER, leaf first. Pass the chain without its anchor."""
    return tuple(base64.b64encode(c.public_bytes(Encoding.DER)).decode("ascii") for c in chain)


def parse_x5c(x5c: object) -> list[x509.Certificate]:
    if not isinstance(x5c, list) or not 1 <= len(x5c) <= MAX_CHAIN_LENGTH:
        raise CertificateError(f"x5c must be a list of 1 to {MAX_CHAIN_LENGTH} certificates")
    certificates = []
    for item in x5c:
        if not isinstance(item, str) or len(item) > MAX_CERTIFICATE_BYTES * 4 // 3 + 4:
            raise CertificateError("x5c entry is not a base64 string of bounded size")
        try:
            certificates.append(
                x509.load_der_x509_certificate(base64.b64decode(item, validate=True))
            )
        except (binascii.Error, x509.InvalidVersion, *_MALFORMED) as exc:
            raise CertificateError("x5c entry is not a DER certificate") from exc
    return certificates


#: What reading a malformed certificate's fields raises (cryptography parses lazily).
_MALFORMED = (
    ValueError,
    TypeError,  # a name attribute of a string type its OID does not allow
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:
        return False
    return True


def _leaf_policy() -> ExtensionPolicy:
    def _not_ca(policy: object, cert: x509.Certificate, ext: x509.BasicConstraints | None) -> None:
        if ext is not None and ext.ca:
            raise ValueError("leaf certificate is a CA")

    return ExtensionPolicy.permit_all().may_be_present(
        x509.BasicConstraints, Criticality.AGNOSTIC, _not_ca
    )


def validate_chain(
    chain: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    *,
    at: dt.datetime,
) -> x509.Certificate:
    """Validate ``chain`` (leaf first) to one of ``anchors``; return the leaf."""
    if not anchors:
        raise CertificateError("no trust anchors configured")
    if not chain:
        raise CertificateError("empty certificate chain")
    anchor_der = {a.public_bytes(Encoding.DER) for a in anchors}
    try:
        for cert in chain:
            if cert.public_bytes(Encoding.DER) in anchor_der or _is_self_signed(cert):
                raise CertificateError(
                    "x5c must not contain the trust anchor or a self-signed certificate"
                )
    except _MALFORMED as exc:
        raise CertificateError(f"a certificate of the chain is malformed: {exc}") from exc
    verifier = (
        PolicyBuilder()
        .store(Store(list(anchors)))
        .time(at)
        .max_chain_depth(MAX_CHAIN_LENGTH)
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=_leaf_policy()
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(chain[0], list(chain[1:]))
    except VerificationError as exc:
        raise CertificateError(f"certificate chain does not validate: {exc}") from exc
    except _MALFORMED as exc:
        # parsed lazily: a crafted certificate fails only when its parts are read
        raise CertificateError(f"a certificate of the chain is malformed: {exc}") from exc
    return chain[0]


def validate_x5c(
    x5c: object, anchors: Sequence[x509.Certificate], *, at: dt.datetime
) -> x509.Certificate:
    return validate_chain(parse_x5c(x5c), anchors, at=at)


def leaf_public_key(cert: x509.Certificate) -> PublicKey:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise CertificateError("certificate key is not EC or Ed25519")
    return key


@dataclass(frozen=True, slots=True)
class ValidatedChain:
    """An ``x5c`` chain that validated: its leaf, the leaf's public key and the names in
    its subjectAltName (read once, for every use of the remembered chain)."""

    leaf: x509.Certificate
    key: PublicKey
    san_uris: frozenset[str]
    san_dns_names: frozenset[str]

    @classmethod
    def from_leaf(cls, leaf: x509.Certificate) -> ValidatedChain:
        """What is kept of a chain once it validated to ``leaf``."""
        try:
            uris, dns_names = frozenset(san_uris(leaf)), frozenset(san_dns_names(leaf))
        except _MALFORMED as exc:
            raise CertificateError(f"the leaf's subjectAltName is malformed: {exc}") from exc
        return cls(leaf, leaf_public_key(leaf), uris, dns_names)


_STR_ONLY = frozenset({str})


@dataclass(frozen=True, slots=True)
class _Remembered:
    chain: ValidatedChain
    not_before: float
    until: float


class ValidatedChains:
    """``validate_x5c`` (and ``leaf_public_key``) that remembers the chains that validated,
    so that the same wallet provider's or issuer's chain, sent with every request, is not
    path-validated again each time.

    A chain is remembered by its exact ``x5c`` values (so by its exact certificate bytes)
    together with the exact set of anchors it was validated to, and only while the
    validation would still give the same answer: from the latest ``not_valid_before`` to
    the earliest ``not_valid_after`` of its certificates and those anchors, and never
    longer than ``max_age`` seconds after it was validated. Only chains that validated
    are remembered (a refused chain is validated afresh every time), at most
    ``max_entries`` of them, the least recently used going first. What the chain signs
    is the caller's to verify, every time.
    """

    def __init__(self, *, max_entries: int = 256, max_age: float = 300.0) -> None:
        if max_entries < 1 or not 0 < max_age <= 3600:
            raise ValueError("a chain cache holds at least one chain for at most an hour")
        self._max_entries = max_entries
        self._max_age = max_age
        self._remembered: OrderedDict[
            tuple[tuple[str, ...], frozenset[x509.Certificate]], _Remembered
        ] = OrderedDict()

    def validate(
        self,
        x5c: object,
        anchors: Sequence[x509.Certificate] | frozenset[x509.Certificate],
        *,
        now: float,
    ) -> ValidatedChain:
        """The leaf of ``x5c`` and its key, once the chain validates to one of ``anchors``
        at ``now`` (seconds since the epoch); ``CertificateError`` otherwise.

        A caller with fixed anchors passes them as a frozenset, which is then not built
        (hashing every anchor) on each call."""
        if type(x5c) is not list or not _STR_ONLY.issuperset(map(type, x5c)):
            return self._validate(x5c, list(anchors), now)  # refused there, never remembered
        anchor_set = anchors if type(anchors) is frozenset else frozenset(anchors)
        cache_key = (tuple(x5c), anchor_set)
        remembered = self._remembered.get(cache_key)
        if remembered is not None:
            if remembered.not_before <= now < remembered.until:
                self._remembered.move_to_end(cache_key)
                return remembered.chain
            del self._remembered[cache_key]
        chain = parse_x5c(x5c)
        validated = self._validate_parsed(chain, list(anchor_set), now)
        certificates = [*chain, *anchor_set]
        self._remembered[cache_key] = _Remembered(
            validated,
            not_before=max(c.not_valid_before_utc for c in certificates).timestamp(),
            until=min(
                now + self._max_age,
                min(c.not_valid_after_utc for c in certificates).timestamp(),
            ),
        )
        if len(self._remembered) > self._max_entries:
            self._remembered.popitem(last=False)
        return validated

    def __len__(self) -> int:
        return len(self._remembered)

    @staticmethod
    def _validate(x5c: object, anchors: Sequence[x509.Certificate], now: float) -> ValidatedChain:
        return ValidatedChains._validate_parsed(parse_x5c(x5c), anchors, now)

    @staticmethod
    def _validate_parsed(
        chain: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate], now: float
    ) -> ValidatedChain:
        leaf = validate_chain(chain, anchors, at=dt.datetime.fromtimestamp(now, dt.UTC))
        return ValidatedChain.from_leaf(leaf)


def san_dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return list(san.get_values_for_type(x509.DNSName))


def san_uris(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return list(san.get_values_for_type(x509.UniformResourceIdentifier))


def subject_display_name(cert: x509.Certificate) -> str | None:
    """The name to show for a certificate's subject: its organization (O), else its common
    name (CN); None when it has neither."""
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        values = cert.subject.get_attributes_for_oid(oid)
        if values:
            return str(values[0].value)
    return None


def x509_hash(cert: x509.Certificate) -> str:
    """OpenID4VP 1.0 §5.9.3 ``x509_hash``: base64url SHA-256 of the leaf's DER."""
    digest = hashlib.sha256(cert.public_bytes(Encoding.DER)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
