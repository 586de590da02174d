"""Fuzzing a running deployment from the checked-in OpenAPI document (Schemathesis).

The document is the contract: each operation is sent inputs generated from it (data that
fits the document and data that does not), with valid credentials where the operation
declares a security scheme (now and then none, or a wrong one) and, most of the time, with
the ids of real objects made beforehand in its path, so that the inputs reach past the 404.
A POST that the document gives no request body is also sent arbitrary JSON bodies, since
clients will send them whatever the document says.

What is a failure: any 5xx, a request without an answer, and an answer slower than
``TIME_BUDGET``. What is measured and reported per operation: conformance to the document
(status code, content type, response schema, and whether data the document rules out is
refused), which fails only the operations that are not in ``NOT_YET_CONFORMING``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case as _Case
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_deferred_issuance import apply_for_professional_licence
from tests.support.server import ROOT
from tests.wallet.phone import Phone

Case = _Case[Any]
Operation = APIOperation[Any, Any, Any, Any]

DOCUMENT = ROOT / "openapi" / "openapi.json"
REPORTS = ROOT / "test-artifacts" / "contract-fuzz"

# Examples per operation and kind of data (fitting the document, not fitting it, and the
# arbitrary bodies of a POST without a declared one): about 3,000 requests per database,
# a minute on two cores. IDWALLET_TEST_FUZZ_EXAMPLES asks for a deeper run.
EXAMPLES = int(os.environ.get("IDWALLET_TEST_FUZZ_EXAMPLES") or 30)
# Every answer within this many seconds, whatever was sent.
TIME_BUDGET = 2.0
# A request still unanswered after this long is given up (and counted over budget).
REQUEST_TIMEOUT = 15.0
# Every rate-limit class, with room for the whole run from one loopback address: the fuzz
# is one client sending thousands of requests, the limits stay on.
RATE_LIMIT_CLASSES = (
    "token",
    "nonce",
    "credential",
    "offer",
    "metadata",
    "request_object",
    "response",
    "wallet_auth",
    "citizen",
    "operator",
    "counter",
)
RATE_LIMITS = ",".join(f"{name}=100000/minute" for name in RATE_LIMIT_CLASSES)

# The hard check: no answer is a server error.
HARD_CHECKS: tuple[Callable[..., Any], ...] = (not_a_server_error,)
# The conformance checks, reported per operation.
CONFORMANCE_CHECKS: tuple[Callable[..., Any], ...] = (
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
)
# Operations whose answers are known not to conform to the document yet: their conformance
# failures are reported, not failed. Empty means every operation must conform; take an
# operation out as soon as it does (its test warns once it conforms).
NOT_YET_CONFORMING: frozenset[str] = frozenset()
# Operations where "invalid data is refused" cannot be decided from the wire, so that one
# check is not made (every other one is):
# - postRequestObject: its optional form body loses what a generator makes invalid on the
#   way to the wire (a blank wallet_nonce is the same form as none, a whole body that is not
#   an object encodes as no parameters), so the wallet's fetch is rightly served; whether a
#   run meets such a case depends on what the generator draws.
NEGATIVE_DATA_UNDECIDABLE: frozenset[str] = frozenset({"postRequestObject"})

# Operations that take the citizen's device or account away: each example gets a citizen
# of its own, so that the others keep theirs.
DESTRUCTIVE_FOR_CITIZEN = frozenset({"deleteAccount", "revokeDevice"})
_BODY_METHODS = frozenset({"post", "put", "patch"})

# Member names the API's bodies use, for the arbitrary bodies of undeclared ones.
_MEMBERS = (
    "uri",
    "custody",
    "tx_code",
    "holder_keys",
    "signatures",
    "omit",
    "credentials",
    "device_proof",
    "device_name",
    "refresh_token",
    "template",
    "dcql_query",
    "response_mode",
    "same_device",
    "credential_id",
    "reason",
    "subject_id",
    "claims",
    "credential_configuration_id",
    "vp_token",
    "state",
    "response",
    "wallet_nonce",
    "response_code",
    "session_token",
    "event",
    "notification_id",
    "transaction_id",
)


@dataclass
class Deployment:
    """A running server with the real objects the fuzz names in paths, and its credentials."""

    base_url: str
    database: str
    client: httpx.Client
    keys: dict[str, str]
    citizen: Phone
    access_token: str
    issuer_offer_id: str
    subject_id: str
    list_id: str
    wallet_offer_id: str
    credential_id: str
    transaction_id: str
    request_id: str
    finished_transaction_id: str
    presentation_id: str
    application_id: str
    deferred_access_token: str
    real_uris: list[str] = field(default_factory=list)
    #: Assisted access (docs/mediators.md): a mediator's key, their help request and the
    #: mediation the citizen consented to.
    mediator_key: str = ""
    help_request_id: str = ""
    mediation_id: str = ""

    def real_path_parameters(self, path: str) -> dict[str, list[str]]:
        """Real values for each path parameter of ``path``, the first the one that fits
        the others (the objects made here belong to ``civil-registry`` and ``bar-age-check``)."""
        wallet = path.startswith("/wallet/")
        # the application belongs to the transport agency (its credential waits for a clerk)
        agencies = ["civil-registry", "transport-agency"]
        return {
            "issuer_id": agencies[::-1] if "/applications/" in path else agencies,
            "verifier_id": ["bar-age-check", "city-hall-counter", "bank-kyc"],
            "offer_id": [self.wallet_offer_id] if wallet else [self.issuer_offer_id],
            "list_id": [self.list_id],
            "name": ["civil-registry.png"],
            "subject_id": [self.subject_id, "demo-citizen"],
            "action": ["suspend", "unsuspend", "revoke"],
            "configuration_id": ["national_id", "driving_licence"],
            "transaction_id": [
                self.finished_transaction_id if path.endswith("/events") else self.transaction_id
            ],
            "request_id": [self.request_id],
            "credential_id": [self.credential_id],
            "presentation_id": [self.presentation_id],
            "application_id": [self.application_id],
            "help_request_id": [self.help_request_id],
            "mediation_id": [self.mediation_id],
        }

    def new_citizen(self) -> Phone:
        phone = Phone(self.client)
        phone.register("fuzzed phone")
        return phone

    def second_phone(self) -> Phone:
        """The second device of a new citizen, signed in: revoking the first listed device
        (the first phone) leaves it a session."""
        first = self.new_citizen()
        second = Phone(self.client)
        added = self.client.post(
            "/wallet/devices",
            json={"device_proof": second.proof(by_kid=False), "device_name": "second phone"},
            headers=first.headers,
        )
        assert added.status_code == 201, added.text
        second.device_id = added.json()["device_id"]
        second.login()
        return second

    def authorization(self, scheme: str, case: Case, citizen: Phone) -> str:
        """The valid bearer credential of ``scheme`` for the objects ``case`` names."""
        path = case.path_parameters or {}
        if scheme == "operatorKey":
            return self.keys.get(str(path.get("issuer_id")), self.keys["civil-registry"])
        if scheme == "counterKey":
            return self.keys.get(str(path.get("verifier_id")), self.keys["bar-age-check"])
        if scheme == "citizenSession":
            return str(citizen.access_token)
        if scheme == "mediatorKey":
            return self.mediator_key
        if scheme == "auditorKey":
            return self.keys["auditor:fuzz"]
        if scheme == "accessToken":
            # the deferred endpoint knows only the tokens that asked for an application
            if case.path.endswith("/deferred_credential"):
                return self.deferred_access_token
            return self.access_token
        raise AssertionError(f"unknown security scheme {scheme}")


def _fits_wait(case: Case) -> bool:
    """Whether the stream's ``wait`` is absent or one the document allows (1 to 3600)."""
    wait = (case.query or {}).get("wait")
    if wait is None:
        return True
    text = str(wait)
    return not isinstance(wait, bool) and text.isdigit() and 1 <= int(text) <= 3600


