"""What the agency's authorization pages read: what the agency will issue and from which
of its register data (every page shows it), and the choice of how the citizen proves who
they are where the agency allows several ways."""

from __future__ import annotations

from typing import Annotated

import msgspec

from core.messages import LocalizedName, Message
from issuers.domain import SignInWay


class RegisterClaim(Message):
    """One claim the credential takes from the agency's register, with its labels."""

    name: Annotated[str, msgspec.Meta(description="The claim's name in the credential")]
    display: list[LocalizedName]


class RegisterData(Message):
    """Which register data the credential will carry: the register's name and its claims,
    from the agency's catalog (the citizen types nothing)."""

    name: Annotated[
        list[LocalizedName],
        msgspec.Meta(description="The register's name per locale; empty: the agency's register"),
    ]
    claims: list[RegisterClaim]


class SignInWayLink(Message):
    """One way the agency allows, and where the citizen's browser goes to take it."""

    way: SignInWay
    url: str


class SignInChoiceView(Message):
    """Which agency asks, what it will issue and from which register data, and the ways
    the citizen may prove who they are."""

    status: Annotated[
        str,
        msgspec.Meta(
            description="choosing (no way chosen yet), chosen (a way was chosen: it goes on "
            "there), or ended (the authorization was completed, refused or ran out)",
            examples=["choosing"],
        ),
    ]
    agency: list[LocalizedName]
    credential: list[LocalizedName]
    register: RegisterData
    ways: list[SignInWayLink]
    cancel_url: Annotated[
        str, msgspec.Meta(description="Ends the authorization: the wallet is told access_denied")
    ]
