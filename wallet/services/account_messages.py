"""What the phone sends and receives to register, sign in and manage its devices (the
citizen mobile API). These bodies are this deployment's own: a member it does not define
is refused, not ignored, so a typo in an app shows at once."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from core.messages import Message

MAX_DEVICE_NAME = 100
MAX_PROOF_BYTES = 4096

DeviceProof = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_PROOF_BYTES,
        description=(
            "A compact JWS of typ wallet-device-proof+jwt signed with the device key, with "
            "the wallet's audience, iat and a fresh challenge as nonce (POST /wallet/challenges)."
        ),
    ),
]
DeviceName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_DEVICE_NAME,
        description="How the citizen calls the device.",
        examples=["Anna's phone"],
    ),
]


class Challenge(Message):
    challenge: str
    expires_in: int


class DeviceRegistration(Message, forbid_unknown_fields=True):
    """A new device: its proof carries the public key as ``jwk`` in the header."""

    device_proof: DeviceProof
    device_name: DeviceName | UnsetType = UNSET


class DeviceLogin(Message, forbid_unknown_fields=True):
    """A registered device signs in: its proof names the device as ``kid``."""

    device_proof: DeviceProof


class SessionRefresh(Message, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class SessionGranted(Message):
    """A device session: a short-lived access token and a single-use refresh token."""

    account_id: str
    device_id: str
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str


class AddedDevice(Message):
    device_id: str
