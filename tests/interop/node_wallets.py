"""The node wallets of the interoperability tests: node, with the pinned ``@openid4vc``
packages of ``package.json`` installed into ``tests/interop/node_modules`` (``npm ci``, from
``package-lock.json``) when any is missing or differs. Without node or npm, or when the
install fails, a module using them is skipped with the reason, and under CI (``CI`` set)
it fails instead (``tests.support.node_packages``)."""

from __future__ import annotations

from pathlib import Path

from tests.support.node_packages import node_with_packages, pinned_versions

INTEROP = Path(__file__).resolve().parent
PACKAGES: dict[str, str] = pinned_versions(INTEROP)


def pinned_node() -> str:
    """node, with the pinned packages installed (``npm ci`` when any is missing or differs)."""
    return node_with_packages(INTEROP, "the @openid4vc oracles")
