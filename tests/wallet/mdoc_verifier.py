"""The stand-in verifier (``stand_ins``) asking for mdocs (OpenID4VP 1.0 Appendix B.2): a
DCQL ``mso_mdoc`` query, ``vp_formats_supported`` naming ``mso_mdoc``, and, for
``direct_post.jwt``, its encryption key. What reaches its response URI is captured as the
response parameters (a JWE opened by RFC 7518 written out in the tests, no JOSE library),
with the parameters of the SessionTranscript the wallet should have signed, taken from
the request it answered, for a verification to check against."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from core.mdoc.elements import MDL_DOC_TYPE, MDL_NAMESPACE
from tests.wallet.stand_ins import StandIns
from tests.wallet.test_presentation_encryption import _ec_jwk, open_by_rfc_7518


def mdoc_query(
    doctype: str = MDL_DOC_TYPE,
    namespace: str = MDL_NAMESPACE,
    elements: tuple[str, ...] = ("family_name", "age_over_18"),
    *,
    retained: tuple[str, ...] = (),
    query_id: str = "mdl",
) -> dict[str, Any]:
    return {
        "credentials": [
            {
                "id": query_id,
                "format": "mso_mdoc",
                "meta": {"doctype_value": doctype},
                "claims": [
                    {"path": [namespace, element], "intent_to_retain": element in retained}
                    for element in elements
                ],
            }
        ]
    }


@dataclass
class Answer:
    """What the wallet sent, and the SessionTranscript parameters of the request."""

    parameters: dict[str, Any]
    client_id: str
    nonce: str
    response_uri: str
    #: The verifier's public key the response was encrypted to (None: not encrypted).
    encryption_jwk: dict[str, Any] | None

    @property
    def vp_token(self) -> dict[str, list[str]]:
        value: dict[str, list[str]] = self.parameters["vp_token"]
        return value


class MdocVerifier:
    def __init__(self, stand_ins: StandIns, monkeypatch: pytest.MonkeyPatch) -> None:
        self.stand_ins = stand_ins
        self.answers: dict[str, Answer] = {}
        monkeypatch.setattr(stand_ins, "receive_response", self._receive)

    def request(self, dcql: dict[str, Any], response_mode: str = "direct_post") -> tuple[str, str]:
        """An ``openid4vp://`` URI of a request for ``dcql`` and its id."""
        changes: dict[str, Any] = {"vp_formats_supported": {"mso_mdoc": {}}}
        if response_mode == "direct_post.jwt":
            changes["jwks"] = {"keys": [self.encryption_jwk]}
        self.stand_ins.client_metadata_changes = changes
        return self.stand_ins.request_uri(dcql=dcql, response_mode=response_mode)

    @property
    def encryption_jwk(self) -> dict[str, Any]:
        return _ec_jwk(self.stand_ins.encryption_key, kid="enc", alg="ECDH-ES", use="enc")

    def _receive(self, request_id: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        kept = self.stand_ins.requests[request_id]
        encrypted = set(form) == {"response"}
        if encrypted:
            _, plaintext = open_by_rfc_7518(form["response"], self.stand_ins.encryption_key)
            parameters: dict[str, Any] = json.loads(plaintext)
        else:
            parameters = dict(form)
            if "vp_token" in parameters:
                parameters["vp_token"] = json.loads(parameters["vp_token"])
        self.answers[request_id] = Answer(
            parameters=parameters,
            client_id=kept["client_id"],
            nonce=kept["nonce"],
            response_uri=f"{self.stand_ins.base}/response/{request_id}",
            encryption_jwk=self.encryption_jwk if encrypted else None,
        )
        return 200, {}
