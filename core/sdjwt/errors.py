"""Narrow SD-JWT errors, one per verification failure of RFC 9901 §7."""

from core.jose.errors import JoseError


class SdJwtError(ValueError):
    """The SD-JWT or SD-JWT+KB is not valid."""


class MalformedSdJwt(SdJwtError):
    """Not in the §4 serialization, too large, or with malformed JSON."""


class IssuerSignatureInvalid(SdJwtError):
    """§7.1 step 2: the Issuer-signed JWT does not verify (algorithm, type or signature)."""

    def __init__(self, message: str, cause: JoseError | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class UnsupportedHashAlgorithm(SdJwtError):
    """§4.1.1: ``_sd_alg`` is not understood or not allowed."""


class InvalidDisclosure(SdJwtError):
    """§4.2 / §7.1 step 3: a Disclosure of the wrong shape, name or position."""


class DuplicateDigest(SdJwtError):
    """§7.1 step 4: a digest appears more than once."""


class UnreferencedDisclosure(SdJwtError):
    """§7.1 step 5: a Disclosure that no digest refers to."""


class ClaimCollision(SdJwtError):
    """§7.1 step 3.3.2.3: a disclosed claim name already exists at that level."""


class InvalidSdStructure(SdJwtError):
    """``_sd`` that is not an array of strings, or ``...`` used outside its §4.2.4.2 form."""


class ExpiredOrNotYetValid(SdJwtError):
    """§7.1 step 6: ``exp``/``nbf``/``iat`` put the SD-JWT outside its validity."""


class KeyBindingMissing(SdJwtError):
    """§7.3 step 2: key binding required but the presentation has no KB-JWT."""


class KeyBindingInvalid(SdJwtError):
    """§7.3 step 5: the KB-JWT fails a check (key, signature, typ, iat, nonce, aud, sd_hash)."""


class UnexpectedKeyBinding(SdJwtError):
    """§7.2: a Holder receiving an SD-JWT+KB from an Issuer must reject it."""
