"""SECURITY-CASES F07: an idwallet node on SQLite (WAL, ``synchronous=FULL``) killed with
SIGKILL at random moments while four clients write at once (offers, redemptions,
credentials, revocations, counter requests), restarted each time, about a thousand
writes in all. Afterwards ``PRAGMA integrity_check`` is ok, every write that was
answered 2xx is in the database, no write was answered 5xx ("database is locked" or
anything else), and the invariants hold."""

from __future__ import annotations

import random
import signal
import sqlite3
import time
from pathlib import Path

from tests.conftest import migrated_database
from tests.support.invariants import assert_invariants
from tests.support.server import free_port, running_server
from tests.support.write_load import Ledger, assert_ledger_in_database, write_until

WRITES = 1000
CLIENTS = 4
KILLS = 4


def test_f07_sqlite_survives_sigkill_mid_writes(tmp_path: Path, var_dir: Path) -> None:
    path = tmp_path / "f07.db"
    url = migrated_database(f"sqlite+aiosqlite:///{path}")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        "IDWALLET_PORT": str(port),
        "IDWALLET_DATABASE_URL": url,
        "IDWALLET_PUBLIC_BASE_URL": base_url,
    }
    ledger = Ledger()
    shuffle = random.Random(7)
    outputs: list[str] = []
    kills = 0
    with running_server(var_dir, **env) as server:  # the deployment's first start
        writers, failures, done = write_until(
            base_url, var_dir, ledger, CLIENTS, lambda: ledger.writes() >= WRITES
        )

        def writing() -> bool:
            return ledger.writes() < WRITES and not done.is_set()

        target = shuffle.randint(WRITES // 10, WRITES // 5)
        while writing() and ledger.writes() < target:
            time.sleep(0.01)
        server.process.send_signal(signal.SIGKILL)
        kills += 1
    outputs.append(server.output)
    try:
        while writing():
            with running_server(var_dir, **env) as server:
                if kills < KILLS:
                    target = ledger.writes() + shuffle.randint(WRITES // 10, WRITES // 5)
                    while writing() and ledger.writes() < target:
                        time.sleep(0.01)
                    server.process.send_signal(signal.SIGKILL)
                    assert server.process.wait(timeout=30) == -signal.SIGKILL
                    kills += 1
                else:
                    while writing():
                        time.sleep(0.05)
            outputs.append(server.output)
            assert not failures, (failures[0], server.output[-3000:])
    finally:
        done.set()
        for writer in writers:
            writer.join(timeout=60)

    assert not failures, failures[0]
    assert kills == KILLS
    assert ledger.writes() >= WRITES
    assert all(status < 500 for status in ledger.statuses), ledger.statuses
    assert not any("database is locked" in output for output in outputs)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert_ledger_in_database(url, ledger)
    assert_invariants(url)