def auditor_key(env: dict[str, str]) -> str:
    """A key of an auditor registered for the fuzz (``idwallet auditor add``)."""
    added = subprocess.run(
        [sys.executable, "-m", "app.cli", "auditor", "add", "fuzz", "--name", "Fuzz"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key: str = json.loads(added.stdout)["auditor_key"]
    return key


def _offer(client: httpx.Client, keys: dict[str, str], subject: str) -> dict[str, Any]:
    created = client.post(
        "/issuers/civil-registry/offers",
        json={
            "subject_id": subject,
            "credential_configuration_id": "national_id",
            "claims": CITIZEN,
        },
        headers={"Authorization": f"Bearer {keys['civil-registry']}"},
    )
    assert created.status_code == 201, created.text
    offer: dict[str, Any] = created.json()
    return offer


def _presentation(client: httpx.Client, keys: dict[str, str]) -> dict[str, Any]:
    asked = client.post(
        "/verifiers/bar-age-check/presentations",
        json={"template": "age_over_18"},
        headers={"Authorization": f"Bearer {keys['bar-age-check']}"},
    )
    assert asked.status_code == 201, asked.text
    body: dict[str, Any] = asked.json()
    return body


def _application(client: httpx.Client, keys: dict[str, str]) -> tuple[str, str]:
    """An application of the transport agency for a credential a clerk approves first:
    its id and the access token that made it."""
    headers = {"Authorization": f"Bearer {keys['transport-agency']}"}
    asked = apply_for_professional_licence(client, keys["transport-agency"], "fuzz-driver")
    listed = client.get("/issuers/transport-agency/applications", headers=headers)
    application_id: str = listed.json()["applications"][0]["application_id"]
    return application_id, asked.access_token


def _mediator(env: dict[str, str], citizen: Phone, client: httpx.Client) -> tuple[str, str, str]:
    """A mediator registered with ``idwallet mediator``, their help request, and the
    mediation the citizen consented to: the key, the request's id, the mediation's id."""

    def idwallet(*args: str) -> dict[str, str]:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "mediator", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        answer: dict[str, str] = json.loads(done.stdout)
        return answer

    idwallet("add-space", "--space", "fuzz-space", "--name", "Fuzz space", "--languages", "en")
    key = idwallet(
        "add",
        "--mediator",
        "fuzz-mediator",
        "--space",
        "fuzz-space",
        "--name",
        "Fuzz",
        "--languages",
        "en",
    )["mediator_key"]
    asked = client.post("/mediator/api/help-requests", headers={"Authorization": f"Bearer {key}"})
    assert asked.status_code == 201, asked.text
    consented = citizen.post("/wallet/mediations", {"code": asked.json()["code"]})
    assert consented.status_code == 201, consented.text
    return key, asked.json()["request_id"], consented.json()["mediation_id"]


def prepare(
    base_url: str,
    var_dir: Path,
    database: str,
    client: httpx.Client,
    env: dict[str, str] | None = None,
) -> Deployment:
    """The objects the fuzz names: offers (one pending, one redeemed for an access token),
    a citizen holding a credential with another offer and a presentation request pending,
    a presentation request the citizen declined (its event stream ends at once), and an
    application waiting for a clerk."""
    keys: dict[str, str] = json.loads((var_dir / "operator-keys.json").read_text())
    subject = "fuzz-citizen"
    pending = _offer(client, keys, subject)

    redeemed = _offer(client, keys, subject)
    by_value = parse_qs(urlsplit(redeemed["offer_uri_by_value"]).query)["credential_offer"][0]
    grants = json.loads(by_value)["grants"]
    code = grants["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["pre-authorized_code"]
    token = client.post(
        "/issuers/civil-registry/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
            "pre-authorized_code": code,
        },
    )
    assert token.status_code == 200, token.text

    citizen = Phone(client)
    citizen.register("fuzz phone")
    received = citizen.receive(_offer(client, keys, subject)["offer_uri"])
    credential_id = received["credentials"][0]["credential_id"]
    record = client.get(
        f"/issuers/civil-registry/subjects/{subject}",
        headers={"Authorization": f"Bearer {keys['civil-registry']}"},
    ).json()
    list_id = record["credentials"][0]["status_uri"].rsplit("/", 1)[1]

    waiting_offer = _offer(client, keys, subject)
    scanned = citizen.scan(waiting_offer["offer_uri"])
    assert scanned.status_code == 201, scanned.text

    asked = _presentation(client, keys)
    consent = citizen.scan(asked["uri"])
    assert consent.status_code == 201, consent.text

    declined = _presentation(client, keys)
    refused = citizen.scan(declined["uri"])
    assert refused.status_code == 201, refused.text
    done = citizen.post(
        f"/wallet/presentations/{refused.json()['presentation']['presentation_id']}/decline"
    )
    assert done.status_code == 200, done.text

    application_id, deferred_access_token = _application(client, keys)
    mediator_key, help_request_id, mediation_id = (
        _mediator(env, citizen, client) if env is not None else ("", "", "")
    )

    return Deployment(
        base_url=base_url,
        database=database,
        client=client,
        keys=keys,
        citizen=citizen,
        access_token=token.json()["access_token"],
        issuer_offer_id=pending["offer_id"],
        subject_id=subject,
        list_id=list_id,
        wallet_offer_id=scanned.json()["offer"]["offer_id"],
        credential_id=credential_id,
        transaction_id=asked["transaction_id"],
        request_id=unquote(asked["request_uri"]).rsplit("/", 1)[1],
        finished_transaction_id=declined["transaction_id"],
        presentation_id=consent.json()["presentation"]["presentation_id"],
        application_id=application_id,
        deferred_access_token=deferred_access_token,
        real_uris=[waiting_offer["offer_uri"], asked["uri"], pending["offer_uri"]],
        mediator_key=mediator_key,
        help_request_id=help_request_id,
        mediation_id=mediation_id,
    )


def load_schema(base_url: str) -> BaseSchema:
    """The checked-in document, pointed at the running server."""
    schema = schemathesis.openapi.from_path(DOCUMENT)
    schema.config.update(base_url=base_url)
    # A body over the size an operation reads is refused whole (413, documented wherever a
    # body is taken): a refusal of data the document rules out like any other.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    return schema


def operations(schema: BaseSchema) -> dict[str, Operation]:
    """Every operation of the document by its operationId."""
    found: dict[str, Operation] = {}
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise result.err()
        operation = result.ok()
        found[str(operation.definition.raw["operationId"])] = operation
    return found


def link_count(document: dict[str, Any]) -> int:
    """The links (OpenAPI ``responses.*.links``) the document declares."""
    count = 0
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict):
                for answer in operation.get("responses", {}).values():
                    count += len(answer.get("links", {}))
    return count


@dataclass
class OperationRun:
    """What one operation's fuzz sent and found."""

    operation_id: str
    label: str
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0
    slowest: float = 0.0
    slowest_request: str = ""
    server_errors: list[str] = field(default_factory=list)
    over_budget: list[str] = field(default_factory=list)
    nonconforming: dict[str, list[str]] = field(default_factory=dict)
    unsatisfiable: list[str] = field(default_factory=list)

    def note(self, findings: list[str], text: str) -> None:
        if len(findings) < 5 and text not in findings:
            findings.append(text)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["statuses"] = {str(k): v for k, v in sorted(self.statuses.items())}
        return data


def _describe(
    case: Case, answer: Response | None, headers: dict[str, str], body: Any = None
) -> str:
    """The request as a command that repeats it (credentials left out), and the answer."""
    shown = {k: ("Bearer …" if k.lower() == "authorization" else v) for k, v in headers.items()}
    request = case.as_curl_command(headers=shown)
    if body is not None:
        request += f" -H 'Content-Type: application/json' --data-raw {json.dumps(json.dumps(body))}"
    if answer is None:
        return request
    return f"{request}\n  -> {answer.status_code} {answer.text[:300]!r}"


def _json_bodies() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()  # NaN and the infinities too, sent as JSON's non-standard tokens
        | st.text(max_size=24)
    )

    def nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        keys = st.sampled_from(_MEMBERS) | st.text(max_size=8)
        return st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4)

    values = st.recursive(scalars, nested, max_leaves=12)
    return st.dictionaries(st.sampled_from(_MEMBERS), values, max_size=5) | values


