"""Reading what each proven mdoc element means from its issuer's OpenID4VCI Credential
Issuer Metadata (OpenID4VCI 1.0 §12.2, Appendix A.2.2), so the counter can name it in its
clerk's language, as :mod:`verifiers.services.read_claim_labels` does for SD-JWT VCs.

The metadata is a display aid here and never decides acceptance. Whatever goes wrong
below, the presentation is exactly as valid as it was, and its result carries no labels,
so the counter shows the element identifiers.

- The validator asks only after the mdoc passed all its checks, DCQL's included, and
  names the issuer by the document signer certificate's SAN URI (the one the result
  shows as ``iss`` and the status list signer is checked against): our agencies'
  certificates carry their Credential Issuer Identifier there. A certificate without a
  URI gives no labels.
- §12.2.1: the identifier is an ``https`` URL (or one on the deployment's own origin,
  served in process) with no query or fragment; §12.2.2: its metadata is fetched from
  ``/.well-known/openid-credential-issuer`` inserted between host and path, the way the
  wallet builds it. Fetching, size limit (``MAX_ISSUER_METADATA_BYTES``), strict JSON,
  caching (``Cache-Control: max-age``), the failure memo and the deadline are those of
  :mod:`verifiers.services.fetch_label_documents`.
- §12.2.4: the document is read as Credential Issuer Metadata; its ``credential_issuer``
  must be the identifier exactly (simple string comparison), or nothing in it is used.
- Appendix A.2.2: the configurations with ``format`` ``mso_mdoc`` and the document's
  ``doctype`` lend their ``credential_metadata.claims`` (Appendix B.2); where several do,
  the first to label a path wins. A path labels a proven element when it is a claims path
  pointer into an mdoc (§9: namespace and element first, both strings) that selects
  something among the proven claims.
- Each display entry needs both ``name`` and ``locale`` (Appendix B.2 makes both
  optional; an entry without a language cannot be chosen by one) and is kept within the
  bounds of ``fetch_label_documents``.

Signed metadata (§12.2.3, a JWT answered to ``Accept: application/jwt``) is neither asked
for nor checked: the labels are words shown to a clerk, not facts the verifier relies on,
and the JSON document is taken as it is (an answer of another media type gives no labels).

The labels go in the result beside ``claims`` in the shape SD-JWT VC labels have, each
``path`` a ``[namespace, element]`` pointer::

    "claim_labels": [
      {"path": ["org.iso.18013.5.1", "family_name"],
       "display": [{"locale": "en", "label": "Family name"}, ...]}
    ]
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from msgspec import UnsetType

from core.claim_paths import ClaimPath, exists
from core.encoding import StrictJsonError, strict_json_object
from core.errors import ProtocolError
from core.messages import convert_message
from core.oid4vci_metadata import ClaimDescriptionDisplay, CredentialIssuerMetadata, well_known_url
from verifiers.domain import MDOC_FORMAT
from verifiers.ports import PublishedDocumentFetch
from verifiers.services.fetch_label_documents import (
    LABELS_DEADLINE,
    LabelDocuments,
    LabelsUnavailable,
    bounded_labels,
)

log = logging.getLogger("idwallet.verifiers")

#: §12.2.2: the well-known segment of Credential Issuer Metadata.
ISSUER_METADATA_SEGMENT = "openid-credential-issuer"
#: An agency's metadata with every format and language is a few tens of KiB.
MAX_ISSUER_METADATA_BYTES = 256 * 1024


def issuer_metadata_url(identifier: str) -> str:
    """§12.2.2: ``/.well-known/openid-credential-issuer`` between the identifier's host
    and its path; §12.2.1: an identifier has no query or fragment."""
    try:
        return well_known_url(identifier, ISSUER_METADATA_SEGMENT)
    except ValueError as exc:
        raise LabelsUnavailable(f"the issuer identifier is not usable: {exc}") from exc


def _mdoc_path(path: list[str | int | None]) -> ClaimPath | None:
    """§9: a pointer into an mdoc starts with two strings, name space and element."""
    if len(path) < 2 or not all(isinstance(part, str) for part in path[:2]):
        return None
    return tuple(path)


def mdoc_claim_display(
    metadata: CredentialIssuerMetadata, doctype: str
) -> dict[ClaimPath, list[ClaimDescriptionDisplay]]:
    """The claim display of every ``mso_mdoc`` configuration of ``doctype``, the first
    configuration (in the document's order) to label a path winning."""
    display: dict[ClaimPath, list[ClaimDescriptionDisplay]] = {}
    for configuration in metadata.credential_configurations_supported.values():
        if configuration.format != MDOC_FORMAT or configuration.doctype != doctype:
            continue
        if isinstance(configuration.credential_metadata, UnsetType) or isinstance(
            configuration.credential_metadata.claims, UnsetType
        ):
            continue
        for claim in configuration.credential_metadata.claims:
            path = _mdoc_path(claim.path)
            if path is not None and not isinstance(claim.display, UnsetType):
                display.setdefault(path, claim.display)
    return display


def mdoc_labels_for(
    display: dict[ClaimPath, list[ClaimDescriptionDisplay]], proven: dict[str, Any]
) -> list[dict[str, Any]]:
    """The ``claim_labels`` of a result: every labelled path that selects a proven element."""
    entries = []
    for path, entries_display in display.items():
        labels = bounded_labels(
            (entry.locale, entry.name)
            for entry in entries_display
            if not isinstance(entry.locale, UnsetType) and not isinstance(entry.name, UnsetType)
        )
        if labels and exists(proven, path):
            entries.append({"path": list(path), "display": labels})
    return entries


class MdocClaimLabels:
    """mdoc claim labels from Credential Issuer Metadata, fetched through the deployment's
    outbound client."""

    def __init__(
        self, outbound: PublishedDocumentFetch, *, own_origin: str, size: int = 128
    ) -> None:
        self._documents = LabelDocuments(outbound, own_origin=own_origin, size=size)

    async def labels(
        self, issuer: str | None, doctype: str, proven: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The ``claim_labels`` of one proven mdoc; empty when its issuer's metadata cannot
        be had. Never raises: labels are never a reason to refuse a presentation."""
        if issuer is None:
            return []
        try:
            async with asyncio.timeout(LABELS_DEADLINE):
                metadata = await self.issuer_metadata(issuer)
        except TimeoutError:
            log.info("no claim labels for %s: its issuer metadata took too long", doctype)
            return []
        except LabelsUnavailable as exc:
            log.info("no claim labels for %s from %s: %s", doctype, issuer, exc)
            return []
        except Exception:
            log.warning("no claim labels for %s from %s", doctype, issuer, exc_info=True)
            return []
        return mdoc_labels_for(mdoc_claim_display(metadata, doctype), proven)

    async def issuer_metadata(self, issuer: str) -> CredentialIssuerMetadata:
        """§12.2.2, §12.2.4: the metadata of ``issuer``, naming ``issuer`` itself."""
        url = issuer_metadata_url(issuer)
        document = await self._documents.fetched(url, max_bytes=MAX_ISSUER_METADATA_BYTES)
        try:
            value = strict_json_object(document, max_bytes=MAX_ISSUER_METADATA_BYTES)
            metadata = convert_message(value, CredentialIssuerMetadata)
        except (StrictJsonError, ProtocolError) as exc:
            raise LabelsUnavailable(f"{url}: {exc}") from exc
        if metadata.credential_issuer != issuer:
            raise LabelsUnavailable(f"{url} names another issuer")
        return metadata
