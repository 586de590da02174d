"""A Python client generated from the checked-in OpenAPI document drives a citizen's whole
journey against a real server, on SQLite and on PostgreSQL: an agency clerk offers a
national ID with a transaction code, the citizen registers a phone, scans and accepts the
offer and sees the card; a bar's counter asks for ``age_over_18``, the citizen scans and
approves, the counter sees the result verified and the citizen's activity log shows both.

If the generated client cannot express a call, the document is wrong. The client is made
by a maintained generator that knows nothing of our code (openapi-python-client, settings
in ``openapi-python-client.yaml`` beside this file), in every run, into a temporary
directory it is imported from: nothing generated is kept. Any warning or error that the
generator reports about the document fails the run, with the generator's own output.

Every call below goes through the generated client (with its typed request models), and an
answer the document does not declare (an undocumented status code) raises. Each step is a
test of its own, in order, sharing one citizen per database: a step that cannot run because
an earlier one failed is skipped with the step it needed."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.jose.jws import sign_compact
from core.keys.signer import SoftwareSigner
from tests.conftest import backend_url, migrated_database
from tests.issuers.test_catalog import CITIZEN
from tests.support.server import ROOT, running_server

DOCUMENT = ROOT / "openapi" / "openapi.json"
GENERATOR_CONFIG = Path(__file__).with_name("openapi-python-client.yaml")
# The generated package's name: unlike any module of ours, so that it can only be this one.
PACKAGE = "idwallet_generated_client"
DEVICE_PROOF_TYP = "wallet-device-proof+jwt"
SUBJECT = "generated-client-citizen"
ISSUER = "civil-registry"
VERIFIER = "bar-age-check"


class GeneratedClient:
    """The generated package, reached by the document's names: operations by operationId,
    request and response models by component schema name. Typed as Any at this boundary:
    the code is generated in the run, so no type checker sees it."""

    def __init__(self, root: Path, package: ModuleType) -> None:
        self.root = root
        self.package = package
        self.models: Any = importlib.import_module(f"{PACKAGE}.models")

    def operation(self, operation_id: str) -> Any:
        """The module the generator made for ``operation_id`` (under its tag's folder)."""
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()
        found = sorted((self.root / PACKAGE / "api").glob(f"*/{name}.py"))
        assert len(found) == 1, f"{operation_id}: generated as {found or 'nothing'}"
        return importlib.import_module(f"{PACKAGE}.api.{found[0].parent.name}.{name}")

    def client(self, base_url: str, token: str | None = None) -> Any:
        """A client of the server that raises on any status code the document does not
        declare for the operation; with ``token``, one that sends it as a bearer token."""
        if token is None:
            return self.package.Client(base_url, raise_on_unexpected_status=True, timeout=30)
        return self.package.AuthenticatedClient(
            base_url, token=token, raise_on_unexpected_status=True, timeout=30
        )

    def call(self, operation_id: str, client: Any, expected: int, **arguments: Any) -> Any:
        """``operation_id`` sent with the generated ``sync_detailed``; what the client parsed
        from the answer, which must have status ``expected``."""
        response = self.operation(operation_id).sync_detailed(client=client, **arguments)
        assert response.status_code == expected, (
            f"{operation_id} answered {int(response.status_code)}, not {expected}: "
            f"{response.content[:500]!r}"
        )
        return response.parsed


def generate(into: Path) -> tuple[str, float]:
    """Runs the generator on the checked-in document into ``into``; what it printed and how
    long it took. Fails the run on anything it says beyond naming where it generates."""
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(DOCUMENT),
            "--config",
            str(GENERATOR_CONFIG),
            "--meta",
            "none",
            "--output-path",
            str(into / PACKAGE),
            "--fail-on-warning",
        ],
        cwd=into,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    seconds = time.monotonic() - started
    output = (result.stdout + result.stderr).strip()
    remarks = [
        line for line in output.splitlines() if line.strip() and not line.startswith("Generating ")
    ]
    if result.returncode != 0 or remarks:
        pytest.fail(
            f"the generator found fault with {DOCUMENT.relative_to(ROOT)} "
            f"(exit status {result.returncode}): each warning is a defect of the document\n"
            + output,
            pytrace=False,
        )
    return output, seconds


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeneratedClient]:
    into = tmp_path_factory.mktemp("generated-client")
    generate(into)
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    sys.path.insert(0, str(into))
    try:
        package = importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(into))  # its submodules are found through the package itself
    yield GeneratedClient(into, package)
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]


