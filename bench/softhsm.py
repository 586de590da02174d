"""SoftHSM2 for the benchmarks: the suite's throwaway token directories
(``tests.support.softhsm``), made in memory (``/dev/shm``) where the machine has it, or in
``IDWALLET_BENCH_SOFTHSM_DIR``: SoftHSM2's file store rewrites an object's file on every
change, so on a disk its key generation measures the disk of the moment rather than the
token's work."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.softhsm import SoftHsm, new_softhsm, softhsm_module

__all__ = ["SoftHsm", "softhsm", "softhsm_module", "token_parent"]


def token_parent() -> str | None:
    """Where token directories are made: ``IDWALLET_BENCH_SOFTHSM_DIR``, else in memory
    (``/dev/shm``) where the machine has it, else (None) the temporary directory."""
    chosen = os.environ.get("IDWALLET_BENCH_SOFTHSM_DIR")
    if chosen:
        return chosen
    memory = Path("/dev/shm")
    return str(memory) if memory.is_dir() and os.access(memory, os.W_OK) else None


@contextmanager
def softhsm(module: str) -> Iterator[SoftHsm]:
    """A token directory of its own, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="idwallet-softhsm-", dir=token_parent()) as name:
        yield new_softhsm(Path(name), module)
