"""Server-held holder keys in the deployment's HSM (SoftHSM2) or in software
(``wallet.services.server_held_keys``): what is sealed says which, keys sealed before the
HSM was used keep signing, a key in the HSM signs nothing without it, and each key's
attestation (OpenID4VCI 1.0 Appendix D.1) claims the key storage of where it is kept."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
)

from core.encoding import b64url_decode
from core.jose.algorithms import SIGNATURE_ALGORITHMS
from core.jose.jwk import public_jwk, public_key_from_jwk
from core.key_attestation import verify_key_attestation
from core.keys.pkcs11_token import Pkcs11Config, Pkcs11Token
from core.keys.unavailable import KeyStoreUnavailable
from core.keys.wrapped_keys import WrappedKeyVault
from core.oid4vci_metadata import KeyAttestationsRequired
from tests.support.key_attestations import deployment_provider
from tests.support.softhsm import SoftHsm
from wallet.domain import Custody, HolderKey, KeyMaterial, Refused
from wallet.services.prepare_credential_requests import proof_signing_input
from wallet.services.sealing import AccountBox
from wallet.services.server_held_keys import SEALED_KIND, ServerHeldKeys
from wallet.services.wallet_provider import WalletProvider, attestation_for, describe

WALLET = "https://wallet.example/wallet"
HSM_LEVELS = ("iso_18045_high",)


@pytest.fixture
def box() -> AccountBox:
    return AccountBox("account-1", os.urandom(32))


@pytest.fixture
def hsm(softhsm: SoftHsm, hsm_token: str) -> WrappedKeyVault:
    token = Pkcs11Token(Pkcs11Config(softhsm.module, hsm_token, pin=softhsm.pin), retry_interval=0)
    return WrappedKeyVault(token, "idwallet holder keys")


def _legacy_key(box: AccountBox) -> HolderKey:
    """A server-held key as every release before the HSM sealed it: its bare PKCS#8."""
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    sealed = box.seal_bytes("holder key", "legacy-key", der)
    return HolderKey("legacy-key", box.account_id, Custody.SERVER, public_jwk(key), sealed, 0)


def _verifies(key: HolderKey, signature: bytes, data: bytes) -> None:
    SIGNATURE_ALGORITHMS["ES256"].verify(public_key_from_jwk(key.public_jwk), signature, data)


def test_keys_made_in_the_hsm_are_sealed_wrapped_and_sign_there(
    box: AccountBox, hsm: WrappedKeyVault
) -> None:
    keys = ServerHeldKeys(hsm=hsm, new_in=KeyMaterial.HSM)
    made = keys.new_keys(box, 3, time.time())
    assert hsm.token.count_objects() == 1  # only the wrapping key stays in the token
    for key in made:
        assert key.custody is Custody.SERVER and key.sealed_private_key is not None
        opened = box.open_bytes(SEALED_KIND, key.holder_key_id, key.sealed_private_key)
        assert opened[0] == 0x01  # the kind: wrapped by the HSM
        for candidate in (opened, opened[1:], key.sealed_private_key):
            with pytest.raises(ValueError):  # no PKCS#8 anywhere: nothing signs outside
                load_der_private_key(candidate, password=None)
        assert keys.material_of(box, key) is KeyMaterial.HSM
        signature = keys.signer(box, key).sign(b"key binding")
        _verifies(key, signature, b"key binding")


def test_keys_sealed_before_the_switch_keep_signing_in_software(
    box: AccountBox, hsm: WrappedKeyVault
) -> None:
    legacy = _legacy_key(box)
    keys = ServerHeldKeys(hsm=hsm, new_in=KeyMaterial.HSM)
    assert keys.material_of(box, legacy) is KeyMaterial.SOFTWARE
    _verifies(legacy, keys.signer(box, legacy).sign(b"old"), b"old")
    # software keys made now are sealed as they always were: the PKCS#8 itself
    (software,) = ServerHeldKeys().new_keys(box, 1, time.time())
    assert software.sealed_private_key is not None
    opened = box.open_bytes(SEALED_KIND, software.holder_key_id, software.sealed_private_key)
    assert opened[0] == 0x30 and load_der_private_key(opened, password=None)
    assert keys.material_of(box, software) is KeyMaterial.SOFTWARE


