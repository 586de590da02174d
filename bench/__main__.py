"""``python -m bench``: run the benchmarks and write ``docs/benchmarks.md``."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.measure import pin_to_one_core
from bench.report import render, targets
from bench.sdjwt_bench import run

NOTES_FILE = Path(__file__).with_name("notes.md")
OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def main() -> int:
    pinning = pin_to_one_core()
    results = run()
    notes = NOTES_FILE.read_text(encoding="utf-8").splitlines() if NOTES_FILE.exists() else []
    OUTPUT.write_text(render(results, pinning=pinning, notes=notes), encoding="utf-8")
    for target in targets(results):
        print(f"{target.name}: {target.achieved:.2f} (required {target.required:.2f})")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
