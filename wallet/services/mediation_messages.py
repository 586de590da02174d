"""The messages of assisted access (docs/mediators.md): what a mediator's screen is told
(its profile, its help request and what became of it), what the citizen is shown before
consenting, and the mediations a citizen sees and may end."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from core.messages import Message, ProblemDetails
from wallet.services.holding_messages import Timestamp

#: What a mediation may do for the citizen, and what it never may.
MEDIATION_ACTIONS = ("receive", "present", "read")
NEVER_IN_MEDIATION = ("delete_account", "add_device", "revoke_device", "delete_credential")

_Languages = Annotated[
    list[str], msgspec.Meta(description="Language tags (BCP 47).", examples=[["pt", "en"]])
]
_Code = Annotated[
    str,
    msgspec.Meta(
        min_length=4,
        max_length=32,
        description="The code the mediator's screen shows (letters and digits; spaces and "
        "dashes are ignored).",
        examples=["KX7M-3QPA"],
    ),
]


class SpaceView(Message):
    space_id: Annotated[str, msgspec.Meta(examples=["loja-cidadao-lisboa"])]
    name: Annotated[str, msgspec.Meta(examples=["Espaço Cidadão Lisboa"])]
    languages: _Languages


class MediatorProfile(Message):
    """The mediator the key belongs to, the space they serve at, and how long a citizen's
    consent lets them help."""

    mediator_id: Annotated[str, msgspec.Meta(examples=["ana-sousa"])]
    name: Annotated[str, msgspec.Meta(examples=["Ana Sousa"])]
    languages: _Languages
    space: SpaceView
    mediation_minutes: int
    actions: list[str]


class HelpRequestOptions(Message, forbid_unknown_fields=True):
    """How the citizen will consent: with the code in their own wallet (``wallet``), or by
    presenting their national ID from their wallet to the consent counter
    (``national_id``)."""

    consent: Annotated[Literal["wallet", "national_id"], msgspec.Meta(examples=["national_id"])] = (
        "wallet"
    )


class HelpRequestCreated(Message):
    """A help request: the code and link the citizen's wallet takes, and the token of the
    mediation it becomes once the citizen consents (keep it on this screen only)."""

    request_id: str
    consent: Literal["wallet", "national_id"]
    code: _Code
    consent_uri: Annotated[
        str,
        msgspec.Meta(
            description="What the QR code carries: the wallet link that opens the consent "
            "(``wallet``), or the OpenID4VP request for the national ID (``national_id``)."
        ),
    ]
    qr_svg: Annotated[str, msgspec.Meta(description="The QR code of consent_uri, as SVG.")]
    expires_in: int
    mediation_token: Annotated[
        str,
        msgspec.Meta(
            description="Bearer token for the citizen mobile API once the citizen consents; "
            "refused before, after the mediation ends, and for anything but the mediation's "
            "actions."
        ),
    ]


class MediationView(Message):
    mediation_id: str
    mediator: Annotated[str, msgspec.Meta(examples=["Ana Sousa"])]
    space: Annotated[str, msgspec.Meta(examples=["Espaço Cidadão Lisboa"])]
    started_at: Timestamp
    expires_at: Timestamp
    actions: list[str]
    confirmation: Annotated[
        str,
        msgspec.Meta(
            description="Three digits both screens show, so mediator and citizen see they "
            "are linked to each other.",
            examples=["482"],
        ),
    ]


class HelpRequestStatus(Message):
    request_id: str
    status: Literal["waiting", "consented", "ended", "expired"]
    mediation: MediationView | UnsetType = UNSET
    proven_name: Annotated[
        str | UnsetType,
        msgspec.Meta(
            description="``national_id``: the name the citizen's national ID proved, for "
            "the mediator to compare with the person beside them.",
            examples=["Erika Mustermann"],
        ),
    ] = UNSET


class HelpCode(Message, forbid_unknown_fields=True):
    code: _Code


class HelpRequestView(Message):
    """What the citizen consents to: who would help, where, for how long, doing what."""

    mediator: str
    mediator_languages: _Languages
    space: str
    minutes: int
    actions: list[str]
    never: list[str]


class MediationList(Message):
    mediations: list[MediationView]


# Examples for the API documentation ------------------------------------------------------

_SPACE = SpaceView(
    space_id="loja-cidadao-lisboa", name="Espaço Cidadão Lisboa", languages=["pt", "en"]
)
MEDIATOR_PROFILE_EXAMPLE = MediatorProfile(
    mediator_id="ana-sousa",
    name="Ana Sousa",
    languages=["pt", "en"],
    space=_SPACE,
    mediation_minutes=30,
    actions=list(MEDIATION_ACTIONS),
)
HELP_REQUEST_CREATED_EXAMPLE = HelpRequestCreated(
    request_id="5b0c1c1e-8c1f-4c44-9d1c-0b7e5a3f2d10",
    consent="wallet",
    code="KX7M-3QPA",
    consent_uri="https://id.example.gov/wallet-app#help=KX7M-3QPA",
    qr_svg="<svg xmlns='http://www.w3.org/2000/svg'>…</svg>",
    expires_in=300,
    mediation_token="mdt.Xq3b…",  # noqa: S106 - an example
)
MEDIATION_VIEW_EXAMPLE = MediationView(
    mediation_id="9a7e4c12-1d2b-4f0e-8a31-6c5d2e1f0b93",
    mediator="Ana Sousa",
    space="Espaço Cidadão Lisboa",
    started_at=1767312000,
    expires_at=1767313800,
    actions=list(MEDIATION_ACTIONS),
    confirmation="482",
)
HELP_REQUEST_STATUS_EXAMPLE = HelpRequestStatus(
    request_id=HELP_REQUEST_CREATED_EXAMPLE.request_id,
    status="consented",
    mediation=MEDIATION_VIEW_EXAMPLE,
)
HELP_REQUEST_VIEW_EXAMPLE = HelpRequestView(
    mediator="Ana Sousa",
    mediator_languages=["pt", "en"],
    space="Espaço Cidadão Lisboa",
    minutes=30,
    actions=list(MEDIATION_ACTIONS),
    never=list(NEVER_IN_MEDIATION),
)
MEDIATION_LIST_EXAMPLE = MediationList(mediations=[MEDIATION_VIEW_EXAMPLE])


#: Why a mediation token is refused (403): an operation that names no mediation action,
#: or a credential the mediator's device would hold the keys of.
NOT_IN_MEDIATION = (
    "a mediator may receive and present credentials and read the activity log for "
    "the citizen, nothing else; the citizen does this in their own wallet"
)
DEVICE_CUSTODY_IN_MEDIATION = "through a mediation, the wallet service keeps the holder keys"
#: A presentation request that identifies the citizen for an issuance (an issuer's login
#: by presentation): the credential would go to whichever wallet started that issuance.
ISSUANCE_LOGIN_IN_MEDIATION = (
    "this request identifies the citizen for an issuance; only the citizen answers it, "
    "in their own wallet"
)
#: A presentation request whose registration the wallet cannot verify: it cannot be told
#: apart from an issuer's login by presentation.
UNREGISTERED_VERIFIER_IN_MEDIATION = (
    "through a mediation, the wallet presents only to verifiers whose registration it "
    "can verify; the citizen answers this one in their own wallet"
)
#: What a presentation request may be refused with through a mediation.
PRESENTATION_IN_MEDIATION = (
    "through a mediation, the wallet presents only to verifiers whose registration it can "
    "verify, and never for an issuance (an issuer's login by presentation)"
)


class MediationRefusal(ProblemDetails, kw_only=True):
    """RFC 9457 problem (403, ``application/problem+json``): a mediator's token
    (docs/mediators.md) asked for what a mediation may not do."""

    error: Literal["not_allowed_in_mediation"]


def mediation_refusal_example(detail: str = NOT_IN_MEDIATION) -> dict[str, object]:
    example: dict[str, object] = msgspec.to_builtins(
        MediationRefusal(
            type="about:blank",
            title="Forbidden",
            status=403,
            detail=detail,
            error="not_allowed_in_mediation",
        )
    )
    return example
