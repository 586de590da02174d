"""OpenID4VCI 1.0 §10 without HTTP: the checked response encryption, a message encrypted
to the wallet's key (opened by jwcrypto, someone else's JWE), and a request JWE opened
with our key under its bounds."""

from __future__ import annotations

import json

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwe, jwk

from core.errors import InvalidCredentialRequest, InvalidEncryptionParameters
from core.keys.decrypter import SoftwareDecrypter
from core.oid4vci import CredentialResponse, CredentialResponseEncryption, IssuedCredential
from core.oid4vci_encryption import (
    EncryptedToAnotherKey,
    checked_response_encryption,
    encrypt_message,
    open_encrypted_request,
)

RESPONSE = CredentialResponse(credentials=[IssuedCredential(credential="a~b~")])


def _wallet_key(**members: object) -> tuple[jwk.JWK, dict[str, object]]:
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    return key, {**key.export_public(as_dict=True), "alg": "ECDH-ES", **members}


def test_a_checked_key_keeps_only_what_the_key_agreement_uses() -> None:
    _, public = _wallet_key(kid="k1", use="enc", key_ops=["deriveKey"])
    checked = checked_response_encryption(CredentialResponseEncryption(jwk=public, enc="A256GCM"))
    assert set(checked.jwk) == {"kty", "crv", "x", "y"}
    assert checked.kid == "k1" and checked.enc == "A256GCM"


@pytest.mark.parametrize("enc", ["A128GCM", "A256GCM"])
def test_a_message_encrypted_to_the_wallet_opens_with_its_key(enc: str) -> None:
    key, public = _wallet_key(kid="k1")
    token = encrypt_message(
        RESPONSE, checked_response_encryption(CredentialResponseEncryption(jwk=public, enc=enc))
    )
    opened = jwe.JWE()
    opened.deserialize(token, key=key)
    assert json.loads(opened.payload) == msgspec.to_builtins(RESPONSE)
    assert opened.jose_header["alg"] == "ECDH-ES" and opened.jose_header["enc"] == enc
    assert opened.jose_header["kid"] == "k1"


def _request_to(decrypter: SoftwareDecrypter, plaintext: bytes, **header: object) -> bytes:
    public = decrypter.public_jwk()
    protected = {"alg": "ECDH-ES", "enc": "A128GCM", "kid": decrypter.kid, **header}
    token = jwe.JWE(plaintext, protected=json.dumps(protected))
    token.add_recipient(jwk.JWK(**{k: public[k] for k in ("kty", "crv", "x", "y")}))
    return str(token.serialize(compact=True)).encode()


def test_a_request_opens_with_the_issuer_key() -> None:
    decrypter = SoftwareDecrypter(ec.generate_private_key(ec.SECP256R1()))
    body = _request_to(decrypter, b'{"credential_configuration_id": "x"}')
    assert open_encrypted_request(body, decrypter, max_bytes=4096) == (
        b'{"credential_configuration_id": "x"}'
    )


def test_an_oversize_request_is_refused_before_it_is_parsed() -> None:
    decrypter = SoftwareDecrypter(ec.generate_private_key(ec.SECP256R1()))
    body = _request_to(decrypter, b"{}" + b" " * 4096)
    with pytest.raises(InvalidCredentialRequest, match="at most 4096 bytes"):
        open_encrypted_request(body, decrypter, max_bytes=4096)
    with pytest.raises(InvalidCredentialRequest, match="at most 10 bytes"):
        open_encrypted_request(b"\xff" * 11, decrypter, max_bytes=10)


def test_a_request_to_another_kid_is_told_apart() -> None:
    decrypter = SoftwareDecrypter(ec.generate_private_key(ec.SECP256R1()))
    body = _request_to(decrypter, b"{}", kid="retired")
    with pytest.raises(EncryptedToAnotherKey) as refused:
        open_encrypted_request(body, decrypter, max_bytes=4096)
    assert isinstance(refused.value, InvalidEncryptionParameters)
