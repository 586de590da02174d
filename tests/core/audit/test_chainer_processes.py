"""Chainers in separate processes (as the workers of ``idwallet serve --workers N`` and the
nodes of a deployment are), each appending and chaining at once on one database: one
gap-free chain, every entry in it once (SQLite's write lock, PostgreSQL's advisory lock)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from core.audit.chain import verify_chain
from core.storage.audit_chain import SqlAuditChain
from core.storage.engine import session_factory
from tests.conftest import backend_url, fresh_engine
from tests.support.audit import audit_pki, ticking_clock
from tests.support.server import ROOT

PROCESSES = 3
EACH = 60


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_chainers_in_several_processes_make_one_chain(backend: str, tmp_path: Path) -> None:
    url = backend_url(backend, tmp_path)
    async with fresh_engine(url) as engine:
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.support.audit_chainer_process",
                    url,
                    str(EACH),
                    f"p{n}",
                ],
                cwd=ROOT,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(PROCESSES)
        ]
        for process in processes:
            _, errors = process.communicate(timeout=300)
            assert process.returncode == 0, errors
        pki = audit_pki()
        chain = SqlAuditChain(session_factory(engine), ticking_clock())
        await chain.seal(pki.heads(), force=True)  # whatever the last one left (none)
        entries = await chain.read_entries(0, 10_000)
        assert [e.position for e in entries] == list(range(1, PROCESSES * EACH + 1))
        assert Counter(e.actor for e in entries) == {f"p{n}": EACH for n in range(PROCESSES)}
        report = verify_chain(entries, await chain.read_heads(), pki.keys)
        assert report.ok and report.signed_through == PROCESSES * EACH
