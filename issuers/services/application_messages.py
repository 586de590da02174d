"""What an agency's desk reads of the applications for credentials its clerks approve
first, and what it sends to refuse one (the agency operator API)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from core.messages import Message, ProblemBody
from issuers.domain import ApplicationState
from issuers.services.decide_application import MAX_REASON
from issuers.services.offer_messages import Timestamp

_STATES = [state.value for state in ApplicationState]


class ApplicationView(Message):
    """An application as the clerk decides it: which credential, for whom, with what data,
    since when."""

    application_id: str
    credential_configuration_id: str
    subject_id: str
    state: Annotated[str, msgspec.Meta(examples=_STATES)]
    claims: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description=(
                "The claims the credentials would carry (what the clerk's offer held); "
                "empty once the application was refused, collected, withdrawn or expired."
            )
        ),
    ]
    credentials: Annotated[
        int,
        msgspec.Meta(
            description=(
                "How many credentials it would issue (one per key the wallet proved); 0 "
                "once it has ended."
            )
        ),
    ]
    requested_at: Timestamp
    expires_at: Annotated[
        str,
        msgspec.Meta(
            description=(
                "RFC 3339, UTC: the deadline for the decision and the collection; once "
                "collected, the end of the window for a repeated request."
            )
        ),
    ]
    decided_at: Timestamp | None
    refusal_reason: Annotated[
        str | None,
        msgspec.Meta(description="Why a clerk refused it; never sent to the wallet."),
    ]


class ApplicationList(Message):
    applications: list[ApplicationView]


class ApplicationRefusal(ProblemBody):
    """Refuse an application: why (kept with the application for the agency, until it is
    forgotten; not in the audit trail, which outlives it, nor sent to the wallet)."""

    reason: Annotated[str, msgspec.Meta(max_length=MAX_REASON)] = ""
