"""``idwallet audit``: check the deployment's audit trail, export it for an auditor, and
chain and sign it now.

``verify`` checks the chain and every signed head (``core.audit.chain``) in the database,
or in an exported copy (``--file``) with no database at all, and prints the first break.
Heads count only when signed by the deployment's audit key: a certificate under the trust
anchor naming ``<issuer>/audit``, and ``iss`` the deployment's base URL (``--issuer``; for
the database, the deployment's own). ``--known-head`` (a head's JWS, a file holding one,
or an earlier export, whose last head is taken; may be repeated) must still be covered
with the same hash: entries cut from the end together with their heads are found that way.
Entries older than a few head intervals that no head covers are a break.

Exit status of ``verify``:

- 0: the chain holds (for ``--file``, checked against an anchor given with ``--anchor`` or
  pinned with ``--anchor-sha256``);
- 1: a break, or the trail or the export could not be read (a database that is away or not
  migrated, a line that is not one of ours);
- 3: the copy holds, but only against the anchor the export carries itself: proof of
  nothing until compared with the deployment's published anchor (``idwallet keys
  trust-anchor``), so give ``--anchor`` or ``--anchor-sha256``;
- 4: empty, nothing to check (no entry, no head); ``--allow-empty`` makes that 0 where an
  empty trail is what is expected.

``export`` writes JSON lines: a header (format, time, issuer, head interval, the trust
anchor certificate and its SHA-256 fingerprint, the head signer's certificate chain), then
every signed head, then every chained entry in position order, all read in one snapshot of
the database (retention running meanwhile changes nothing in it). Each head carries its
signer's ``x5c``.

``seal``, ``export`` and ``verify`` on the database are appended to the trail themselves
(``audit.sealed``, ``audit.exported``, ``audit.verified``; actor kind ``deployment``,
actor ``administrator``). Checking an exported copy involves no deployment and appends nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import json
import math
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy.exc import SQLAlchemyError

from app.settings import Settings
from core.audit.chain import (
    MAX_HEAD_BYTES,
    MAX_IAT,
    ChainedEntry,
    ChainReport,
    ChainVerifier,
    HeadInvalid,
    HeadKeys,
    SignedHead,
    UnsignedLimit,
    VerifiedHead,
    anchored_head_keys,
    feed,
    verify_head,
)
from core.audit.store import ChainSnapshot
from core.audit.trail import AuditEntry
from core.encoding import EncodingError, strict_json_object
from core.jose.errors import JoseError
from core.jose.jws import decode_unverified

EXPORT_FORMAT = "idwallet-audit-export/1"
#: An exported line is one entry or one head: anything longer is not ours.
MAX_LINE_BYTES = 64 * 1024
PAGE = 1000
#: Entries may wait this many head intervals (and a chaining pass) for their head.
UNSIGNED_GRACE_INTERVALS = 3
UNSIGNED_GRACE_SECONDS = 60.0
#: A compact JWS, as a head is given on the command line.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
#: Positions a line may state.
MAX_POSITION = 2**62

EXIT_OK = 0
EXIT_BREAK = 1
EXIT_UNANCHORED = 3
EXIT_EMPTY = 4


def add_audit_commands(sub: Any) -> None:
    audit = sub.add_parser("audit", help="verify, export or seal the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify",
        help="check the chain and its signed heads; exit 0 when it holds, 1 at the first"
        " break, 3 for a copy checked only against its own anchor, 4 when empty",
    )
    verify.add_argument("--file", type=Path, help="an exported copy (no database needed)")
    verify.add_argument(
        "--anchor",
        type=Path,
        help="the trust anchor certificate (PEM) heads must chain to (default: the"
        " deployment's; for --file give it, or --anchor-sha256)",
    )
    verify.add_argument(
        "--anchor-sha256",
        help="for --file: the SHA-256 (hex) of the deployment's published trust anchor; the"
        " anchor the export carries must be that one",
    )
    verify.add_argument(
        "--issuer",
        help="for --file: the deployment's base URL the heads must name (default: the"
        " export's header)",
    )
    verify.add_argument(
        "--known-head",
        action="append",
        default=[],
        help="a head kept from earlier (its JWS, a file holding it, or an earlier export):"
        " the chain must still cover it; may be repeated",
    )
    verify.add_argument(
        "--allow-empty",
        action="store_true",
        help="exit 0 for an empty trail (no entry, no head) instead of 4",
    )
    export = audit_sub.add_parser("export", help="write the trail and its heads as JSON lines")
    export.add_argument("--output", required=True, help="file to write, or - for standard output")
    export.add_argument("--anchor", type=Path, help="also write the trust anchor (PEM) there")
    audit_sub.add_parser("seal", help="chain what was appended and sign a head now")


def unsigned_limit(now: float, head_interval: float) -> UnsignedLimit:
    """How old an entry no head covers may be, for heads signed every ``head_interval``."""
    return UnsignedLimit(
        older_than=now - UNSIGNED_GRACE_INTERVALS * head_interval - UNSIGNED_GRACE_SECONDS
    )


def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    if args.audit_command == "verify" and args.file is not None:
        return verify_export(args)
    try:
        return asyncio.run(_with_deployment(args, settings))
    except (SQLAlchemyError, OSError) as exc:
        cause = getattr(exc, "orig", None) or exc
        print(
            f"the database could not be used ({type(cause).__name__}):"
            " is it reachable, and migrated (idwallet migrate)?",
            file=sys.stderr,
        )
        return EXIT_BREAK
    except (ExportUnreadable, HeadInvalid) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BREAK


def _cli_entry(action: str, outcome: str = "ok", **facts: str | int) -> AuditEntry:
    return AuditEntry("deployment", "administrator", action, outcome, facts)


async def _with_deployment(args: argparse.Namespace, settings: Settings) -> int:
    from app.audit_sealing import audit_chain, head_policy
    from app.deployment import Deployment

    deployment = Deployment.open(settings)
    try:
        chain = audit_chain(deployment)
        trail = deployment.audit_trail
        anchor = deployment.trust_anchor.certificate
        if args.audit_command == "seal":
            await trail.append(_cli_entry("audit.sealed"))
            sealed = await chain.seal(head_policy(deployment), force=True)
            for _ in range(50):  # a worker's chainer had the lock: once it is done, ours
                if sealed.ran:
                    break
                await asyncio.sleep(0.1)
                sealed = await chain.seal(head_policy(deployment), force=True)
            signed = (
                f"head signed at position {sealed.head.position}" if sealed.head else "no new head"
            )
            print(f"chained {sealed.chained} entries; {signed}")
            return EXIT_OK
        if args.audit_command == "export":
            with _output(args.output) as out:
                async with chain.snapshot() as snapshot:
                    last = await snapshot.last_head()
                    _write_line(out, _header(anchor, last, settings))
                    async for head in _heads(snapshot):
                        _write_line(out, _head_line(head))
                    through = 0
                    async for entry in _entries(snapshot):
                        _write_line(out, _entry_line(entry))
                        through = entry.position
            if args.anchor is not None:
                args.anchor.write_bytes(anchor.public_bytes(Encoding.PEM))
            await trail.append(_cli_entry("audit.exported", through=through))
            if args.output != "-":
                print(f"wrote {args.output}")
            return EXIT_OK
        if args.anchor is not None:
            anchor = _load_anchor(args.anchor)
        keys = anchored_head_keys([anchor], issuer=settings.public_base_url)
        verifier = ChainVerifier(
            keys,
            known=_known_heads(args.known_head, keys),
            unsigned=unsigned_limit(time.time(), settings.audit_head_interval),
        )
        async with chain.snapshot() as snapshot:
            report = await _feed(verifier, _entries(snapshot), _heads(snapshot))
        status = _print_report(report, allow_empty=args.allow_empty)
        outcome = "ok" if report.first_break is None else report.first_break.kind
        await trail.append(_cli_entry("audit.verified", outcome, through=report.last_position or 0))
        return status
    finally:
        await deployment.close()


class _HasPosition(Protocol):
    @property
    def position(self) -> int: ...


Positioned = TypeVar("Positioned", bound=_HasPosition)


async def _paged(
    read: Callable[[int, int], Awaitable[Sequence[Positioned]]],
) -> AsyncIterator[Positioned]:
    """Everything ``read`` pages through, in position order, ``PAGE`` at a time."""
    after = 0
    while True:
        page = await read(after, PAGE)
        for item in page:
            yield item
        if len(page) < PAGE:
            return
        after = page[-1].position


def _entries(snapshot: ChainSnapshot) -> AsyncIterator[ChainedEntry]:
    return _paged(snapshot.read_entries)


def _heads(snapshot: ChainSnapshot) -> AsyncIterator[SignedHead]:
    return _paged(snapshot.read_heads)


async def _feed(
    verifier: ChainVerifier,
    entries: AsyncIterator[ChainedEntry],
    heads: AsyncIterator[SignedHead],
) -> ChainReport:
    """``core.audit.chain.feed`` over two streams read from the database."""
    head = await anext(heads, None)
    async for entry in entries:
        while head is not None and head.position < entry.position:
            verifier.head(head)
            head = await anext(heads, None)
        verifier.entry(entry)
    while head is not None:
        verifier.head(head)
        head = await anext(heads, None)
    return verifier.finish()


@contextlib.contextmanager
def _output(name: str) -> Iterator[TextIO]:
    if name == "-":
        yield sys.stdout
        return
    with Path(name).open("w", encoding="utf-8") as out:
        yield out


def _write_line(out: TextIO, value: dict[str, Any]) -> None:
    out.write(json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n")


def _fingerprint(certificate: x509.Certificate) -> str:
    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()


def _header(
    anchor: x509.Certificate, last: SignedHead | None, settings: Settings
) -> dict[str, Any]:
    signer_chain: list[str] = []
    if last is not None:
        try:
            signer_chain = list(decode_unverified(last.jws).header.get("x5c") or [])
        except JoseError:
            signer_chain = []
    return {
        "type": "export",
        "format": EXPORT_FORMAT,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(),
        "issuer": settings.public_base_url,
        "head_interval": settings.audit_head_interval,
        "trust_anchor_sha256": _fingerprint(anchor),
        "trust_anchor": base64.b64encode(anchor.public_bytes(Encoding.DER)).decode("ascii"),
        "head_signer_x5c": signer_chain,
    }


def _head_line(head: SignedHead) -> dict[str, Any]:
    return {
        "type": "head",
        "position": head.position,
        "entry_hash": head.entry_hash,
        "at": head.at,
        "jws": head.jws,
    }


def _entry_line(entry: ChainedEntry) -> dict[str, Any]:
    return {
        "type": "entry",
        "position": entry.position,
        "previous_hash": entry.previous_hash,
        "at": entry.at,
        "actor_kind": entry.actor_kind,
        "actor": entry.actor,
        "action": entry.action,
        "outcome": entry.outcome,
        "facts": entry.facts,
        "subject_key": entry.subject_key,
        "entry_hash": entry.entry_hash,
    }


class ExportUnreadable(ValueError):
    """A line of the export is not one of ours (its number in the message)."""


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as source:
        for number, raw in enumerate(source, start=1):
            if len(raw) > MAX_LINE_BYTES:
                raise ExportUnreadable(f"line {number} is longer than {MAX_LINE_BYTES} bytes")
            if not raw.strip():
                continue
            try:
                yield number, strict_json_object(raw, max_bytes=MAX_LINE_BYTES)
            except EncodingError as exc:
                raise ExportUnreadable(f"line {number} is not a JSON object: {exc}") from exc


def _text(line: dict[str, Any], name: str, number: int, *, optional: bool = False) -> Any:
    value = line.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ExportUnreadable(f"line {number}: {name} is not a string")
    return value


def _position(line: dict[str, Any], number: int) -> int:
    value = line.get("position")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_POSITION:
        raise ExportUnreadable(f"line {number}: position is not a position")
    return value


def _time(line: dict[str, Any], name: str, number: int) -> float:
    """A time in seconds since the epoch, within the years a head may state."""
    value = line.get(name)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (isinstance(value, int) or math.isfinite(value))
        or not 0 <= value <= MAX_IAT
    ):
        raise ExportUnreadable(f"line {number}: {name} is not a time")
    return float(value)


def _parse_head(line: dict[str, Any], number: int) -> SignedHead:
    return SignedHead(
        position=_position(line, number),
        entry_hash=_text(line, "entry_hash", number),
        at=_time(line, "at", number),
        jws=_text(line, "jws", number),
    )


def _parse_entry(line: dict[str, Any], number: int) -> ChainedEntry:
    return ChainedEntry(
        position=_position(line, number),
        previous_hash=_text(line, "previous_hash", number),
        at=_time(line, "at", number),
        actor_kind=_text(line, "actor_kind", number),
        actor=_text(line, "actor", number),
        action=_text(line, "action", number),
        outcome=_text(line, "outcome", number),
        facts=_text(line, "facts", number),
        subject_key=_text(line, "subject_key", number, optional=True),
        entry_hash=_text(line, "entry_hash", number),
    )


def _load_anchor(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError as exc:
        raise ExportUnreadable(f"{path} is not a PEM certificate") from exc


def _known_head(value: str) -> SignedHead:
    """A head kept from earlier: its JWS, a file holding it, or an export (its last head)."""
    text = value.strip()
    if _COMPACT_JWS.fullmatch(text):
        return SignedHead(0, "", 0.0, text)
    path = Path(value)
    try:
        with path.open("rb") as source:
            content = source.read(MAX_HEAD_BYTES + 1)
    except OSError as exc:
        raise ExportUnreadable(f"--known-head: neither a head nor a readable file ({exc})") from exc
    if not content.startswith(b"{"):
        if len(content) > MAX_HEAD_BYTES:
            raise ExportUnreadable(f"{path} holds no head: it is too large for one")
        return SignedHead(0, "", 0.0, content.decode("ascii", "replace").strip())
    last: SignedHead | None = None
    for number, line in _lines(path):
        if line.get("type") == "head":
            head = _parse_head(line, number)
            if last is None or head.position > last.position:
                last = head
    if last is None:
        raise ExportUnreadable(f"{path} holds no head")
    return last


def _known_heads(values: list[str], keys: HeadKeys) -> list[VerifiedHead]:
    known = []
    for value in values:
        try:
            known.append(verify_head(_known_head(value), keys))
        except HeadInvalid as exc:
            raise HeadInvalid(f"the known head {value[:40]!r} does not verify: {exc}") from exc
    return known


def _export_time(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp.timestamp() if stamp.tzinfo is not None else None


def verify_export(args: argparse.Namespace) -> int:
    """Check an exported copy, without a database (the exit status: ``verify``'s)."""
    path: Path = args.file
    try:
        header: dict[str, Any] | None = None
        carried: x509.Certificate | None = None
        for number, line in _lines(path):
            kind = line.get("type")
            if kind == "export":
                if line.get("format") != EXPORT_FORMAT:
                    raise ExportUnreadable(f"line {number}: not an {EXPORT_FORMAT} export")
                der = base64.b64decode(_text(line, "trust_anchor", number), validate=True)
                carried = x509.load_der_x509_certificate(der)
                header = line
            elif kind not in ("head", "entry"):
                raise ExportUnreadable(f"line {number}: unknown type {kind!r}")
        anchored = True
        if args.anchor is not None:
            anchor = _load_anchor(args.anchor)
        elif carried is None:
            raise ExportUnreadable("the export has no header with the trust anchor: give --anchor")
        else:
            anchor = carried
            anchored = args.anchor_sha256 is not None
        if args.anchor_sha256 is not None and _fingerprint(anchor) != args.anchor_sha256.lower():
            print(
                f"the trust anchor (SHA-256 {_fingerprint(anchor)}) is not the one given with"
                " --anchor-sha256"
            )
            return EXIT_BREAK
        issuer = args.issuer
        if issuer is None and header is not None and isinstance(header.get("issuer"), str):
            issuer = header["issuer"]
        keys = anchored_head_keys([anchor], issuer=issuer)
        unsigned = None
        if header is not None:
            exported_at = _export_time(header.get("exported_at"))
            interval = header.get("head_interval")
            if exported_at is not None and isinstance(interval, int) and interval > 0:
                unsigned = unsigned_limit(exported_at, interval)
        verifier = ChainVerifier(keys, known=_known_heads(args.known_head, keys), unsigned=unsigned)
        entries = (
            _parse_entry(line, number)
            for number, line in _lines(path)
            if line.get("type") == "entry"
        )
        heads = (
            _parse_head(line, number) for number, line in _lines(path) if line.get("type") == "head"
        )
        status = _print_report(feed(verifier, entries, heads), allow_empty=args.allow_empty)
    except (ExportUnreadable, HeadInvalid, OSError, ValueError) as exc:
        print(f"audit trail export unreadable: {exc}", file=sys.stderr)
        return EXIT_BREAK
    if status == EXIT_OK and not anchored:
        print(
            "NOT ANCHORED: the heads were checked against the trust anchor the export carries"
            f" itself (SHA-256 {_fingerprint(anchor)}); compare it with the deployment's"
            " published anchor and give --anchor or --anchor-sha256"
        )
        return EXIT_UNANCHORED
    return status


def _print_report(report: ChainReport, *, allow_empty: bool = False) -> int:
    print(
        f"checked {report.entries} entries and {report.heads} signed heads"
        + (
            f" (positions {report.first_position} to {report.last_position})"
            if report.first_position is not None
            else ""
        )
    )
    if report.first_break is not None:
        print(f"BREAK at {report.first_break.describe()}")
        return EXIT_BREAK
    for warning in report.warnings:
        print(f"warning: {warning}")
    if report.empty:
        print("EMPTY: no entry and no signed head to check")
        return EXIT_OK if allow_empty else EXIT_EMPTY
    if report.known_heads:
        print(f"the chain still covers {report.known_heads} known head(s)")
    if report.entries == 0:
        print(
            "OK: every entry was removed by retention; the signed heads hold and the chain"
            f" goes on from position {report.signed_through}"
        )
        return EXIT_OK
    print(f"OK: the chain holds; signed through position {report.signed_through}")
    return EXIT_OK
