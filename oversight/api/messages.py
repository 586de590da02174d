"""The oversight API's answers, typed (msgspec), with the examples the OpenAPI document
shows. A figure is a number, or ``"suppressed"`` where it lies between 1 and the
deployment's ``min_count`` - 1."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

FigureValue = Annotated[
    int | Literal["suppressed"],
    msgspec.Meta(
        description='How many; "suppressed" where it is at least 1 and below min_count.',
        examples=[42, "suppressed", 0],
    ),
]


class AuditorProfile(msgspec.Struct, kw_only=True):
    """The auditor the key belongs to, and how the figures are bounded."""

    auditor_id: Annotated[str, msgspec.Meta(examples=["dpa"])]
    name: Annotated[str, msgspec.Meta(examples=["Data Protection Authority"])]
    min_count: Annotated[
        int, msgspec.Meta(description="Figures from 1 to min_count - 1 are suppressed.")
    ]
    max_period_days: Annotated[int, msgspec.Meta(description="The longest period of one read.")]


class CounterFigures(msgspec.Struct, kw_only=True):
    """One counter (relying party), one registered purpose, one set of claims."""

    counter: Annotated[str, msgspec.Meta(description="The counter's verifier id.")]
    purpose: Annotated[str, msgspec.Meta(description="The registered purpose (its template).")]
    claims: Annotated[list[str], msgspec.Meta(description="The claims asked for, sorted.")]
    requested: FigureValue
    answered_ok: FigureValue
    declined: Annotated[
        FigureValue, msgspec.Meta(description="Citizens who declined (access_denied).")
    ]
    failed: FigureValue
    refused: Annotated[
        FigureValue,
        msgspec.Meta(description="Requests refused: they went beyond the registration."),
    ]


class AgencyFigures(msgspec.Struct, kw_only=True):
    """One agency, one credential configuration."""

    agency: Annotated[str, msgspec.Meta(description="The agency's issuer id.")]
    credential_configuration: str
    issued: FigureValue
    revoked: FigureValue
    suspended: FigureValue
    reinstated: FigureValue


class OversightFigures(msgspec.Struct, kw_only=True):
    """The figures of a period (whole UTC days, both inclusive). No totals: a total would
    give a suppressed figure away by subtraction."""

    period_from: Annotated[str, msgspec.Meta(examples=["2026-01-01"])] = msgspec.field(name="from")
    period_to: Annotated[str, msgspec.Meta(examples=["2026-01-31"])] = msgspec.field(name="to")
    min_count: int
    counters: list[CounterFigures]
    agencies: list[AgencyFigures]


AUDITOR_PROFILE_EXAMPLE = AuditorProfile(
    auditor_id="dpa", name="Data Protection Authority", min_count=5, max_period_days=1096
)
FIGURES_EXAMPLE = OversightFigures(
    period_from="2026-01-01",
    period_to="2026-01-31",
    min_count=5,
    counters=[
        CounterFigures(
            counter="bar-age-check",
            purpose="age_over_18",
            claims=["age_equal_or_over.18"],
            requested=1250,
            answered_ok=1102,
            declined=97,
            failed=12,
            refused="suppressed",
        )
    ],
    agencies=[
        AgencyFigures(
            agency="civil-registry",
            credential_configuration="national_id",
            issued=4120,
            revoked=31,
            suspended="suppressed",
            reinstated=0,
        )
    ],
)
