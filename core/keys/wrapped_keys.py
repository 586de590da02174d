"""Keys made in the PKCS#11 token and kept outside it only wrapped: the citizens' server-held
holder keys, too many for one token object each (a national wallet holds hundreds of
millions of them, far beyond what an HSM partition stores).

``WrappedKeyVault.new_key`` generates an EC key pair in the token (a session object) and
gives its public JWK and the *kept* bytes: the label of the wrapping key and the private
key wrapped under it (``CKM_AES_KEY_WRAP_PAD``, RFC 5649). The wrapping key is a token
object that never leaves the token, so the kept bytes sign nothing anywhere else; the
caller stores them (the wallet seals them under the account's data key as well).

``WrappedKeySigner`` signs by having the token unwrap the key into a session object for
one signature (``Pkcs11Token.sign_with_wrapped_key``); the signature must verify under the
public key on record, or nothing is returned. A token that does not answer fails closed:
``KeyStoreUnavailable``, answered 503 with ``Retry-After``.

The wrapping key's label is kept with each key, so keys wrapped under an earlier wrapping
key keep signing after new keys are wrapped under another one.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.jose.algorithms import SIGNATURE_ALGORITHMS
from core.jose.jwk import public_jwk
from core.keys.pkcs11_token import CURVE_PARAMETERS, Pkcs11Token
from core.keys.pkcs11_vault import (
    digest_of,
    public_key_of_jwk,
    public_key_of_point,
    signature_check,
)
from core.keys.records import WrongKeyKind

#: Longest wrapping key label (its length is one byte of the kept bytes).
MAX_LABEL_BYTES = 255


def kept_bytes(wrapping_label: str, blob: bytes) -> bytes:
    """The kept form of a wrapped key: the label's length (one byte), the label (UTF-8),
    the wrapped private key."""
    label = wrapping_label.encode("utf-8")
    if not 0 < len(label) <= MAX_LABEL_BYTES:
        raise ValueError("a wrapping key label is 1 to 255 bytes")
    return bytes([len(label)]) + label + blob


def read_kept(kept: bytes) -> tuple[str, bytes]:
    """The wrapping key's label and the wrapped private key of ``kept_bytes``."""
    if not kept:
        raise WrongKeyKind("no wrapped key")
    length = kept[0]
    label, blob = kept[1 : 1 + length], kept[1 + length :]
    if length == 0 or len(label) != length or not blob:
        raise WrongKeyKind("a wrapped key is not in its kept form")
    return label.decode("utf-8"), blob


class WrappedKeySigner:
    """A signer whose private key is wrapped by the token and used only inside it."""

    __slots__ = ("_algorithm", "_blob", "_kid", "_label", "_public", "_public_jwk", "_token")

    def __init__(
        self,
        token: Pkcs11Token,
        wrapping_label: str,
        blob: bytes,
        *,
        kid: str,
        alg: str,
        jwk: Mapping[str, str],
    ) -> None:
        self._token = token
        self._label = wrapping_label
        self._blob = blob
        self._kid = kid
        self._algorithm = SIGNATURE_ALGORITHMS[alg]
        if jwk.get("kty") != "EC" or jwk.get("crv") != self._algorithm.curve:
            raise WrongKeyKind(f"a wrapped key on record is not a {self._algorithm.curve} key")
        self._public_jwk = dict(jwk)
        self._public = public_key_of_jwk(jwk, self._algorithm.curve)

    @property
    def kid(self) -> str:
        return self._kid

    @property
    def alg(self) -> str:
        return self._algorithm.name

    @property
    def x5c(self) -> tuple[str, ...] | None:
        return None

    def public_jwk(self) -> dict[str, str]:
        return dict(self._public_jwk)

    def sign(self, data: bytes) -> bytes:
        return self._token.sign_with_wrapped_key(
            self._label,
            self._blob,
            digest_of(self._algorithm, data),
            signature_check(self._algorithm, self._public, data),
        )


class WrappedKeyVault:
    """Makes keys in ``token`` wrapped under its wrapping key ``wrapping_label`` (made in
    the token at first use), and signs with them."""

    def __init__(self, token: Pkcs11Token, wrapping_label: str, alg: str = "ES256") -> None:
        algorithm = SIGNATURE_ALGORITHMS.get(alg)
        if algorithm is None or algorithm.curve not in CURVE_PARAMETERS:
            raise WrongKeyKind(f"{alg} keys are not made in the token")
        kept_bytes(wrapping_label, b"\0")  # the label fits its kept form
        self.token = token
        self.wrapping_label = wrapping_label
        self.alg = alg
        self._curve = algorithm.curve

    def new_key(self) -> tuple[dict[str, str], bytes]:
        """A fresh key pair made in the token: its public JWK and its kept bytes."""
        point, blob = self.token.generate_wrapped_key(self.wrapping_label, self._curve)
        jwk = public_jwk(public_key_of_point(point, self._curve))
        return jwk, kept_bytes(self.wrapping_label, blob)

    def signer(self, kept: bytes, public_jwk: Mapping[str, str], kid: str) -> WrappedKeySigner:
        label, blob = read_kept(kept)
        return WrappedKeySigner(self.token, label, blob, kid=kid, alg=self.alg, jwk=public_jwk)
