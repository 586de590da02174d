"""The compact SD-JWT and SD-JWT+KB serialization (RFC 9901 §4):
``<Issuer-signed JWT>~<Disclosure 1>~…~<Disclosure N>~[<KB-JWT>]``."""

from __future__ import annotations

from dataclasses import dataclass

from core.sdjwt.errors import MalformedSdJwt

DEFAULT_MAX_SD_JWT_BYTES = 512 * 1024
DEFAULT_MAX_DISCLOSURES = 1024


@dataclass(frozen=True, slots=True)
class SdJwtParts:
    issuer_jwt: str
    disclosures: tuple[str, ...]
    key_binding_jwt: str | None = None

    @property
    def sd_jwt(self) -> str:
        """The SD-JWT without KB-JWT, ending in ``~``: the input of ``sd_hash`` (§4.3.1)."""
        return "~".join((self.issuer_jwt, *self.disclosures, ""))

    def serialize(self) -> str:
        return self.sd_jwt + (self.key_binding_jwt or "")


def split_sd_jwt(
    text: str,
    *,
    max_bytes: int = DEFAULT_MAX_SD_JWT_BYTES,
    max_disclosures: int = DEFAULT_MAX_DISCLOSURES,
) -> SdJwtParts:
    if not isinstance(text, str):
        raise MalformedSdJwt("SD-JWT must be a string")
    if len(text) > max_bytes:
        raise MalformedSdJwt(f"SD-JWT larger than {max_bytes} bytes")
    # Split no further than the limit allows: more '~' than that remain in the last piece.
    pieces = text.split("~", max_disclosures + 1)
    if "~" in pieces[-1]:
        raise MalformedSdJwt(f"more than {max_disclosures} Disclosures")
    if len(pieces) < 2:
        raise MalformedSdJwt("an SD-JWT contains at least one '~'")
    issuer_jwt, disclosures, key_binding = pieces[0], pieces[1:-1], pieces[-1]
    if not issuer_jwt or "" in disclosures:
        raise MalformedSdJwt("empty Issuer-signed JWT or Disclosure")
    if key_binding and key_binding.count(".") != 2:
        raise MalformedSdJwt("the element after the last '~' is not a compact JWT")
    return SdJwtParts(issuer_jwt, tuple(disclosures), key_binding or None)
