"""Building mdocs that are wrong in exactly one way, signed properly otherwise, for the
negative tests: a changed MSO re-signed, a changed item, a DeviceResponse re-encoded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from core.keys.signer import Signer
from core.mdoc.cbor import EncodedCbor, decode, encode
from core.mdoc.cose_sign1 import HEADER_X5CHAIN, sign1, x5chain_header
from core.mdoc.elements import MDL_DOC_TYPE, MDL_NAMESPACE
from core.mdoc.issue import IssuedMdoc, issue_mdoc
from core.mdoc.issuer_signed import IssuerSigned, IssuerSignedItem, mso_payload
from tests.core.mdoc.pki import NOW

DISCLOSED = {
    "family_name": "Mustermann",
    "given_name": "Erika",
    "birth_date": dt.date(1964, 8, 12),
    "issue_date": dt.date(2024, 1, 15),
    "expiry_date": dt.date(2034, 1, 14),
    "issuing_country": "DE",
    "document_number": "T22000129",
    "age_over_18": True,
    "age_over_21": True,
    "portrait": bytes.fromhex("ffd8ffe000104a464946") + b"\x00" * 64,
    "driving_privileges": [
        {
            "vehicle_category_code": "B",
            "issue_date": dt.date(2010, 3, 1),
            "expiry_date": dt.date(2034, 1, 14),
        },
        {
            "vehicle_category_code": "A",
            "issue_date": dt.date(2012, 5, 2),
            "codes": [{"code": "78", "sign": "=", "value": "automatic"}],
        },
    ],
}


def issue(
    signer: Signer,
    holder_jwk: dict[str, str],
    *,
    elements: dict[str, Any] | None = None,
    valid_from: dt.datetime = NOW - dt.timedelta(hours=1),
    valid_until: dt.datetime = NOW + dt.timedelta(days=365),
    **options: Any,
) -> IssuedMdoc:
    return issue_mdoc(
        {MDL_NAMESPACE: DISCLOSED if elements is None else elements},
        signer,
        doc_type=options.pop("doc_type", MDL_DOC_TYPE),
        holder_jwk=holder_jwk,
        signed=options.pop("signed", valid_from),
        valid_from=valid_from,
        valid_until=valid_until,
        **options,
    )


def resign_mso(
    issuer_signed: IssuerSigned, signer: Signer, change: Callable[[dict[str, Any]], None]
) -> IssuerSigned:
    """The same items with the MSO changed by ``change`` and signed again by ``signer``."""
    mso = mso_payload(issuer_signed.issuer_auth, "issuerAuth")
    change(mso)
    x5c = signer.x5c
    assert x5c is not None
    issuer_auth = sign1(
        EncodedCbor.of(mso).tagged(),
        signer,
        unprotected={HEADER_X5CHAIN: x5chain_header(x5c)},
    )
    return IssuerSigned(issuer_signed.name_spaces, issuer_auth)


def replace_item(
    issuer_signed: IssuerSigned, element: str, change: Callable[[dict[str, Any]], None]
) -> IssuerSigned:
    """The item of ``element`` re-encoded after ``change`` (its digest no longer fits)."""
    items = []
    for item in issuer_signed.name_spaces[MDL_NAMESPACE]:
        if item.element_identifier != element:
            items.append(item)
            continue
        value = item.encoded.decode()
        change(value)
        items.append(
            IssuerSignedItem(
                value["digestID"],
                value["random"],
                value["elementIdentifier"],
                value["elementValue"],
                EncodedCbor(encode(value)),
            )
        )
    return IssuerSigned({MDL_NAMESPACE: tuple(items)}, issuer_signed.issuer_auth)


def rewrite(device_response: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    value = decode(device_response)
    change(value)
    return encode(value)