@dataclass
class Journey:
    """One citizen's journey on one running server: what each step found, for the next."""

    base_url: str
    generated: GeneratedClient
    keys: dict[str, str]
    device: SoftwareSigner = field(
        default_factory=lambda: SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
    )
    found: dict[str, Any] = field(default_factory=dict)

    def need(self, *names: str) -> list[Any]:
        """What earlier steps found; the step is skipped if one of them did not get that far."""
        missing = [name for name in names if name not in self.found]
        if missing:
            pytest.skip(f"an earlier step did not get as far as {', '.join(missing)}")
        return [self.found[name] for name in names]

    def anonymous(self) -> Any:
        return self.generated.client(self.base_url)

    def operator(self) -> Any:
        return self.generated.client(self.base_url, self.keys[ISSUER])

    def counter(self) -> Any:
        return self.generated.client(self.base_url, self.keys[VERIFIER])

    def citizen(self) -> Any:
        (session,) = self.need("session")
        return self.generated.client(self.base_url, session.access_token)

    def device_proof(self, challenge: str) -> str:
        """The phone's proof of its device key, to register it (the key in the header)."""
        payload = {"aud": f"{self.base_url}/wallet", "iat": int(time.time()), "nonce": challenge}
        return sign_compact(
            payload,
            self.device,
            typ=DEVICE_PROOF_TYP,
            header={"jwk": self.device.public_jwk()},
            include_kid=False,
        )


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def journey(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    generated: GeneratedClient,
) -> Iterator[Journey]:
    database: str = request.param
    tmp = tmp_path_factory.mktemp(f"generated-client-{database}")
    url = backend_url(database, tmp)
    if database == "postgresql":
        url = migrated_database(url)
    var_dir = tmp / "var"
    var_dir.mkdir()
    with running_server(var_dir, IDWALLET_DATABASE_URL=url) as server:
        keys: dict[str, str] = json.loads((var_dir / "operator-keys.json").read_text())
        yield Journey(server.base_url, generated, keys)


def test_1_an_agency_clerk_offers_a_national_id_with_a_transaction_code(
    journey: Journey,
) -> None:
    models = journey.generated.models
    with journey.operator() as operator:
        created = journey.generated.call(
            "createOffer",
            operator,
            201,
            issuer_id=ISSUER,
            body=models.OfferCreation(
                subject_id=SUBJECT,
                credential_configuration_id="national_id",
                claims=models.OfferCreationClaims.from_dict(CITIZEN),
                tx_code=True,
            ),
        )
    assert isinstance(created, models.OfferCreated)
    assert isinstance(created.tx_code, str) and created.tx_code
    assert created.offer_uri.startswith("openid-credential-offer://?credential_offer_uri=")
    offer = created.credential_offer
    assert offer.credential_issuer == f"{journey.base_url}/issuers/{ISSUER}"
    assert offer.credential_configuration_ids == ["national_id"]
    journey.found["offer"] = created


def test_2_the_citizen_registers_a_phone(journey: Journey) -> None:
    models = journey.generated.models
    with journey.anonymous() as anonymous:
        challenge = journey.generated.call("createChallenge", anonymous, 201)
        assert isinstance(challenge, models.Challenge)
        assert challenge.challenge and challenge.expires_in > 0
        session = journey.generated.call(
            "registerAccount",
            anonymous,
            201,
            body=models.DeviceRegistration(
                device_proof=journey.device_proof(challenge.challenge),
                device_name="generated client phone",
            ),
        )
    assert isinstance(session, models.SessionGranted)
    assert session.token_type.lower() == "bearer" and session.expires_in > 0
    assert session.access_token and session.refresh_token
    assert session.account_id and session.device_id
    journey.found["session"] = session


