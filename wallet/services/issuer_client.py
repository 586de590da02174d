"""The wallet's OpenID4VCI 1.0 client: what it asks of any issuer, over the guarded
outbound client, with every answer parsed strictly and bounded.

- Credential Offer (§4.1) by value or by reference (``credential_offer_uri``, §4.1.3);
- Credential Issuer Metadata (§12.2.2: well-known segment inserted before the path);
- Authorization Server Metadata (RFC 8414 §3, OpenID Connect discovery as fallback);
- Token Request with the pre-authorized code (§6.1), Nonce (§7), Credential (§8),
  Notification (§11).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from core.encoding import EncodingError, strict_json_loads
from core.errors import ProtocolError
from core.http.client import OutboundFailed, OutboundRefused
from wallet.domain import CounterpartyError, CounterpartyFailed, Refused
from wallet.ports import Outbound

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_CREDENTIAL_RESPONSE_BYTES = 2 * 1024 * 1024
MAX_CONFIGURATIONS = 10


def well_known(identifier: str, segment: str) -> str:
    """RFC 8414 §3.1 / OpenID4VCI §12.2.2: ``https://host/.well-known/<segment>/path``."""
    parts = urlsplit(identifier)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise Refused("the issuer identifier is not a URL without query or fragment")
    return f"{parts.scheme}://{parts.netloc}/.well-known/{segment}{parts.path.rstrip('/')}"


def _json(document_body: bytes, what: str) -> Any:
    try:
        return strict_json_loads(document_body, max_bytes=MAX_CREDENTIAL_RESPONSE_BYTES)
    except EncodingError as exc:
        raise CounterpartyFailed(f"the {what} is not acceptable JSON") from exc


@dataclass(slots=True)
class IssuerClient:
    outbound: Outbound

    async def get_json(
        self,
        url: str,
        what: str,
        *,
        language: str | None = None,
        redirects: int = 0,
        gone: ProtocolError | None = None,
    ) -> dict[str, Any]:
        """The JSON object at ``url``; ``gone`` is raised when the peer says it has no such
        document (404 or 410)."""
        try:
            self.outbound.check_url(url)
        except OutboundRefused as exc:
            raise Refused(f"the {what} URL is not one the wallet connects to") from exc
        headers = {"Accept-Language": language} if language else None
        try:
            if headers:
                answer = await self.outbound.send(
                    "GET",
                    url,
                    accept="application/json",
                    headers=headers,
                    max_bytes=MAX_DOCUMENT_BYTES,
                )
                if answer.status != 200:
                    raise OutboundFailed(f"{what} answered {answer.status}", status=answer.status)
            else:
                answer = await self.outbound.fetch(
                    url,
                    accept="application/json",
                    max_bytes=MAX_DOCUMENT_BYTES,
                    max_redirects=redirects,
                )
        except OutboundRefused as exc:
            raise Refused(f"the {what} URL is not one the wallet connects to") from exc
        except OutboundFailed as exc:
            if gone is not None and exc.status in (404, 410):
                raise gone from exc
            raise CounterpartyFailed(f"the {what} could not be fetched") from exc
        value = _json(answer.body, what)
        if not isinstance(value, dict):
            raise CounterpartyFailed(f"the {what} is not a JSON object")
        return value

    async def post(
        self,
        url: str,
        what: str,
        *,
        form: Mapping[str, str] | None = None,
        json_body: object = None,
        access_token: str | None = None,
    ) -> tuple[int, Any]:
        """POST; the status and the JSON body (None when there is none). An OAuth error
        answer becomes :class:`CounterpartyError` with the issuer's code."""
        headers = {"Authorization": f"Bearer {access_token}"} if access_token else None
        try:
            answer = await self.outbound.send(
                "POST",
                url,
                accept="application/json",
                form=form,
                json_body=json_body,
                headers=headers,
                max_bytes=MAX_CREDENTIAL_RESPONSE_BYTES,
            )
        except OutboundRefused as exc:
            raise Refused(f"the {what} URL is not one the wallet connects to") from exc
        except OutboundFailed as exc:
            raise CounterpartyFailed(f"the {what} could not be reached") from exc
        body = _json(answer.body, what) if answer.body.strip() else None
        if answer.status >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            description = body.get("error_description") if isinstance(body, dict) else None
            if isinstance(error, str):
                raise CounterpartyError(
                    error, f"the {what} refused: {str(description or error)[:300]}"
                )
            raise CounterpartyFailed(f"the {what} answered {answer.status}")
        return answer.status, body


def parse_offer(value: object) -> dict[str, Any]:
    """§4.1.1: the issuer, the configuration ids, the pre-authorized code grant."""
    if not isinstance(value, dict):
        raise Refused("the credential offer is not a JSON object")
    issuer = value.get("credential_issuer")
    ids = value.get("credential_configuration_ids")
    if not isinstance(issuer, str) or not issuer:
        raise Refused("the credential offer has no credential_issuer")
    if (
        not isinstance(ids, list)
        or not 0 < len(ids) <= MAX_CONFIGURATIONS
        or not all(isinstance(i, str) and 0 < len(i) <= 200 for i in ids)
        or len(set(ids)) != len(ids)
    ):
        raise Refused("credential_configuration_ids must be a list of distinct strings")
    grants = value.get("grants")
    grant = grants.get(PRE_AUTHORIZED_GRANT) if isinstance(grants, dict) else None
    if not isinstance(grant, dict):
        raise Refused("only offers with a pre-authorized code are supported")
    code = grant.get("pre-authorized_code")
    if not isinstance(code, str) or not 0 < len(code) <= 1024:
        raise Refused("the pre-authorized code is missing")
    tx_code = grant.get("tx_code")
    if tx_code is not None and not isinstance(tx_code, dict):
        raise Refused("tx_code must be an object")
    return {
        "credential_issuer": issuer,
        "credential_configuration_ids": ids,
        "pre_authorized_code": code,
        "tx_code": tx_code,
        "authorization_server": grant.get("authorization_server"),
    }


def parse_offer_parameter(text: str) -> object:
    try:
        return strict_json_loads(text.encode("utf-8"), max_bytes=4096, max_depth=16)
    except (EncodingError, UnicodeEncodeError) as exc:
        raise Refused("credential_offer is not acceptable JSON") from exc


def tx_code_view(tx_code: dict[str, Any] | None) -> dict[str, Any] | None:
    if tx_code is None:
        return None
    view: dict[str, Any] = {"required": True}
    if tx_code.get("input_mode") in ("numeric", "text"):
        view["input_mode"] = tx_code["input_mode"]
    if isinstance(tx_code.get("length"), int) and not isinstance(tx_code.get("length"), bool):
        view["length"] = tx_code["length"]
    if isinstance(tx_code.get("description"), str):
        view["description"] = tx_code["description"][:300]
    return view


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))
