"""The wallet role's ``IdentityCheck`` port (docs/mediators.md): a citizen consents to a
mediator's help by presenting their national ID to the deployment's consent counter
(``verifiers/catalog/citizen-space-consent.json``, template ``identification``), reached
over the verifier's public counter API with that counter's key, exactly as any counter
reaches it (``app.counter_api``; in process on this deployment's own origin). The wallet
role never imports the verifier role.

The request asks for an encrypted answer (``direct_post.jwt``, HAIP 1.0 §5.1). Which wallet
account answered is not the counter's to say: the citizen's wallet service binds the
mediation to the account that posted the accepted presentation to this request's
response URI (``wallet.services.help_requests.consent_by_presentation``)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from app.counter_api import CounterApi
from issuers.domain import CounterUnavailable
from wallet.domain import CounterpartyFailed

CONSENT_COUNTER = "citizen-space-consent"
TEMPLATE = "identification"


class ConsentCounter:
    def __init__(self, counter: CounterApi, public_base_url: str) -> None:
        self._counter = counter
        # where this counter takes its answers (``verifiers.services.context.response_uri``)
        self._responses = f"{public_base_url.rstrip('/')}/verifiers/{CONSENT_COUNTER}/responses/"

    def answers_to(self, response_uri: str) -> bool:
        return response_uri.startswith(self._responses)

    async def ask(self) -> tuple[str, str, str]:
        try:
            asked = await self._counter.ask(CONSENT_COUNTER, TEMPLATE)
        except CounterUnavailable as exc:
            raise CounterpartyFailed("the consent counter could not be reached") from exc
        request_uri = parse_qs(urlsplit(asked.uri).query).get("request_uri", [""])[0]
        if not request_uri.startswith("https://") and not request_uri.startswith("http://"):
            raise CounterpartyFailed("the consent counter made a request without request_uri")
        return asked.transaction_id, asked.uri, request_uri

    async def proven_names(self, transaction_id: str) -> dict[str, str] | None:
        try:
            answer = await self._counter.answer(CONSENT_COUNTER, transaction_id)
        except CounterUnavailable as exc:
            raise CounterpartyFailed("the consent counter could not be reached") from exc
        if answer.status != "verified" or not answer.proved:
            return None
        claims = answer.proved[0]
        return {
            name: str(claims[name])
            for name in ("given_name", "family_name")
            if isinstance(claims.get(name), str)
        }
