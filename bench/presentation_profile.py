"""Where a presentation's worker CPU goes: the worker sampled by py-spy (a sampling
profiler outside the process, so the worker runs unchanged) while it serves presentations
one after the other, each sample put where its innermost Python frame belongs. C code is
counted with the Python frame that called it: an ES256 verification with the JOSE code
that asked for it, the event loop's own work (uvloop, socket reads and writes, the
driver's protocol parsing) with ``asyncio``.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

SAMPLES_PER_SECOND = 250

#: The parts of a presentation's CPU, each by the files of the innermost frame (a prefix of
#: the path under site-packages or the repository), the first that matches.
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "cryptography (ES256, AES-GCM, hashes)",
        (
            "cryptography/",
            "core/jose/algorithms.py",
            "core/sealing.py",
            "hashlib",
            "hmac.py",
            "jwt/",
        ),
    ),
    ("QR codes", ("qrcode/", "zxingcpp", "core/qr.py")),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("database driver (asyncpg)", ("asyncpg/", "aiosqlite/", "sqlite3/")),
    ("HTTP client (the wallet's calls to the verifier)", ("httpx/", "httpcore/", "h11/")),
    (
        "HTTP server and framework (uvicorn, Litestar, middleware, metrics)",
        ("uvicorn/", "litestar/", "httptools/", "prometheus_client/", "anyio/", "app/"),
    ),
    ("event loop (uvloop, sockets, the driver's protocol)", ("asyncio/", "uvloop/")),
    ("JSON, CBOR, base64url", ("msgspec/", "json/", "cbor2/", "core/encoding.py", "base64.py")),
    ("core (JOSE, SD-JWT, DCQL, status lists)", ("core/",)),
    ("wallet", ("wallet/",)),
    ("verifier", ("verifiers/",)),
)
OTHER = "everything else (standard library, typing, dataclasses)"

_FILE = re.compile(r"\(([^:)]+)(?::\d+)?\)$")


def py_spy() -> str | None:
    """The py-spy executable (a dev dependency), or None where it is not installed."""
    return shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))


def _part(frame: str) -> str:
    found = _FILE.search(frame)
    path = found.group(1) if found else ""
    path = path.split("site-packages/")[-1]
    for marker in ("/python3.", "/lib/python"):
        if marker in path:
            path = path.rsplit("/", 1)[-1]
    for name, prefixes in PARTS:
        if any(path.startswith(prefix) or f"/{prefix}" in path for prefix in prefixes):
            return name
    return OTHER


def shares(raw: str) -> dict[str, float]:
    """py-spy's raw (collapsed stack) output as each part's share of the samples."""
    counted: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        counted[_part(stack.rsplit(";", 1)[-1])] += int(number)
    total = sum(counted.values())
    return {part: count / total for part, count in counted.most_common()} if total else {}


def profile(pid: int, once: Callable[[], None], count: int) -> dict[str, float] | None:
    """Each part's share of the worker ``pid``'s CPU while ``once`` runs ``count`` times;
    None where py-spy is missing or may not attach (no ptrace permission)."""
    executable = py_spy()
    if executable is None:
        return None
    with tempfile.TemporaryDirectory(prefix="idwallet-profile-") as directory:
        output = Path(directory) / "samples.txt"
        sampler = subprocess.Popen(
            [
                executable,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(SAMPLES_PER_SECOND),
                "--format",
                "raw",
                "--output",
                str(output),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(2)  # attached
        if sampler.poll() is not None:
            return None
        for _ in range(count):
            once()
        sampler.send_signal(signal.SIGINT)
        try:
            sampler.wait(timeout=60)
        except subprocess.TimeoutExpired:
            sampler.kill()
            return None
        if not output.exists():
            return None
        return shares(output.read_text(encoding="utf-8"))


def table(
    now: dict[str, float], before: dict[str, float] | None, cpu: tuple[float, float]
) -> list[str]:
    """Per part: its share and its ms per presentation, before and now (``cpu``: the
    worker CPU ms per presentation, before and now, from the cost count)."""
    cpu_before, cpu_now = cpu
    parts = [name for name, _ in PARTS] + [OTHER]
    lines = [
        "| part | before: share | before: ms | now: share | now: ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for part in parts:
        was = (before or {}).get(part, 0.0)
        share = now.get(part, 0.0)
        lines.append(
            f"| {part} | {was:.0%} | {was * cpu_before:.2f} | {share:.0%} | {share * cpu_now:.2f} |"
        )
    return lines
