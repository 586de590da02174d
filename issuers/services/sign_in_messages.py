"""What the agency's authorization pages read: what the agency will issue and from which
of its register data (every page shows it)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from core.messages import LocalizedName, Message


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
