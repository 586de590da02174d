"""The agencies' counters for presentation during issuance, reached over the verifier's
public counter API exactly as any counter reaches it (``createPresentationRequest``,
``getPresentationStatus``, ``releaseSameDeviceResult``) with the counter key of the
agency's verifier tenant: the issuer role never imports the verifier role. On this
deployment's own origin the calls stay in process (the outbound client's ``local``
transport); a counter API elsewhere is reached through the SSRF guard like any peer.

Every request asks for an encrypted answer, response mode ``direct_post.jwt`` (HAIP 1.0
§5.1: "Response encryption MUST be used by utilizing response mode direct_post.jwt";
OpenID4VP 1.0 §8.3.1): the citizen's identity data crosses the network only as a JWE to the
transaction's own key. A counter that says it made a request of another mode is refused.

Only the fields the issuer role reads are declared; the rest of each answer is ignored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import msgspec

from core.http.client import OutboundClient, OutboundFailed, OutboundRefused
from issuers.domain import AskedPresentation, CounterUnavailable, PresentationAnswer

MAX_ANSWER_BYTES = 256 * 1024
#: HAIP 1.0 §5.1: the response mode of every request the agencies' counters make.
RESPONSE_MODE = "direct_post.jwt"


class _Created(msgspec.Struct):
    transaction_id: str
    uri: str
    response_mode: str | None = None
    expires_at: str | None = None
    session_token: str | None = None


class _Proved(msgspec.Struct):
    claims: dict[str, Any]


class _Result(msgspec.Struct):
    credentials: dict[str, list[_Proved]] | None = None
    error: str | None = None
    wallet_error: str | None = None


class _Status(msgspec.Struct):
    status: str
    result: _Result | None = None


def _answer(status: _Status) -> PresentationAnswer:
    result = status.result
    if result is None:
        return PresentationAnswer(status=status.status)
    proved = tuple(
        proof.claims for proofs in (result.credentials or {}).values() for proof in proofs
    )
    return PresentationAnswer(
        status=status.status, proved=proved, error=result.error, wallet_error=result.wallet_error
    )


class CounterApi:
    """The issuer role's ``PresentationCounter`` port over HTTP."""

    def __init__(
        self, outbound: OutboundClient, base_url: str, counter_keys: Mapping[str, str]
    ) -> None:
        self._outbound = outbound
        self._base_url = base_url.rstrip("/")
        self._keys = dict(counter_keys)

    def _url(self, verifier_id: str, *parts: str) -> str:
        path = "".join(f"/{quote(p, safe='')}" for p in parts)
        return f"{self._base_url}/verifiers/{quote(verifier_id, safe='')}/presentations{path}"

    async def _call(
        self,
        method: str,
        url: str,
        *,
        json_body: object = None,
        counter_key: str | None,
    ) -> tuple[int, bytes]:
        headers = {} if counter_key is None else {"Authorization": f"Bearer {counter_key}"}
        try:
            answer = await self._outbound.send(
                method,
                url,
                accept="application/json",
                json_body=json_body,
                headers=headers,
                max_bytes=MAX_ANSWER_BYTES,
            )
        except (OutboundFailed, OutboundRefused) as exc:
            raise CounterUnavailable(f"the counter API could not be reached: {exc}") from exc
        return answer.status, answer.body

    def _key(self, verifier_id: str) -> str:
        key = self._keys.get(verifier_id)
        if key is None:
            raise CounterUnavailable(f"no counter key for {verifier_id}")
        return key

    async def ask(
        self, verifier_id: str, template: str, *, same_device_return: str | None = None
    ) -> AskedPresentation:
        body: dict[str, Any] = {"template": template, "response_mode": RESPONSE_MODE}
        if same_device_return is not None:
            body |= {"same_device": True, "same_device_redirect_uri": same_device_return}
        status, content = await self._call(
            "POST", self._url(verifier_id), json_body=body, counter_key=self._key(verifier_id)
        )
        if status != 201:
            raise CounterUnavailable(f"the counter API answered {status} to a new request")
        try:
            created = msgspec.json.decode(content, type=_Created)
        except msgspec.DecodeError as exc:
            raise CounterUnavailable("the counter API's answer is not a request") from exc
        if created.response_mode != RESPONSE_MODE:
            raise CounterUnavailable(
                f"the counter API made a request without response encryption ({RESPONSE_MODE})"
            )
        return AskedPresentation(
            transaction_id=created.transaction_id,
            uri=created.uri,
            expires_at=created.expires_at,
            session_token=created.session_token,
        )

    async def answer(self, verifier_id: str, transaction_id: str) -> PresentationAnswer:
        status, content = await self._call(
            "GET", self._url(verifier_id, transaction_id), counter_key=self._key(verifier_id)
        )
        if status == 404:  # purged: answered long ago, or never made
            return PresentationAnswer(status="expired")
        if status != 200:
            raise CounterUnavailable(f"the counter API answered {status} to a status request")
        try:
            return _answer(msgspec.json.decode(content, type=_Status))
        except msgspec.DecodeError as exc:
            raise CounterUnavailable("the counter API's answer is not a status") from exc

    async def release(
        self, verifier_id: str, transaction_id: str, *, response_code: str, session_token: str
    ) -> PresentationAnswer | None:
        status, content = await self._call(
            "POST",
            self._url(verifier_id, transaction_id, "release"),
            json_body={"response_code": response_code, "session_token": session_token},
            counter_key=None,
        )
        if status in (403, 404):
            return None
        if status != 200:
            raise CounterUnavailable(f"the counter API answered {status} to a release")
        try:
            return _answer(msgspec.json.decode(content, type=_Status))
        except msgspec.DecodeError as exc:
            raise CounterUnavailable("the counter API's answer is not a status") from exc