class Fuzzer:
    """Runs each operation's examples against one deployment and keeps what it found."""

    def __init__(self, deployment: Deployment, schema: BaseSchema) -> None:
        self.deployment = deployment
        self.schema = schema
        self.operations = operations(schema)
        self.session = requests.Session()
        self.runs: dict[str, OperationRun] = {}

    def run(self, operation_id: str) -> OperationRun:
        operation = self.operations[operation_id]
        run = OperationRun(operation_id, operation.label)
        self.runs[operation_id] = run
        started = time.monotonic()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                self._examples(run, operation, operation.as_strategy(generation_mode=mode), mode)
            except Unsatisfiable:  # e.g. nothing can be negated in a path of plain strings
                run.unsatisfiable.append(mode.value)
        if operation.method in _BODY_METHODS and "requestBody" not in operation.definition.raw:
            self._examples(
                run,
                operation,
                operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                None,
            )
        run.seconds = time.monotonic() - started
        return run

    def _examples(
        self,
        run: OperationRun,
        operation: Operation,
        cases: st.SearchStrategy[Case],
        mode: GenerationMode | None,
    ) -> None:
        parameters = [p.name for p in operation.path_parameters]
        real = self.deployment.real_path_parameters(operation.path)

        @given(
            case=cases,
            # the path: real objects (mostly), the generated values, or a mix of both
            paths=st.sampled_from(["real", "real", "real", "mixed", "generated"]),
            indices=st.fixed_dictionaries(
                {name: st.integers(0, len(real.get(name, [""])) - 1) for name in parameters}
            ),
            mixed=st.fixed_dictionaries({name: st.booleans() for name in parameters}),
            # mostly valid credentials; now and then none or somebody else's
            credentials=st.sampled_from(["valid"] * 6 + ["none", "foreign"]),
            body=_json_bodies() if mode is None else st.none(),
            # for a body's "uri": now and then a real offer or request to scan
            uri=st.none() | st.sampled_from(self.deployment.real_uris),
        )
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )
        def example(
            case: Case,
            paths: str,
            indices: dict[str, int],
            mixed: dict[str, bool],
            credentials: str,
            body: Any,
            uri: str | None,
        ) -> None:
            citizen = self.deployment.citizen
            if run.operation_id in DESTRUCTIVE_FOR_CITIZEN:
                citizen = self.deployment.new_citizen()
            own = {**real, "device_id": [str(citizen.device_id)]}
            for name in parameters:
                if paths == "generated" or (paths == "mixed" and not mixed[name]):
                    continue
                # several parameters: the first value of each, which belong together
                index = indices[name] if len(parameters) == 1 else 0
                if name in own:
                    case.path_parameters[name] = own[name][index]
            headers = self.headers(operation, case, citizen, credentials)
            if run.operation_id == "streamNotifications" and _fits_wait(case):
                # a stream stays open until told otherwise: for a second, within the budget
                # (a wait that does not fit is sent as it is, and refused)
                case.query = {**(case.query or {}), "wait": 1}
            if mode is None and isinstance(body, dict) and "uri" in body and uri is not None:
                body["uri"] = uri
            self._send(run, case, headers, body if mode is None else None, mode is None)

        example()

    def headers(
        self, operation: Operation, case: Case, citizen: Phone, credentials: str = "valid"
    ) -> dict[str, str]:
        """The ``Authorization`` the operation's security scheme asks for: ``valid``, a
        ``foreign`` one (not the server's), or ``none``."""
        headers: dict[str, str] = {}
        for requirement in operation.definition.raw.get("security", []):
            for scheme in requirement:
                token = self.deployment.authorization(scheme, case, citizen)
                if credentials == "foreign":
                    token = "not-a-" + token[::-1]
                if credentials != "none":
                    headers["Authorization"] = f"Bearer {token}"
        return headers

    def _send(
        self,
        run: OperationRun,
        case: Case,
        headers: dict[str, str],
        body: Any,
        undeclared_body: bool,
    ) -> None:
        run.requests += 1
        started = time.monotonic()
        answer: Response | None = None
        try:
            if undeclared_body:
                kwargs = case.as_transport_kwargs(
                    base_url=self.deployment.base_url, headers=headers
                )
                kwargs.pop("json", None)
                kwargs["data"] = json.dumps(body).encode()
                kwargs["headers"] = {
                    **kwargs.get("headers", {}),
                    "Content-Type": "application/json",
                }
                raw = self.session.request(**kwargs, timeout=REQUEST_TIMEOUT)
                answer = Response.from_requests(raw, verify=True)
            else:
                answer = case.call(
                    base_url=self.deployment.base_url,
                    session=self.session,
                    headers=headers,
                    timeout=REQUEST_TIMEOUT,
                )
        except requests.Timeout:
            run.note(
                run.over_budget,
                f"no answer within {REQUEST_TIMEOUT} s: {_describe(case, None, headers, body)}",
            )
            return
        except requests.RequestException as error:
            run.note(
                run.server_errors,
                f"no answer ({type(error).__name__}): {_describe(case, None, headers, body)}",
            )
            return
        finally:
            elapsed = time.monotonic() - started
            if elapsed > run.slowest:
                run.slowest = elapsed
                run.slowest_request = f"{case.method} {case.formatted_path}"
        run.statuses[answer.status_code] += 1
        if elapsed > TIME_BUDGET:
            run.note(run.over_budget, f"{elapsed:.2f} s: {_describe(case, answer, headers, body)}")
        if answer.status_code >= 500:
            run.note(run.server_errors, _describe(case, answer, headers, body))
        for check in HARD_CHECKS:
            for failure in self._failures(case, answer, check):
                run.note(run.server_errors, f"{failure}: {_describe(case, answer, headers, body)}")
        if undeclared_body:
            return  # a body the document does not declare: nothing to conform to
        query = f"?{urlencode(case.query, doseq=True)}" if case.query else ""
        for check in CONFORMANCE_CHECKS:
            if check is negative_data_rejection and run.operation_id in NEGATIVE_DATA_UNDECIDABLE:
                continue
            for failure in self._failures(case, answer, check):
                run.note(
                    run.nonconforming.setdefault(check.__name__, []),
                    f"{failure} ({case.method} {case.formatted_path}{query} -> {answer.status_code})",
                )

    def _failures(self, case: Case, answer: Response, check: Callable[..., Any]) -> list[str]:
        return _check(case, answer, check)


