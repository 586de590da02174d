"""Localized display data from issuer metadata (OpenID4VCI 1.0 §12.2.4 ``display``;
``credential_metadata.claims``): the entry for the citizen's language, English otherwise,
the first one as a last resort."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _language(locale: object) -> str:
    return str(locale or "").split("-")[0].lower()


def pick(entries: Sequence[dict[str, Any]], preferred: Sequence[str]) -> dict[str, Any] | None:
    if not entries:
        return None
    for wanted in [*preferred, "en"]:
        exact = next(
            (e for e in entries if str(e.get("locale", "")).lower() == wanted.lower()), None
        )
        if exact is not None:
            return exact
        close = next((e for e in entries if _language(e.get("locale")) == _language(wanted)), None)
        if close is not None:
            return close
    return entries[0]


#: A logo inline as a data URL of a small image, or an https URL; anything longer or of
#: another kind is dropped whole (a cut URL would be a broken image, or another one).
MAX_LOGO_URI = 32 * 1024
LOGO_DATA_PREFIXES = tuple(f"data:image/{kind};base64," for kind in ("png", "jpeg", "gif", "webp"))


def usable_logo_uri(uri: object) -> bool:
    return (
        isinstance(uri, str)
        and len(uri) <= MAX_LOGO_URI
        and (uri.startswith("https://") or uri.startswith(LOGO_DATA_PREFIXES))
    )


def safe_display(value: object, limit: int = 20) -> list[dict[str, Any]]:
    """Only well-formed display entries of what an issuer published, bounded."""
    if not isinstance(value, list):
        return []
    result = []
    for entry in value[:limit]:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            kept: dict[str, Any] = {
                "name": entry["name"][:200],
                "locale": str(entry.get("locale", ""))[:35],
            }
            for field in ("description", "background_color", "text_color"):
                if isinstance(entry.get(field), str):
                    kept[field] = entry[field][:500]
            logo = entry.get("logo")
            if isinstance(logo, dict) and usable_logo_uri(logo.get("uri")):
                kept["logo"] = {"uri": logo["uri"]}
                if isinstance(logo.get("alt_text"), str):
                    kept["logo"]["alt_text"] = logo["alt_text"][:200]
            result.append(kept)
    return result


def claim_labels(value: object, limit: int = 200) -> list[dict[str, Any]]:
    """``credential_metadata.claims``: each claim's path and its labels per locale."""
    if not isinstance(value, list):
        return []
    result = []
    for entry in value[:limit]:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), list):
            continue
        path = entry["path"]
        if not all(isinstance(p, str | int) or p is None for p in path) or not path:
            continue
        labels = [
            {"name": d["name"][:200], "locale": str(d.get("locale", ""))[:35]}
            for d in entry.get("display", [])
            if isinstance(d, dict) and isinstance(d.get("name"), str)
        ][:20]
        result.append({"path": path, "display": labels})
    return result


def label_for(
    labels: Sequence[dict[str, Any]], path: Sequence[object], preferred: Sequence[str]
) -> str:
    """The citizen-facing name of a claim, or its path when the issuer gave none."""
    wanted = list(path)
    for entry in labels:
        if entry["path"] == wanted:
            chosen = pick(entry["display"], preferred)
            if chosen is not None:
                return str(chosen["name"])
    return ".".join("*" if p is None else str(p) for p in wanted)
