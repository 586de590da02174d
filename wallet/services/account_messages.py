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
        examples=[
            "eyJhbGciOiJFUzI1NiIsInR5cCI6IndhbGxldC1kZXZpY2UtcHJvb2Yrand0Iiwia2lkIjoiZC03YjJl"
            "NDFjOSJ9.eyJhdWQiOiJodHRwczovL2lkLmV4YW1wbGUuZ292L3dhbGxldCIsImlhdCI6MTc2NzIyNTYw"
            "MCwibm9uY2UiOiJxOFJ6NFQxdlhrMm1ZcDd3In0.6kT0Cw3pQ9mX1rVb8yLzJ2hN5sA4dE7gF0iK3oU6q"
            "W9eR2tY5uI8oP1aS4dF7gH0jK3lZ6xC9vB2nM5qW8eR1tQ"
        ],
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
    refresh_token: Annotated[
        str,
        msgspec.Meta(min_length=1, max_length=128, examples=["rt_V1m8cQ2xZk5wN9pL3sT7yB4hD6fJ0gR"]),
    ]


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


# Examples for the API documentation ------------------------------------------------------

CHALLENGE_EXAMPLE = Challenge(challenge="q8Rz4T1vXk2mYp7w", expires_in=300)
SESSION_GRANTED_EXAMPLE = SessionGranted(
    account_id="acc-5e0d8a72",
    device_id="d-7b2e41c9",
    access_token="at_3hJ9kL2mN5pQ8rS1tV4wX7yZ0aB6cD",  # noqa: S106 - an example for the documentation
    token_type="Bearer",  # noqa: S106 - an example for the documentation
    expires_in=900,
    refresh_token="rt_V1m8cQ2xZk5wN9pL3sT7yB4hD6fJ0gR",  # noqa: S106 - an example for the documentation
)
ADDED_DEVICE_EXAMPLE = AddedDevice(device_id="d-19a0f3e5")
