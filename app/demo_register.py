"""The demo register service (``idwallet register serve``): a process of its own that
answers the agencies' signed queries (``core.register_exchange``) from the register files
of the catalog (``issuers/catalog/registers/*.json``), as a real population or licence
register would answer over a data-exchange layer.

- ``POST /registers/{service}/queries``: one query (``application/register-query+jwt``),
  one signed answer (``application/register-answer+jwt``). The query's signature must
  verify under the deployment trust anchor, its certificate must name the querying agency
  (the SAN URI of its Credential Issuer Identifier), the agency must be registered with
  this register and the purpose allowed for it; otherwise the answer is ``refused`` (403;
  400 for a query that cannot be read), signed like every answer. The query's ``aud``
  must be this service's URL, and a query's ``id`` is answered once per client: the same
  query again, before it expires, is refused (``replayed_query``, 409).
- ``GET /health``: liveness.

Its signing key and certificate (under the deployment trust anchor, SAN URI: the
service's URL, which the agencies check) are made at first start into
``var/register/`` (``--key`` and ``--cert`` name files made elsewhere). With
``--tls-cert``/``--tls-key`` it serves HTTPS, and with ``--tls-client-ca`` it asks every
client for a certificate under that CA (mutual TLS).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from app.bootstrap import (
    load_key_encryption_key,
    load_trust_anchor,
    locked_var_dir,
    write_private_file,
)
from app.settings import Settings, SettingsError
from core.keys.signer import Signer, SoftwareSigner
from core.keys.wrapping import KeyWrapper
from core.keys.x509 import (
    AccessCertificateRequest,
    issue_access_certificate,
    san_uris,
    to_x5c,
)
from core.register_exchange import (
    ANSWER_MEDIA_TYPE,
    LEEWAY,
    MAX_QUERY_BYTES,
    QUERY_MEDIA_TYPE,
    ExchangeRefused,
    ReceivedQuery,
    RegisterAnswerMessage,
    TrustedSigners,
    client_certified_as,
    read_query,
    sign_answer,
    unverified_echo,
)
from issuers.domain import Agency, RegisterPurpose
from issuers.services.catalog import load_catalog

log = logging.getLogger("idwallet.register")
KEY_FILE = "register.key.wrapped"
_KEY_CONTEXT = "idwallet-demo-register"
CERT_FILE = "register.pem"
#: What each agency may ask its register for: every purpose of the agencies' use cases.
#: A real register's access rights are agreed per client and purpose; here each agency
#: is registered with its own register and with those the catalog says it reads
#: (``register_reads``: the transport agency with the population register), no other.
DEMO_PURPOSES = frozenset(p.value for p in RegisterPurpose)

#: How many query ids the register remembers at most (each until its query expires, about
#: two minutes): far above what one demo service is asked in that time.
MAX_REMEMBERED_QUERIES = 100_000

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RegisterAccess:
    """Who may ask this register what: service → client → purposes."""

    rights: Mapping[str, Mapping[str, frozenset[str]]]

    def allows(self, service: str, client: str, purpose: str) -> bool:
        return purpose in self.rights.get(service, {}).get(client, frozenset())


class SeenQueries:
    """The query ids this register has answered, by client, each until its query expires
    (plus the clock leeway): a query that comes again is refused.

    Kept in the process's memory: the demo register is one process (``idwallet register
    serve`` runs a single worker), so every query reaches this one record. A register
    served by several processes keeps it in a store they share. Bounded: expired ids are
    forgotten first; past ``limit`` live ids, new queries are refused rather than let
    through unchecked."""

    def __init__(self, limit: int = MAX_REMEMBERED_QUERIES) -> None:
        self._limit = limit
        self._until: dict[tuple[str, str], float] = {}

    def first_use(self, client: str, query_id: str, keep_until: float, now: float) -> bool:
        """True the first time; False for a query seen before, or when full."""
        key = (client, query_id)
        remembered = self._until.get(key)
        if remembered is not None and remembered >= now:
            return False
        if len(self._until) >= self._limit:
            self._until = {k: until for k, until in self._until.items() if until >= now}
            if len(self._until) >= self._limit:
                return False
        self._until[key] = keep_until
        return True


def demo_access(agencies: Mapping[str, Agency]) -> RegisterAccess:
    rights: dict[str, dict[str, frozenset[str]]] = {
        issuer_id: {issuer_id: DEMO_PURPOSES} for issuer_id, a in agencies.items() if a.register
    }
    for reader in agencies.values():
        for source in reader.register_sources.values():
            if source.register in rights:
                rights[source.register][reader.issuer_id] = DEMO_PURPOSES
    return RegisterAccess(rights)


def register_signer(
    settings: Settings, url: str, *, key_file: Path | None = None, cert_file: Path | None = None
) -> Signer:
    """The register's signer: the given files, or a key made at first start into
    ``var/register/`` with a certificate under the deployment trust anchor naming ``url``
    (made again when the URL changes or the certificate nears its end)."""
    if key_file is not None and cert_file is not None:
        key = load_pem_private_key(key_file.read_bytes(), None)
        chain = x509.load_pem_x509_certificates(cert_file.read_bytes())
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise SettingsError("the register's key must be an EC private key")
        return SoftwareSigner(key, x5c=to_x5c(chain))
    directory = settings.var_dir / "register"
    wrapper = KeyWrapper(load_key_encryption_key(settings))
    anchor = load_trust_anchor(settings, wrapper)
    with locked_var_dir(directory):
        key_path, cert_path = directory / KEY_FILE, directory / CERT_FILE
        if not key_path.exists():  # wrapped under the key-encryption key, as every key
            made = ec.generate_private_key(ec.SECP256R1())
            write_private_file(key_path, wrapper.wrap(made, context=_KEY_CONTEXT))
        key = wrapper.unwrap(key_path.read_bytes(), context=_KEY_CONTEXT)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise SettingsError(f"{key_path} is not an EC private key")
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.load_pem_x509_certificate(cert_path.read_bytes()) if cert_path.exists() else None
        )
        if (
            certificate is None
            or san_uris(certificate) != [url]
            or certificate.not_valid_after_utc - dt.timedelta(days=30) < now
            or certificate.public_key() != key.public_key()
        ):
            if anchor.signer is None:
                raise SettingsError(
                    "the trust anchor's key is not here: give the register --key and --cert"
                )
            certificate = issue_access_certificate(
                AccessCertificateRequest(
                    common_name="idwallet demo register",
                    organization="idwallet (development)",
                    uris=(url,),
                ),
                key.public_key(),
                anchor_signer=anchor.signer,
                anchor=anchor.certificate,
                now=now,
            )
            cert_path.write_bytes(certificate.public_bytes(Encoding.PEM))
    return SoftwareSigner(key, x5c=to_x5c([certificate]))


class DemoRegister:
    """The ASGI application: the registers of ``agencies`` answered to the agencies of
    ``public_base_url``, verified under ``anchors``, signed by ``signer``."""

    def __init__(
        self,
        *,
        agencies: Mapping[str, Agency],
        public_base_url: str,
        url: str,
        anchors: tuple[x509.Certificate, ...],
        signer: Signer,
        access: RegisterAccess | None = None,
        clock: Callable[[], float] = time.time,
        seen: SeenQueries | None = None,
    ) -> None:
        self._agencies = agencies
        self._url = url.rstrip("/")
        self._seen = seen or SeenQueries()
        self._base = public_base_url.rstrip("/")
        self._trusted = TrustedSigners(anchors)
        self._signer = signer
        self._access = access or demo_access(agencies)
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/health" and method == "GET":
            await _respond(send, 200, "application/json", b'{"status":"ok"}')
            return
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "registers" or parts[2] != "queries":
            await _respond(send, 404, "application/json", b'{"error":"not_found"}')
            return
        if method != "POST":
            await _respond(send, 405, "application/json", b'{"error":"method_not_allowed"}')
            return
        body = await _body(receive, MAX_QUERY_BYTES)
        status, token = self.answer(parts[1], _content_type(scope), body)
        await _respond(send, status, ANSWER_MEDIA_TYPE, token.encode("ascii"))

    def answer(self, service: str, content_type: str, body: bytes | None) -> tuple[int, str]:
        """The HTTP status and the signed answer to one query."""
        now = self._clock()
        if body is None or content_type != QUERY_MEDIA_TYPE:
            return 400, self._refused(None, "invalid_query", "send one register query JWS", now)
        token = body.decode("ascii", "replace")
        try:
            received = read_query(token, self._trusted, audience=self._url, now=now)
        except ExchangeRefused as refused:
            echo = unverified_echo(token)
            return 400, self._refused(None, refused.error, refused.description, now, echo)
        query = received.query
        agency = self._agencies.get(query.client)
        if agency is None or not client_certified_as(
            received.certificate, agency.identifier(self._base)
        ):
            return 403, self._refused(
                received, "client_not_registered", "the client is not a member here", now
            )
        if query.service != service or not self._access.allows(
            service, query.client, query.purpose
        ):
            return 403, self._refused(
                received, "purpose_not_allowed", "this client may not ask this for that", now
            )
        if not self._seen.first_use(query.client, query.id, received.expires_at + LEEWAY, now):
            return 409, self._refused(
                received, "replayed_query", "this query was answered already", now
            )
        register = self._agencies[service].register  # allows: a register of the catalog
        log.info("query %s from %s for %s", query.id, query.client, query.purpose)
        if query.person is not None:
            record = register.get(query.person, {}).get(query.records)
            found = [] if record is None else [(query.person, record)]
        elif not query.identity:  # read_query refuses it; an empty question matches none
            found = []
        else:
            found = [
                (person, record)
                for person, records in register.items()
                if (record := records.get(query.records)) is not None
                and all(record.get(name) == value for name, value in query.identity.items())
            ]
        if len(found) > 1:
            answer = RegisterAnswerMessage("ambiguous")
        elif found:
            [(person, record)] = found
            answer = RegisterAnswerMessage("found", person=person, claims=dict(record))
        else:
            answer = RegisterAnswerMessage("not_found")
        return 200, sign_answer(received, answer, self._signer, now=now)

    def _refused(
        self,
        received: ReceivedQuery | None,
        error: str,
        description: str,
        now: float,
        echo: dict[str, str] | None = None,
    ) -> str:
        log.info("query refused: %s", error)
        return sign_answer(
            received,
            RegisterAnswerMessage("refused", error=error, error_description=description),
            self._signer,
            now=now,
            echo=echo,
        )


def _content_type(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return str(value.decode("latin-1").split(";")[0].strip().lower())
    return ""


async def _body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None past ``limit`` bytes (read no further)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, status: int, content_type: str, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


@dataclass(frozen=True, slots=True)
class ServeOptions:
    host: str
    port: int
    url: str
    key_file: Path | None = None
    cert_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None


def serve(options: ServeOptions, settings: Settings) -> int:
    import ssl

    import uvicorn

    agencies = load_catalog()
    signer = register_signer(
        settings, options.url, key_file=options.key_file, cert_file=options.cert_file
    )
    anchor = load_trust_anchor(settings, KeyWrapper(load_key_encryption_key(settings)))
    app = DemoRegister(
        agencies=agencies,
        public_base_url=settings.public_base_url,
        url=options.url,
        anchors=(anchor.certificate,),
        signer=signer,
    )
    served = sorted(issuer_id for issuer_id, agency in agencies.items() if agency.register)
    print(
        "\n".join(
            [
                f"idwallet demo register on {options.url}",
                f"  registers           {', '.join(served)}",
                f"  agencies of         {settings.public_base_url}",
                f"  queries             {options.url}/registers/{{register}}/queries",
            ]
        ),
        flush=True,
    )
    tls: dict[str, Any] = {}
    if options.tls_cert is not None:
        tls = {"ssl_certfile": str(options.tls_cert), "ssl_keyfile": str(options.tls_key)}
        if options.tls_client_ca is not None:
            tls |= {"ssl_ca_certs": str(options.tls_client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    uvicorn.run(
        app,
        host=options.host,
        port=options.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
        **tls,
    )
    return 0
