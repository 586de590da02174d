"""The notifications' settings (``IDWALLET_EXPIRY_NOTICE_DAYS``, ``IDWALLET_STATUS_WATCH_*``,
``IDWALLET_VAPID_*``, ``IDWALLET_NOTIFICATION_STREAMS``) and where the VAPID key comes
from: the environment (PEM or the raw scalar), a file, generated once into ``var/`` in
development, none in production."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.settings import Settings, SettingsError
from app.vapid_keys import DEV_FILE, load_vapid_key
from core.encoding import b64url_encode


def test_defaults_and_overrides() -> None:
    assert Settings.from_env({}).notifications.expiry_notice_days == 30
    notices = Settings.from_env(
        {
            "IDWALLET_EXPIRY_NOTICE_DAYS": "14",
            "IDWALLET_STATUS_WATCH_EVERY": "5",
            "IDWALLET_STATUS_WATCH_FLOOR": "10",
            "IDWALLET_STATUS_WATCH_CEILING": "3600",
            "IDWALLET_VAPID_SUBJECT": "mailto:wallet@id.example.gov",
            "IDWALLET_NOTIFICATION_STREAMS": "50",
        }
    ).notifications
    assert (notices.expiry_notice_days, notices.watch_every) == (14, 5)
    assert (notices.watch_floor, notices.watch_ceiling, notices.max_streams) == (10, 3600, 50)
    assert notices.vapid_subject == "mailto:wallet@id.example.gov"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"IDWALLET_EXPIRY_NOTICE_DAYS": "-1"}, "IDWALLET_EXPIRY_NOTICE_DAYS"),
        ({"IDWALLET_STATUS_WATCH_EVERY": "often"}, "IDWALLET_STATUS_WATCH_EVERY"),
        (
            {"IDWALLET_STATUS_WATCH_FLOOR": "600", "IDWALLET_STATUS_WATCH_CEILING": "300"},
            "IDWALLET_STATUS_WATCH_CEILING",
        ),
        ({"IDWALLET_VAPID_SUBJECT": "http://id.example.gov"}, "IDWALLET_VAPID_SUBJECT"),
        (
            {"IDWALLET_VAPID_PRIVATE_KEY": "x", "IDWALLET_VAPID_PRIVATE_KEY_FILE": "y"},
            "IDWALLET_VAPID_PRIVATE_KEY",
        ),
    ],
)
def test_invalid_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def _public(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url_encode(
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


def test_the_key_from_the_environment_a_file_or_var(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    raw = b64url_encode(key.private_numbers().private_value.to_bytes(32, "big"))
    for env in ({"IDWALLET_VAPID_PRIVATE_KEY": pem}, {"IDWALLET_VAPID_PRIVATE_KEY": raw}):
        loaded = load_vapid_key(Settings.from_env({"IDWALLET_VAR_DIR": str(tmp_path), **env}))
        assert loaded is not None and loaded.public_key == _public(key)
    (tmp_path / "vapid.pem").write_text(pem)
    from_file = load_vapid_key(
        Settings.from_env({"IDWALLET_VAPID_PRIVATE_KEY_FILE": str(tmp_path / "vapid.pem")})
    )
    assert from_file is not None and from_file.public_key == _public(key)
    assert from_file.subject == "mailto:wallet@localhost"  # a development URL is not https

    development = Settings.from_env({"IDWALLET_VAR_DIR": str(tmp_path / "var")})
    first = load_vapid_key(development)
    again = load_vapid_key(development)
    assert first is not None and again is not None and first.public_key == again.public_key
    assert (tmp_path / "var" / DEV_FILE).stat().st_mode & 0o777 == 0o600

    production = dataclasses.replace(development, environment="production")
    assert load_vapid_key(production) is None  # Web Push off; nothing generated

    with pytest.raises(SettingsError, match="IDWALLET_VAPID_PRIVATE_KEY"):
        load_vapid_key(Settings.from_env({"IDWALLET_VAPID_PRIVATE_KEY": "bm90IGEga2V5"}))
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(SettingsError, match="P-256"):
        load_vapid_key(Settings.from_env({"IDWALLET_VAPID_PRIVATE_KEY": p384.decode()}))


def test_workers_generating_the_key_together_all_use_the_first_whole_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker's key lands while this one writes its own: this one's is dropped
    (never a file half written, nothing left over beside it)."""
    import os

    development = Settings.from_env({"IDWALLET_VAR_DIR": str(tmp_path / "var")})
    theirs = ec.generate_private_key(ec.SECP256R1())
    link = os.link

    def overtaken(source: str | Path, target: str | Path) -> None:
        Path(target).write_bytes(
            theirs.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        link(source, target)

    monkeypatch.setattr(os, "link", overtaken)
    loaded = load_vapid_key(development)
    assert loaded is not None and loaded.public_key == _public(theirs)
    assert [p.name for p in (tmp_path / "var").iterdir()] == [DEV_FILE]
