"""Fetching the published JSON documents claim labels are read from (SD-JWT VC Type
Metadata for ``read_claim_labels``, OpenID4VCI Credential Issuer Metadata for
``read_mdoc_labels``), and the bounds every label is kept within.

Labels are a display aid and never decide acceptance; what fails here ends in
:class:`LabelsUnavailable` (the caller gives no labels), never in a refusal.

- Only an ``https`` URL, or one on the deployment's own origin (its agencies, served in
  process), is fetched, through the deployment's guarded outbound client (SSRF guard,
  deadline, no redirects); the answer must be a 200 ``application/json`` within the
  caller's size limit.
- Documents are cached for their ``Cache-Control: max-age`` (at most an hour, five
  minutes when none is given, not at all with ``no-store`` or ``no-cache``, RFC 9111
  §5.2.2). A failed fetch is remembered for a minute, so an unreachable publisher does not
  slow every check; concurrent checks share one fetch.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from core.http.client import OutboundFailed, OutboundRefused
from verifiers.ports import PublishedDocumentFetch

JSON_MEDIA_TYPE = "application/json"
#: All the fetching for one credential's labels, in seconds.
LABELS_DEADLINE = 3.0
DEFAULT_TTL = 300.0
MAX_TTL = 3600.0
FAILURE_TTL = 60.0
MAX_LABEL_LENGTH = 200
MAX_LOCALE_LENGTH = 35  # a BCP 47 tag a person would use (RFC 5646 §4.4.1)
MAX_LOCALES = 16


class LabelsUnavailable(Exception):
    """A document labels are read from could not be fetched or processed (no labels)."""


def ttl_of(cache_control: str | None) -> float:
    """RFC 9111 §5.2.2: ``no-store``/``no-cache`` forbid reuse; ``max-age`` is the lifetime."""
    if cache_control is None:
        return DEFAULT_TTL
    ttl = DEFAULT_TTL
    for directive in cache_control.lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name in ("no-store", "no-cache"):
            return 0.0
        if name == "max-age":
            value = value.strip().strip('"')
            ttl = min(float(value), MAX_TTL) if value.isdigit() else 0.0
    return ttl


def bounded_labels(display: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """``(locale, label)`` pairs as ``claim_labels`` display entries, within sane bounds."""
    kept = [
        {"locale": locale, "label": label}
        for locale, label in display
        if 0 < len(locale) <= MAX_LOCALE_LENGTH and 0 < len(label) <= MAX_LABEL_LENGTH
    ]
    return kept[:MAX_LOCALES]


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a shared fetch's outcome as seen, also when every waiter gave up on it."""
    if not task.cancelled():
        task.exception()


class LabelDocuments:
    """Published JSON documents by URL, fetched through the deployment's outbound client
    and cached as HTTP caching allows (failures for a minute)."""

    def __init__(
        self, outbound: PublishedDocumentFetch, *, own_origin: str, size: int = 128
    ) -> None:
        parts = urlsplit(own_origin)
        self._own_origin = f"{parts.scheme}://{parts.netloc}".lower()
        self._outbound = outbound
        self._size = size
        self._documents: OrderedDict[str, tuple[float, bytes | LabelsUnavailable]] = OrderedDict()
        self._pending: dict[str, asyncio.Task[bytes | LabelsUnavailable]] = {}

    def check_fetchable(self, url: str) -> None:
        """https only, or the deployment's own origin (served in process)."""
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise LabelsUnavailable("not a URL") from exc
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        if parts.scheme != "https" and origin != self._own_origin:
            raise LabelsUnavailable("not an https URL")

    async def fetched(self, url: str, *, max_bytes: int) -> bytes:
        """The document at ``url`` (at most ``max_bytes``), from the cache or fetched now."""
        self.check_fetchable(url)
        entry = self._documents.get(url)
        if entry is not None and entry[0] > time.monotonic():
            found = entry[1]
        else:
            task = self._pending.get(url)
            if task is None:  # one fetch, shared; it finishes even if a waiter gives up
                task = asyncio.get_running_loop().create_task(self._load(url, max_bytes))
                task.add_done_callback(_retrieve)
                self._pending[url] = task
            found = await asyncio.shield(task)
        if isinstance(found, LabelsUnavailable):
            raise found
        return found

    async def _load(self, url: str, max_bytes: int) -> bytes | LabelsUnavailable:
        found: bytes | LabelsUnavailable
        try:
            document = await self._outbound.fetch(url, accept=JSON_MEDIA_TYPE, max_bytes=max_bytes)
            if document.content_type != JSON_MEDIA_TYPE:
                raise OutboundFailed(f"{url} is not {JSON_MEDIA_TYPE}")
            found, lifetime = document.body, ttl_of(document.headers.get("cache-control"))
        except (OutboundFailed, OutboundRefused) as exc:
            found, lifetime = LabelsUnavailable(str(exc)), FAILURE_TTL
        finally:
            self._pending.pop(url, None)
        if lifetime > 0:
            self._documents[url] = (time.monotonic() + lifetime, found)
            self._documents.move_to_end(url)
            if len(self._documents) > self._size:
                self._documents.popitem(last=False)
        else:
            self._documents.pop(url, None)
        return found
