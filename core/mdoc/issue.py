"""Issuing an mdoc (ISO/IEC 18013-5 §9.1.2; OpenID4VCI 1.0 Appendix A.2).

For each data element an ``IssuerSignedItem`` with a fresh ``random`` (§9.1.2.5: at least
16 bytes, so a digest reveals nothing about its value) and a ``digestID`` drawn at random
and unique within its name space (so IDs do not give away the order or number of
elements). The MSO holds their digests, the holder's device key (a COSE_Key made from the
JWK its proof of possession carried), the ``docType``, the validity and, with a status
list, the Token Status List reference (``status.status_list``, draft -14 §6.3.2). The MSO
is signed as ``issuerAuth``: a COSE_Sign1 over ``MobileSecurityObjectBytes`` (tag 24) with
``alg`` protected and the document signer's ``x5chain`` unprotected (§9.1.2.4), signed
through a :class:`core.keys.signer.Signer` so that a hardware key can sign.

The issued credential is what OpenID4VCI A.2.4 returns: :meth:`IssuedMdoc.credential`, the
base64url of the CBOR ``IssuerSigned``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.encoding import b64url_encode
from core.keys.signer import Signer
from core.mdoc.cbor import EncodedCbor
from core.mdoc.cose_key import cose_key_from_jwk
from core.mdoc.cose_sign1 import HEADER_X5CHAIN, sign1, x5chain_header
from core.mdoc.elements import check_element_value
from core.mdoc.issuer_signed import MIN_RANDOM_BYTES, IssuerSigned, IssuerSignedItem, build_item
from core.mdoc.mso import DIGEST_ALGORITHMS, ValidityInfo, build_mso, digest
from core.status_list.token import StatusReference

RandomBytes = Callable[[int], bytes]
_DIGEST_ID_BITS = 31


@dataclass(frozen=True, slots=True)
class IssuedMdoc:
    issuer_signed: IssuerSigned
    #: The CBOR ``IssuerSigned``.
    encoded: bytes

    @property
    def credential(self) -> str:
        """OpenID4VCI 1.0 Appendix A.2.4: the ``credential`` of a Credential Response."""
        return b64url_encode(self.encoded)


def issue_mdoc(
    name_spaces: Mapping[str, Mapping[str, Any]],
    signer: Signer,
    *,
    doc_type: str,
    holder_jwk: Mapping[str, str],
    signed: dt.datetime,
    valid_from: dt.datetime,
    valid_until: dt.datetime,
    expected_update: dt.datetime | None = None,
    status: StatusReference | None = None,
    digest_algorithm: str = "SHA-256",
    x5chain: Sequence[str] | None = None,
    random_bytes: RandomBytes = os.urandom,
    random_length: int = MIN_RANDOM_BYTES,
) -> IssuedMdoc:
    """Sign ``name_spaces`` (name space → element identifier → value) as an mdoc.

    ``x5chain`` is the document signer's chain as ``x5c`` values (base64 DER, leaf first,
    no trust anchor); by default the signer's own. Raises ``ValueError`` for an element
    value that is not a CBOR data element (:mod:`core.mdoc.elements`), an empty document,
    times out of order (§9.1.2.4: ``signed`` <= ``validFrom`` < ``validUntil``), a short
    ``random`` or a signer without a certificate; :class:`core.jose.errors.InvalidJwk`
    for a holder key that is not a public key.
    """
    if digest_algorithm not in DIGEST_ALGORITHMS:
        raise ValueError(f"digest algorithm {digest_algorithm!r} is not supported")
    if random_length < MIN_RANDOM_BYTES:
        raise ValueError(f"random must be at least {MIN_RANDOM_BYTES} bytes")
    if not any(name_spaces.values()):
        raise ValueError("an mdoc needs at least one data element")
    if not signed <= valid_from < valid_until:
        # §9.1.2.4: validFrom is not before signed, and validUntil is after validFrom.
        raise ValueError("validity must run signed <= validFrom < validUntil")
    chain = x5chain if x5chain is not None else signer.x5c
    if not chain:
        raise ValueError("the document signer needs a certificate chain (x5chain)")
    device_key = cose_key_from_jwk(holder_jwk)

    items: dict[str, tuple[IssuerSignedItem, ...]] = {}
    value_digests: dict[str, dict[int, bytes]] = {}
    for name_space, elements in name_spaces.items():
        digest_ids = _random_digest_ids(len(elements), random_bytes)
        built = []
        for digest_id, (identifier, value) in zip(digest_ids, elements.items(), strict=True):
            check_element_value(value, f"{name_space}.{identifier}")
            random = random_bytes(random_length)
            if len(random) != random_length:
                raise ValueError("random_bytes returned the wrong number of bytes")
            built.append(build_item(digest_id, random, identifier, value))
        items[name_space] = tuple(built)
        value_digests[name_space] = {
            item.digest_id: digest(digest_algorithm, item.encoded.tagged()) for item in built
        }

    mso = build_mso(
        doc_type=doc_type,
        digest_algorithm=digest_algorithm,
        value_digests=value_digests,
        device_key=device_key,
        validity=ValidityInfo(signed, valid_from, valid_until, expected_update),
        status=status,
    )
    issuer_auth = sign1(
        EncodedCbor.of(mso).tagged(),
        signer,
        unprotected={HEADER_X5CHAIN: x5chain_header(chain)},
    )
    issuer_signed = IssuerSigned({ns: i for ns, i in items.items() if i}, issuer_auth)
    return IssuedMdoc(issuer_signed, issuer_signed.encode())


def _random_digest_ids(count: int, random_bytes: RandomBytes) -> list[int]:
    """``count`` distinct digest IDs, uniformly drawn from [0, 2^31)."""
    chosen: list[int] = []
    seen: set[int] = set()
    while len(chosen) < count:
        candidate = int.from_bytes(random_bytes(4), "big") >> (32 - _DIGEST_ID_BITS)
        if candidate not in seen:
            seen.add(candidate)
            chosen.append(candidate)
    return chosen
