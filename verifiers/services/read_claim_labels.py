"""Reading what each proven claim means from the presented credential's SD-JWT VC Type
Metadata (SD-JWT VC §5), so the counter can name it in its clerk's language.

Type Metadata is a display aid here and never decides acceptance (§2.4: a verifier MAY
process it; §5.7: its policy decides whether it must). Whatever goes wrong below, the
presentation is exactly as valid as it was, and its result carries no labels, so the
counter shows the claim names.

- The validator asks only after a credential passed all its checks, DCQL's included, so
  the only ``vct`` ever fetched is one the counter asked for (within its registration).
- §5.3.1, §3, §7.1: only a ``vct`` that is an ``https`` URL, or a URL on the deployment's
  own origin (its agencies, served in process), is fetched, through the deployment's
  guarded outbound client (SSRF guard, deadline, no redirects); the answer must be a 200
  ``application/json`` of at most ``MAX_TYPE_METADATA_BYTES``, parsed strictly
  (duplicate members, NaN, deep nesting are refused) and against §5.2 / §5.6.
- §5.3: the document's ``vct`` is the very value that referenced it.
- §6: with ``vct#integrity`` (``extends#integrity`` for an extended type) the document's
  octets must match a hash of the strongest supported algorithm (sha256, sha384, sha512),
  or the document is not processed at all.
- §5.4, §7.4: ``extends`` is followed, each hop checked like the first, for at most
  ``MAX_TYPE_CHAIN`` documents and never in a circle. §5.6.5: a child's claim metadata for
  a path replaces its parent's ``display`` for that path; other paths are inherited.
  §5.7: a chain that cannot be completed gives no labels at all.
- §5.3.4, §3: documents are cached: by their integrity value (the content cannot change)
  while they are in use, otherwise for their ``Cache-Control: max-age`` (at most an hour,
  five minutes when none is given, not at all with ``no-store`` or ``no-cache``). A failed
  fetch is remembered for a minute, so an unreachable publisher does not slow every check;
  concurrent checks share one fetch; all the fetching for one credential has a deadline.

The claim metadata's ``mandatory`` and ``sd`` rules (§5.6.3, §5.6.4) are not enforced: the
verifier's own checks (``validate_presentation``) decide, and Type Metadata only lends
its words.

The labels of a credential are a list beside its ``claims``, one entry per claim metadata
path that selects something among the proven claims (§5.6.1), in the document's order::

    "claim_labels": [
      {"path": ["address"], "display": [{"locale": "en", "label": "Address"}, ...]},
      {"path": ["address", "street_address"], "display": [{"locale": "de", ...}]}
    ]
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
from collections import OrderedDict
from typing import Any

from msgspec import UnsetType

from core.claim_paths import ClaimPath, exists
from core.encoding import StrictJsonError, strict_json_object
from core.sdjwt_vc.type_metadata import (
    MAX_TYPE_METADATA_BYTES,
    ClaimDisplay,
    TypeMetadata,
    TypeMetadataError,
    parse_type_metadata,
)
from verifiers.ports import PublishedDocumentFetch
from verifiers.services.fetch_label_documents import (
    LABELS_DEADLINE,
    LabelDocuments,
    LabelsUnavailable,
    bounded_labels,
)

log = logging.getLogger("idwallet.verifiers")

#: The credential's own type and the types it extends, at most (§7.4).
MAX_TYPE_CHAIN = 4
#: §6 via W3C SRI §3: the algorithms understood, weakest first.
INTEGRITY_ALGORITHMS = ("sha256", "sha384", "sha512")
MAX_INTEGRITY_LENGTH = 1024


def check_integrity(document: bytes, integrity: str) -> None:
    """§6: the document's octets against an integrity metadata string (W3C SRI §3: hash
    expressions ``alg-base64digest[?options]`` separated by spaces); only the strongest
    supported algorithm present counts, and one of its digests must match."""
    if len(integrity) > MAX_INTEGRITY_LENGTH:
        raise LabelsUnavailable("the integrity metadata is too long")
    expected: dict[str, list[bytes]] = {}
    for expression in integrity.split():
        algorithm, _, rest = expression.partition("-")
        encoded = rest.split("?", 1)[0]
        if algorithm not in INTEGRITY_ALGORITHMS or not encoded:
            continue
        try:
            expected.setdefault(algorithm, []).append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    strongest = next((a for a in reversed(INTEGRITY_ALGORITHMS) if a in expected), None)
    if strongest is None:
        raise LabelsUnavailable("no supported hash in the integrity metadata")
    actual = hashlib.new(strongest, document).digest()
    if not any(hmac.compare_digest(actual, digest) for digest in expected[strongest]):
        raise LabelsUnavailable("the document does not match its integrity metadata")


def effective_claim_display(chain: list[TypeMetadata]) -> dict[ClaimPath, list[ClaimDisplay]]:
    """§5.6.5: the claim display of a type after its extended types (``chain`` runs from
    the credential's own type to the furthest type it extends)."""
    effective: dict[ClaimPath, list[ClaimDisplay] | None] = {}
    for metadata in reversed(chain):
        if isinstance(metadata.claims, UnsetType):
            continue
        for claim in metadata.claims:
            path = tuple(claim.path)
            if not isinstance(claim.display, UnsetType):
                effective[path] = claim.display
            else:
                effective.setdefault(path, None)
    return {path: display for path, display in effective.items() if display}


def labels_for(
    display: dict[ClaimPath, list[ClaimDisplay]], proven: dict[str, Any]
) -> list[dict[str, Any]]:
    """The ``claim_labels`` of a result: every labelled path that selects a proven claim."""
    entries = []
    for path, entries_display in display.items():
        labels = bounded_labels((entry.locale, entry.label) for entry in entries_display)
        if labels and exists(proven, path):
            entries.append({"path": list(path), "display": labels})
    return entries


class ClaimLabels:
    """Claim labels from Type Metadata, fetched through the deployment's outbound client."""

    def __init__(
        self, outbound: PublishedDocumentFetch, *, own_origin: str, size: int = 128
    ) -> None:
        self._documents = LabelDocuments(outbound, own_origin=own_origin, size=size)
        self._size = size
        self._by_integrity: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    async def labels(
        self, vct: str, integrity: object, proven: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The ``claim_labels`` of one proven credential; empty when its Type Metadata
        cannot be had. Never raises: labels are never a reason to refuse a presentation."""
        try:
            async with asyncio.timeout(LABELS_DEADLINE):
                chain = await self.type_chain(vct, integrity)
        except TimeoutError:
            log.info("no claim labels for %s: its Type Metadata took too long", vct)
            return []
        except LabelsUnavailable as exc:
            log.info("no claim labels for %s: %s", vct, exc)
            return []
        except Exception:
            log.warning("no claim labels for %s", vct, exc_info=True)
            return []
        return labels_for(effective_claim_display(chain), proven)

    async def type_chain(self, vct: str, integrity: object) -> list[TypeMetadata]:
        """The Type Metadata of ``vct`` followed by the types it extends (§5.4)."""
        chain: list[TypeMetadata] = []
        seen: set[str] = set()
        reference: str | None = vct
        while reference is not None:
            if reference in seen:
                raise LabelsUnavailable("the types extend each other in a circle")
            if len(chain) == MAX_TYPE_CHAIN:
                raise LabelsUnavailable(f"the extends chain is longer than {MAX_TYPE_CHAIN} types")
            seen.add(reference)
            document = await self._document(reference, integrity)
            try:
                value = strict_json_object(document, max_bytes=MAX_TYPE_METADATA_BYTES)
                metadata = parse_type_metadata(value, expected_vct=reference)
            except (StrictJsonError, TypeMetadataError) as exc:
                raise LabelsUnavailable(f"{reference}: {exc}") from exc
            chain.append(metadata)
            reference = None if isinstance(metadata.extends, UnsetType) else metadata.extends
            integrity = value.get("extends#integrity")
        return chain

    async def _document(self, url: str, integrity: object) -> bytes:
        self._documents.check_fetchable(url)
        if integrity is None:
            return await self._fetched(url)
        if not isinstance(integrity, str):
            raise LabelsUnavailable("the integrity metadata is not a string")
        known = self._by_integrity.get((url, integrity))
        if known is not None:
            self._by_integrity.move_to_end((url, integrity))
            return known
        document = await self._fetched(url)
        check_integrity(document, integrity)
        self._by_integrity[(url, integrity)] = document
        if len(self._by_integrity) > self._size:
            self._by_integrity.popitem(last=False)
        return document

    async def _fetched(self, url: str) -> bytes:
        return await self._documents.fetched(url, max_bytes=MAX_TYPE_METADATA_BYTES)
