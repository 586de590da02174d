"""The wallet's status-list watching at scale: 100,000 held credentials (1,000 citizens
with one credential on each of 100 lists) whose issuer's 100 status lists (131,072
two-bit indices each, 1% of them revoked, ``ttl`` 300 s) are served by a Status Provider
in a process of its own on a loopback port. The index is written as storing the
credentials writes it (``status_watch_index``), in bulk.

Measured, on SQLite and PostgreSQL (migrated to head), with the process's CPU time
(user + system: the wallet's work, and SQLite's, which runs in the process):

- the first pass: every list fetched and verified, compared with a list of valid entries
  (each revoked index hashed and looked up) — what a deployment does once;
- a pass after 10 held credentials on each list were revoked (1,000 notifications, each
  sealed for its citizen with an activity entry);
- a pass where nothing changed (each list asked conditionally, 304);
- fetches per hour: the requests the Status Provider counted per pass, times the passes an
  hour at the lists' ``ttl``: the number of lists, not of credentials.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import random
import resource
import tempfile
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import insert

from app.migrate import upgrade
from bench.http_issuance import fresh_postgres_database
from core.http.client import OutboundClient
from core.http.published_documents import PublishedDocuments
from core.keys.signer import SoftwareSigner
from core.keys.x509 import (
    AccessCertificateRequest,
    create_trust_anchor,
    issue_access_certificate,
    to_x5c,
)
from core.sdjwt_vc.issuer_keys import X5cIssuerKeys
from core.status_list.bits import StatusList
from core.status_list.token import build_status_list_token
from core.storage.audit_trail import SqlAuditTrail
from core.storage.engine import create_engine, session_factory
from wallet.domain import CredentialInstance, CredentialRecord
from wallet.services.context import WalletContext
from wallet.services.sealing import AccountVault
from wallet.services.status_watch_index import list_key, watch_key
from wallet.services.watch_statuses import watch_pass
from wallet.storage.mediations import SqlMediations
from wallet.storage.notification_tables import (
    CredentialWatchRow,
    StatusListRow,
    StatusWatchRow,
)
from wallet.storage.sql import SqlWalletStore
from wallet.storage.tables import AccountRow, CredentialRow

LISTS = 100
CITIZENS = 1_000
SIZE = 131_072
REVOKED_SHARE = 0.01
REVOKED_PER_LIST = 10
TTL = 300
HEADING = "## Status-list watching: 100,000 held credentials across 100 lists"


@dataclass(frozen=True)
class WatchPass:
    cpu_s: float
    wall_s: float
    fetches: int
    not_modified: int
    notified: int


@dataclass(frozen=True)
class WatchingResult:
    database: str
    first: WatchPass
    changed: WatchPass
    idle: WatchPass

    @property
    def fetches_per_hour(self) -> int:
        return self.idle.fetches * 3600 // TTL


def _serve(directory: str, port: multiprocessing.Queue[int]) -> None:  # pragma: no cover
    """The Status Provider's process: each list's token from its file, with an ETag."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.rsplit("/", 1)[1]
            path = Path(directory) / name
            body = path.read_bytes()
            etag = f'"{path.stat().st_mtime_ns}-{len(body)}"'
            counted = Path(directory) / f"{name}.requests"
            with counted.open("a") as file:
                file.write("304\n" if self.headers.get("If-None-Match") == etag else "200\n")
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/statuslist+jwt")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port.put(server.server_address[1])
    server.serve_forever()


