"""The node wallets of the interoperability tests: node, with the pinned ``@openid4vc``
packages of ``package.json`` installed into ``tests/interop/node_modules`` (``npm ci``, from
``package-lock.json``) when any is missing or differs. Without node or npm, or when the
install fails, a module using them is skipped with the reason, and under CI (``CI`` set)
it fails instead."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

INTEROP = Path(__file__).resolve().parent
PACKAGES: dict[str, str] = json.loads((INTEROP / "package.json").read_text(encoding="utf-8"))[
    "dependencies"
]


def _unavailable(reason: str) -> NoReturn:
    message = f"the @openid4vc oracles cannot run: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _installed_version(package: str) -> str | None:
    manifest = INTEROP / "node_modules" / package / "package.json"
    if not manifest.exists():
        return None
    version: str = json.loads(manifest.read_text(encoding="utf-8"))["version"]
    return version


def pinned_node() -> str:
    """node, with the pinned packages installed (``npm ci`` when any is missing or differs)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are not installed")
    if any(_installed_version(name) != version for name, version in PACKAGES.items()):
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=INTEROP,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if installed.returncode != 0:
            _unavailable(f"npm ci in tests/interop failed:\n{installed.stderr[-3000:]}")
    return node
