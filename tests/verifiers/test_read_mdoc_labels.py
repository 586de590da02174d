"""Reading mdoc claim labels from Credential Issuer Metadata, without an app: where the
metadata is looked for (§12.2.2, built as the wallet builds it), which configurations and
paths lend labels (Appendix A.2.2, §9), and the issuers no labels are read for."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from core.http.client import FetchedDocument, OutboundFailed
from verifiers.services.fetch_label_documents import LabelsUnavailable
from verifiers.services.read_mdoc_labels import MdocClaimLabels, issuer_metadata_url
from wallet.domain import Refused
from wallet.services.issuer_client import well_known

ISSUER = "https://issuer.example/tenant"
MDL = "org.iso.18013.5.1.mDL"
NS = "org.iso.18013.5.1"


@pytest.mark.parametrize(
    "identifier",
    [
        "https://issuer.example/tenant",
        "https://issuer.example/tenant/",
        "https://issuer.example",
        "https://issuer.example:8443/a/b",
        "http://127.0.0.1:8000/issuers/civil-registry",
    ],
)
def test_the_metadata_is_where_the_wallet_looks_for_it(identifier: str) -> None:
    assert issuer_metadata_url(identifier) == well_known(identifier, "openid-credential-issuer")


@pytest.mark.parametrize(
    "identifier",
    ["https://issuer.example/t?x=1", "https://issuer.example/t#f", "urn:x:issuer", "/issuers/a"],
)
def test_an_identifier_that_is_no_issuer_url_has_no_metadata(identifier: str) -> None:
    with pytest.raises(LabelsUnavailable):
        issuer_metadata_url(identifier)
    with pytest.raises(Refused):
        well_known(identifier, "openid-credential-issuer")


def _display(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"locale": locale, "name": name} for locale, name in pairs]


def _configuration(doctype: str, claims: list[dict[str, Any]], fmt: str = "mso_mdoc") -> Any:
    return {"format": fmt, "doctype": doctype, "credential_metadata": {"claims": claims}}


METADATA = {
    "credential_issuer": ISSUER,
    "credential_endpoint": f"{ISSUER}/credential",
    "credential_configurations_supported": {
        "sd_jwt": {
            "format": "dc+sd-jwt",
            "vct": "https://issuer.example/licence",
            "credential_metadata": {
                "claims": [{"path": ["family_name"], "display": _display(("en", "Surname"))}]
            },
        },
        "other_doctype": _configuration(
            "org.example.other",
            [{"path": [NS, "given_name"], "display": _display(("en", "Other given name"))}],
        ),
        "mdl": _configuration(
            MDL,
            [
                {
                    "path": [NS, "family_name"],
                    "display": [
                        *_display(("en", "Family name"), ("de", "Nachname")),
                        {"name": "No language"},
                        {"locale": "fr"},
                    ],
                },
                {"path": [NS, "birth_date"], "display": _display(("en", "Date of birth"))},
                {"path": [NS, "driving_privileges"], "mandatory": True},
                {
                    "path": [NS, "driving_privileges", None, "vehicle_category_code"],
                    "display": _display(("en", "Category")),
                },
                {"path": [NS], "display": _display(("en", "A name space"))},
                {"path": [0, "given_name"], "display": _display(("en", "Not an mdoc path"))},
            ],
        ),
        "mdl_again": _configuration(
            MDL,
            [
                {"path": [NS, "family_name"], "display": _display(("en", "Second word"))},
                {"path": [NS, "given_name"], "display": _display(("en", "Given name"))},
            ],
        ),
    },
}


class Publisher:
    """A stand-in for the outbound client: one document per URL, requests counted."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self.documents = documents
        self.hits: Counter[str] = Counter()

    async def fetch(self, url: str, *, accept: str, max_bytes: int = 0) -> FetchedDocument:
        self.hits[url] += 1
        if url not in self.documents:
            raise OutboundFailed(f"{url} answered 404", status=404)
        body = json.dumps(self.documents[url]).encode()
        return FetchedDocument(url, "application/json", body, {})


async def test_labels_come_from_the_configurations_of_the_doctype() -> None:
    publisher = Publisher({issuer_metadata_url(ISSUER): METADATA})
    reader = MdocClaimLabels(publisher, own_origin="https://verifier.example")
    proven = {
        NS: {
            "family_name": "Doe",
            "given_name": "Jane",
            "driving_privileges": [{"vehicle_category_code": "B"}],
        }
    }
    labels = await reader.labels(ISSUER, MDL, proven)
    assert labels == [
        {
            "path": [NS, "family_name"],
            "display": [
                {"locale": "en", "label": "Family name"},
                {"locale": "de", "label": "Nachname"},
            ],
        },
        {
            "path": [NS, "driving_privileges", None, "vehicle_category_code"],
            "display": [{"locale": "en", "label": "Category"}],
        },
        {"path": [NS, "given_name"], "display": [{"locale": "en", "label": "Given name"}]},
    ]
    assert await reader.labels(ISSUER, "org.example.unknown", proven) == []
    assert publisher.hits == {issuer_metadata_url(ISSUER): 1}


async def test_no_issuer_or_no_https_issuer_is_no_labels_and_no_fetch() -> None:
    publisher = Publisher({})
    reader = MdocClaimLabels(publisher, own_origin="https://verifier.example")
    proven = {NS: {"family_name": "Doe"}}
    for issuer in (None, "http://issuer.example/tenant", "https://issuer.example/t?x=1"):
        assert await reader.labels(issuer, MDL, proven) == []
    assert publisher.hits == {}
