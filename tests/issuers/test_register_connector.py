"""The HTTP register connector and the demo register service, joined in process over the
outbound client (``core.register_exchange``): what a register answers, and every answer
the agency refuses (a signature not under the trust anchor, another query's id, a stale
answer, a record that does not fit the configuration, an unsigned error), the register's
refusals (an agency it does not know, a purpose not allowed), and the audit of each read."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from app.demo_register import DemoRegister, RegisterAccess, SeenQueries, demo_access
from core.audit.trail import AuditEntry
from core.encoding import b64url_decode
from core.http.client import OutboundClient
from core.jose.jws import sign_compact
from core.keys.signer import SoftwareSigner
from core.keys.x509 import (
    AccessCertificateRequest,
    create_trust_anchor,
    issue_access_certificate,
    to_x5c,
)
from core.register_exchange import (
    ANSWER_MEDIA_TYPE,
    ANSWER_TYPE,
    QUERY_MEDIA_TYPE,
    QUERY_TYPE,
    TrustedSigners,
)
from issuers.domain import (
    Agency,
    Display,
    RegisterPurpose,
    RegisterQuery,
    RegisterSource,
    RegisterUnavailable,
    SeveralInRegister,
)
from issuers.registers.audited import AuditedRegister
from issuers.registers.file import FileRegister
from issuers.registers.http import HttpRegister, RegisterEndpoint
from issuers.services.catalog import CATALOG_DIR, CatalogError, load_catalog

BASE = "https://id.example.gov"
REGISTER = "http://register.test"
AGENCY = "transport-agency"
NOW = dt.datetime.now(dt.UTC)
Scope = MutableMapping[str, Any]
Answering = Callable[[bytes], Awaitable[tuple[int, str, bytes]]]


def _authority(name: str) -> tuple[SoftwareSigner, Any]:
    signer = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
    return signer, create_trust_anchor(signer, common_name=name, now=NOW)


def _certified(anchor: tuple[SoftwareSigner, Any], uri: str) -> SoftwareSigner:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = issue_access_certificate(
        AccessCertificateRequest(common_name=uri, uris=(uri,)),
        key.public_key(),
        anchor_signer=anchor[0],
        anchor=anchor[1],
        now=NOW,
    )
    return SoftwareSigner(key, x5c=to_x5c([certificate]))


ANCHOR = _authority("test trust anchor")
OTHER_ANCHOR = _authority("another anchor")
AGENCY_SIGNER = _certified(ANCHOR, f"{BASE}/issuers/{AGENCY}")
REGISTER_SIGNER = _certified(ANCHOR, REGISTER)


class _Keys:
    def __init__(self, signer: SoftwareSigner) -> None:
        self._signer = signer

    async def signer(self, issuer_id: str) -> SoftwareSigner:
        return self._signer

    async def jwks(self, issuer_id: str) -> list[dict[str, str]]:
        return []

    async def decrypter(self, issuer_id: str, *, fresh: bool = False) -> Any:
        raise NotImplementedError


def _asgi(answering: Answering) -> Callable[..., Awaitable[None]]:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, content_type, content = await answering(body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type.encode())],
            }
        )
        await send({"type": "http.response.body", "body": content})

    return app


def _demo(agencies: dict[str, Agency], **options: Any) -> DemoRegister:
    return DemoRegister(
        agencies=agencies,
        public_base_url=BASE,
        url=REGISTER,
        anchors=(ANCHOR[1],),
        signer=options.pop("signer", REGISTER_SIGNER),
        **options,
    )


def _through(
    demo: DemoRegister, change: Callable[[dict[str, Any]], None] | None = None
) -> Answering:
    """The demo register's answers, with ``change`` made to each answer's payload and the
    answer signed again by the register's own key (a register that answers wrongly)."""

    async def answering(body: bytes) -> tuple[int, str, bytes]:
        status, token = demo.answer(AGENCY, QUERY_MEDIA_TYPE, body)
        if change is not None:
            payload = json.loads(b64url_decode(token.split(".")[1]))
            change(payload)
            token = sign_compact(payload, REGISTER_SIGNER, typ=ANSWER_TYPE, include_x5c=True)
        return status, ANSWER_MEDIA_TYPE, token.encode()

    return answering