def test_a_key_in_the_hsm_signs_nothing_without_it(box: AccountBox, hsm: WrappedKeyVault) -> None:
    (key,) = ServerHeldKeys(hsm=hsm, new_in=KeyMaterial.HSM).new_keys(box, 1, time.time())
    # switched back to software keys, with no token named any more: it fails closed
    with pytest.raises(KeyStoreUnavailable) as refused:
        ServerHeldKeys().signer(box, key).sign(b"x")
    assert refused.value.status_code == 503
    # a key copied to another row (another id) does not open
    moved = HolderKey(
        "other", key.account_id, key.custody, key.public_jwk, key.sealed_private_key, 0
    )
    with pytest.raises(ValueError):
        ServerHeldKeys(hsm=hsm).signer(box, moved)
    with pytest.raises(ValueError):  # keys cannot be made in an HSM there is not
        ServerHeldKeys(new_in=KeyMaterial.HSM)
    unknown = box.seal_bytes(SEALED_KIND, "k", b"\x07whatever")
    with pytest.raises(ValueError, match="unknown kind"):
        ServerHeldKeys().signer(box, HolderKey("k", "account-1", Custody.SERVER, {}, unknown, 0))


def _provider() -> WalletProvider:
    tests_provider = deployment_provider()
    return WalletProvider(
        signer=tests_provider.signer,
        ca=tests_provider.anchor,
        identifier=WALLET,
        name="idwallet",
        link="https://wallet.example/",
        hsm_key_storage=HSM_LEVELS,
    )


def _attested_levels(signing_input: str) -> dict[str, Any]:
    header = json.loads(b64url_decode(signing_input.split(".", maxsplit=1)[0]))
    verified = verify_key_attestation(
        header["key_attestation"],
        anchors=[deployment_provider().anchor],
        algorithms=frozenset({"ES256"}),
        now=time.time(),
        max_age=300,
        leeway=60,
        exp_required=True,
    )
    payload: dict[str, Any] = json.loads(b64url_decode(header["key_attestation"].split(".")[1]))
    assert [k.jwk for k in verified.keys] == [header["jwk"]]
    return {k: payload.get(k) for k in ("key_storage", "user_authentication")}


def test_each_key_is_attested_as_it_is_kept(box: AccountBox, hsm: WrappedKeyVault) -> None:
    provider = _provider()
    keys = ServerHeldKeys(hsm=hsm, new_in=KeyMaterial.HSM)
    (in_hsm,) = keys.new_keys(box, 1, time.time())
    legacy = _legacy_key(box)
    now = int(time.time())

    def levels(key: HolderKey) -> dict[str, Any]:
        material = keys.material_of(box, key)
        signing_input = proof_signing_input(
            key, "https://issuer.example", "n-1", now, provider, material=material
        )
        return _attested_levels(signing_input)

    assert levels(in_hsm) == {
        "key_storage": list(HSM_LEVELS),
        "user_authentication": ["iso_18045_basic"],
    }
    assert levels(legacy) == {
        "key_storage": ["iso_18045_basic"],
        "user_authentication": ["iso_18045_basic"],
    }


def test_what_new_keys_get_decides_what_an_issuer_can_be_given() -> None:
    provider = _provider()
    high = KeyAttestationsRequired(key_storage=["iso_18045_high"])
    assert attestation_for(provider, "pid", Custody.SERVER, high, KeyMaterial.HSM) is provider
    with pytest.raises(Refused, match="key_storage"):
        attestation_for(provider, "pid", Custody.SERVER, high, KeyMaterial.SOFTWARE)
    with pytest.raises(Refused):  # keys on the phone are attested without levels
        attestation_for(provider, "pid", Custody.DEVICE, high, KeyMaterial.HSM)
    published = describe(provider, KeyMaterial.HSM).key_attestation_levels
    assert published["server"].key_storage == list(HSM_LEVELS)
    assert describe(provider, KeyMaterial.SOFTWARE).key_attestation_levels[
        "server"
    ].key_storage == ["iso_18045_basic"]
    # a provider told nothing of its HSM claims no more for it than for software keys
    plain = WalletProvider(
        signer=provider.signer, ca=provider.ca, identifier=WALLET, name="idwallet", link=WALLET
    )
    assert plain.levels(Custody.SERVER, KeyMaterial.HSM)["key_storage"] == ["iso_18045_basic"]
