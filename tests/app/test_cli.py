"""The ``idwallet`` command: migrate, keys (show, rotate, trust-anchor), openapi."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography import x509

from tests.support.server import ROOT, idwallet_env


def _idwallet(var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = idwallet_env(var_dir)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_migrate_generates_first_start_material_once(var_dir: Path) -> None:
    first = _idwallet(var_dir, "migrate")
    assert first.returncode == 0, first.stderr
    kek = (var_dir / "key-encryption-key").read_bytes()
    anchor = (var_dir / "trust-anchor.pem").read_bytes()
    assert oct((var_dir / "key-encryption-key").stat().st_mode & 0o777) == "0o600"
    second = _idwallet(var_dir, "migrate")
    assert second.returncode == 0, second.stderr
    assert (var_dir / "key-encryption-key").read_bytes() == kek
    assert (var_dir / "trust-anchor.pem").read_bytes() == anchor


def test_keys_rotate_show_and_trust_anchor(var_dir: Path) -> None:
    assert _idwallet(var_dir, "migrate").returncode == 0
    first = _idwallet(var_dir, "keys", "rotate", "--owner", "issuer:civil-registry")
    second = _idwallet(var_dir, "keys", "rotate", "--owner", "issuer:civil-registry")
    assert first.returncode == 0 and second.returncode == 0
    shown = json.loads(_idwallet(var_dir, "keys", "show").stdout)
    assert [k["owner"] for k in shown] == ["issuer:civil-registry"] * 2
    assert shown[0]["retired_at"] is not None and shown[1]["retired_at"] is None
    assert all("d" not in k["public_jwk"] for k in shown)
    assert [k["location"] for k in shown] == ["software"] * 2
    # a rotation of a key that is no longer active (asked for again by another node's
    # script) rotates nothing

    def rotate_replacing(kid: str) -> subprocess.CompletedProcess[str]:
        return _idwallet(
            var_dir, "keys", "rotate", "--owner", "issuer:civil-registry", "--replacing", kid
        )

    stale = rotate_replacing(shown[0]["kid"])
    assert stale.returncode == 0 and "is no longer the active key" in stale.stdout
    assert shown[1]["kid"] in stale.stdout
    # a key id is a JWK thumbprint, which may begin with "-": still a value, not an option
    dashed = rotate_replacing("-" + shown[0]["kid"][1:])
    assert dashed.returncode == 0 and "is no longer the active key" in dashed.stdout
    once = rotate_replacing(shown[1]["kid"])
    assert once.returncode == 0 and "new active key" in once.stdout
    assert len(json.loads(_idwallet(var_dir, "keys", "show").stdout)) == 3
    events = json.loads(_idwallet(var_dir, "keys", "events").stdout)
    assert [e["action"] for e in events] == ["rotated", "rotated", "created"]  # newest first
    assert all(set(e) == {"at", "owner", "kid", "action", "detail"} for e in events)
    pem = _idwallet(var_dir, "keys", "trust-anchor").stdout
    anchor = x509.load_pem_x509_certificate(pem.encode())
    assert anchor.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_rotate_without_owner_is_a_usage_error(var_dir: Path) -> None:
    result = _idwallet(var_dir, "keys", "rotate")
    assert result.returncode == 2
    assert "--owner" in result.stderr


def test_bad_configuration_is_reported_not_raised(var_dir: Path) -> None:
    env_var_dir = var_dir
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        capture_output=True,
        text=True,
        env={**os.environ, "IDWALLET_VAR_DIR": str(env_var_dir), "IDWALLET_PORT": "x"},
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "IDWALLET_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_keys_certify(var_dir: Path) -> None:
    assert _idwallet(var_dir, "migrate").returncode == 0
    result = _idwallet(
        var_dir, "keys", "certify", "--owner", "verifier:bar-age-check", "--dns", "bar.example"
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(
        _idwallet(var_dir, "keys", "show", "--owner", "verifier:bar-age-check").stdout
    )
    assert shown[0]["certified"] is True
    assert _idwallet(var_dir, "keys", "certify", "--owner", "x").returncode == 2


def test_mediator_new_key_and_remove(var_dir: Path) -> None:
    assert _idwallet(var_dir, "migrate").returncode == 0
    space = ("--space", "espaco-porto")
    added = _idwallet(
        var_dir, "mediator", "add-space", *space, "--name", "Porto", "--languages", "pt"
    )
    assert added.returncode == 0, added.stderr
    who = ("--mediator", "rui-costa")
    made = _idwallet(var_dir, "mediator", "add", *who, *space, "--name", "Rui", "--languages", "pt")
    first = json.loads(made.stdout)["mediator_key"]
    renewed = _idwallet(var_dir, "mediator", "new-key", *who)
    assert renewed.returncode == 0, renewed.stderr
    second = json.loads(renewed.stdout)["mediator_key"]
    assert second != first and len(second) >= 43
    removed = _idwallet(var_dir, "mediator", "remove", *who)
    assert removed.returncode == 0, removed.stderr
    assert json.loads(removed.stdout) == {"mediator": "rui-costa", "removed": True, "ended": 0}
    listed = json.loads(_idwallet(var_dir, "mediator", "list").stdout)
    assert [s["mediators"] for s in listed if s["space"] == "espaco-porto"] == [[]]
    again = _idwallet(var_dir, "mediator", "remove", *who)
    assert again.returncode == 2 and "removed already" in again.stderr
    assert _idwallet(var_dir, "mediator", "new-key", "--mediator", "nobody").returncode == 2