def write_report(database: str, fuzzer: Fuzzer, seconds: float) -> dict[str, Any]:
    runs = list(fuzzer.runs.values())
    slowest = max(runs, key=lambda r: r.slowest, default=None)
    report = {
        "database": database,
        "operations": len(runs),
        "requests": sum(r.requests for r in runs),
        "seconds": round(seconds, 1),
        "slowest": {
            "seconds": round(slowest.slowest, 3) if slowest else None,
            "request": slowest.slowest_request if slowest else None,
        },
        "server_errors": {r.operation_id: r.server_errors for r in runs if r.server_errors},
        "over_budget": {r.operation_id: r.over_budget for r in runs if r.over_budget},
        "nonconforming": {r.operation_id: r.nonconforming for r in runs if r.nonconforming},
        "runs": [r.as_json() for r in runs],
    }
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{database}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return report


# Citizen journeys: Schemathesis' stateful mode walks the document's links ----------------

# The walks: each part of the mobile API is walked on its own, so that every journey is
# reached by construction rather than by the luck of a sample over the whole document (a
# walk over all of it left revoking a device unwalked once the document grew notification,
# mediation and push operations). Each walk names its operations (the links among them are
# followed), its share of the scenarios, and the journeys that must go through along a
# link. Scenarios have a citizen of their own and at most ``JOURNEY_STEPS`` calls; the walk
# is derandomized. Deeper runs: IDWALLET_TEST_JOURNEYS (scenarios over all walks).
JOURNEYS = int(os.environ.get("IDWALLET_TEST_JOURNEYS") or 80)
JOURNEY_STEPS = 10


