"""The register read from its own service, the way government data-exchange layers do it
(``core.register_exchange``: X-Road's client, service, id and issue in a query the agency
signs with its access certificate; an answer the register signs).

The query goes ``POST {register URL}/registers/{service}/queries`` (body: the query JWS,
``Content-Type: application/register-query+jwt``, with X-Road's ``X-Road-Client`` and
``X-Road-Id`` headers repeated for the register's logs) through the deployment's one
outbound client: the SSRF guard (the register's own ``host:port`` is the one exception
made for it), the outbound deadline and minimum rate, a size cap before anything is
parsed, and mutual TLS where configured. Whatever the HTTP status, only a signed answer
that verifies counts; the record it carries must fit the credential configuration, or it
is refused like any other failed check: nothing is issued on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.clock import SYSTEM_CLOCK, Clock
from core.http.client import OutboundClient, OutboundFailed, OutboundRefused
from core.register_exchange import (
    ANSWER_MEDIA_TYPE,
    MAX_ANSWER_BYTES,
    QUERY_MEDIA_TYPE,
    ExchangeRefused,
    RegisterQueryMessage,
    TrustedSigners,
    read_answer,
    sign_query,
)
from issuers.domain import (
    Agency,
    RegisterQuery,
    RegisterRecord,
    RegisterUnavailable,
    SeveralInRegister,
)
from issuers.ports import IssuerKeys
from issuers.services.subject_claims import InvalidSubjectClaims, check_subject_claims


@dataclass(frozen=True, slots=True)
class RegisterEndpoint:
    """Where an agency's registers answer: the service's base URL (its certificate must
    name it, a SAN URI). The register asked there (``service``) is the one the catalog
    names for the configuration (``Agency.register_for``)."""

    url: str

    def queries_url(self, service: str) -> str:
        return f"{self.url.rstrip('/')}/registers/{service}/queries"


class HttpRegister:
    def __init__(
        self,
        *,
        agencies: dict[str, Agency],
        endpoints: dict[str, RegisterEndpoint],
        keys: IssuerKeys,
        outbound: OutboundClient,
        trusted: TrustedSigners,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._agencies = agencies
        self._endpoints = endpoints
        self._keys = keys
        self._outbound = outbound
        self._trusted = trusted
        self._clock = clock

    async def read(self, query: RegisterQuery) -> RegisterRecord | None:
        endpoint = self._endpoints.get(query.issuer_id)
        agency = self._agencies.get(query.issuer_id)
        if endpoint is None or agency is None:
            raise RegisterUnavailable("refused", "no register is configured for this agency")
        configuration = agency.configurations[query.configuration_id]
        service = agency.register_for(query.configuration_id)
        message = RegisterQueryMessage(
            client=query.issuer_id,
            service=service,
            purpose=query.purpose.value,
            records=query.configuration_id,
            audience=endpoint.url.rstrip("/"),
            person=query.subject_id,
            identity=dict(query.identity),
        )
        signer = await self._keys.signer(query.issuer_id)
        token = sign_query(message, signer, now=self._clock.now())
        try:
            sent = await self._outbound.send(
                "POST",
                endpoint.queries_url(service),
                accept=ANSWER_MEDIA_TYPE,
                content=token.encode("ascii"),
                headers={
                    "Content-Type": QUERY_MEDIA_TYPE,
                    "X-Road-Client": query.issuer_id,
                    "X-Road-Id": message.id,
                },
                max_bytes=MAX_ANSWER_BYTES,
            )
        except (OutboundFailed, OutboundRefused) as exc:
            raise RegisterUnavailable("unreachable", str(exc)) from exc
        if sent.content_type != ANSWER_MEDIA_TYPE:
            raise RegisterUnavailable(
                "invalid_answer", f"the register answered {sent.status} without a signed answer"
            )
        try:
            answer = read_answer(
                sent.body.decode("ascii"),
                self._trusted,
                query=message,
                query_token=token,
                register_uri=endpoint.url.rstrip("/"),
                now=self._clock.now(),
            )
        except UnicodeDecodeError as exc:
            raise RegisterUnavailable("invalid_answer", "the answer is not a JWS") from exc
        except ExchangeRefused as exc:
            raise RegisterUnavailable("invalid_answer", exc.description) from exc
        if answer.status == "refused":
            raise RegisterUnavailable(
                "refused", f"{answer.error}: {answer.error_description or 'no reason given'}"
            )
        if answer.status == "ambiguous":
            raise SeveralInRegister("several register entries match")
        if answer.status == "not_found":
            return None
        assert answer.person is not None and answer.claims is not None  # read_answer: found
        try:
            claims = check_subject_claims(configuration, answer.claims)
        except InvalidSubjectClaims as exc:
            raise RegisterUnavailable(
                "invalid_answer", f"the record does not fit {configuration.id}: {exc}"
            ) from exc
        return RegisterRecord(answer.person, claims)
