"""Checking DPoP proofs (RFC 9449 §4.3) and what a verified proof yields: the JWK SHA-256
thumbprint of its key (``jkt``, RFC 7638) to bind a token to (``cnf.jkt``, §6.1) and to
compare with the key a presented token is bound to (§4.3 check 12, §7.1).

The checks, in order: one ``DPoP`` header value (check 1), its size before anything is
parsed, one well-formed JWT in strict JSON (check 2), ``typ`` ``dpop+jwt`` (check 4),
``alg`` in an explicit allow-list of asymmetric algorithms (check 5; ``none``, HMAC and RSA
cannot be named), a ``jwk`` header that is a public key (check 7) and verifies the
signature (check 6), the required claims (check 3), ``htm`` (check 8), ``htu`` (check 9,
``core.dpop.target_uri``), ``iat`` within the acceptance window (check 11, §11.1), ``ath``
when an access token is presented (check 12, §7), the server nonce where the endpoint
requires one (check 10, §8, §9), and last the ``jti``, recorded as used only once every
other check has passed (§11.1), so a refused proof does not use it up. ``check`` does
every check but that last one and hands the ``jti`` back as a ``SingleUse``, for a caller
that records it in the same statement as the change the proof authorizes.

Refusals are :class:`InvalidDpopProof` (token endpoint, 400) or, when an access token is
presented, :class:`InvalidDpopProofAtResource` (401 with ``WWW-Authenticate: DPoP``); a
missing or stale nonce is :class:`UseDpopNonce` / :class:`UseDpopNonceAtResource`, which
carry the fresh nonce for the ``DPoP-Nonce`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.clock import SYSTEM_CLOCK, Clock
from core.dpop.nonces import DpopNonces
from core.dpop.target_uri import normalized_target_uri
from core.dpop.token68 import is_token68
from core.encoding import b64url_encode
from core.errors import (
    InvalidDpopBoundToken,
    InvalidDpopProof,
    InvalidDpopProofAtResource,
    UseDpopNonce,
    UseDpopNonceAtResource,
)
from core.jose.algorithms import SIGNATURE_ALGORITHMS
from core.jose.errors import (
    AlgorithmNotAllowed,
    InvalidJwk,
    InvalidSignature,
    JoseError,
    UnexpectedType,
)
from core.jose.jwk import PRIVATE_MEMBERS, jwk_thumbprint, public_jwk, public_key_from_jwk
from core.jose.jws import decode_unverified, verify_decoded
from core.replay import SeenOnce, SingleUse, use_up

DPOP_PROOF_TYPE = "dpop+jwt"
#: The algorithms a proof may be signed with: the registry's asymmetric ones (RFC 9449 §4.2).
DPOP_ALGORITHMS: frozenset[str] = frozenset({"ES256", "ES384", "ES512", "EdDSA"})
#: The ``SeenOnce`` scope of proof identifiers.
DPOP_REPLAY_SCOPE = "dpop"

DEFAULT_MAX_PROOF_BYTES = 8 * 1024
_MAX_CLAIMS_DEPTH = 8
_MAX_METHOD_LENGTH = 32


@dataclass(frozen=True, slots=True)
class DpopPolicy:
    """What this server accepts (RFC 9449 §11.1): proofs created at most ``max_age``
    seconds ago and at most ``future_leeway`` seconds ahead of its clock, ``jti`` values of
    at most ``max_jti_length`` characters, proofs of at most ``max_proof_bytes``."""

    algorithms: frozenset[str] = DPOP_ALGORITHMS
    max_age: float = 60.0
    future_leeway: float = 5.0
    max_jti_length: int = 128
    max_proof_bytes: int = DEFAULT_MAX_PROOF_BYTES

    def __post_init__(self) -> None:
        if not self.algorithms or not self.algorithms <= SIGNATURE_ALGORITHMS.keys():
            raise ValueError("DPoP algorithms must be registered asymmetric algorithms")
        if not 0 < self.max_age <= 3600 or not 0 <= self.future_leeway <= 300:
            raise ValueError("the DPoP acceptance window must be brief (RFC 9449 §11.1)")
        if not 16 <= self.max_jti_length <= 1024 or not 512 <= self.max_proof_bytes <= 65536:
            raise ValueError("DPoP size limits out of range")


@dataclass(frozen=True, slots=True)
class VerifiedDpopProof:
    """A proof that passed every check: its key's thumbprint and public JWK, its ``jti``
    and creation time."""

    jkt: str
    jwk: dict[str, str]
    jti: str
    issued_at: float

    def confirmation(self) -> dict[str, str]:
        """The ``cnf`` claim that binds a token issued for this proof to its key (§6.1)."""
        return {"jkt": self.jkt}

    def check_binding(self, bound_jkt: str) -> None:
        """The token presented with this proof must be bound to the proof's key (§4.3
        check 12, §7.1); :class:`InvalidDpopBoundToken` (401, ``WWW-Authenticate: DPoP
        error="invalid_token"``) if it is bound to another."""
        if not hmac.compare_digest(bound_jkt.encode(), self.jkt.encode()):
            raise InvalidDpopBoundToken("the access token is not bound to the DPoP proof's key")


@dataclass(frozen=True, slots=True)
class CheckedDpopProof:
    """A proof that passed every check but the last: its ``jti``, still to be used up."""

    proof: VerifiedDpopProof
    jti: SingleUse


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url of the SHA-256 of the token's ASCII bytes (RFC 9449 §4.2)."""
    return b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest())