@dataclass(frozen=True)
class Walk:
    """One part of the mobile API walked along its links."""

    operations: tuple[str, ...]
    share: float
    journeys: dict[str, frozenset[str]]
    holds_credential: bool = True

    def scenarios(self) -> int:
        return max(10, round(JOURNEYS * self.share))


WALKS: dict[str, Walk] = {
    "credentials": Walk(
        operations=(
            "scan",
            "openOffer",
            "acceptOffer",
            "completeOffer",
            "listCredentials",
            "getCredential",
            "deleteCredential",
            "renewCredential",
            "openPresentation",
            "approvePresentation",
            "declinePresentation",
            "completePresentation",
            "finishAuthorization",
            "fetchDeferredCredentials",
        ),
        share=0.6,
        journeys={
            "receiving a credential": frozenset({"acceptOffer 200"}),
            "answering a presentation request": frozenset(
                {"approvePresentation 200", "declinePresentation 200"}
            ),
            "reading or deleting a credential": frozenset(
                {"getCredential 200", "deleteCredential 200"}
            ),
        },
    ),
    "devices and sessions": Walk(
        operations=(
            "registerAccount",
            "login",
            "refreshSession",
            "listDevices",
            "addDevice",
            "revokeDevice",
        ),
        share=0.2,
        journeys={"revoking a device": frozenset({"revokeDevice 204"})},
        holds_credential=False,
    ),
    "notices and help": Walk(
        operations=(
            "listNotifications",
            "markNotificationRead",
            "listMediations",
            "consentToMediation",
            "endMediation",
            "subscribePush",
            "listPushSubscriptions",
            "unsubscribePush",
        ),
        share=0.2,
        journeys={"reading a notification": frozenset({"markNotificationRead 200"})},
    ),
}


