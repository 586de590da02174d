"""``idwallet audit``: check the deployment's audit trail, export it for an auditor, and
chain and sign it now.

``verify`` checks the chain and every signed head (``core.audit.chain``) in the database,
or in an exported copy (``--file``) with no database at all, and prints the first break:
exit status 0 when the chain holds, 1 at a break. Heads are checked against the trust
anchor certificate given with ``--anchor`` (PEM), else the deployment's own (database) or
the one the export carries (a copy: then compare its printed fingerprint with the
deployment's published anchor, ``idwallet keys trust-anchor``).

``export`` writes JSON lines: a header (format, time, the trust anchor certificate and its
SHA-256 fingerprint, the head signer's certificate chain), then every signed head, then
every chained entry in position order. Each head carries its signer's ``x5c``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TextIO

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from app.settings import Settings
from core.audit.chain import (
    ChainedEntry,
    ChainReport,
    ChainVerifier,
    SignedHead,
    anchored_head_keys,
)
from core.encoding import EncodingError, strict_json_object
from core.jose.errors import JoseError
from core.jose.jws import decode_unverified

EXPORT_FORMAT = "idwallet-audit-export/1"
#: An exported line is one entry or one head: anything longer is not ours.
MAX_LINE_BYTES = 64 * 1024
PAGE = 1000


def add_audit_commands(sub: Any) -> None:
    audit = sub.add_parser("audit", help="verify, export or seal the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify", help="check the chain and its signed heads; exit 1 at the first break"
    )
    verify.add_argument("--file", type=Path, help="an exported copy (no database needed)")
    verify.add_argument(
        "--anchor",
        type=Path,
        help="the trust anchor certificate (PEM) heads must chain to (default: the"
        " deployment's, or for --file the one the export carries)",
    )
    export = audit_sub.add_parser("export", help="write the trail and its heads as JSON lines")
    export.add_argument("--output", required=True, help="file to write, or - for standard output")
    export.add_argument("--anchor", type=Path, help="also write the trust anchor (PEM) there")
    audit_sub.add_parser("seal", help="chain what was appended and sign a head now")


def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    if args.audit_command == "verify" and args.file is not None:
        return verify_export(args.file, args.anchor)
    return asyncio.run(_with_deployment(args, settings))


async def _with_deployment(args: argparse.Namespace, settings: Settings) -> int:
    from app.audit_sealing import audit_chain, head_policy
    from app.deployment import Deployment

    deployment = Deployment.open(settings)
    try:
        chain = audit_chain(deployment)
        anchor = deployment.trust_anchor.certificate
        if args.audit_command == "seal":
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
            return 0
        if args.audit_command == "export":
            heads = await chain.read_heads()
            with _output(args.output) as out:
                _write_line(out, _header(anchor, heads))
                for head in heads:
                    _write_line(out, _head_line(head))
                async for entry in _entries(chain):
                    _write_line(out, _entry_line(entry))
            if args.anchor is not None:
                args.anchor.write_bytes(anchor.public_bytes(Encoding.PEM))
            if args.output != "-":
                print(f"wrote {args.output}")
            return 0
        if args.anchor is not None:
            anchor = _load_anchor(args.anchor)
        verifier = ChainVerifier(await chain.read_heads(), anchored_head_keys([anchor]))
        async for entry in _entries(chain):
            verifier.entry(entry)
        return _print_report(verifier.finish())
    finally:
        await deployment.close()


async def _entries(chain: Any) -> AsyncIterator[ChainedEntry]:
    after = 0
    while True:
        page: list[ChainedEntry] = await chain.read_entries(after, PAGE)
        for entry in page:
            yield entry
        if len(page) < PAGE:
            return
        after = page[-1].position


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


def _header(anchor: x509.Certificate, heads: list[SignedHead]) -> dict[str, Any]:
    signer_chain: list[str] = []
    if heads:
        try:
            signer_chain = list(decode_unverified(heads[-1].jws).header.get("x5c") or [])
        except JoseError:
            signer_chain = []
    return {
        "type": "export",
        "format": EXPORT_FORMAT,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(),
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


def _number(line: dict[str, Any], name: str, number: int, kind: type) -> Any:
    value = line.get(name)
    if isinstance(value, bool) or not isinstance(value, kind | int):
        raise ExportUnreadable(f"line {number}: {name} is not a number")
    return value


def _parse_head(line: dict[str, Any], number: int) -> SignedHead:
    return SignedHead(
        position=_number(line, "position", number, int),
        entry_hash=_text(line, "entry_hash", number),
        at=float(_number(line, "at", number, float)),
        jws=_text(line, "jws", number),
    )


def _parse_entry(line: dict[str, Any], number: int) -> ChainedEntry:
    return ChainedEntry(
        position=_number(line, "position", number, int),
        previous_hash=_text(line, "previous_hash", number),
        at=float(_number(line, "at", number, float)),
        actor_kind=_text(line, "actor_kind", number),
        actor=_text(line, "actor", number),
        action=_text(line, "action", number),
        outcome=_text(line, "outcome", number),
        facts=_text(line, "facts", number),
        subject_key=_text(line, "subject_key", number, optional=True),
        entry_hash=_text(line, "entry_hash", number),
    )


def _load_anchor(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def verify_export(path: Path, anchor_file: Path | None) -> int:
    """Check an exported copy, without a database: 0 when it holds, 1 at a break."""
    try:
        heads: list[SignedHead] = []
        carried: x509.Certificate | None = None
        for number, line in _lines(path):
            kind = line.get("type")
            if kind == "export":
                if line.get("format") != EXPORT_FORMAT:
                    raise ExportUnreadable(f"line {number}: not an {EXPORT_FORMAT} export")
                der = base64.b64decode(_text(line, "trust_anchor", number), validate=True)
                carried = x509.load_der_x509_certificate(der)
            elif kind == "head":
                heads.append(_parse_head(line, number))
            elif kind != "entry":
                raise ExportUnreadable(f"line {number}: unknown type {kind!r}")
        if anchor_file is not None:
            anchor = _load_anchor(anchor_file)
        elif carried is not None:
            anchor = carried
            print(
                "heads checked against the trust anchor the export carries, SHA-256"
                f" {_fingerprint(anchor)}: compare it with the deployment's published anchor"
            )
        else:
            raise ExportUnreadable("the export has no header with the trust anchor: give --anchor")
        verifier = ChainVerifier(heads, anchored_head_keys([anchor]))
        for number, line in _lines(path):
            if line.get("type") == "entry":
                verifier.entry(_parse_entry(line, number))
        return _print_report(verifier.finish())
    except (ExportUnreadable, OSError, ValueError) as exc:
        print(f"audit trail export unreadable: {exc}", file=sys.stderr)
        return 1


def _print_report(report: ChainReport) -> int:
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
        return 1
    for warning in report.warnings:
        print(f"warning: {warning}")
    print(f"OK: the chain holds; signed through position {report.signed_through}")
    return 0
