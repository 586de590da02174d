"""PKCS#11 URIs (RFC 7512) naming one key in a token: ``pkcs11:token=…;object=…;id=…``,
as operators write them for keys they made in the HSM themselves (the deployment's trust
anchor, its wallet-provider CA). Only the path attributes that select a key are taken
(``token``, ``object`` = ``CKA_LABEL``, ``id`` = ``CKA_ID``, ``type=private``); anything
else is refused rather than ignored, so a URI never selects more than its author meant."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

SCHEME = "pkcs11:"
_ATTRIBUTES = frozenset({"token", "object", "id", "type"})


class InvalidPkcs11Uri(ValueError):
    """Not a PKCS#11 URI naming one private key."""


@dataclass(frozen=True, slots=True)
class Pkcs11KeyUri:
    token: str | None
    label: str | None
    key_id: bytes | None


def is_pkcs11_uri(value: str) -> bool:
    return value.startswith(SCHEME)


def parse_pkcs11_uri(uri: str) -> Pkcs11KeyUri:
    if not is_pkcs11_uri(uri):
        raise InvalidPkcs11Uri("a PKCS#11 URI starts with pkcs11:")
    path = uri[len(SCHEME) :].split("?", 1)[0]
    values: dict[str, bytes] = {}
    for part in filter(None, path.split(";")):
        name, equals, value = part.partition("=")
        if not equals or name not in _ATTRIBUTES:
            raise InvalidPkcs11Uri(f"unsupported PKCS#11 URI attribute {name!r}")
        if name in values:
            raise InvalidPkcs11Uri(f"the PKCS#11 URI names {name} twice")
        values[name] = unquote_to_bytes(value)
    if values.get("type", b"private") != b"private":
        raise InvalidPkcs11Uri("the PKCS#11 URI must name a private key (type=private)")
    if "object" not in values and "id" not in values:
        raise InvalidPkcs11Uri("the PKCS#11 URI must name the key by object or id")
    try:
        token = values["token"].decode("utf-8") if "token" in values else None
        label = values["object"].decode("utf-8") if "object" in values else None
    except UnicodeDecodeError as exc:
        raise InvalidPkcs11Uri("token and object must be UTF-8") from exc
    return Pkcs11KeyUri(token=token, label=label, key_id=values.get("id"))
