"""The realistic 12-claim national ID used by the foundation benchmark."""

from __future__ import annotations

from typing import Any

from core.claim_paths import ClaimPath

VCT = "https://id.example.gov/credentials/national_id"
ISSUER = "https://id.example.gov/issuers/civil-registry"
AUDIENCE = "x509_hash:Uvo3HtuIxuhC92rShpgqcT3YXwrqRxWEviRiA0OZszk"
NONCE = "hS8zY1Kx9bQwT3mE5nV7rA2cD4fG6jL8"

SUBJECT: dict[str, Any] = {
    "given_name": "Erika",
    "family_name": "Mustermann",
    "birthdate": "1964-08-12",
    "age_over_18": True,
    "nationality": "DE",
    "address": {
        "street_address": "Heidestraße 17",
        "locality": "Köln",
        "postal_code": "51147",
        "country": "DE",
    },
    "document_number": "T22000129",
    "issuance_date": "2024-03-01",
    "expiry_date": "2034-02-28",
}

#: Every subject claim is selectively disclosable, the address members individually too.
DISCLOSABLE: list[ClaimPath] = [
    ("given_name",),
    ("family_name",),
    ("birthdate",),
    ("age_over_18",),
    ("nationality",),
    ("address",),
    ("address", "street_address"),
    ("address", "locality"),
    ("address", "postal_code"),
    ("address", "country"),
    ("document_number",),
    ("issuance_date",),
    ("expiry_date",),
]

#: The four claims presented (a counter checking identity and age).
PRESENTED: list[ClaimPath] = [
    ("given_name",),
    ("family_name",),
    ("age_over_18",),
    ("address", "locality"),
]
