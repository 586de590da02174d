"""``IssuerSigned`` and its items (ISO/IEC 18013-5 §8.3.2.1.2.2), read and written.

```
IssuerSigned = {? "nameSpaces": IssuerNameSpaces, "issuerAuth": COSE_Sign1}
IssuerNameSpaces = {+ NameSpace => [+ IssuerSignedItemBytes]}
IssuerSignedItemBytes = #6.24(bstr .cbor IssuerSignedItem)
IssuerSignedItem = {"digestID": uint, "random": bstr,
                    "elementIdentifier": tstr, "elementValue": any}
```

An item keeps its exact ``IssuerSignedItemBytes``: the MSO digests those bytes (§9.1.2.5),
so they are never re-encoded, only carried. OpenID4VCI 1.0 Appendix A.2.4 returns an
issued mdoc as the base64url of the CBOR ``IssuerSigned`` (:func:`decode_issuer_signed`
reads that, or raw CBOR). Selecting items for a presentation (:meth:`IssuerSigned.select`)
keeps the items' bytes and the ``issuerAuth`` as they are.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from core.encoding import EncodingError, b64url_decode, b64url_encode
from core.mdoc.cbor import DEFAULT_LIMITS, CborLimits, EncodedCbor, decode, encode
from core.mdoc.cose_sign1 import CoseSign1, parse_cose_sign1
from core.mdoc.decoded import as_list, as_map, byte_string, encoded, member, text, unsigned
from core.mdoc.errors import MalformedCbor, MalformedMdoc
from core.mdoc.mso import MobileSecurityObject, parse_mso

#: How many items one document may carry.
MAX_ITEMS_PER_DOCUMENT = 1024
#: ISO/IEC 18013-5 §9.1.2.5: ``random`` is at least 16 bytes.
MIN_RANDOM_BYTES = 16


@dataclass(frozen=True, slots=True)
class IssuerSignedItem:
    digest_id: int
    random: bytes
    element_identifier: str
    element_value: Any
    #: The exact ``IssuerSignedItemBytes`` (tag 24) this item was read from or built as.
    encoded: EncodedCbor


def build_item(
    digest_id: int, random: bytes, element_identifier: str, element_value: Any
) -> IssuerSignedItem:
    """A new item, encoded once (deterministically)."""
    item = {
        "digestID": digest_id,
        "random": random,
        "elementIdentifier": element_identifier,
        "elementValue": element_value,
    }
    return IssuerSignedItem(
        digest_id, random, element_identifier, element_value, EncodedCbor.of(item)
    )


def parse_item(value: object, where: str, limits: CborLimits = DEFAULT_LIMITS) -> IssuerSignedItem:
    tagged = encoded(value, where)
    item = as_map(tagged.decode(limits), where)
    return IssuerSignedItem(
        digest_id=unsigned(member(item, "digestID", where), f"{where}.digestID"),
        random=byte_string(member(item, "random", where), f"{where}.random"),
        element_identifier=text(
            member(item, "elementIdentifier", where), f"{where}.elementIdentifier"
        ),
        element_value=member(item, "elementValue", where),
        encoded=tagged,
    )


@dataclass(frozen=True, slots=True)
class IssuerSigned:
    name_spaces: Mapping[str, tuple[IssuerSignedItem, ...]]
    issuer_auth: CoseSign1

    def to_cbor(self) -> dict[str, Any]:
        value: dict[str, Any] = {"issuerAuth": self.issuer_auth.to_cbor()}
        if self.name_spaces:
            value["nameSpaces"] = {
                ns: [item.encoded for item in items] for ns, items in self.name_spaces.items()
            }
        return value

    def encode(self) -> bytes:
        return encode(self.to_cbor())

    def to_credential(self) -> str:
        """OpenID4VCI 1.0 Appendix A.2.4: base64url of the CBOR ``IssuerSigned``."""
        return b64url_encode(self.encode())

    def unverified_mso(self, limits: CborLimits = DEFAULT_LIMITS) -> MobileSecurityObject:
        """The MSO as the payload says, without checking any signature (for a holder that
        verified the mdoc on receipt and needs its ``docType`` to present it)."""
        return parse_mso(mso_payload(self.issuer_auth, "issuerAuth", limits))

    def select(self, disclose: Mapping[str, Collection[str]]) -> IssuerSigned:
        """Only the items named (name space → element identifiers), in their order here.

        Raises ``LookupError`` naming what is asked for and not there."""
        name_spaces: dict[str, tuple[IssuerSignedItem, ...]] = {}
        for ns, names in disclose.items():
            wanted = set(names)
            items = tuple(i for i in self.name_spaces.get(ns, ()) if i.element_identifier in wanted)
            missing = wanted - {i.element_identifier for i in items}
            if missing:
                raise LookupError(f"the mdoc has no {sorted(missing)} in name space {ns!r}")
            if items:
                name_spaces[ns] = items
        return IssuerSigned(name_spaces, self.issuer_auth)


def mso_payload(issuer_auth: CoseSign1, where: str, limits: CborLimits = DEFAULT_LIMITS) -> Any:
    """The decoded MSO inside ``issuerAuth``'s payload, ``MobileSecurityObjectBytes``:
    tag 24 around the MSO's encoding (ISO/IEC 18013-5 §9.1.2.4)."""
    if issuer_auth.payload is None:
        raise MalformedMdoc(f"{where} has no payload")
    wrapped = decode(issuer_auth.payload, limits=limits)
    return encoded(wrapped, f"{where} payload").decode(limits)


def parse_issuer_signed(
    value: object, where: str = "IssuerSigned", limits: CborLimits = DEFAULT_LIMITS
) -> IssuerSigned:
    issuer_signed = as_map(value, where)
    issuer_auth = parse_cose_sign1(
        member(issuer_signed, "issuerAuth", where), f"{where}.issuerAuth"
    )
    name_spaces: dict[str, tuple[IssuerSignedItem, ...]] = {}
    count = 0
    for ns, items in as_map(issuer_signed.get("nameSpaces", {}), f"{where}.nameSpaces").items():
        ns_where = f"{where}.nameSpaces[{text(ns, f'{where}.nameSpaces key')!r}]"
        listed = as_list(items, ns_where, non_empty=True)
        count += len(listed)
        if count > MAX_ITEMS_PER_DOCUMENT:
            raise MalformedMdoc(f"{where} has more than {MAX_ITEMS_PER_DOCUMENT} items")
        name_spaces[ns] = tuple(
            parse_item(item, f"{ns_where}[{index}]", limits) for index, item in enumerate(listed)
        )
    return IssuerSigned(name_spaces, issuer_auth)


def decode_issuer_signed(
    credential: str | bytes, limits: CborLimits = DEFAULT_LIMITS
) -> IssuerSigned:
    """An ``IssuerSigned`` from a Credential Response's base64url text, or raw CBOR."""
    if isinstance(credential, str):
        if len(credential) > limits.max_bytes * 4 // 3 + 4:
            raise MalformedCbor(f"the credential is larger than {limits.max_bytes} bytes")
        try:
            credential = b64url_decode(credential)
        except EncodingError as exc:
            raise MalformedCbor("the credential is not base64url") from exc
    return parse_issuer_signed(decode(credential, limits=limits), limits=limits)
