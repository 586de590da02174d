"""COSE_Sign1 (RFC 9052 §4.2, §4.4) with an algorithm allow-list and ``x5chain`` (RFC 9360).

ISO/IEC 18013-5 signs twice with it: ``issuerAuth`` (§9.1.2.4, the MSO as payload, the
document signer's certificate in the unprotected ``x5chain``, label 33) and
``deviceSignature`` (§9.1.3.6, a detached payload: ``DeviceAuthenticationBytes``).

Signing goes through :class:`core.keys.signer.Signer` (so a hardware key signs the same
way), whose ECDSA output is already COSE's (RFC 9053 §2.1: ``r || s``, each the size of
the curve). For a key held elsewhere, a phone's, signing is split in two:
:func:`sig_structure` gives the ``ToBeSigned`` bytes and :func:`assemble_sign1` puts the
raw signature in place.

Verification order: the ``alg`` from the protected header (RFC 9052 §3.1; ISO/IEC 18013-5
§9.1.2.4 puts it there) in the caller's allow-list of COSE identifiers and fitting the
key, no ``crit`` (we understand no critical extension), no label in both headers (RFC 9052
§3), then the signature. Identifiers: ``-7`` ES256 (taken to mean P-256, as HAIP 1.0
reads it), ``-35`` ES384, ``-36`` ES512, ``-8`` EdDSA (Ed25519), and the fully specified
ones of RFC 9864 §2: ``-9`` ESP256, ``-51`` ESP384, ``-52`` ESP512, ``-19`` Ed25519.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from core.jose.algorithms import EDDSA as JOSE_EDDSA
from core.jose.algorithms import ES256, ES384, ES512, PublicKey, SignatureAlgorithm
from core.jose.errors import JoseError
from core.keys.signer import Signer
from core.keys.x509 import MAX_CERTIFICATE_BYTES, MAX_CHAIN_LENGTH
from core.mdoc.cbor import TAG_COSE_SIGN1, CborLimits, array_header, decode, encode
from core.mdoc.errors import MalformedCbor, MalformedMdoc, MdocError

# RFC 9052 §3.1 and RFC 9360 §2 header labels.
HEADER_ALG = 1
HEADER_CRIT = 2
HEADER_KID = 4
HEADER_X5CHAIN = 33

ES256_ID, ES384_ID, ES512_ID, EDDSA_ID = -7, -35, -36, -8
ESP256_ID, ESP384_ID, ESP512_ID, ED25519_ID = -9, -51, -52, -19

#: COSE algorithm identifiers and the signature algorithm (with its curve) each means.
COSE_ALGORITHMS: dict[int, SignatureAlgorithm] = {
    ES256_ID: ES256,
    ESP256_ID: ES256,
    ES384_ID: ES384,
    ESP384_ID: ES384,
    ES512_ID: ES512,
    ESP512_ID: ES512,
    EDDSA_ID: JOSE_EDDSA,
    ED25519_ID: JOSE_EDDSA,
}
#: The identifier we sign with, by the signer's JOSE ``alg`` (the widely deployed ones).
COSE_ID_FOR_JOSE = {"ES256": ES256_ID, "ES384": ES384_ID, "ES512": ES512_ID, "EdDSA": EDDSA_ID}
#: HAIP 1.0 "Requirements for Digital Signatures": ECDSA P-256 SHA-256, ``-7`` or ``-9``.
DEFAULT_COSE_ALGORITHMS: frozenset[int] = frozenset({ES256_ID, ESP256_ID})

_HEADER_LIMITS = CborLimits(max_bytes=4 * 1024, max_depth=4, max_items=64)


@dataclass(frozen=True, slots=True)
class CoseSign1:
    """``COSE_Sign1 = [protected: bstr, unprotected: map, payload: bstr / nil, signature]``."""

    protected: bytes
    protected_header: Mapping[int, Any]
    unprotected_header: Mapping[int, Any]
    payload: bytes | None
    signature: bytes

    def to_cbor(self) -> list[Any]:
        """The untagged array, as ISO/IEC 18013-5 embeds it."""
        return [self.protected, dict(self.unprotected_header), self.payload, self.signature]

    @property
    def alg(self) -> object:
        return self.protected_header.get(HEADER_ALG)

    def header(self, label: int) -> Any:
        """A header parameter from either bucket (protected first), or None."""
        if label in self.protected_header:
            return self.protected_header[label]
        return self.unprotected_header.get(label)


def protected_header_bytes(alg: int) -> bytes:
    """The serialized protected header ``{1: alg}``."""
    return encode({HEADER_ALG: alg})


def sig_structure(protected: bytes, payload: bytes, external_aad: bytes = b"") -> bytes:
    """RFC 9052 §4.4: ``ToBeSigned`` = ``["Signature1", protected, external_aad, payload]``.

    Built by splicing the encoded fields, so the (possibly large) payload is not copied
    through an encoder: these are exactly the bytes a signer signs."""
    return b"".join(
        (
            array_header(4),
            b"\x6aSignature1",
            encode(protected),
            encode(external_aad),
            encode(payload),
        )
    )


def cose_id_for(signer_alg: str) -> int:
    try:
        return COSE_ID_FOR_JOSE[signer_alg]
    except KeyError:
        raise ValueError(f"no COSE algorithm for a signer of {signer_alg!r}") from None


def assemble_sign1(
    protected: bytes,
    signature: bytes,
    *,
    payload: bytes | None,
    unprotected: Mapping[int, Any] | None = None,
) -> CoseSign1:
    """A COSE_Sign1 from its serialized protected header and a raw signature made over
    :func:`sig_structure` (``payload`` None for a detached payload)."""
    protected_header = _decode_header(protected) if protected else {}
    return CoseSign1(protected, protected_header, dict(unprotected or {}), payload, signature)


def sign1(
    payload: bytes,
    signer: Signer,
    *,
    unprotected: Mapping[int, Any] | None = None,
    detached: bool = False,
) -> CoseSign1:
    """Sign ``payload`` with ``signer``; with ``detached`` the payload is left out (nil)."""
    protected = protected_header_bytes(cose_id_for(signer.alg))
    signature = signer.sign(sig_structure(protected, payload))
    return assemble_sign1(
        protected, signature, payload=None if detached else payload, unprotected=unprotected
    )


def x5chain_header(x5c: Sequence[str]) -> bytes | list[bytes]:
    """RFC 9360 §2 ``x5chain`` from a signer's ``x5c`` (base64 DER, leaf first): one
    certificate as a byte string, more as an array of them."""
    ders = [base64.b64decode(value, validate=True) for value in x5c]
    if not ders:
        raise ValueError("an x5chain needs at least one certificate")
    return ders[0] if len(ders) == 1 else ders


def parse_cose_sign1(value: object, where: str) -> CoseSign1:
    """Read an untagged (or tag 18) COSE_Sign1 from decoded CBOR."""
    if type(value) is not list and getattr(value, "tag", None) == TAG_COSE_SIGN1:
        value = getattr(value, "value", None)
    if type(value) is not list or len(value) != 4:
        raise MalformedMdoc(f"{where} must be a COSE_Sign1 array of four items")
    protected, unprotected, payload, signature = value
    if type(protected) is not bytes:
        raise MalformedMdoc(f"{where} protected header must be a byte string")
    if type(unprotected) is not dict or not all(type(k) is int for k in unprotected):
        raise MalformedMdoc(f"{where} unprotected header must be a map with integer labels")
    if payload is not None and type(payload) is not bytes:
        raise MalformedMdoc(f"{where} payload must be a byte string or null")
    if type(signature) is not bytes:
        raise MalformedMdoc(f"{where} signature must be a byte string")
    try:
        protected_header = _decode_header(protected) if protected else {}
    except MdocError as exc:
        raise MalformedMdoc(f"{where} protected header: {exc}") from exc
    if HEADER_CRIT in protected_header or HEADER_CRIT in unprotected:
        raise MalformedMdoc(f"{where} names critical header parameters, none are understood")
    if set(protected_header).intersection(unprotected):
        raise MalformedMdoc(f"{where} has a header parameter in both buckets (RFC 9052 §3)")
    return CoseSign1(protected, protected_header, unprotected, payload, signature)


def _decode_header(protected: bytes) -> dict[int, Any]:
    try:
        header = decode(protected, limits=_HEADER_LIMITS)
    except MalformedCbor as exc:
        raise MalformedMdoc(f"the protected header is not CBOR: {exc}") from exc
    if type(header) is not dict or not all(type(k) is int for k in header):
        raise MalformedMdoc("the protected header must be a map with integer labels")
    return header


def verify_sign1(
    message: CoseSign1,
    key: PublicKey,
    *,
    algorithms: Collection[int],
    error: type[MdocError],
    detached_payload: bytes | None = None,
) -> int:
    """Check the signature of ``message`` with ``key``; return its COSE ``alg``.

    ``detached_payload`` is the payload of a message sent without one (it must then be
    nil). Every refusal is an ``error`` (the check the caller is running)."""
    alg = message.protected_header.get(HEADER_ALG)
    if HEADER_ALG in message.unprotected_header:
        raise error("alg must be in the protected header")
    if type(alg) is not int or alg not in algorithms or alg not in COSE_ALGORITHMS:
        raise error(f"COSE algorithm {alg!r} is not allowed")
    if detached_payload is not None:
        if message.payload is not None:
            raise error("the payload must be detached (nil)")
        payload = detached_payload
    elif message.payload is None:
        raise error("the payload is detached but none was given")
    else:
        payload = message.payload
    algorithm = COSE_ALGORITHMS[alg]
    try:
        algorithm.verify(key, message.signature, sig_structure(message.protected, payload))
    except JoseError as exc:
        raise error(f"the COSE_Sign1 signature does not verify ({exc})") from exc
    return alg


def x5chain_certificates(message: CoseSign1, where: str) -> list[x509.Certificate]:
    """RFC 9360 §2: the ``x5chain`` certificates, leaf first (not yet validated)."""
    value = message.header(HEADER_X5CHAIN)
    if value is None:
        raise MalformedMdoc(f"{where} has no x5chain (label 33)")
    ders = [value] if type(value) is bytes else value
    if type(ders) is not list or not 1 <= len(ders) <= MAX_CHAIN_LENGTH:
        raise MalformedMdoc(
            f"{where} x5chain must be a certificate or an array of up to {MAX_CHAIN_LENGTH}"
        )
    certificates = []
    for der in ders:
        if type(der) is not bytes or len(der) > MAX_CERTIFICATE_BYTES:
            raise MalformedMdoc(f"{where} x5chain holds an item that is not a certificate")
        try:
            certificate = x509.load_der_x509_certificate(der)
            # cryptography parses some fields only when read: read those that path
            # validation reads, so that a broken one is refused here, by name.
            _ = (certificate.subject, certificate.issuer, certificate.extensions)
            certificate.public_key()
        except (
            ValueError,
            TypeError,  # a name attribute of a string type its OID does not allow
            binascii.Error,
            x509.DuplicateExtension,
            x509.InvalidVersion,
            x509.UnsupportedGeneralNameType,
        ) as exc:
            raise MalformedMdoc(f"{where} x5chain holds an item that is not DER") from exc
        except UnsupportedAlgorithm as exc:
            raise MalformedMdoc(f"{where} x5chain holds a certificate not understood") from exc
        certificates.append(certificate)
    return certificates