class _Provider:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        anchor_key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        self.anchor = create_trust_anchor(
            SoftwareSigner(anchor_key), common_name="Bench Root", now=now
        )
        self.port = 0
        self.base = ""
        self._anchor_key = anchor_key
        self._now = now
        self.lists = {
            f"list-{n:03d}": StatusList.from_indices(
                2, SIZE, {1: random.sample(range(SIZE), int(SIZE * REVOKED_SHARE))}
            )
            for n in range(LISTS)
        }

    def start(self) -> multiprocessing.Process:
        queue: multiprocessing.Queue[int] = multiprocessing.Queue()
        process = multiprocessing.Process(
            target=_serve, args=(str(self.directory), queue), daemon=True
        )
        process.start()
        self.port = queue.get(timeout=30)
        self.base = f"http://localhost:{self.port}"
        leaf = issue_access_certificate(
            AccessCertificateRequest(
                common_name="Bench Issuer", organization="Bench", uris=(self.base,)
            ),
            self.key.public_key(),
            anchor_signer=SoftwareSigner(self._anchor_key),
            anchor=self.anchor,
            now=self._now,
        )
        self.signer = SoftwareSigner(self.key, x5c=tuple(to_x5c([leaf])))
        for name in self.lists:
            self.publish(name)
        return process

    def uri(self, name: str) -> str:
        return f"{self.base}/lists/{name}"

    def publish(self, name: str) -> None:
        token = build_status_list_token(
            self.lists[name],
            self.signer,
            uri=self.uri(name),
            issued_at=int(time.time()),
            ttl=TTL,
            include_x5c=True,
        )
        temporary = self.directory / f".{name}"
        temporary.write_text(token, encoding="ascii")
        temporary.replace(self.directory / name)

    def requests(self) -> tuple[int, int]:
        fetched = not_modified = 0
        for path in self.directory.glob("*.requests"):
            lines = path.read_text().split()
            fetched += len(lines)
            not_modified += lines.count("304")
            path.unlink()
        return fetched, not_modified


