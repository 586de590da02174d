"""Narrow JOSE errors; the use case that calls JOSE translates them into protocol errors."""


class JoseError(ValueError):
    """Base class: the token or key is not acceptable."""


class MalformedJose(JoseError):
    """Not a well-formed JWS/JWE (structure, encoding, JSON, size)."""


class AlgorithmNotAllowed(JoseError):
    """The ``alg``/``enc`` is not in the caller's allow-list."""


class InvalidSignature(JoseError):
    """The signature does not verify with the key."""


class InvalidJwk(JoseError):
    """A JWK that is malformed, private, off-curve or disagrees with its algorithm."""


class UnexpectedType(JoseError):
    """The ``typ`` header is missing or not the expected one."""


class UnsupportedCritical(JoseError):
    """A ``crit`` header names an extension this verifier does not understand."""


class DecryptionFailed(JoseError):
    """A JWE that does not decrypt with the key."""
