"""node with a test tool's pinned npm packages: the tool is a directory holding a
``package.json`` with exact versions and its ``package-lock.json``; its ``node_modules`` is
installed with ``npm ci`` when any pinned package is missing or at another version (one
install at a time across test processes). Without node or npm, or when the install fails, the
test asking for them is skipped with the reason, and under CI (``CI`` set) it fails instead."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pinned_versions(directory: Path) -> dict[str, str]:
    """The ``dependencies`` of ``directory/package.json``: package name to exact version."""
    manifest = json.loads((directory / "package.json").read_text(encoding="utf-8"))
    dependencies: dict[str, str] = manifest["dependencies"]
    return dependencies


def unavailable(tool: str, reason: str) -> NoReturn:
    """Skip the test that needs ``tool``, or fail it under CI."""
    message = f"{tool} cannot run: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _installed_version(directory: Path, package: str) -> str | None:
    manifest = directory / "node_modules" / package / "package.json"
    if not manifest.exists():
        return None
    version: str = json.loads(manifest.read_text(encoding="utf-8"))["version"]
    return version


def _outdated(directory: Path) -> bool:
    return any(
        _installed_version(directory, name) != version
        for name, version in pinned_versions(directory).items()
    )


def _install_lock(directory: Path) -> Path:
    # Outside the directory: npm ci empties node_modules, and the repository stays clean.
    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"idwallet-npm-ci-{digest}.lock"


def node_with_packages(directory: Path, tool: str) -> str:
    """node, with the packages pinned in ``directory`` installed; ``tool`` names what
    needs them in the skip or failure message."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        unavailable(tool, "node and npm are not installed")
    if not _outdated(directory):
        return node
    with _install_lock(directory).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _outdated(directory):
            installed = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=directory,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if installed.returncode != 0:
                where = directory.relative_to(ROOT) if directory.is_relative_to(ROOT) else directory
                unavailable(tool, f"npm ci in {where} failed:\n{installed.stderr[-3000:]}")
    return node
