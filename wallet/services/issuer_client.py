"""The wallet's OpenID4VCI 1.0 client: what it asks of any issuer, over the guarded
outbound client, with every answer parsed strictly and bounded.

- Credential Offer (§4.1) by value or by reference (``credential_offer_uri``, §4.1.3);
- the well-known URL of a metadata document (§12.2.2, RFC 8414 §3.1: the segment goes
  before the path), read by ``issuer_discovery``;
- every POST of the token (§6.1), nonce (§7), credential (§8) and notification (§11)
  endpoints, with an OAuth error answer passed on by its code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from msgspec import UNSET, UnsetType

from core.encoding import EncodingError, strict_json_loads
from core.errors import ProtocolError
from core.http.client import OutboundFailed, OutboundRefused
from core.messages import Message, convert_message
from core.oauth import ErrorResponse
from core.oid4vci import CredentialOffer, TxCode
from core.oid4vci_metadata import well_known_url
from wallet.domain import CounterpartyError, CounterpartyFailed, DpopNonceRequired, Refused
from wallet.ports import Outbound
from wallet.services.interaction_messages import TxCodePrompt

M = TypeVar("M", bound=Message)

MAX_DOCUMENT_BYTES = 256 * 1024
MAX_CREDENTIAL_RESPONSE_BYTES = 2 * 1024 * 1024
MAX_CONFIGURATIONS = 10
#: OpenID4VCI 1.0 §10: the media type of encrypted requests and responses.
JWT_MEDIA_TYPE = "application/jwt"
#: A DPoP nonce longer than this is not taken (servers keep them short).
MAX_NONCE_LENGTH = 512


def well_known(identifier: str, segment: str) -> str:
    """RFC 8414 §3.1 / OpenID4VCI §12.2.2: ``https://host/.well-known/<segment>/path``."""
    try:
        return well_known_url(identifier, segment)
    except ValueError:
        raise Refused("the issuer identifier is not a URL without query or fragment") from None


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
        answer = await self.exchange(url, what, form=form, json_body=json_body, headers=headers)
        return answer.status, answer.body

    async def exchange(
        self,
        url: str,
        what: str,
        *,
        form: Mapping[str, str] | None = None,
        json_body: object = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> PostAnswer:
        """POST with the given headers; the answer with the headers a sender-constrained
        client reads (``DPoP-Nonce``). An OAuth error answer becomes
        :class:`CounterpartyError` with the issuer's code; an answer asking for a DPoP
        nonce (RFC 9449 §8, §9: ``use_dpop_nonce`` in the body or in ``WWW-Authenticate``)
        becomes :class:`DpopNonceRequired` with the nonce to use."""
        try:
            answer = await self.outbound.send(
                "POST",
                url,
                accept="application/json",
                form=form,
                json_body=json_body,
                content=content,
                headers=headers,
                max_bytes=MAX_CREDENTIAL_RESPONSE_BYTES,
            )
        except OutboundRefused as exc:
            raise Refused(f"the {what} URL is not one the wallet connects to") from exc
        except OutboundFailed as exc:
            raise CounterpartyFailed(f"the {what} could not be reached") from exc
        if answer.status < 400 and answer.content_type == JWT_MEDIA_TYPE:
            # an encrypted answer (OpenID4VCI 1.0 §10): the caller opens it
            return PostAnswer(
                answer.status, None, _header(answer.headers, "dpop-nonce"), answer.body
            )
        nonce = _header(answer.headers, "dpop-nonce")
        if answer.status >= 400:
            challenge = _header(answer.headers, "www-authenticate") or ""
            if nonce is not None and (
                answer.status == 401 and 'error="use_dpop_nonce"' in challenge
            ):
                raise DpopNonceRequired(nonce, f"the {what} asks for a DPoP nonce")
        if answer.status >= 500:  # the issuer's own failure, whatever it says: try later
            raise CounterpartyFailed(f"the {what} failed ({answer.status})")
        body = _json(answer.body, what) if answer.body.strip() else None
        if answer.status >= 400:
            try:
                error = convert_message(body, ErrorResponse)
            except ProtocolError:
                raise CounterpartyFailed(f"the {what} answered {answer.status}") from None
            if error.error == "use_dpop_nonce" and nonce is not None:
                raise DpopNonceRequired(nonce, f"the {what} asks for a DPoP nonce")
            said = (
                error.error
                if isinstance(error.error_description, UnsetType)
                else (error.error_description)
            )
            raise CounterpartyError(error.error, f"the {what} refused: {said[:300]}")
        return PostAnswer(answer.status, body, nonce, None)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return None if value is None or len(value) > MAX_NONCE_LENGTH else value


@dataclass(frozen=True, slots=True)
class PostAnswer:
    status: int
    body: Any
    #: The ``DPoP-Nonce`` the server handed out with this answer (RFC 9449 §8.2, §9).
    dpop_nonce: str | None
    #: An ``application/jwt`` answer as it came (an encrypted response, §10); ``body`` is
    #: then None.
    jwt: bytes | None


def read_answer(body: object, message_type: type[M], what: str) -> M:
    """A counterparty's answer as the message it should be; a misfit is the
    counterparty's failure, named with what is wrong."""
    try:
        return convert_message(body, message_type)
    except ProtocolError as exc:
        raise CounterpartyFailed(f"the {what} answer is malformed: {exc.description}") from None


@dataclass(frozen=True, slots=True)
class ParsedOffer:
    """What the wallet takes from a Credential Offer: the pre-authorized code grant when
    there is one, else the authorization code grant (with its ``issuer_state``)."""

    credential_issuer: str
    credential_configuration_ids: list[str]
    pre_authorized_code: str | None
    tx_code: TxCode | None
    issuer_state: str | None
    authorization_server: str | None


def _given(value: str | UnsetType) -> str | None:
    return None if isinstance(value, UnsetType) else value


def parse_offer(value: object) -> ParsedOffer:
    """§4.1.1 through the shared ``CredentialOffer`` message: the issuer, the
    configuration ids, and the grant. An offer with both grants is taken by its
    pre-authorized code (the citizen was identified already); one with no grant at all is
    an authorization code offer (§4.1.1: the wallet then asks the authorization server)."""
    try:
        offer = convert_message(value, CredentialOffer)
    except ProtocolError as exc:
        raise Refused(f"the credential offer is malformed: {exc.description}") from None
    if len(offer.credential_configuration_ids) > MAX_CONFIGURATIONS:
        raise Refused(f"a credential offer of more than {MAX_CONFIGURATIONS} credentials")
    grants = offer.grants
    pre_authorized = UNSET if isinstance(grants, UnsetType) else grants.pre_authorized_code
    if not isinstance(pre_authorized, UnsetType):
        return ParsedOffer(
            credential_issuer=offer.credential_issuer,
            credential_configuration_ids=offer.credential_configuration_ids,
            pre_authorized_code=pre_authorized.pre_authorized_code,
            tx_code=None
            if isinstance(pre_authorized.tx_code, UnsetType)
            else pre_authorized.tx_code,
            issuer_state=None,
            authorization_server=_given(pre_authorized.authorization_server),
        )
    code = UNSET if isinstance(grants, UnsetType) else grants.authorization_code
    return ParsedOffer(
        credential_issuer=offer.credential_issuer,
        credential_configuration_ids=offer.credential_configuration_ids,
        pre_authorized_code=None,
        tx_code=None,
        issuer_state=None if isinstance(code, UnsetType) else _given(code.issuer_state),
        authorization_server=None
        if isinstance(code, UnsetType)
        else _given(code.authorization_server),
    )


def parse_offer_parameter(text: str) -> object:
    try:
        return strict_json_loads(text.encode("utf-8"), max_bytes=4096, max_depth=16)
    except (EncodingError, UnicodeEncodeError) as exc:
        raise Refused("credential_offer is not acceptable JSON") from exc


def tx_code_prompt(tx_code: TxCode | None) -> TxCodePrompt | None:
    """What the phone shows when asking for the transaction code (the offer's ``tx_code``)."""
    if tx_code is None:
        return None
    return TxCodePrompt(
        required=True,
        input_mode=tx_code.input_mode,
        length=tx_code.length,
        description=tx_code.description,
    )