def _connector(
    answering: Answering, agencies: dict[str, Agency], *, signer: SoftwareSigner = AGENCY_SIGNER
) -> HttpRegister:
    outbound = OutboundClient(local={REGISTER: httpx.ASGITransport(app=_asgi(answering))})
    return HttpRegister(
        agencies=agencies,
        endpoints={AGENCY: RegisterEndpoint(REGISTER)},
        keys=_Keys(signer),
        outbound=outbound,
        trusted=TrustedSigners((ANCHOR[1],)),
    )


def _query(subject: str | None = "demo-citizen", **identity: str) -> RegisterQuery:
    return RegisterQuery(
        AGENCY,
        "driving_licence",
        RegisterPurpose.ISSUE_CREDENTIAL,
        subject_id=subject,
        identity=tuple(identity.items()),
    )


@pytest.fixture
def agencies() -> dict[str, Agency]:
    return load_catalog()


async def test_the_register_answers_what_the_file_holds(agencies: dict[str, Agency]) -> None:
    register = _connector(_through(_demo(agencies)), agencies)
    files = FileRegister(agencies)
    found = await register.read(_query())
    assert found is not None and found == await files.read(_query())
    assert found.claims["family_name"] == "Mustermann"
    assert await register.read(_query("nobody")) is None
    by_identity = await register.read(
        _query(None, given_name="Erika", family_name="Mustermann", birthdate="1964-08-12")
    )
    assert by_identity is not None and by_identity.subject_id == "demo-citizen"
    assert await register.read(_query(None, given_name="Max")) is None


async def test_several_people_matching_is_ambiguous_and_names_nobody(
    agencies: dict[str, Agency],
) -> None:
    agency = agencies[AGENCY]
    twin = dict(agency.register) | {"twin": agency.register["demo-citizen"]}
    agencies = agencies | {AGENCY: dataclasses.replace(agency, register=twin)}
    for register in (_connector(_through(_demo(agencies)), agencies), FileRegister(agencies)):
        with pytest.raises(SeveralInRegister):
            await register.read(_query(None, given_name="Erika"))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda p: p.update(id="another-query-id"), "id is not the query's"),
        (lambda p: p.update(request_hash="AAAA"), "request_hash is not the query's"),
        (lambda p: p.update(client="civil-registry"), "client is not the query's"),
        (lambda p: p.update(iat=p["iat"] - 3600, exp=p["exp"] - 3600), "expired"),
        (lambda p: p["claims"].update(favourite_colour="blue"), "does not fit driving_licence"),
        (lambda p: p["claims"].pop("family_name"), "does not fit driving_licence"),
        (lambda p: p.update(person="someone-else"), "another person's"),
        (lambda p: p.update(status="maybe"), "no known status"),
    ],
)
async def test_an_answer_that_fails_a_check_is_refused(
    agencies: dict[str, Agency], change: Callable[[dict[str, Any]], None], why: str
) -> None:
    register = _connector(_through(_demo(agencies), change), agencies)
    with pytest.raises(RegisterUnavailable) as refused:
        await register.read(_query())
    assert refused.value.reason == "invalid_answer"
    assert why in refused.value.detail


async def test_an_answer_signed_outside_the_trust_anchor_is_refused(
    agencies: dict[str, Agency],
) -> None:
    impostor = _certified(OTHER_ANCHOR, REGISTER)
    register = _connector(_through(_demo(agencies, signer=impostor)), agencies)
    with pytest.raises(RegisterUnavailable) as refused:
        await register.read(_query())
    assert refused.value.reason == "invalid_answer"
    assert "signature" in refused.value.detail
    # under the anchor, but certified for another URL than the register's
    elsewhere = _certified(ANCHOR, "http://elsewhere.test")
    register = _connector(_through(_demo(agencies, signer=elsewhere)), agencies)
    with pytest.raises(RegisterUnavailable, match="signed by another party"):
        await register.read(_query())


