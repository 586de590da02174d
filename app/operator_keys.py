"""Operator keys of the agencies: one per agency, from ``IDWALLET_OPERATOR_KEYS_FILE``
(JSON ``{"issuer_id": "key"}``); in development the file is generated in ``var/`` with
a fresh key for every agency that has none."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path

from app.bootstrap import locked_var_dir, write_private_file
from app.settings import Settings, SettingsError

OPERATOR_KEYS_FILE = "operator-keys.json"


def operator_keys_path(settings: Settings) -> Path:
    return settings.operator_keys_file or settings.var_dir / OPERATOR_KEYS_FILE


def load_operator_keys(settings: Settings, issuer_ids: list[str]) -> dict[str, str]:
    path = operator_keys_path(settings)
    with locked_var_dir(settings.var_dir):
        keys: dict[str, str] = {}
        if path.exists():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise SettingsError(f"{path} is not JSON") from exc
            if not isinstance(loaded, dict) or not all(
                isinstance(v, str) and len(v) >= 32 for v in loaded.values()
            ):
                raise SettingsError(f"{path} must map issuer ids to keys of at least 32 characters")
            keys = dict(loaded)
        missing = [i for i in issuer_ids if i not in keys]
        if missing:
            if settings.is_production:
                raise SettingsError(f"no operator key for {', '.join(missing)} in {path}")
            keys.update({issuer_id: secrets.token_urlsafe(32) for issuer_id in missing})
            path.parent.mkdir(parents=True, exist_ok=True)
            write_private_file(path, (json.dumps(keys, indent=2) + "\n").encode())
    return keys


def keyrings(
    settings: Settings, issuer_ids: list[str], verifier_ids: list[str]
) -> tuple[OperatorKeyring, OperatorKeyring]:
    """The agencies' operator keyring and the counters' keyring, kept apart: a key opens
    only the tenants of its own kind. Both live in one file keyed by tenant id, so an agency
    and a counter of the same id would share a key; that stops start-up."""
    shared = sorted(set(issuer_ids) & set(verifier_ids))
    if shared:
        raise SettingsError(
            f"an agency and a counter may not share an id: {', '.join(shared)}"
            " (rename one in issuers/catalog or verifiers/catalog)"
        )
    keys = load_operator_keys(settings, [*issuer_ids, *verifier_ids])
    return (
        OperatorKeyring({i: keys[i] for i in issuer_ids}),
        OperatorKeyring({v: keys[v] for v in verifier_ids}),
    )


class OperatorKeyring:
    """The issuer role's ``OperatorAccess`` port: keys compared by hash, in constant time."""

    def __init__(self, keys: dict[str, str]) -> None:
        self._digests = {
            issuer_id: hashlib.sha256(key.encode()).digest() for issuer_id, key in keys.items()
        }

    def allows(self, issuer_id: str, credential: str) -> bool:
        expected = self._digests.get(issuer_id)
        if expected is None or len(credential) > 256:
            return False
        return hmac.compare_digest(expected, hashlib.sha256(credential.encode()).digest())
