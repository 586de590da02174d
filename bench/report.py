"""Render benchmark results as ``docs/benchmarks.md``."""

from __future__ import annotations

import platform
from dataclasses import dataclass

import cryptography

from bench.capacity import Capacity
from bench.capacity import tables as capacity_tables
from bench.hsm_keys import HsmResults
from bench.hsm_keys import section as hsm_section
from bench.http_haip_issuance import AUTHORIZATION_CODE, HaipResult
from bench.http_haip_issuance import table as haip_table
from bench.http_issuance import ISSUANCE, LoadResult, latency_table, throughput_summary
from bench.http_presentation_issuance import PresentationIssuanceResult
from bench.http_presentation_issuance import table as presentation_table
from bench.http_verification import section as verification_section
from bench.http_wallet_receipt import ReceiptResult
from bench.http_wallet_receipt import section as receipt_section
from bench.mdoc_bench import MdocResults
from bench.mdoc_bench import section as mdoc_section
from bench.measure import Measurement
from bench.rate_limit_overhead import RateLimitOverhead
from bench.rate_limit_overhead import section as rate_limit_section
from bench.sdjwt_bench import SdJwtResults
from bench.status_list_scale import ScaleResult
from bench.status_list_scale import table as scale_table


@dataclass(frozen=True)
class Target:
    name: str
    achieved: float
    required: float

    @property
    def met(self) -> bool:
        return self.achieved >= self.required


def targets(results: SdJwtResults) -> list[Target]:
    ours, ref, raw = results.ours, results.reference, results.raw
    floor_rate = raw["verify"].ops_per_second / 2  # two ES256 verifications per presentation
    return [
        Target(
            "issue rate ÷ reference issue rate",
            ours["issue"].ops_per_second / ref["issue"].ops_per_second,
            3.0,
        ),
        Target(
            "verify rate ÷ reference verify rate",
            ours["verify"].ops_per_second / ref["verify"].ops_per_second,
            2.0,
        ),
        Target(
            "verify rate ÷ raw floor (two ES256 verifications)",
            ours["verify"].ops_per_second / floor_rate,
            0.75,
        ),
    ]


def _row(m: Measurement) -> str:
    kib = m.peak_bytes / 1024
    return f"| {m.name} | {m.microseconds:,.1f} | {m.ops_per_second:,.0f} | {kib:,.1f} |"


def qr_section(qr: dict[str, Measurement]) -> list[str]:
    """The QR codes' section: the reference package's default path beside ours."""
    lines = [
        "## QR codes",
        "",
        "| renderer | µs per QR code | peak KiB |",
        "| --- | ---: | ---: |",
    ]
    for m in qr.values():
        lines.append(f"| {m.name} | {m.microseconds:,.1f} | {m.peak_bytes / 1024:,.1f} |")
    reference, ours, request = list(qr.values())
    lines.append("")
    lines.append(
        f"For an offer, ours is {reference.seconds_per_op / ours.seconds_per_op:.1f}× faster "
        "than the package's default path while rendering PNG as well: zxing-cpp encodes in "
        "C++ at level M (the smallest version, its choice of segments and the mask the "
        "standard's penalty score ranks best, as the package's default path does), and lean "
        "writers draw the SVG and the PNG instead of the package's SVG image class. An offer's "
        "QR code is rendered once and kept, so a clerk's screen asking again costs a lookup. "
        "A counter's QR code for a presentation request (SVG) is encoded afresh for "
        f"every request: {1 / request.seconds_per_op:,.0f} per second on one core (target 300)."
    )
    return lines


