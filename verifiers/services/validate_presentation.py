"""Checking a VP Token against its transaction (OpenID4VP 1.0 §8.6, §14.1.2, §7.3 of
RFC 9901, SD-JWT VC §3, Token Status List §8.3), each step a named check in the result.

Per presentation, in order: ``sd_jwt`` (the serialization parses), ``trust_chain`` (the
issuer's key from its ``x5c`` chain to a configured anchor, or from its JWT VC Issuer
Metadata), ``issuer_signature``, ``disclosures`` (every RFC 9901 §7.1 rule),
``freshness`` (``exp``/``nbf``), ``key_binding`` (§7.3: ``typ``, signature by the
``cnf`` key, ``aud`` = the full client_id, ``nonce``, ``iat`` window, ``sd_hash``),
``profile`` (SD-JWT VC rules), ``status`` (the referenced status list, revoked and
suspended both fail), ``dcql`` (the credential answers its query: type, every requested
claim and value, and no disclosure beyond what was asked). Then ``dcql`` for the token as
a whole (the right queries answered, none extra). The first failing check ends the
validation; the counter sees every check that ran.

An ``mso_mdoc`` presentation (Appendix B.2.5) is checked by
:mod:`verifiers.services.validate_mdoc` (``cbor``, ``structure``, ``trust_chain``,
``issuer_signature``, ``doc_type``, ``digests``, ``validity``, ``device_auth``), then
``status`` and ``dcql`` as above, no element beyond those asked for. Its claims are shown
by name space and element, as JSON (dates as ISO strings, bytes base64url).

The claims of a verified credential carry labels: an SD-JWT VC's from its Type Metadata
(:mod:`verifiers.services.read_claim_labels`), an mdoc's from its issuer's Credential
Issuer Metadata (:mod:`verifiers.services.read_mdoc_labels`); neither ever changes the
outcome.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from cryptography import x509

from core.claim_paths import ClaimPath
from core.dcql.match import CandidateCredential, match_credential
from core.dcql.model import CredentialQuery, DcqlQuery
from core.dcql.parse import parse_dcql_query
from core.encoding import StrictJsonError, json_dumps, strict_json_loads
from core.jose.errors import JoseError
from core.jose.jws import decode_unverified
from core.keys.x509 import san_uris, subject_display_name
from core.mdoc import VerifiedDocument, claims_to_json
from core.sdjwt.errors import (
    ExpiredOrNotYetValid,
    IssuerSignatureInvalid,
    KeyBindingInvalid,
    KeyBindingMissing,
    SdJwtError,
)
from core.sdjwt.verify import KeyBindingPolicy, parse_sd_jwt, process_disclosures, verify_sd_jwt
from core.sdjwt_vc.issuer_keys import IssuerKeyError
from core.sdjwt_vc.profile import SD_JWT_VC_TYP, check_profile
from core.status_list.bits import StatusListError
from core.status_list.token import (
    MAX_STATUS_LIST_TOKEN_BYTES,
    StatusReference,
    VerifiedStatusList,
    verify_status_list_token,
)
from verifiers.domain import MDOC_FORMAT, Check, Transaction
from verifiers.services.context import VerifierContext
from verifiers.services.read_claim_labels import ClaimLabels
from verifiers.services.read_mdoc_labels import MdocClaimLabels
from verifiers.services.validate_mdoc import (
    MdocRefused,
    check_device_response,
    disclosed_beyond,
    session_transcript_of,
)

MAX_VP_TOKEN_BYTES = 512 * 1024
MAX_PRESENTATIONS = 16
#: Claims that are part of every SD-JWT VC and are not personal data the counter asked for.
_TECHNICAL_CLAIMS = frozenset(
    {"iss", "iat", "nbf", "exp", "vct", "cnf", "status", "sub", "_sd_alg"}
)
STATUS_NAMES = {0: "valid", 1: "revoked", 2: "suspended"}


class _Failed(Exception):
    def __init__(self, check: str, detail: str) -> None:
        super().__init__(detail)
        self.check = check
        self.detail = detail


@dataclass(slots=True)
class PresentationOutcome:
    checks: list[Check] = field(default_factory=list)
    #: Per Credential Query id: what each presented credential proved (requested claims only).
    credentials: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    error: str | None = None

    @property
    def verified(self) -> bool:
        return self.error is None

    def passed(self, check: str, detail: str = "") -> None:
        self.checks.append(Check(check, True, detail))

    def to_result(self) -> dict[str, Any]:
        result: dict[str, Any] = {"checks": [c.to_json() for c in self.checks]}
        if self.error is None:
            result["credentials"] = self.credentials
        else:
            result["error"] = self.error
        return result


class StatusListCache:
    """Verified status lists by their exact token, so a cached token is verified once."""

    def __init__(self, size: int = 128) -> None:
        self._verified: OrderedDict[tuple[str, str], VerifiedStatusList] = OrderedDict()
        self._size = size

    def get(self, uri: str, token: str) -> VerifiedStatusList | None:
        key = (uri, hashlib.sha256(token.encode()).hexdigest())
        found = self._verified.get(key)
        if found is not None:
            self._verified.move_to_end(key)
        return found

    def put(self, uri: str, token: str, verified: VerifiedStatusList) -> None:
        self._verified[(uri, hashlib.sha256(token.encode()).hexdigest())] = verified
        if len(self._verified) > self._size:
            self._verified.popitem(last=False)


def parse_vp_token(raw: str) -> dict[str, list[str]]:
    """§8.1: a JSON object keyed by Credential Query id, each an array of presentations."""
    if len(raw) > MAX_VP_TOKEN_BYTES:
        raise _Failed("vp_token", "vp_token is too large")
    try:
        value = strict_json_loads(raw.encode("utf-8"), max_bytes=MAX_VP_TOKEN_BYTES)
    except (StrictJsonError, UnicodeEncodeError) as exc:
        raise _Failed("vp_token", f"vp_token is not JSON: {exc}") from exc
    if not isinstance(value, dict) or not value:
        raise _Failed("vp_token", "vp_token must be a non-empty JSON object")
    total = 0
    for key, presentations in value.items():
        if (
            not isinstance(presentations, list)
            or not presentations
            or not all(isinstance(p, str) and p for p in presentations)
        ):
            raise _Failed("vp_token", f"vp_token[{key!r}] must be a non-empty array of strings")
        total += len(presentations)
    if total > MAX_PRESENTATIONS:
        raise _Failed("vp_token", "too many presentations")
    return value


def _leaf_paths(value: Any, prefix: ClaimPath = ()) -> set[ClaimPath]:
    if isinstance(value, dict) and value:
        paths: set[ClaimPath] = set()
        for key, item in value.items():
            paths |= _leaf_paths(item, (*prefix, key))
        return paths
    if isinstance(value, list) and value:
        paths = set()
        for item in value:
            paths |= _leaf_paths(item, (*prefix, None))
        return paths
    return {prefix}


def _covers(requested: ClaimPath, path: ClaimPath) -> bool:
    """Either is a prefix of the other, array indices matching any element."""
    for a, b in zip(requested, path, strict=False):
        if a is None or b is None or isinstance(a, int) or isinstance(b, int):
            continue
        if a != b:
            return False
    return True


def _over_disclosed(
    issuer_payload: dict[str, Any], claims: dict[str, Any], requested: list[ClaimPath]
) -> list[ClaimPath]:
    """Paths revealed by Disclosures that no requested claim needs (§6.4.1, §14.1.2)."""
    plain, _ = process_disclosures(issuer_payload, [])
    revealed = _leaf_paths(claims) - _leaf_paths(plain)
    return sorted(
        (
            p
            for p in revealed
            if p and p[0] not in _TECHNICAL_CLAIMS and not any(_covers(r, p) for r in requested)
        ),
        key=str,
    )


def _requested_view(claims: dict[str, Any], requested: list[ClaimPath]) -> dict[str, Any]:
    """Only the requested claims, as nested objects (what the counter gets to see)."""
    view: dict[str, Any] = {}
    for path in requested:
        node: Any = claims
        for part in path:
            if isinstance(node, dict) and isinstance(part, str) and part in node:
                node = node[part]
            elif isinstance(node, list) and part is None:
                break
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                node = None
                break
        if node is None:
            continue
        target = view
        names = [p for p in path if isinstance(p, str)]
        for name in names[:-1]:
            target = target.setdefault(name, {})
        if names:
            target[names[-1]] = node
    return view


class PresentationValidator:
    def __init__(
        self,
        context: VerifierContext,
        statuses: StatusListCache,
        claim_labels: ClaimLabels | None = None,
        mdoc_labels: MdocClaimLabels | None = None,
    ) -> None:
        self._context = context
        self._statuses = statuses
        self._claim_labels = claim_labels
        self._mdoc_labels = mdoc_labels

    async def validate(self, transaction: Transaction, vp_token: str) -> PresentationOutcome:
        outcome = PresentationOutcome()
        try:
            await self._validate(transaction, vp_token, outcome)
        except _Failed as failed:
            outcome.checks.append(Check(failed.check, False, failed.detail))
            outcome.error = f"{failed.check}: {failed.detail}"
        return outcome

    async def _validate(
        self, transaction: Transaction, vp_token: str, outcome: PresentationOutcome
    ) -> None:
        token = parse_vp_token(vp_token)
        query = parse_dcql_query(transaction.dcql_query)
        by_id = {q.id: q for q in query.credentials}
        extra = [key for key in token if key not in by_id]
        if extra:
            raise _Failed("dcql", f"a presentation for {extra[0]!r} was not requested")
        for query_id, presentations in token.items():
            credential_query = by_id[query_id]
            if len(presentations) > 1 and not credential_query.multiple:
                raise _Failed("dcql", f"{query_id!r} allows a single presentation")
            for presentation in presentations:
                proved = await self._one(transaction, credential_query, presentation, outcome)
                outcome.credentials.setdefault(query_id, []).append(proved)
        _check_satisfied(query, set(token))
        outcome.passed("dcql", "the query is answered")

    async def _one(
        self,
        transaction: Transaction,
        query: CredentialQuery,
        presentation: str,
        outcome: PresentationOutcome,
    ) -> dict[str, Any]:
        if query.format == MDOC_FORMAT:
            return await self._one_mdoc(transaction, query, presentation, outcome)
        context, policy = self._context, self._context.policy
        prefix = f"{query.id}: "
        try:
            parsed = parse_sd_jwt(presentation)
        except SdJwtError as exc:
            raise _Failed(prefix + "sd_jwt", str(exc)) from exc
        outcome.passed(prefix + "sd_jwt")
        try:
            resolved = await context.issuer_keys.resolve(parsed.header, parsed.unverified_payload)
        except (IssuerKeyError, JoseError) as exc:
            raise _Failed(prefix + "trust_chain", str(exc)) from exc
        outcome.passed(prefix + "trust_chain", resolved.method)
        binding = KeyBindingPolicy(
            audience=transaction.client_id,
            nonce=transaction.nonce,
            max_age=policy.key_binding_max_age,
            leeway=policy.leeway,
        )
        try:
            verified = verify_sd_jwt(
                parsed,
                issuer_key=resolved.key,
                typ=SD_JWT_VC_TYP,
                key_binding=binding,
                clock=context.clock,
                leeway=policy.leeway,
            )
        except IssuerSignatureInvalid as exc:
            raise _Failed(prefix + "issuer_signature", str(exc)) from exc
        except ExpiredOrNotYetValid as exc:
            outcome.passed(prefix + "issuer_signature")
            outcome.passed(prefix + "disclosures")
            raise _Failed(prefix + "freshness", str(exc)) from exc
        except (KeyBindingMissing, KeyBindingInvalid) as exc:
            for passed in ("issuer_signature", "disclosures", "freshness"):
                outcome.passed(prefix + passed)
            raise _Failed(prefix + "key_binding", str(exc)) from exc
        except SdJwtError as exc:
            outcome.passed(prefix + "issuer_signature")
            raise _Failed(prefix + "disclosures", str(exc)) from exc
        for passed in ("issuer_signature", "disclosures", "freshness", "key_binding"):
            outcome.passed(prefix + passed)
        try:
            vct, status = check_profile(verified, require_holder_key=True)
        except SdJwtError as exc:
            raise _Failed(prefix + "profile", str(exc)) from exc
        outcome.passed(prefix + "profile", vct)
        iss = verified.claims.get("iss")
        if status is not None:
            outcome.passed(prefix + "status", await self._status(status, iss, prefix))
        else:
            outcome.passed(prefix + "status", "no status reference")
        requested = _requested_paths(query)
        candidate = CandidateCredential(
            id=query.id, format=query.format, claims=verified.claims, vct=vct
        )
        if match_credential(query, candidate) is None:
            raise _Failed(prefix + "dcql", "the credential does not answer the query")
        over = _over_disclosed(verified.issuer_payload, verified.claims, requested)
        if over:
            raise _Failed(
                prefix + "dcql", f"claims were disclosed that were not asked for: {list(over[0])}"
            )
        outcome.passed(prefix + "dcql")
        proved = _proved(
            vct, _requested_view(verified.claims, requested), iss, resolved.certificate
        )
        proved["claim_labels"] = (  # what each claim means, never a reason to refuse
            await self._claim_labels.labels(
                vct, verified.claims.get("vct#integrity"), proved["claims"]
            )
            if self._claim_labels is not None
            else []
        )
        return proved

    async def _one_mdoc(
        self,
        transaction: Transaction,
        query: CredentialQuery,
        presentation: str,
        outcome: PresentationOutcome,
    ) -> dict[str, Any]:
        context = self._context
        prefix = f"{query.id}: "
        try:
            checked = check_device_response(
                presentation,
                doctype=query.meta["doctype_value"],  # a string: parse_dcql_query checked it
                session_transcript=session_transcript_of(context, transaction),
                anchors=context.issuer_anchors,
                clock=context.clock,
                leeway=context.policy.leeway,
                chains=context.issuer_chains,
            )
        except MdocRefused as refused:
            for passed in refused.passed:
                outcome.passed(prefix + passed)
            raise _Failed(prefix + refused.check, refused.detail) from refused
        for passed in checked.checks:
            outcome.passed(prefix + passed)
        document = checked.document
        issuer = document.issuer_signed.issuer_certificate
        issuer_uris = san_uris(issuer)
        iss = issuer_uris[0] if issuer_uris else None
        if document.issuer_signed.mso.other_status_mechanisms and document.status is None:
            raise _Failed(
                prefix + "status", "the mdoc names a status mechanism this verifier cannot check"
            )
        if document.status is not None:
            outcome.passed(prefix + "status", await self._status(document.status, iss, prefix))
        else:
            outcome.passed(prefix + "status", "no status reference")
        claims = claims_to_json(document.claims)
        _check_mdoc_answers(query, document, claims, prefix)
        outcome.passed(prefix + "dcql")
        proved: dict[str, Any] = {
            "format": MDOC_FORMAT,
            "doctype": document.doc_type,
            "claims": claims,
        }
        if iss is not None:
            proved["iss"] = iss
        issuer_name = subject_display_name(issuer)
        if issuer_name is not None:
            proved["issuer_name"] = issuer_name
        proved["claim_labels"] = (  # from the issuer's metadata, never a reason to refuse
            await self._mdoc_labels.labels(iss, document.doc_type, claims)
            if self._mdoc_labels is not None
            else []
        )
        return proved

    async def _status(self, reference: StatusReference, iss: object, prefix: str) -> str:
        context = self._context
        try:
            token = await context.status_lists.fetch(reference.uri)
        except Exception as exc:
            raise _Failed(
                prefix + "status", f"the status list could not be fetched: {type(exc).__name__}"
            ) from exc
        verified = self._statuses.get(reference.uri, token)
        if verified is None:
            try:
                header = decode_unverified(token, max_bytes=MAX_STATUS_LIST_TOKEN_BYTES).header
                key = await context.issuer_keys.resolve(header, {"iss": iss})
                verified = verify_status_list_token(
                    token, key.key, expected_uri=reference.uri, now=context.clock.now()
                )
            except (IssuerKeyError, JoseError, StatusListError) as exc:
                raise _Failed(prefix + "status", f"the status list is not valid: {exc}") from exc
            self._statuses.put(reference.uri, token, verified)
        elif verified.expires_at is not None and verified.expires_at < context.clock.now():
            raise _Failed(prefix + "status", "the status list has expired")
        try:
            value = verified.status_of(reference)
        except StatusListError as exc:
            raise _Failed(prefix + "status", str(exc)) from exc
        if value != 0:
            raise _Failed(
                prefix + "status", f"the credential is {STATUS_NAMES.get(value, f'status {value}')}"
            )
        return "valid"


def _proved(
    vct: str, claims: dict[str, Any], iss: object, certificate: x509.Certificate | None
) -> dict[str, Any]:
    """What one presented credential proved, with its issuer as its certificate names it."""
    proved: dict[str, Any] = {"vct": vct, "claims": claims}
    if isinstance(iss, str):
        proved["iss"] = iss
    issuer_name = None if certificate is None else subject_display_name(certificate)
    if issuer_name is not None:
        proved["issuer_name"] = issuer_name
    return proved


def _check_mdoc_answers(
    query: CredentialQuery,
    document: VerifiedDocument,
    claims: dict[str, dict[str, Any]],
    prefix: str,
) -> None:
    """§6.4.1: the mdoc answers its query (docType, every requested element and value)
    and discloses nothing the query did not ask for (§14.1.2)."""
    candidate = CandidateCredential(
        id=query.id, format=MDOC_FORMAT, claims=claims, doctype=document.doc_type
    )
    if match_credential(query, candidate) is None:
        raise _Failed(prefix + "dcql", "the mdoc does not answer the query")
    beyond = disclosed_beyond(document, _requested_paths(query))
    if beyond:
        raise _Failed(
            prefix + "dcql", f"elements were disclosed that were not asked for: {list(beyond[0])}"
        )


def _requested_paths(query: CredentialQuery) -> list[ClaimPath]:
    if isinstance(query.claims, msgspec.UnsetType):
        return []
    return [tuple(c.path) for c in query.claims]


def _check_satisfied(query: DcqlQuery, presented: set[str]) -> None:
    """§6.4.2: every required credential (set) is answered."""
    if isinstance(query.credential_sets, msgspec.UnsetType):
        missing = [c.id for c in query.credentials if c.id not in presented]
        if missing:
            raise _Failed("dcql", f"no presentation for {missing[0]!r}")
        return
    for credential_set in query.credential_sets:
        if credential_set.required and not any(
            presented.issuperset(o) for o in credential_set.options
        ):
            raise _Failed("dcql", "a required credential set is not answered")


def vp_token_of(payload: Mapping[str, Any]) -> str:
    """The ``vp_token`` of a decrypted response, as the JSON text form posts carry."""
    value = payload.get("vp_token")
    if isinstance(value, dict):
        return json_dumps(value)
    if isinstance(value, str):
        return value
    raise _Failed("vp_token", "the response has no vp_token")