async def _populate(
    context: WalletContext, provider: _Provider, url: str
) -> dict[str, list[tuple[int, str, str]]]:
    """1,000 citizens with one credential on each list: accounts, sealed credentials and
    the index rows, in bulk. Returns each list's held (index, account, credential)."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    now = time.time()
    held: dict[str, list[tuple[int, str, str]]] = {name: [] for name in provider.lists}
    free = {name: iter(random.sample(range(SIZE), CITIZENS)) for name in provider.lists}
    try:
        for _ in range(CITIZENS):
            account_id = str(uuid.uuid4())
            box, wrapped = context.vault.new_account(account_id)
            credentials, watches, expiries = [], [], []
            for name in provider.lists:
                index, credential_id = next(free[name]), str(uuid.uuid4())
                record = CredentialRecord(
                    format="dc+sd-jwt",
                    vct="urn:example:bench",
                    issuer=provider.base,
                    configuration_id="bench",
                    instances=[
                        CredentialInstance(
                            "e30.e30.x~", "hk", {"uri": provider.uri(name), "idx": index}
                        )
                    ],
                    credential_display=[{"locale": "en", "name": "Bench credential"}],
                    expires_at=int(now) + 365 * 86400,
                )
                credentials.append(
                    {
                        "credential_id": credential_id,
                        "account_id": account_id,
                        "sealed": box.seal("credential", credential_id, record.to_json()),
                        "presentations": 0,
                        "created_at": now,
                    }
                )
                watches.append(
                    {
                        "watch_key": watch_key(context.watch_secret, provider.uri(name), index),
                        "credential_id": credential_id,
                        "account_id": account_id,
                    }
                )
                expiries.append(
                    {
                        "credential_id": credential_id,
                        "account_id": account_id,
                        "expires_at": now + 365 * 86400,
                        "due_at": now + 335 * 86400,
                        "stage": 0,
                    }
                )
                held[name].append((index, account_id, credential_id))
            async with sessions.begin() as session:
                await session.execute(
                    insert(AccountRow),
                    [{"account_id": account_id, "wrapped_data_key": wrapped, "created_at": now}],
                )
                await session.execute(insert(CredentialRow), credentials)
                await session.execute(insert(StatusWatchRow), watches)
                await session.execute(insert(CredentialWatchRow), expiries)
        async with sessions.begin() as session:
            await session.execute(
                insert(StatusListRow),
                [
                    {
                        "list_key": list_key(provider.base, provider.uri(name)),
                        "uri": provider.uri(name),
                        "issuer": provider.base,
                        "next_fetch_at": now,
                        "needed_until": now + 365 * 86400,
                        "fetches": 0,
                        "failures": 0,
                    }
                    for name in provider.lists
                ],
            )
    finally:
        await engine.dispose()
    return held


class _Later:
    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(database: str, url: str, provider: _Provider) -> WatchingResult:
    engine = create_engine(url)
    clock = _Later()
    outbound = OutboundClient(exceptions=[f"localhost:{provider.port}"])
    sessions = session_factory(engine)
    context = WalletContext(
        store=SqlWalletStore(sessions),
        outbound=outbound,
        documents=PublishedDocuments(outbound, clock=clock),
        vault=AccountVault(os.urandom(32)),
        anchors=[provider.anchor],
        issuer_trust=X5cIssuerKeys([provider.anchor]),
        verifier_trust=X5cIssuerKeys([provider.anchor]),
        public_base_url="https://wallet.bench.example",
        token_secret=os.urandom(32),
        clock=clock,
        watch_secret=os.urandom(32),
        audit=SqlAuditTrail(sessions, time.time),
        mediations=SqlMediations(sessions),
    )
    try:
        held = await _populate(context, provider, url)
        provider.requests()

        async def timed() -> WatchPass:
            cpu, wall = _cpu(), time.perf_counter()
            report = await watch_pass(context)
            cpu, wall = _cpu() - cpu, time.perf_counter() - wall
            fetched, not_modified = provider.requests()
            return WatchPass(cpu, wall, fetched, not_modified, report.notified)

        first = await timed()
        for name, credentials in held.items():
            still_valid = [c for c in credentials if provider.lists[name].get(c[0]) == 0]
            for index, _, _ in random.sample(still_valid, REVOKED_PER_LIST):
                provider.lists[name].set(index, 1)
            provider.publish(name)
        clock.offset += TTL + 1
        changed = await timed()
        clock.offset += TTL + 1
        idle = await timed()
    finally:
        await outbound.close()
        await engine.dispose()
    return WatchingResult(database, first, changed, idle)


def run(databases: dict[str, str | None]) -> list[WatchingResult]:
    results = []
    for database, server in databases.items():
        with tempfile.TemporaryDirectory() as scratch:
            directory = Path(scratch)
            url = (
                f"sqlite+aiosqlite:///{directory / 'watch.db'}"
                if server is None
                else fresh_postgres_database(server, "idwallet_bench_watch")
            )
            upgrade(url)
            lists = directory / "lists"
            lists.mkdir()
            provider = _Provider(lists)
            process = provider.start()
            try:
                results.append(asyncio.run(_measure(database, url, provider)))
            finally:
                process.terminate()
                process.join(timeout=10)
    return results


def section(results: list[WatchingResult]) -> list[str]:
    lines = [
        HEADING,
        "",
        f"{LISTS} status lists of {SIZE:,} two-bit indices ({REVOKED_SHARE:.0%} revoked, `ttl`",
        f"{TTL} s) served by a Status Provider in a process of its own; {CITIZENS:,} citizens",
        f"hold one credential on each ({LISTS * CITIZENS:,} credentials, one watch row each).",
        "CPU is the wallet process's (user + system; SQLite runs in it, PostgreSQL does not).",
        "",
        "| database | pass | CPU s | wall s | requests (304) | notifications |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        for name, measured in (
            ("first (every list new)", result.first),
            (f"{REVOKED_PER_LIST} revoked per list", result.changed),
            ("nothing changed", result.idle),
        ):
            lines.append(
                f"| {result.database} | {name} | {measured.cpu_s:.2f} | {measured.wall_s:.2f} "
                f"| {measured.fetches} ({measured.not_modified}) | {measured.notified:,} |"
            )
    if results:
        lines += [
            "",
            f"Fetches per hour at the lists' `ttl`: {results[0].fetches_per_hour:,} "
            f"({LISTS} lists × {3600 // TTL} periods), the same for one credential per list "
            f"or {CITIZENS:,}: the watching asks each list once per `ttl`, never per credential.",
        ]
    return lines


def main() -> None:  # pragma: no cover - python -m bench.status_watching
    from bench.sections import splice_section
    from tests.support.postgres import reachable

    output = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
    postgres = os.environ.get(
        "IDWALLET_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    databases: dict[str, str | None] = {"SQLite": None}
    if reachable(postgres) is None:
        databases["PostgreSQL"] = postgres
    lines = section(run(databases))
    output.write_text(splice_section(output.read_text(encoding="utf-8"), lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