# Operations that read the text of a QR code: mostly sent a real one, made for the call.
_SCANNING = {
    "scan": ("offer", "presentation"),
    "openOffer": ("offer",),
    "openPresentation": ("presentation",),
}


@dataclass
class JourneyRun:
    """What the stateful run sent and found: calls per operation and answer, the links it
    followed (``source -> target``, with the target's answer), and what failed a check."""

    scenarios: int = 0
    steps: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    followed: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    over_budget: list[str] = field(default_factory=list)
    nonconforming: list[str] = field(default_factory=list)

    def note(self, findings: list[str], text: str) -> None:
        if len(findings) < 10 and text not in findings:
            findings.append(text)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["statuses"] = dict(sorted(self.statuses.items()))
        data["followed"] = dict(sorted(self.followed.items()))
        return data


def real_scan(deployment: Deployment, kind: str) -> str:
    """A fresh object for a phone to scan (single-use, so one per call): a national ID
    offer of the civil registry, or the bar's age check."""
    client, keys = deployment.client, deployment.keys
    if kind == "offer":
        return str(_offer(client, keys, deployment.subject_id)["offer_uri"])
    return str(_presentation(client, keys)["uri"])


def operation_id(case: Case) -> str:
    return str(case.operation.definition.raw["operationId"])


