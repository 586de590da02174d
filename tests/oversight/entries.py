"""A realistic mix of the audit trail's vocabulary (``core.audit.trail``), and what the
oversight figures make of it, for the oversight tests."""

from __future__ import annotations

import datetime as dt

from core.audit.trail import AuditEntry

#: 2026-03-01T00:00:00Z
MARCH_FIRST = dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp()
AGE = ("age_equal_or_over.18",)
ADDRESS = ("address.locality", "address.postal_code", "family_name")


def asked(counter: str, purpose: str, claims: tuple[str, ...]) -> AuditEntry:
    return AuditEntry(
        "counter",
        counter,
        "presentation.requested",
        facts={"claims": claims, "purpose": purpose, "template": purpose},
    )


def answered(counter: str, purpose: str, claims: tuple[str, ...], outcome: str) -> AuditEntry:
    return AuditEntry(
        "counter",
        counter,
        "presentation.answered",
        outcome,
        facts={"claims": claims, "purpose": purpose, "template": purpose},
        subject_key="9f2c" * 16,
    )


def refused(counter: str, purpose: str, claims: tuple[str, ...]) -> AuditEntry:
    return AuditEntry(
        "counter",
        counter,
        "presentation.refused",
        "invalid_request",
        facts={"claims": claims, "purpose": purpose, "template": purpose},
    )


def credential(action: str, agency: str, configuration: str, outcome: str = "ok") -> AuditEntry:
    kind = "agency" if action == "credential.issued" else "operator"
    facts: dict[str, str | int | tuple[str, ...]] = {"credential_configuration": configuration}
    if action == "credential.issued":
        facts["format"] = "dc+sd-jwt"
    return AuditEntry(kind, agency, action, outcome, facts=facts, subject_key="1a2b" * 16)


def realistic_mix() -> list[tuple[float, AuditEntry]]:
    """Entries of March 2026 (with the second each is stamped at), and a few on either side.

    In March: bar-age-check asked 12 times for the age (9 ok, 2 declined, 1 failed) and was
    refused twice for asking beyond its registration (the address); town-hall asked 3 times
    for the address (3 ok); civil-registry issued 7 national_id and 2 residence_permit,
    revoked 5 national_id, suspended 1, reinstated 1 (and one revocation failed).
    Outside March: one of each, which the figures of March must not count."""
    march: list[AuditEntry] = []
    march += [asked("bar-age-check", "age_over_18", AGE)] * 12
    march += [answered("bar-age-check", "age_over_18", AGE, "ok")] * 9
    march += [answered("bar-age-check", "age_over_18", AGE, "access_denied")] * 2
    march += [answered("bar-age-check", "age_over_18", AGE, "invalid_presentation")]
    march += [refused("bar-age-check", "age_over_18", ADDRESS)] * 2
    march += [asked("town-hall", "residence", ADDRESS)] * 3
    march += [answered("town-hall", "residence", ADDRESS, "ok")] * 3
    march += [credential("credential.issued", "civil-registry", "national_id")] * 7
    march += [credential("credential.issued", "civil-registry", "residence_permit")] * 2
    march += [credential("credential.revoked", "civil-registry", "national_id")] * 5
    march += [credential("credential.revoked", "civil-registry", "national_id", "not_found")]
    march += [credential("credential.suspended", "civil-registry", "national_id")]
    march += [credential("credential.reinstated", "civil-registry", "national_id")]
    march += [AuditEntry("citizen", "", "wallet.device_added", subject_key="77" * 32)]
    march += [AuditEntry("auditor", "dpa", "oversight.viewed", facts={"period": "x/y"})]
    day = 86400.0
    stamped = [(MARCH_FIRST + (i * 7919.0) % (31 * day), e) for i, e in enumerate(march)]
    outside = [
        asked("bar-age-check", "age_over_18", AGE),
        credential("credential.issued", "civil-registry", "national_id"),
    ]
    stamped += [(MARCH_FIRST - 1.0, e) for e in outside]  # 2026-02-28T23:59:59Z
    stamped += [(MARCH_FIRST + 31 * day, e) for e in outside]  # 2026-04-01T00:00:00Z
    return stamped
