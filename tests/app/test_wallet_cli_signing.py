"""The command-line wallet signs what the API hands out for keys it keeps: a JWS signing
input as its ASCII characters, an mdoc's DeviceAuth ``Sig_structure`` (``encoding``
``base64url``) as the bytes it decodes to; ES256, raw ``r || s``."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from app.wallet_cli import WalletClient, _pem
from core.encoding import b64url_decode, b64url_encode


def _verify(key: ec.EllipticCurvePrivateKey, signature: str, data: bytes) -> None:
    raw = b64url_decode(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.public_key().verify(der, data, ec.ECDSA(hashes.SHA256()))


def test_jws_and_mdoc_signing_requests(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    x = b64url_encode(key.public_key().public_numbers().x.to_bytes(32, "big"))
    wallet = WalletClient("http://127.0.0.1:1", tmp_path / "wallet.json")
    wallet.state = {"holder_keys": {x: _pem(key)}}
    sig_structure = bytes.fromhex("84 6a 5369676e617475726531 43 a10126 40 41 00".replace(" ", ""))
    jws_input = "eyJhbGciOiJFUzI1NiJ9.e30"
    jws_signature, mdoc_signature = wallet._sign(
        [
            {"holder_key": {"x": x}, "alg": "ES256", "signing_input": jws_input},
            {
                "holder_key": {"x": x},
                "alg": "ES256",
                "signing_input": b64url_encode(sig_structure),
                "encoding": "base64url",
                "format": "mso_mdoc",
            },
        ]
    )
    _verify(key, jws_signature, jws_input.encode("ascii"))
    _verify(key, mdoc_signature, sig_structure)
    with pytest.raises(InvalidSignature):
        _verify(key, mdoc_signature, b64url_encode(sig_structure).encode("ascii"))
