"""Settings of the citizens' notifications: the expiry notices, the status-list watching
and Web Push (``IDWALLET_EXPIRY_NOTICE_DAYS``, ``IDWALLET_STATUS_WATCH_*``,
``IDWALLET_VAPID_*``, ``IDWALLET_NOTIFICATION_STREAMS``; the README's configuration
table)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PREFIX = "IDWALLET_"


class NotificationSettingsError(ValueError):
    """A notification variable has an invalid value (start-up stops, naming it)."""


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise NotificationSettingsError(f"{PREFIX}{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise NotificationSettingsError(f"{PREFIX}{name} must be between {low} and {high}")
    return value


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    #: Days before a held credential's ``exp`` that the citizen is told it expires soon.
    expiry_notice_days: int = 30
    #: Seconds between two passes of the status-list watching.
    watch_every: int = 30
    #: Each watched list is fetched once per its ``ttl``, within these (seconds).
    watch_floor: int = 60
    watch_ceiling: int = 86400
    #: The VAPID key (PEM, or base64url of the 32-byte private scalar) or a file with it.
    vapid_private_key: str | None = field(default=None, repr=False)
    vapid_private_key_file: Path | None = None
    #: The contact in the VAPID token (``mailto:…`` or an ``https`` URL).
    vapid_subject: str | None = None
    #: Live notification streams one worker keeps open at most.
    max_streams: int = 500

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> NotificationSettings:
        floor = _int(env, "STATUS_WATCH_FLOOR", 60, 1, 86400)
        ceiling = _int(env, "STATUS_WATCH_CEILING", 86400, 60, 7 * 86400)
        if ceiling < floor:
            raise NotificationSettingsError(
                f"{PREFIX}STATUS_WATCH_CEILING must not be below {PREFIX}STATUS_WATCH_FLOOR"
            )
        key_file = env.get(PREFIX + "VAPID_PRIVATE_KEY_FILE") or None
        key = env.get(PREFIX + "VAPID_PRIVATE_KEY") or None
        if key and key_file:
            raise NotificationSettingsError(
                f"set {PREFIX}VAPID_PRIVATE_KEY or {PREFIX}VAPID_PRIVATE_KEY_FILE, not both"
            )
        subject = env.get(PREFIX + "VAPID_SUBJECT") or None
        if subject is not None:
            parts = urlsplit(subject)
            if parts.scheme not in ("mailto", "https") or not (parts.path or parts.netloc):
                raise NotificationSettingsError(
                    f"{PREFIX}VAPID_SUBJECT must be a mailto: address or an https URL"
                )
        return cls(
            expiry_notice_days=_int(env, "EXPIRY_NOTICE_DAYS", 30, 0, 365),
            watch_every=_int(env, "STATUS_WATCH_EVERY", 30, 1, 3600),
            watch_floor=floor,
            watch_ceiling=ceiling,
            vapid_private_key=key,
            vapid_private_key_file=Path(key_file) if key_file else None,
            vapid_subject=subject,
            max_streams=_int(env, "NOTIFICATION_STREAMS", 500, 1, 100_000),
        )