def test_3_the_citizen_scans_the_offer(journey: Journey) -> None:
    (created,) = journey.need("offer")
    with journey.citizen() as citizen:
        scanned = journey.generated.call(
            "scan", citizen, 201, body=journey.generated.models.ScannedText(uri=created.offer_uri)
        )
    models = journey.generated.models
    assert isinstance(scanned, models.ScanResult)
    assert scanned.kind == "offer"
    offer = scanned.offer
    assert isinstance(offer, models.OfferView)
    assert offer.issuer.credential_issuer == created.credential_offer.credential_issuer
    assert offer.issuer.name == "Civil Registry"
    assert [c.credential_configuration_id for c in offer.credentials] == ["national_id"]
    assert offer.credentials[0].name == "National identity card"
    assert offer.tx_code.required is True
    assert offer.tx_code.length == len(created.tx_code)
    assert offer.tx_code.input_mode == "numeric" and created.tx_code.isdigit()
    journey.found["scanned_offer"] = offer


def test_4_the_citizen_accepts_with_the_transaction_code(journey: Journey) -> None:
    created, offer = journey.need("offer", "scanned_offer")
    models = journey.generated.models
    with journey.citizen() as citizen:
        accepted = journey.generated.call(
            "acceptOffer",
            citizen,
            200,
            offer_id=offer.offer_id,
            body=models.OfferAcceptance(tx_code=created.tx_code),
        )
    assert isinstance(accepted, models.OfferOutcome)
    assert accepted.offer_id == offer.offer_id
    assert accepted.status == "received"
    (credential,) = accepted.credentials
    assert credential.credential_configuration_id == "national_id"
    assert credential.instances == offer.holder_keys_needed  # a batch, one key each
    journey.found["credential_id"] = credential.credential_id


def test_5_the_citizen_sees_the_national_id(journey: Journey) -> None:
    (credential_id,) = journey.need("credential_id")
    models = journey.generated.models
    with journey.citizen() as citizen:
        listed = journey.generated.call("listCredentials", citizen, 200)
    assert isinstance(listed, models.CredentialList)
    (card,) = listed.credentials
    assert isinstance(card, models.CredentialSummary)
    assert card.credential_id == credential_id
    assert card.name == "National identity card"
    assert card.vct == f"{journey.base_url}/issuers/{ISSUER}/types/national_id"
    assert card.format_ == "dc+sd-jwt"
    assert card.issuer.name == "Civil Registry"
    assert card.status == models.CredentialSummaryStatus.VALID
    assert card.instances == 3
    assert card.expires_at is not None and card.expires_at > card.received_at


def test_6_a_counter_asks_for_age_over_18(journey: Journey) -> None:
    models = journey.generated.models
    with journey.counter() as counter:
        created = journey.generated.call(
            "createPresentationRequest",
            counter,
            201,
            verifier_id=VERIFIER,
            body=models.PresentationRequestCreation(template="age_over_18"),
        )
    assert isinstance(created, models.PresentationRequestCreated)
    assert created.status == "waiting"
    assert created.uri.startswith("openid4vp://?client_id=")
    assert created.response_mode == "direct_post"
    sd_jwt, mdoc = created.dcql_query.to_dict()["credentials"]  # the PID in either format
    assert sd_jwt["claims"] == [{"path": ["age_over_18"]}]  # and nothing else
    assert mdoc["claims"] == [{"path": ["eu.europa.ec.eudi.pid.1", "age_over_18"]}]
    assert created.status_url.endswith(f"/presentations/{created.transaction_id}")
    journey.found["request"] = created


