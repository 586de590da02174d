"""The Mobile Security Object (ISO/IEC 18013-5 §9.1.2.4), built and read.

```
MobileSecurityObject = {
  "version": tstr,                      ; "1.0"
  "digestAlgorithm": tstr,              ; "SHA-256", "SHA-384" or "SHA-512"
  "valueDigests": {+ NameSpace => {+ DigestID => Digest}},
  "deviceKeyInfo": {"deviceKey": COSE_Key, ? "keyAuthorizations": KeyAuthorizations,
                    ? "keyInfo": {+ int => any}},
  "docType": tstr,
  "validityInfo": {"signed": tdate, "validFrom": tdate, "validUntil": tdate,
                   ? "expectedUpdate": tdate},
  ? "status": {"status_list": {"idx": uint, "uri": tstr}}   ; Token Status List §6.3
}
KeyAuthorizations = {? "nameSpaces": [+ NameSpace],
                     ? "dataElements": {+ NameSpace => [+ DataElementIdentifier]}}
```

The ``status`` member is the Token Status List's binding for mdoc (draft -14 §6.3.2, the
version HAIP 1.0 pins; the same CBOR structure in -20 §6.3): a map of status mechanisms,
``status_list`` carrying the index and URI of a Referenced Token (§6.2). Other mechanisms
(ISO/IEC 18013-5 second edition's ``identifier_list``) are reported by name so a caller
can refuse what it cannot check. Unknown MSO members are ignored, as the standard's later
editions add some; ``version`` must be of major version 1.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.mdoc.cose_key import jwk_from_cose_key
from core.mdoc.decoded import as_list, as_map, byte_string, member, text, unsigned
from core.mdoc.errors import MalformedMdoc, UnsupportedVersion
from core.status_list.bits import StatusListError
from core.status_list.token import StatusReference, parse_status_claim

MSO_VERSION = "1.0"
_MAJOR_VERSION_1 = re.compile(r"1\.\d{1,3}")

#: ISO/IEC 18013-5 §9.1.2.5: digest algorithms by their MSO names.
DIGEST_ALGORITHMS: dict[str, Callable[[bytes], Any]] = {
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}
DEFAULT_DIGEST_ALGORITHMS: frozenset[str] = frozenset(DIGEST_ALGORITHMS)


def digest(algorithm: str, data: bytes) -> bytes:
    return bytes(DIGEST_ALGORITHMS[algorithm](data).digest())


def check_version(value: object, where: str) -> str:
    """ISO/IEC 18013-5 versions are ``major.minor``; only major version 1 is understood."""
    version = text(value, where)
    if not _MAJOR_VERSION_1.fullmatch(version):
        raise UnsupportedVersion(f"{where} {version!r} is not a version 1.x")
    return version


@dataclass(frozen=True, slots=True)
class ValidityInfo:
    """ISO/IEC 18013-5 §9.1.2.4 ``ValidityInfo``: aware UTC datetimes."""

    signed: dt.datetime
    valid_from: dt.datetime
    valid_until: dt.datetime
    expected_update: dt.datetime | None = None

    def to_cbor(self) -> dict[str, dt.datetime]:
        value = {
            "signed": self.signed,
            "validFrom": self.valid_from,
            "validUntil": self.valid_until,
        }
        if self.expected_update is not None:
            value["expectedUpdate"] = self.expected_update
        return value


@dataclass(frozen=True, slots=True)
class KeyAuthorizations:
    """ISO/IEC 18013-5 §9.1.2.4: which device-signed data elements the device key may
    sign (whole name spaces, or single elements)."""

    name_spaces: frozenset[str] = frozenset()
    data_elements: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def allows(self, name_space: str, element: str) -> bool:
        return name_space in self.name_spaces or element in self.data_elements.get(
            name_space, frozenset()
        )


@dataclass(frozen=True, slots=True)
class MobileSecurityObject:
    version: str
    digest_algorithm: str
    value_digests: Mapping[str, Mapping[int, bytes]]
    device_key: Mapping[int, Any]
    #: The device key as a public JWK (checked to be on its curve).
    device_key_jwk: dict[str, str]
    key_authorizations: KeyAuthorizations
    doc_type: str
    validity: ValidityInfo
    status: StatusReference | None
    #: Status mechanisms other than ``status_list`` that the MSO names.
    other_status_mechanisms: tuple[str, ...] = ()


def build_mso(
    *,
    doc_type: str,
    digest_algorithm: str,
    value_digests: Mapping[str, Mapping[int, bytes]],
    device_key: Mapping[int, Any],
    validity: ValidityInfo,
    status: StatusReference | None = None,
) -> dict[str, Any]:
    """The MSO as a CBOR value, ready to be encoded and wrapped in tag 24."""
    if digest_algorithm not in DIGEST_ALGORITHMS:
        raise ValueError(f"digest algorithm {digest_algorithm!r} is not supported")
    mso: dict[str, Any] = {
        "version": MSO_VERSION,
        "digestAlgorithm": digest_algorithm,
        "valueDigests": {ns: dict(digests) for ns, digests in value_digests.items()},
        "deviceKeyInfo": {"deviceKey": dict(device_key)},
        "docType": doc_type,
        "validityInfo": validity.to_cbor(),
    }
    if status is not None:
        mso["status"] = status.to_claim()
    return mso


def parse_mso(value: object, where: str = "MobileSecurityObject") -> MobileSecurityObject:
    """Read a decoded MSO; :class:`MalformedMdoc` for anything out of shape."""
    mso = as_map(value, where)
    version = check_version(member(mso, "version", where), f"{where}.version")
    digest_algorithm = text(member(mso, "digestAlgorithm", where), f"{where}.digestAlgorithm")
    doc_type = text(member(mso, "docType", where), f"{where}.docType")
    value_digests = _value_digests(member(mso, "valueDigests", where), f"{where}.valueDigests")
    key_info_where = f"{where}.deviceKeyInfo"
    key_info = as_map(member(mso, "deviceKeyInfo", where), key_info_where)
    device_key = as_map(
        member(key_info, "deviceKey", key_info_where), f"{key_info_where}.deviceKey"
    )
    device_key_jwk = jwk_from_cose_key(device_key, f"{key_info_where}.deviceKey")
    authorizations = _key_authorizations(
        key_info.get("keyAuthorizations"), f"{key_info_where}.keyAuthorizations"
    )
    validity = _validity(member(mso, "validityInfo", where), f"{where}.validityInfo")
    status, others = _status(mso.get("status"), f"{where}.status")
    return MobileSecurityObject(
        version=version,
        digest_algorithm=digest_algorithm,
        value_digests=value_digests,
        device_key=device_key,
        device_key_jwk=device_key_jwk,
        key_authorizations=authorizations,
        doc_type=doc_type,
        validity=validity,
        status=status,
        other_status_mechanisms=others,
    )


def _value_digests(value: object, where: str) -> dict[str, dict[int, bytes]]:
    digests: dict[str, dict[int, bytes]] = {}
    for name_space, ids in as_map(value, where).items():
        ns = text(name_space, f"{where} key")
        by_id: dict[int, bytes] = {}
        for digest_id, digest_value in as_map(ids, f"{where}[{ns!r}]").items():
            number = unsigned(digest_id, f"{where}[{ns!r}] digestID")
            by_id[number] = byte_string(digest_value, f"{where}[{ns!r}][{number}]")
        digests[ns] = by_id
    return digests


def _key_authorizations(value: object, where: str) -> KeyAuthorizations:
    if value is None:
        return KeyAuthorizations()
    authorizations = as_map(value, where)
    name_spaces = frozenset(
        text(ns, f"{where}.nameSpaces[]")
        for ns in as_list(authorizations.get("nameSpaces", []), f"{where}.nameSpaces")
    )
    data_elements = {
        text(ns, f"{where}.dataElements key"): frozenset(
            text(element, f"{where}.dataElements[]")
            for element in as_list(elements, f"{where}.dataElements[{ns!r}]")
        )
        for ns, elements in as_map(
            authorizations.get("dataElements", {}), f"{where}.dataElements"
        ).items()
    }
    return KeyAuthorizations(name_spaces, data_elements)


def _tdate(value: object, where: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise MalformedMdoc(f"{where} must be a tdate (tag 0)")
    return value


def _validity(value: object, where: str) -> ValidityInfo:
    validity = as_map(value, where)
    expected = validity.get("expectedUpdate")
    info = ValidityInfo(
        signed=_tdate(member(validity, "signed", where), f"{where}.signed"),
        valid_from=_tdate(member(validity, "validFrom", where), f"{where}.validFrom"),
        valid_until=_tdate(member(validity, "validUntil", where), f"{where}.validUntil"),
        expected_update=None if expected is None else _tdate(expected, f"{where}.expectedUpdate"),
    )
    if info.valid_until < info.valid_from:
        raise MalformedMdoc(f"{where}.validUntil is before validFrom")
    return info


def _status(value: object, where: str) -> tuple[StatusReference | None, tuple[str, ...]]:
    if value is None:
        return None, ()
    status = as_map(value, where)
    others = tuple(sorted(str(name) for name in status if name != "status_list"))
    if "status_list" not in status:
        return None, others
    try:
        return parse_status_claim(status), others
    except StatusListError as exc:
        raise MalformedMdoc(f"{where}: {exc}") from exc