class DpopProofVerifier:
    """Verifies the ``DPoP`` header of a request. ``seen`` remembers used ``jti`` values
    across workers; ``nonces`` checks and issues server nonces."""

    def __init__(
        self,
        seen: SeenOnce,
        nonces: DpopNonces,
        *,
        clock: Clock = SYSTEM_CLOCK,
        policy: DpopPolicy | None = None,
    ) -> None:
        self._seen = seen
        self._nonces = nonces
        self._clock = clock
        self._policy = policy or DpopPolicy()

    async def verify(
        self,
        dpop_header_values: Sequence[str],
        *,
        method: str,
        uri: str,
        access_token: str | None = None,
        nonce_server: str | None = None,
    ) -> VerifiedDpopProof:
        """Check the proof of a request (RFC 9449 §4.3), its ``jti`` last: ``check``, then
        the ``jti`` used up."""
        checked = self.check(
            dpop_header_values,
            method=method,
            uri=uri,
            access_token=access_token,
            nonce_server=nonce_server,
        )
        await use_up(self._seen, checked.jti)
        return checked.proof

    def check(
        self,
        dpop_header_values: Sequence[str],
        *,
        method: str,
        uri: str,
        access_token: str | None = None,
        nonce_server: str | None = None,
    ) -> CheckedDpopProof:
        """Every check of the proof of a request (RFC 9449 §4.3) but the ``jti``'s, which
        the caller uses up (``core.replay``) before it acts on the proof.

        ``dpop_header_values``: every ``DPoP`` header value of the request, as received.
        ``method`` and ``uri``: the request's method and its target URI as the client
        addressed it (the deployment's public URL of the endpoint). ``access_token``: the
        token presented with the proof at a protected resource (§7), which makes ``ath``
        required and refusals the resource's 401s. ``nonce_server``: the server whose
        nonce the proof must carry (§8, §9), None where the endpoint requires none.
        """
        at_resource = access_token is not None
        refuse = InvalidDpopProofAtResource if at_resource else InvalidDpopProof
        policy = self._policy
        claims, key_jwk = self._verified_claims(dpop_header_values, refuse)
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise refuse("the DPoP proof lacks its jti claim")
        if len(jti) > policy.max_jti_length:
            raise refuse("the DPoP proof's jti is too long")
        htm = claims.get("htm")
        if not isinstance(htm, str):
            raise refuse("the DPoP proof lacks its htm claim")
        if len(method) > _MAX_METHOD_LENGTH or htm != method:
            raise refuse("the DPoP proof is for another HTTP method")
        htu = normalized_target_uri(claims.get("htu"))
        if htu is None:
            raise refuse("the DPoP proof lacks a valid htu claim")
        if htu != normalized_target_uri(uri):
            raise refuse("the DPoP proof is for another URI")
        iat = claims.get("iat")
        if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
            raise refuse("the DPoP proof lacks its iat claim")
        now = self._clock.now()
        if iat < now - policy.max_age:
            raise refuse("the DPoP proof is too old")
        if iat > now + policy.future_leeway:
            raise refuse("the DPoP proof was created in the future")
        if access_token is not None:
            ath = claims.get("ath")
            if not isinstance(ath, str):
                raise refuse("the DPoP proof lacks the ath claim for the access token")
            if not access_token.isascii() or not hmac.compare_digest(
                ath.encode(), access_token_hash(access_token).encode()
            ):
                raise refuse("the DPoP proof's ath does not match the access token")
        if nonce_server is not None:
            self._check_nonce(claims.get("nonce"), nonce_server, at_resource)
        jkt = jwk_thumbprint(key_jwk)
        # The proof is accepted until iat + max_age; remembered a leeway longer for workers
        # whose clocks run behind. Scoped by key: no one can use up another key's jti.
        keep_until = float(iat) + policy.max_age + policy.future_leeway
        return CheckedDpopProof(
            VerifiedDpopProof(jkt=jkt, jwk=key_jwk, jti=jti, issued_at=float(iat)),
            SingleUse(
                DPOP_REPLAY_SCOPE,
                f"{jkt} {jti}",
                keep_until,
                refuse("the DPoP proof was used before"),
            ),
        )

    def _verified_claims(
        self, values: Sequence[str], refuse: type[InvalidDpopProof]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Checks 1, 2 and 4 to 7: the proof's claims and the public JWK that signed it."""
        policy = self._policy
        if not values:
            raise refuse("a DPoP proof is required")
        if len(values) > 1:
            raise refuse("send exactly one DPoP header")
        value = values[0]
        if len(value) > policy.max_proof_bytes:
            raise refuse("the DPoP proof is too large")
        value = value.strip(" \t")
        if not is_token68(value):
            raise refuse("the DPoP header is not one JWT")
        try:
            parsed = decode_unverified(value, max_bytes=policy.max_proof_bytes)
        except JoseError as exc:
            raise refuse("the DPoP proof is not a well-formed JWT") from exc
        jwk = parsed.header.get("jwk")
        if not isinstance(jwk, dict):
            raise refuse("the DPoP proof lacks its jwk header")
        if PRIVATE_MEMBERS.intersection(jwk):
            raise refuse("the DPoP proof's jwk must not contain a private key")
        try:
            key = public_key_from_jwk(jwk)
        except InvalidJwk as exc:
            raise refuse("the DPoP proof's jwk is not an acceptable public key") from exc
        try:
            verified = verify_decoded(
                parsed,
                key,
                algorithms=policy.algorithms,
                typ=DPOP_PROOF_TYPE,
                max_payload_bytes=policy.max_proof_bytes,
                max_payload_depth=_MAX_CLAIMS_DEPTH,
            )
        except AlgorithmNotAllowed as exc:
            raise refuse(
                "the DPoP proof's alg is not one of " + " ".join(sorted(policy.algorithms))
            ) from exc
        except UnexpectedType as exc:
            raise refuse(f"the DPoP proof's typ must be {DPOP_PROOF_TYPE}") from exc
        except (InvalidSignature, InvalidJwk) as exc:
            raise refuse("the DPoP proof's signature does not verify with its jwk") from exc
        except JoseError as exc:
            raise refuse("the DPoP proof is not a well-formed JWT") from exc
        return verified.payload, public_jwk(key)

    def _check_nonce(self, nonce: object, server: str, at_resource: bool) -> None:
        if nonce is not None and self._nonces.is_fresh(server, nonce):
            return
        refuse = UseDpopNonceAtResource if at_resource else UseDpopNonce
        description = (
            "a DPoP nonce is required: use the one in the DPoP-Nonce header"
            if nonce is None
            else "the DPoP nonce is not valid or has expired: use the one in the DPoP-Nonce header"
        )
        raise refuse(description, dpop_nonce=self._nonces.issue(server))
