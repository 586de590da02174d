"""Server-provided DPoP nonces (RFC 9449 §8, §9): any worker with the secret checks one,
for the server it was issued for, until it expires; nothing else passes."""

from __future__ import annotations

import pytest

from core.clock import FixedClock
from core.dpop import DpopNonces
from core.dpop.token68 import is_token68
from core.encoding import b64url_decode, b64url_encode

SECRET = b"k" * 32
SERVER = "https://issuer.example.org/issuers/civil-registry"


def test_a_nonce_is_fresh_for_its_server_on_any_worker_until_it_expires() -> None:
    clock = FixedClock(1_800_000_000)
    nonce = DpopNonces(SECRET, clock=clock, lifetime=120).issue(SERVER)
    other_worker = DpopNonces(SECRET, clock=clock, lifetime=120)
    assert other_worker.is_fresh(SERVER, nonce)
    assert not other_worker.is_fresh("https://issuer.example.org/issuers/transport-agency", nonce)
    assert not DpopNonces(b"x" * 32, clock=clock).is_fresh(SERVER, nonce)
    clock.advance(119)
    assert other_worker.is_fresh(SERVER, nonce)
    clock.advance(1)
    assert not other_worker.is_fresh(SERVER, nonce)


def test_nonces_are_unpredictable_and_within_the_nonce_syntax() -> None:
    nonces = DpopNonces(SECRET, clock=FixedClock(1_800_000_000))
    issued = {nonces.issue(SERVER) for _ in range(100)}
    assert len(issued) == 100
    # RFC 9449 §8.1: 1*NQCHAR (printable ASCII without '"' and '\'); token68-safe too.
    assert all(is_token68(nonce) and '"' not in nonce for nonce in issued)


def test_a_tampered_nonce_is_not_fresh() -> None:
    nonces = DpopNonces(SECRET, clock=FixedClock(1_800_000_000))
    raw = bytearray(b64url_decode(nonces.issue(SERVER)))
    raw[3] ^= 0x01  # extend the expiry
    assert not nonces.is_fresh(SERVER, b64url_encode(bytes(raw)))


@pytest.mark.parametrize(
    "nonce", [None, 7, "", "not base64url!", "A" * 129, b64url_encode(b"x" * 41)]
)
def test_anything_else_is_not_fresh(nonce: object) -> None:
    assert not DpopNonces(SECRET).is_fresh(SERVER, nonce)


def test_a_short_secret_or_odd_lifetime_is_refused() -> None:
    with pytest.raises(ValueError):
        DpopNonces(b"short")
    with pytest.raises(ValueError):
        DpopNonces(SECRET, lifetime=0)
