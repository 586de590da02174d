"""SoftHSM2, the PKCS#11 token of the suite: Debian's ``softhsm2`` (installed here when
missing, as the test setup is allowed to), with throwaway tokens in a temporary directory
of their own (``SOFTHSM2_CONF``), never the machine's.

A token can be taken away and given back (``remove``/``restore``: its directory is moved
out of the token directory and back), which the module sees as a token that is gone: its
sessions break and it is not found again until it is back.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.server import ROOT

UTIL = "softhsm2-util"
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
    """The SoftHSM2 module, installed from Debian's packages when missing and possible."""
    found = _found()
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        # one installer at a time: several test processes may get here together
        with (ROOT / "test-artifacts" / ".softhsm-install.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if _found() is None:
                subprocess.run(
                    ["apt-get", "install", "-y", "-q", "softhsm2"],
                    check=False,
                    capture_output=True,
                    timeout=900,
                    env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                )
        found = _found()
    return found


def require_softhsm() -> str:
    module = softhsm_module()
    if module is None:
        message = "SoftHSM2 is not installed and could not be installed (apt-get softhsm2)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return module


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

    @property
    def tokens(self) -> Path:
        return self.directory / "tokens"

    def env(self) -> dict[str, str]:
        return {"SOFTHSM2_CONF": str(self.conf)}

    def new_token(self, label: str) -> str:
        subprocess.run(
            [
                UTIL,
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                self.pin,
                "--so-pin",
                self.so_pin,
            ],
            check=True,
            capture_output=True,
            env={**os.environ, **self.env()},
            timeout=60,
        )
        return label

    def _token_directory(self, label: str) -> Path:
        for candidate in self.tokens.iterdir():
            info = candidate / "token.object"
            if info.exists() and label.encode() in info.read_bytes():
                return candidate
        raise LookupError(label)

    def remove(self, label: str) -> None:
        """Take the token away (as if pulled out of its slot)."""
        self._token_directory(label).rename(self.directory / f"removed-{label}")

    def restore(self, label: str) -> None:
        (self.directory / f"removed-{label}").rename(self.tokens / f"restored-{label}")

    def object_files(self) -> list[Path]:
        return [p for p in self.tokens.rglob("*.object") if p.name != "token.object"]


def new_softhsm(directory: Path, module: str) -> SoftHsm:
    hsm = SoftHsm(directory, module)
    hsm.tokens.mkdir(parents=True, exist_ok=True)
    hsm.conf.write_text(
        f"directories.tokendir = {hsm.tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
        "slots.removable = true\n",
        encoding="utf-8",
    )
    return hsm
