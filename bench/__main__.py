"""``python -m bench``: run the benchmarks and write ``docs/benchmarks.md``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench import (
    audit_trail,
    capacity,
    hsm_keys,
    http_haip_issuance,
    http_issuance,
    http_presentation_issuance,
    http_verification,
    http_wallet,
    http_wallet_receipt,
    mdoc_bench,
    oversight_scale,
    presentation_cost,
    qr_bench,
    rate_limit_overhead,
    status_list_scale,
    status_watching,
)
from bench.measure import pin_to_one_core
from bench.report import render, targets
from bench.sdjwt_bench import run
from bench.sections import splice_section
from tests.support.postgres import reachable

NOTES_FILE = Path(__file__).with_name("notes.md")
OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def main() -> int:
    pinning = pin_to_one_core()
    results = run()
    mdoc = mdoc_bench.run()
    qr = qr_bench.run()
    notes = NOTES_FILE.read_text(encoding="utf-8").splitlines() if NOTES_FILE.exists() else []
    postgres = os.environ.get(
        "IDWALLET_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    databases: dict[str, str | None] = {"SQLite": None}
    why_not = reachable(postgres)
    if why_not is None:
        databases["PostgreSQL"] = postgres
    else:
        notes.append(f"- PostgreSQL was not measured: {why_not}")
    os.sched_setaffinity(0, os.sched_getaffinity(0) | set(range(os.cpu_count() or 1)))
    http = http_issuance.run(databases)
    haip = http_haip_issuance.run(databases)
    presentation = http_presentation_issuance.run(databases)
    verification = http_verification.run(databases)
    wallet = http_wallet.run(databases)
    receipt = http_wallet_receipt.run(databases)
    load = capacity.run(databases)
    scale = status_list_scale.run(databases)
    limiting = rate_limit_overhead.run()
    hsm = hsm_keys.run(databases)
    audit = audit_trail.run(databases)
    oversight = oversight_scale.run(databases)
    OUTPUT.write_text(
        render(
            results,
            pinning=pinning,
            notes=notes,
            qr=qr,
            http=http,
            haip=haip,
            presentation=presentation,
            verification=verification,
            wallet=wallet,
            receipt=receipt,
            capacity=load,
            scale=scale,
            rate_limits=limiting,
            hsm=hsm,
            mdoc=mdoc,
        ),
        encoding="utf-8",
    )
    OUTPUT.write_text(
        splice_section(OUTPUT.read_text(encoding="utf-8"), audit_trail.section(audit)),
        encoding="utf-8",
    )
    # the status-list watching's section, spliced in (bench/status_watching.py)
    watching = status_watching.section(status_watching.run(databases))
    OUTPUT.write_text(
        splice_section(OUTPUT.read_text(encoding="utf-8"), watching), encoding="utf-8"
    )
    oversight_scale.write(oversight)  # its section, spliced in before the notes
    costs = presentation_cost.run()  # on a PostgreSQL cluster of its own
    presentation_cost.write(costs)
    for line in presentation_cost.section(costs)[-3:]:
        print(line)
    for target in targets(results):
        print(f"{target.name}: {target.achieved:.2f} (required {target.required:.2f})")
    for operation in ("issue", "verify"):
        print(
            f"mdoc {operation} rate ÷ pymdoccbor {operation} rate: "
            f"{mdoc.ratio(operation):.2f} (required {mdoc_bench.TARGET_RATIO:.2f})"
        )
    print("complete verification over HTTP, one worker:")
    for line in http_verification.comparison(verification):
        print(f"  {line.removeprefix('- ')}")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
