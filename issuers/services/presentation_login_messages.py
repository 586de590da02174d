"""What the citizen's authorization page reads while the agency waits for the
presentation that identifies them (presentation during issuance)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from core.messages import LocalizedName, Message
from issuers.services.sign_in_messages import RegisterData


class PresentationLoginView(Message):
    """Which agency asks, what it will issue and from which register data, the request the
    wallet answers (the QR code's text, also a link for a wallet on this device), and
    where the answer stands."""

    status: Annotated[
        str,
        msgspec.Meta(
            description="waiting, request_fetched, verified, failed, expired (the request at "
            "the agency's counter), or ended (the authorization was completed or refused)",
            examples=["waiting"],
        ),
    ]
    agency: list[LocalizedName]
    credential: list[LocalizedName]
    register: RegisterData
    verifier_id: str
    uri: Annotated[str, msgspec.Meta(description="openid4vp:// link of the request")]
    same_device: bool
    qr_svg_url: str
    complete_url: str
    expires_at: Annotated[str | None, msgspec.Meta(description="RFC 3339, UTC.")] = None
    reason: (
        Annotated[
            str,
            msgspec.Meta(
                description="Why the presentation did not identify the citizen: declined, "
                "failed or expired",
            ),
        ]
        | UnsetType
    ) = UNSET


class SameDeviceLink(Message):
    """A request for a wallet on this device: the link that opens it; the wallet sends the
    browser back to the authorization page once it has answered."""

    link: Annotated[
        str,
        msgspec.Meta(
            description="openid4vp:// link of the request; for this deployment's web wallet, "
            "its page with the request"
        ),
    ]
    expires_at: str | None = None