async def test_an_unsigned_answer_is_refused(agencies: dict[str, Agency]) -> None:
    async def plain(body: bytes) -> tuple[int, str, bytes]:
        return 500, "application/json", b'{"error": "oops"}'

    with pytest.raises(RegisterUnavailable) as refused:
        await _connector(plain, agencies).read(_query())
    assert refused.value.reason == "invalid_answer"


async def test_the_register_refuses_who_it_does_not_know_and_purposes_not_allowed(
    agencies: dict[str, Agency],
) -> None:
    stranger = _certified(OTHER_ANCHOR, f"{BASE}/issuers/{AGENCY}")
    posing = _certified(ANCHOR, f"{BASE}/issuers/civil-registry")
    for signer, error in (
        (stranger, "invalid_query"),
        (posing, "client_not_registered"),
    ):
        register = _connector(_through(_demo(agencies)), agencies, signer=signer)
        with pytest.raises(RegisterUnavailable) as refused:
            await register.read(_query())
        assert refused.value.reason == "refused" and error in refused.value.detail
    desk_only = RegisterAccess({AGENCY: {AGENCY: frozenset({"desk_lookup"})}})
    register = _connector(_through(_demo(agencies, access=desk_only)), agencies)
    with pytest.raises(RegisterUnavailable, match="purpose_not_allowed"):
        await register.read(_query())


async def test_a_stale_query_is_refused_by_the_register(agencies: dict[str, Agency]) -> None:
    later = _demo(agencies, clock=lambda: time.time() + 3600)
    with pytest.raises(RegisterUnavailable) as refused:
        await _connector(_through(later), agencies).read(_query())
    # the register's refusal is itself signed at its own (later) time: stale for the agency
    assert refused.value.reason in ("refused", "invalid_answer")


async def test_an_unreachable_register_fails_the_read(agencies: dict[str, Agency]) -> None:
    outbound = OutboundClient(exceptions=["127.0.0.1:9"], deadline=2)
    register = HttpRegister(
        agencies=agencies,
        endpoints={AGENCY: RegisterEndpoint("http://127.0.0.1:9")},
        keys=_Keys(AGENCY_SIGNER),
        outbound=outbound,
        trusted=TrustedSigners((ANCHOR[1],)),
    )
    with pytest.raises(RegisterUnavailable) as failed:
        await register.read(_query())
    assert failed.value.reason == "unreachable"
    await outbound.close()