def test_7_the_citizen_scans_the_request(journey: Journey) -> None:
    created, credential_id = journey.need("request", "credential_id")
    with journey.citizen() as citizen:
        scanned = journey.generated.call(
            "scan", citizen, 201, body=journey.generated.models.ScannedText(uri=created.uri)
        )
    assert isinstance(scanned, journey.generated.models.ScanResult)
    assert scanned.kind == "presentation"
    assert isinstance(scanned.presentation, journey.generated.models.ConsentView)
    consent = scanned.presentation.to_dict()  # compared member by member below
    verifier = consent["verifier"]
    assert verifier["client_id"] == created.client_id
    assert verifier["authenticated"] is True and verifier["registered"] is True
    assert verifier["name"] == "Corner Bar"  # from its certificate
    assert consent["purpose"] == {
        "id": "age_over_18",
        "description": "Serving alcohol only to adults",
    }
    # the PID as SD-JWT VC or as mdoc: the wallet holds the first, the only one shown
    [asked] = consent["requests"]
    assert asked["query_id"] == "national_id" and asked["required"] is True
    assert [c["name"] for c in asked["claims"]] == ["age_over_18"]
    assert [c["credential_id"] for c in asked["candidates"]] == [credential_id]
    assert consent["satisfiable"] is True and consent["warnings"] == []
    journey.found["consent"] = consent


def test_8_the_citizen_approves(journey: Journey) -> None:
    (consent,) = journey.need("consent")
    with journey.citizen() as citizen:
        approved = journey.generated.call(
            "approvePresentation",
            citizen,
            200,
            presentation_id=consent["presentation_id"],
            body=journey.generated.models.PresentationConsent(),
        )
    assert isinstance(approved, journey.generated.models.PresentationOutcome)
    assert approved.presentation_id == consent["presentation_id"]
    assert approved.status == "submitted"
    assert approved.outcome == "accepted"
    assert approved.verifier_status == 200
    journey.found["approved"] = approved


def test_9_the_counter_sees_the_result_verified(journey: Journey) -> None:
    created, _ = journey.need("request", "approved")
    models = journey.generated.models
    with journey.counter() as counter:
        answer = journey.generated.call(
            "getPresentationStatus",
            counter,
            200,
            verifier_id=VERIFIER,
            transaction_id=created.transaction_id,
        )
    assert isinstance(answer, models.PresentationStatus)
    assert answer.transaction_id == created.transaction_id
    assert answer.status == "verified"
    assert answer.purpose == "age_over_18"
    # The result's members are documented in prose, not as a schema: they come back as given.
    result = answer.result.to_dict()
    assert all(check["passed"] for check in result["checks"]), result["checks"]
    (shown,) = result["credentials"]["national_id"]
    assert shown["claims"] == {"age_over_18": True}  # nothing but what was asked
    assert shown["issuer_name"] == "Civil Registry"


def test_10_the_activity_log_shows_the_receipt_and_the_presentation(journey: Journey) -> None:
    credential_id, consent = journey.need("credential_id", "consent")
    journey.need("approved")
    models = journey.generated.models
    with journey.citizen() as citizen:
        log = journey.generated.call("listActivity", citizen, 200)
    assert isinstance(log, models.ActivityLog)
    # The document types the log but not its entries: each is a model of nothing but its
    # additional properties.
    activity = [entry.to_dict() for entry in log.activity]  # newest first
    kinds = [entry["kind"] for entry in activity]
    assert kinds == ["presentation_sent", "credential_received", "device_registered"]
    sent, received = activity[0], activity[1]
    assert sent["verifier"] == "Corner Bar"
    assert sent["client_id"] == consent["verifier"]["client_id"]
    assert sent["outcome"] == "accepted"
    [shared] = sent["shared"]
    assert len(shared.pop("instance")) == 11  # which copy went to the bar
    assert shared == {
        "credential_id": credential_id,
        "credential": "National identity card",
        "issuer": f"{journey.base_url}/issuers/{ISSUER}",
        "claims": ["Aged 18 or over"],
    }
    assert received["credential_id"] == credential_id
    assert received["issuer_name"] == "Civil Registry"
    assert received["credential"] == "National identity card"
