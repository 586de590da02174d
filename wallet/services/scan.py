"""What a phone scanned: an ``openid-credential-offer://`` (OpenID4VCI 1.0 §4.1) or an
``openid4vp://`` request (OpenID4VP 1.0 §5, the ``haip-vp://`` scheme of HAIP alike),
checked before anything is fetched (SECURITY-CASES W03): bounded size, known scheme, no
repeated parameter, never both a value and a reference."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from core.errors import InvalidRequest, PayloadTooLarge

MAX_SCANNED_BYTES = 4096
OFFER_SCHEMES = frozenset({"openid-credential-offer", "haip-vci"})
REQUEST_SCHEMES = frozenset({"openid4vp", "haip-vp", "eudi-openid4vp"})


@dataclass(frozen=True, slots=True)
class Scanned:
    kind: str  # "offer" or "presentation"
    parameters: dict[str, str]


def parse_scanned(text: str) -> Scanned:
    if not text:
        raise InvalidRequest("the scanned text is missing")
    if len(text.encode("utf-8")) > MAX_SCANNED_BYTES:
        raise PayloadTooLarge(f"a scanned code holds at most {MAX_SCANNED_BYTES} bytes")
    try:
        parts = urlsplit(text.strip())
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    except ValueError as exc:
        raise InvalidRequest("the scanned text is not a URI") from exc
    scheme = parts.scheme.lower()
    if scheme in OFFER_SCHEMES:
        kind = "offer"
    elif scheme in REQUEST_SCHEMES:
        kind = "presentation"
    else:
        raise InvalidRequest("not a credential offer or presentation request")
    parameters: dict[str, str] = {}
    for name, values in query.items():
        if len(values) != 1:
            raise InvalidRequest(f"parameter {name!r} is repeated")
        parameters[name] = values[0]
    if kind == "offer":
        has_value, has_reference = (
            "credential_offer" in parameters,
            ("credential_offer_uri" in parameters),
        )
        if has_value == has_reference:
            raise InvalidRequest(
                "exactly one of credential_offer and credential_offer_uri is required"
            )
    return Scanned(kind, parameters)
