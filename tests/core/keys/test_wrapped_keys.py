"""Keys wrapped by the PKCS#11 token (SoftHSM2) and kept outside it: made inside, handed
out only wrapped (the token keeps one object, the wrapping key, however many keys it
made), signing JWS through the token, checked against the public key on record, and
failing closed while the token is away."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.serialization import load_der_private_key

from core.jose.jwk import jwk_thumbprint, public_key_from_jwk
from core.jose.jws import sign_compact, verify_compact
from core.keys.pkcs11_token import Pkcs11Config, Pkcs11Token
from core.keys.records import WrongKeyKind
from core.keys.unavailable import KeyStoreUnavailable
from core.keys.wrapped_keys import WrappedKeyVault, kept_bytes, read_kept
from tests.support.softhsm import SoftHsm


def _vault(softhsm: SoftHsm, label: str, wrapping: str = "holder keys") -> WrappedKeyVault:
    token = Pkcs11Token(Pkcs11Config(softhsm.module, label, pin=softhsm.pin), retry_interval=0)
    return WrappedKeyVault(token, wrapping)


def test_keys_are_made_in_the_token_and_leave_it_only_wrapped(
    softhsm: SoftHsm, hsm_token: str
) -> None:
    vault = _vault(softhsm, hsm_token)
    made = [vault.new_key() for _ in range(5)]
    assert vault.token.count_objects() == 1  # the wrapping key, whatever the number of keys
    assert len({jwk["x"] for jwk, _ in made}) == 5
    for jwk, kept in made:
        assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and "d" not in jwk
        label, blob = read_kept(kept)
        assert label == "holder keys"
        with pytest.raises(ValueError):  # the wrapped key is no private key anywhere else
            load_der_private_key(blob, password=None)
        signer = vault.signer(kept, jwk, jwk_thumbprint(jwk))
        assert signer.alg == "ES256" and signer.public_jwk() == jwk and signer.x5c is None
        token = sign_compact({"sub": "holder"}, signer)
        verified = verify_compact(token, public_key_from_jwk(jwk), algorithms={"ES256"}, typ=None)
        assert verified.payload == {"sub": "holder"}
    assert vault.token.count_objects() == 1  # signing left no key behind


def test_a_key_signs_only_under_the_public_key_on_record_and_its_wrapping_key(
    softhsm: SoftHsm, hsm_token: str
) -> None:
    vault = _vault(softhsm, hsm_token)
    jwk, kept = vault.new_key()
    other_jwk, _ = vault.new_key()
    with pytest.raises(KeyStoreUnavailable):  # its signature does not verify as another's
        vault.signer(kept, other_jwk, "other").sign(b"data")
    _, blob = read_kept(kept)
    elsewhere = _vault(softhsm, hsm_token, "another wrapping key")
    with pytest.raises(KeyStoreUnavailable):  # another wrapping key does not unwrap it
        elsewhere.signer(kept_bytes("another wrapping key", blob), jwk, "k").sign(b"data")
    # the label kept with the key names its wrapping key, whichever key the vault makes now
    assert elsewhere.signer(kept, jwk, "k").sign(b"data")
    with pytest.raises(WrongKeyKind):
        vault.signer(kept, {**jwk, "crv": "P-384"}, "k")
    with pytest.raises(WrongKeyKind):
        read_kept(b"\x05abc")


def test_the_token_away_fails_closed_and_signing_resumes_when_it_is_back(
    softhsm: SoftHsm, hsm_token: str
) -> None:
    vault = _vault(softhsm, hsm_token)
    jwk, kept = vault.new_key()
    signer = vault.signer(kept, jwk, "k")
    signer.sign(b"before")
    softhsm.remove(hsm_token)
    try:
        with pytest.raises(KeyStoreUnavailable) as refused:
            signer.sign(b"while away")
        assert refused.value.status_code == 503 and refused.value.retry_after
        with pytest.raises(KeyStoreUnavailable):
            vault.new_key()
    finally:
        softhsm.restore(hsm_token)
    deadline = time.monotonic() + 10
    while True:
        try:
            signature = signer.sign(b"after")
            break
        except KeyStoreUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert len(signature) == 64
