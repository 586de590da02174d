"""The ``htu`` comparison of RFC 9449 §4.3 (check 9): the HTTP target URI without query and
fragment, after the Syntax-Based and Scheme-Based Normalization of RFC 3986 §6.2.2 and
§6.2.3 that the section recommends.

Normalised: the case of the scheme and host (§6.2.2.1), the case of percent-encoding hex
digits and percent-encoded unreserved characters (§6.2.2.1, §6.2.2.2), the scheme's default
port and an empty path (§6.2.3). Dot segments are not removed: a request URI as the server
sees it has none, so a proof naming one does not match.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_URI_LENGTH = 2048

_DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT_ENCODED = re.compile(r"%(?P<hex>[0-9A-Fa-f]{2})")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
#: Spaces, control characters and DEL: urlsplit drops some of them silently.
_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _normalized_octet(match: re.Match[str]) -> str:
    character = chr(int(match["hex"], 16))
    return character if character in _UNRESERVED else "%" + match["hex"].upper()


def normalized_target_uri(uri: object) -> str | None:
    """``scheme://host[:port]/path`` of an absolute ``http``/``https`` URI in normal form,
    query and fragment dropped; None for anything else (too long, not ASCII, control
    characters or spaces, user information, an invalid port or percent-encoding)."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH or not uri.isascii():
        return None
    # urlsplit silently drops tabs and line breaks: refuse them (and spaces) before it runs.
    if _SPACE_OR_CONTROL.search(uri):
        return None
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or "@" in parts.netloc:
        return None
    host = parts.hostname  # lower-cased, without the brackets of an IPv6 literal
    if not host:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    if ":" in host:
        host = f"[{host}]"
    authority = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = parts.path or "/"
    if _STRAY_PERCENT.search(path):
        return None
    return f"{scheme}://{authority}{_PERCENT_ENCODED.sub(_normalized_octet, path)}"