def render(
    results: SdJwtResults,
    *,
    pinning: str,
    notes: list[str],
    qr: dict[str, Measurement],
    http: list[LoadResult],
    verification: list[LoadResult],
    wallet: list[LoadResult],
    capacity: Capacity | None = None,
    scale: list[ScaleResult] | None = None,
    rate_limits: RateLimitOverhead | None = None,
    haip: HaipResult | None = None,
    presentation: PresentationIssuanceResult | None = None,
    receipt: ReceiptResult | None = None,
    mdoc: MdocResults | None = None,
    hsm: HsmResults | None = None,
) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`); every figure below comes from one run, with",
        "the references measured in the same process on the same core.",
        "",
        f"- Machine: {platform.machine()}, Python {platform.python_version()}, cryptography "
        f"{cryptography.__version__}; {pinning}.",
        "- Method: each operation runs in a calibrated loop; the best of 40 rounds counts, and in",
        "  every round all operations take their turn, so a slow spell of the machine hits them",
        "  alike (garbage collected before, and off during, each timed loop). Peak memory is what",
        "  `tracemalloc` sees during one operation.",
        "- Credential: the 12-claim national ID of `bench/national_id.py` (every subject claim",
        "  selectively disclosable, the address members individually too; iss, iat, exp, vct,",
        "  cnf and status in the clear; decoy digests; x5c header).",
        f"  Issued: {results.issued_bytes:,} bytes;",
        f"  presented with 4 claims and a KB-JWT: {results.presented_bytes:,} bytes.",
        "- Full verify: x5c chain to the trust anchor (a validated chain is remembered until",
        "  it expires), issuer signature, every RFC 9901 §7.1 check, key binding (§7.3), the",
        "  SD-JWT VC profile checks. The reference verifies the issuer signature with a key",
        "  handed to it and the KB-JWT; it does no chain validation and fewer checks.",
        "",
        "## SD-JWT VC: issue, present, verify",
        "",
        "| operation | µs per operation | operations per second | peak KiB |",
        "| --- | ---: | ---: | ---: |",
    ]
    for group in (results.ours, results.reference, results.raw):
        lines.extend(_row(m) for m in group.values())
    lines += [
        "",
        "## Targets",
        "",
        "| target | achieved | required | met |",
        "| --- | ---: | ---: | --- |",
    ]
    for target in targets(results):
        met = "yes" if target.met else "no"
        lines.append(f"| {target.name} | {target.achieved:.2f} | {target.required:.2f} | {met} |")
    full = results.ours["verify"].microseconds
    floor = 2 * results.raw["verify"].microseconds
    lines += [
        "",
        "## Where full verify spends its time",
        "",
        "| part | µs | share |",
        "| --- | ---: | ---: |",
        f"| two ES256 verifications (raw floor) | {floor:,.1f} | {floor / full:.0%} |",
    ]
    rest = full - floor
    for part in results.verify_parts.values():
        lines.append(f"| {part.name} | {part.microseconds:,.1f} | {part.microseconds / full:.0%} |")
        rest -= part.microseconds
    lines.append(
        f"| everything else (checks, Python objects and calls) | {rest:,.1f} | {rest / full:.0%} |"
    )
    if mdoc is not None:
        lines += ["", *mdoc_section(mdoc)]
    lines += ["", *qr_section(qr)]
    lines += [
        "",
        "## Issuance over HTTP",
        "",
        "One `idwallet serve` worker pinned to one CPU; the load generator (httpx, asyncio) on the",
        "other. A complete issuance is token + nonce + credential of the national ID with a fresh",
        "jwt proof; offers are created before the clock starts. `GET /health` is the trivial",
        "endpoint of the same server at the same concurrency.",
        "",
        *latency_table(http),
    ]
    lines += throughput_summary(http, {ISSUANCE: "issuances"}, round_trips=20)
    if haip is not None:
        lines += [
            "",
            "## Issuance at HAIP level over HTTP",
            "",
            "The same set-up, with the development authenticator and a wallet provider the",
            "server trusts. An authorization-code issuance is what a HAIP wallet does: the pushed",
            "request with a wallet attestation and its PoP, the authorization (the citizen signed",
            "in at once, the redirect read), the token request with a DPoP proof (nonce) and a",
            "fresh PoP, the nonce, and the credential request with a DPoP proof (`ath`) and a jwt",
            "proof carrying a key attestation. Beside it, in the same run on the same server, the",
            "pre-authorized issuance (token + nonce + credential) and the trivial endpoint; the",
            "worker's CPU time per operation is read from `/proc`.",
            "",
            *haip_table(haip),
        ]
    if presentation is not None:
        haip_cpu = (
            {}
            if haip is None
            else {
                (r.database, r.concurrency): ms
                for r in haip.loads
                if (ms := haip.cpu_ms_of(r)) is not None and r.name == AUTHORIZATION_CODE
            }
        )
        lines += [
            "",
            "## Issuance after a presentation during issuance",
            "",
            "The transport agency issues a driving licence online once the citizen's wallet has",
            "shown the national ID (name and date of birth) to the agency's identity-check",
            "counter, which the agency uses over its public counter API; the register supplies",
            "the licence. Beside it on the same server, in the same run, a complete verification",
            "of the same three claims at that counter and the trivial endpoint; the",
            "authorization-code issuance it builds on is the one measured above (on a server",
            "whose development authenticator would skip the presentation).",
            "",
            *presentation_table(presentation, haip_cpu),
        ]
    lines += ["", *verification_section(verification)]
    lines += [
        "",
        "## Presentations through the citizen mobile API",
        "",
        "The same set-up. A complete presentation is a counter and a phone together: the counter",
        "creates an `age_over_18` request; the phone posts the scanned URI (the wallet fetches",
        "the signed request object, validates the verifier's certificate chain and answers with",
        "the consent view, live credential status included); the phone approves (the wallet",
        "cuts the credential down, signs the KB-JWT with the server-held holder key and posts",
        "it; the verifier in the same worker validates it fully and answers 200). The wallet's",
        "calls to the verifier stay in process. The listing row is one citizen holding 50",
        "credentials (batches of 3) asking for the list, each with its live status, from four",
        "phones at once, so that the worker sets the rate.",
        "",
        *latency_table(wallet),
    ]
    if receipt is not None:
        lines += ["", *receipt_section(receipt)]
    if capacity is not None:
        lines += [
            "",
            "## Capacity: one worker and two",
            "",
            "`idwallet serve --workers N` on a freshly migrated database, 16 concurrent clients",
            "per mix: complete issuances, complete verifications and complete presentations",
            "through the mobile API, as described above.",
            "",
            "First with nothing pinned: the workers, PostgreSQL and the load generator share",
            "this machine's two cores, so a second worker finds no idle core to use and",
            "throughput stays where it was. The CPU table shows why and what a worker costs:",
            "CPU milliseconds per operation of the workers, the database server and the load",
            "generator (from /proc), how many cores were busy, and what one worker does per",
            "second of a core of its own. A worker's cost per operation is about the same with",
            "two workers as with one: they share nothing but the database. On SQLite two workers",
            "keep only one core busy, as SQLite takes one writer at a time: it is the single-node",
            "default, PostgreSQL the production database. Memory is each worker's resident set",
            "after all three mixes.",
            "",
            "Then each worker is held to a fixed CPU budget (a cgroup CPU quota of its own), so",
            "that one worker and two each find the cores they need while PostgreSQL and the",
            "load generator keep the rest: the scaling a host with a core per worker gets.",
            "One worker and two take turns twice; the better run of each counts.",
            "",
            *capacity_tables(capacity),
        ]
    if scale is not None:
        lines += [
            "",
            "## Status lists at national scale",
            "",
            "One status list of 10,000,000 two-bit indices in a real ledger, measured empty and",
            "with 1,000,000 credentials on it of which 100,000 (1% of the indices) revoked.",
            "Allocation: a credential recorded at a random index by the issuance path's own",
            "statement (the unique constraint decides), one transaction each. Revocation: the",
            "ledger's status change of one credential and its list's version. Publishing: the",
            "publishing service's steps, timed apart (median of three): the list's revoked and",
            "suspended indices read through their partial index, aggregated by status; the list",
            "built from them; compressed (ZLIB by zlib-ng at level 9, as Token Status List §4.2",
            "recommends the highest level) and signed (ES256). The token is larger than the",
            "compressed list because the JWT payload base64url-encodes the base64url `lst`",
            "again. Its peak is the Python memory it allocated, traced in a separate run (the",
            "list itself is 2.4 MiB). The reference is the system zlib's level 9 on the same",
            "list.",
            "",
            *scale_table(scale),
        ]
    if rate_limits is not None:
        lines += ["", *rate_limit_section(rate_limits)]
    if hsm is not None:
        lines += ["", *hsm_section(hsm)]
    if notes:
        lines += ["", "## Notes", ""]
        lines += notes
    return "\n".join(lines) + "\n"