class _Trail:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def append(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


async def test_every_read_is_audited_without_the_person(agencies: dict[str, Agency]) -> None:
    trail = _Trail()
    twin = dict(agencies[AGENCY].register) | {"twin": agencies[AGENCY].register["demo-citizen"]}
    doubled = agencies | {AGENCY: dataclasses.replace(agencies[AGENCY], register=twin)}
    audited = AuditedRegister(_connector(_through(_demo(doubled)), doubled), trail, doubled)
    await audited.read(_query())
    await audited.read(_query("nobody"))
    with pytest.raises(SeveralInRegister):
        await audited.read(_query(None, given_name="Erika"))
    broken = AuditedRegister(
        _connector(_through(_demo(agencies), lambda p: p.update(id="x" * 10)), agencies),
        trail,
        agencies,
    )
    with pytest.raises(RegisterUnavailable):
        await broken.read(_query())
    assert [e.outcome for e in trail.entries] == ["ok", "not_found", "ambiguous", "invalid_answer"]
    for entry in trail.entries:
        assert (entry.actor_kind, entry.actor, entry.action) == ("agency", AGENCY, "register.read")
        assert entry.facts["purpose"] == "issue_credential"
        assert entry.facts["credential_configuration"] == "driving_licence"
        assert entry.subject_key is None
        assert "demo-citizen" not in repr(entry) and "Erika" not in repr(entry)
    assert trail.entries[0].facts["register"] == AGENCY


POPULATION = "civil-registry"
POPULATION_REGISTER = RegisterSource(
    POPULATION, (Display(locale="en", name="Population register"),)
)


def _reading_the_population_register(agencies: dict[str, Agency]) -> dict[str, Agency]:
    """The transport agency configured to read the driving licence's records from the
    population register (the civil registry's), which holds them."""
    transport, population = agencies[AGENCY], agencies[POPULATION]
    moved = {
        person: {
            **population.register.get(person, {}),
            "driving_licence": records["driving_licence"],
        }
        for person, records in transport.register.items()
    }
    return agencies | {
        AGENCY: dataclasses.replace(
            transport,
            register={},
            register_sources={"driving_licence": POPULATION_REGISTER},
        ),
        POPULATION: dataclasses.replace(population, register=moved),
    }


async def test_an_agency_reads_the_register_its_catalog_names(
    agencies: dict[str, Agency],
) -> None:
    configured = _reading_the_population_register(agencies)
    asked: list[str] = []

    def answering(demo: DemoRegister) -> Answering:
        async def answer(body: bytes) -> tuple[int, str, bytes]:
            service = json.loads(b64url_decode(body.decode().split(".")[1]))["service"]
            asked.append(service)
            status, token = demo.answer(service, QUERY_MEDIA_TYPE, body)
            return status, ANSWER_MEDIA_TYPE, token.encode()

        return answer

    trail = _Trail()
    register = AuditedRegister(
        _connector(answering(_demo(configured)), configured), trail, configured
    )
    found = await register.read(_query())
    assert found is not None and found.claims["family_name"] == "Mustermann"
    assert asked == [POPULATION]
    assert trail.entries[0].facts["register"] == POPULATION
    assert found == await FileRegister(configured).read(_query())
    # a register grants only the agencies the catalog says read it
    unconfigured = configured | {AGENCY: agencies[AGENCY]}
    demo = _demo(configured, access=demo_access(unconfigured))
    with pytest.raises(RegisterUnavailable, match="purpose_not_allowed"):
        await _connector(answering(demo), configured).read(_query())


def test_the_catalog_names_the_register_read_and_checks_its_records(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, catalog)
    transport = json.loads((catalog / "transport-agency.json").read_text())
    transport["register_reads"] = {
        "driving_licence": {
            "register": POPULATION,
            "register_display": [{"locale": "en", "name": "Population register"}],
        }
    }
    (catalog / "transport-agency.json").write_text(json.dumps(transport))
    population = json.loads((catalog / "registers" / "civil-registry.json").read_text())
    licences = json.loads((catalog / "registers" / "transport-agency.json").read_text())
    population["subjects"]["demo-citizen"]["driving_licence"] = licences["subjects"][
        "demo-citizen"
    ]["driving_licence"]
    (catalog / "registers" / "civil-registry.json").write_text(json.dumps(population))
    loaded = load_catalog(catalog)
    assert loaded[AGENCY].register_for("driving_licence") == POPULATION
    assert loaded[AGENCY].register_for("professional_driving_licence") == AGENCY
    assert loaded[AGENCY].register_display_for("driving_licence")[0].name == "Population register"
    assert "driving_licence" in loaded[POPULATION].register["demo-citizen"]
    # a record of a configuration nobody reads from there is refused, as before
    population["subjects"]["demo-citizen"]["professional_driving_licence"] = licences["subjects"][
        "demo-citizen"
    ]["professional_driving_licence"]
    (catalog / "registers" / "civil-registry.json").write_text(json.dumps(population))
    with pytest.raises(CatalogError, match="unknown 'professional_driving_licence'"):
        load_catalog(catalog)


def _raw_query(**changes: Any) -> bytes:
    """A query the transport agency signs itself, as a client that sends what it likes."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "client": AGENCY,
        "service": AGENCY,
        "id": "0b7c1e7e-6f0e-4a8b-9d31-1c2d3e4f5a6b",
        "iat": now,
        "exp": now + 60,
        "aud": REGISTER,
        "purpose": "issue_credential",
        "records": "driving_licence",
        "person": "demo-citizen",
    }
    payload.update(changes)
    payload = {name: value for name, value in payload.items() if value is not ...}
    return sign_compact(payload, AGENCY_SIGNER, typ=QUERY_TYPE, include_x5c=True).encode()


def _answer_of(token: str) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return answer


@pytest.mark.parametrize(
    "changes",
    [
        {"person": None},  # no one named: must not match the first citizen
        {"person": ""},
        {"person": 7},
        {"person": ..., "identity": {}},  # an empty question matches everyone
        {"person": None, "identity": {"given_name": "Erika"}},
    ],
)
def test_a_query_that_names_nobody_is_refused(
    agencies: dict[str, Agency], changes: dict[str, Any]
) -> None:
    status, token = _demo(agencies).answer(AGENCY, QUERY_MEDIA_TYPE, _raw_query(**changes))
    answer = _answer_of(token)
    assert status == 400 and answer["status"] == "refused", answer
    assert answer["error"] == "invalid_query"
    assert "claims" not in answer and "person" not in answer


def test_a_query_for_another_register_is_refused(agencies: dict[str, Agency]) -> None:
    for audience in ("http://elsewhere.test", ...):
        status, token = _demo(agencies).answer(
            AGENCY, QUERY_MEDIA_TYPE, _raw_query(aud=audience, id=f"query-{audience!s:.20}")
        )
        answer = _answer_of(token)
        assert status == 400 and answer["error"] == "invalid_query", answer
        assert "not addressed to this register" in answer["error_description"]


def test_a_query_is_answered_once(agencies: dict[str, Agency]) -> None:
    demo = _demo(agencies)
    query = _raw_query()
    status, token = demo.answer(AGENCY, QUERY_MEDIA_TYPE, query)
    assert status == 200 and _answer_of(token)["status"] == "found"
    status, token = demo.answer(AGENCY, QUERY_MEDIA_TYPE, query)
    replayed = _answer_of(token)
    assert status == 409 and replayed["status"] == "refused", replayed
    assert replayed["error"] == "replayed_query" and "claims" not in replayed
    # the same id signed again (a fresh iat) is the same query: refused too
    status, _ = demo.answer(AGENCY, QUERY_MEDIA_TYPE, _raw_query(iat=int(time.time()) - 1))
    assert status == 409
    # another id is a new query
    status, _ = demo.answer(AGENCY, QUERY_MEDIA_TYPE, _raw_query(id="another-query-id"))
    assert status == 200


def test_the_remembered_queries_are_bounded() -> None:
    seen = SeenQueries(limit=2)
    assert seen.first_use(AGENCY, "query-one", keep_until=100, now=0)
    assert seen.first_use(AGENCY, "query-two", keep_until=200, now=0)
    assert not seen.first_use(AGENCY, "query-one", keep_until=100, now=50)
    # full of live ids: refused rather than let through unchecked
    assert not seen.first_use(AGENCY, "query-three", keep_until=300, now=50)
    # once the first expired, it is forgotten and there is room
    assert seen.first_use(AGENCY, "query-three", keep_until=300, now=150)
    assert not seen.first_use(AGENCY, "query-three", keep_until=300, now=160)


async def test_any_other_failure_is_audited_and_the_register_unavailable(
    agencies: dict[str, Agency],
) -> None:
    class _Broken:
        async def signer(self, issuer_id: str) -> SoftwareSigner:
            raise KeyError(issuer_id)  # no signing key for the agency

    trail = _Trail()
    register = HttpRegister(
        agencies=agencies,
        endpoints={AGENCY: RegisterEndpoint(REGISTER)},
        keys=_Broken(),  # type: ignore[arg-type]
        outbound=OutboundClient(),
        trusted=TrustedSigners((ANCHOR[1],)),
    )
    with pytest.raises(RegisterUnavailable) as failed:
        await AuditedRegister(register, trail, agencies).read(_query())
    assert failed.value.reason == "error"
    assert [e.outcome for e in trail.entries] == ["error"]
