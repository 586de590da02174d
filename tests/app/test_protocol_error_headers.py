"""How a protocol error is answered on the wire: a 401 names the scheme the client must
use (RFC 6750 §3 ``Bearer``, RFC 9449 §7.1 ``DPoP``), and a DPoP nonce refusal carries
the nonce the next proof must use (RFC 9449 §8, §9); nothing is cached."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import protocol_error
from core.errors import (
    InvalidDpopBoundToken,
    InvalidDpopProof,
    InvalidDpopProofAtResource,
    InvalidToken,
    ProtocolError,
    UseDpopNonce,
    UseDpopNonceAtResource,
)

ALGS = 'algs="ES256 ES384 ES512 EdDSA"'  # RFC 9449 §7.1: the algorithms proofs may use


@pytest.mark.parametrize(
    ("error", "status", "challenge", "nonce"),
    [
        (InvalidToken("expired"), 401, 'Bearer error="invalid_token"', None),
        (InvalidDpopBoundToken("bound"), 401, 'DPoP error="invalid_token", ' + ALGS, None),
        (InvalidDpopProofAtResource("bad"), 401, 'DPoP error="invalid_dpop_proof", ' + ALGS, None),
        (InvalidDpopProof("bad"), 400, None, None),
        (UseDpopNonce("nonce", dpop_nonce="n-1"), 400, None, "n-1"),
        (
            UseDpopNonceAtResource("nonce", dpop_nonce="n-2"),
            401,
            'DPoP error="use_dpop_nonce", ' + ALGS,
            "n-2",
        ),
    ],
)
def test_each_refusal_names_its_scheme_and_nonce(
    error: ProtocolError, status: int, challenge: str | None, nonce: str | None
) -> None:
    answer: Any = protocol_error(None, error)  # type: ignore[arg-type]
    assert answer.status_code == status
    assert answer.headers.get("WWW-Authenticate") == challenge
    assert answer.headers.get("DPoP-Nonce") == nonce
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.content["error"] == error.error