def citizen_journeys(deployment: Deployment, walk: Walk, run: JourneyRun) -> type[Any]:
    """The state machine of the links among ``walk``'s operations, as one citizen per
    scenario walks them:
    a phone registered for the scenario and holding a national ID, its session on every
    call, and real offers and presentation requests in most scanned texts. Every answer is
    checked (no 5xx, within the time budget, conforming to the document) and findings are
    kept in ``run`` rather than raised, so that one run reports them all."""
    schema = load_schema(deployment.base_url).include(operation_id=list(walk.operations))
    # the document's own links, not links Schemathesis would infer: they are under test
    schema.config.phases.stateful.inference.algorithms = []
    # journeys of data that fits the document: the operations' own fuzz sends the rest
    schema.config.phases.stateful.generation.modes = [GenerationMode.POSITIVE]
    session = requests.Session()

    class CitizenJourneys(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            run.scenarios += 1
            self.citizen = deployment.second_phone()
            if walk.holds_credential:
                self.citizen.receive(real_scan(deployment, "offer"))
            self.operations_by_case: dict[str, str] = {}

        def step(self, input: Any) -> Any:
            transition = input.transition
            output = super().step(input)
            if transition is not None and input.is_applied:
                source = self.operations_by_case.get(transition.parent_id, "?")
                status = output.response.status_code
                run.followed[f"{source} -> {operation_id(input.case)} {status}"] += 1
            return output

        def before_call(self, case: Case) -> None:
            # Which text, from what was generated (not from a counter), so that the same
            # choices make the same calls: a real one for three in four of them.
            kinds = _SCANNING.get(operation_id(case))
            generated = case.body.get("uri") if isinstance(case.body, dict) else None
            if kinds and isinstance(generated, str):
                pick = len(generated) % 4
                if pick:
                    case.body["uri"] = real_scan(deployment, kinds[pick % len(kinds)])

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            headers = {}
            if case.operation.definition.raw.get("security"):
                headers["Authorization"] = f"Bearer {self.citizen.access_token}"
            return {
                "base_url": deployment.base_url,
                "session": session,
                "headers": headers,
                "timeout": REQUEST_TIMEOUT,
            }

        def after_call(self, response: Response, case: Case) -> None:
            super().after_call(response, case)
            run.steps += 1
            run.statuses[f"{operation_id(case)} {response.status_code}"] += 1
            self.operations_by_case[case.id] = operation_id(case)

        def validate_response(self, response: Response, case: Case, **_: Any) -> None:
            shown = f"{case.method} {case.formatted_path} -> {response.status_code}"
            if response.elapsed > TIME_BUDGET:
                run.note(run.over_budget, f"{response.elapsed:.2f} s: {shown}")
            for check in HARD_CHECKS:
                for failure in _check(case, response, check):
                    run.note(run.server_errors, f"{failure}: {shown} {response.text[:300]!r}")
            for check in CONFORMANCE_CHECKS:
                for failure in _check(case, response, check):
                    run.note(run.nonconforming, f"{check.__name__}: {failure} ({shown})")

    return CitizenJourneys


def _check(case: Case, answer: Response, check: Callable[..., Any]) -> list[str]:
    try:
        case.validate_response(answer, checks=[check])
    except FailureGroup as group:
        return [failure.title for failure in group.exceptions]
    return []


def walk_journeys(deployment: Deployment) -> JourneyRun:
    """Every walk of ``WALKS``, its scenarios of at most ``JOURNEY_STEPS`` calls along the
    links; what they found is also written next to the operations' reports."""
    run = JourneyRun()
    started = time.monotonic()
    for walk in WALKS.values():
        citizen_journeys(deployment, walk, run).run(
            settings=settings(
                max_examples=walk.scenarios(),
                stateful_step_count=JOURNEY_STEPS,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                report_multiple_bugs=False,
            )
        )
    run.seconds = round(time.monotonic() - started, 1)
    REPORTS.mkdir(parents=True, exist_ok=True)
    report = REPORTS / f"{deployment.database}-journeys.json"
    report.write_text(json.dumps(run.as_json(), indent=2, ensure_ascii=False))
    return run
