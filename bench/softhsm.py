"""SoftHSM2, the PKCS#11 token of the benchmarks: Debian's ``softhsm2`` (installed when
missing, where apt-get and root allow it), with throwaway tokens in a directory of their
own (``SOFTHSM2_CONF``), never the machine's.

The token directory is in memory (``/dev/shm``) where the machine has it, or in
``IDWALLET_BENCH_SOFTHSM_DIR``: SoftHSM2's file store rewrites an object's file on every
change, so on a disk its key generation measures the disk of the moment rather than the
token's work."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sysconfig
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

UTIL = "softhsm2-util"
PACKAGE = "softhsm2"
LIBRARY = "libsofthsm2.so"


def _candidates() -> list[Path]:
    """Where Debian's package puts the module: its own directory, and the multiarch one."""
    places = [Path("/usr/lib/softhsm")]
    multiarch = sysconfig.get_config_var("MULTIARCH")
    if multiarch:
        places.append(Path("/usr/lib") / multiarch / "softhsm")
    return [place / LIBRARY for place in places]


def _found() -> str | None:
    if shutil.which(UTIL) is None:
        return None
    return next((str(path) for path in _candidates() if path.is_file()), None)


def softhsm_module() -> str | None:
    """The SoftHSM2 module, installed from Debian's packages when missing and possible;
    None where it is not there and cannot be installed."""
    found = _found()
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", PACKAGE],
            check=False,
            capture_output=True,
            timeout=900,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = _found()
    return found


def token_parent() -> str | None:
    """Where token directories are made: ``IDWALLET_BENCH_SOFTHSM_DIR``, else in memory
    (``/dev/shm``) where the machine has it, else (None) the temporary directory."""
    chosen = os.environ.get("IDWALLET_BENCH_SOFTHSM_DIR")
    if chosen:
        return chosen
    memory = Path("/dev/shm")
    return str(memory) if memory.is_dir() and os.access(memory, os.W_OK) else None


@dataclass
class SoftHsm:
    """A token directory with its configuration; tokens are made in it by ``new_token``."""

    directory: Path
    module: str
    pin: str = field(default_factory=lambda: secrets.token_hex(8), repr=False)
    so_pin: str = field(default_factory=lambda: secrets.token_hex(8), repr=False)

    @property
    def conf(self) -> Path:
        return self.directory / "softhsm2.conf"

    def env(self) -> dict[str, str]:
        return {"SOFTHSM2_CONF": str(self.conf)}

    def _pins(self) -> tuple[str, ...]:
        return ("--pin", self.pin, "--so-pin", self.so_pin)

    def new_token(self, label: str) -> str:
        subprocess.run(
            [UTIL, "--init-token", "--free", "--label", label, *self._pins()],
            check=True,
            capture_output=True,
            env={**os.environ, **self.env()},
            timeout=60,
        )
        return label


@contextmanager
def softhsm(module: str) -> Iterator[SoftHsm]:
    """A token directory of its own, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="idwallet-softhsm-", dir=token_parent()) as name:
        hsm = SoftHsm(Path(name), module)
        tokens = hsm.directory / "tokens"
        tokens.mkdir()
        hsm.conf.write_text(
            f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n",
            encoding="utf-8",
        )
        yield hsm
