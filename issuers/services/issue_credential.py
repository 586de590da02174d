"""The Credential Endpoint (OpenID4VCI 1.0 §8): SD-JWT VCs, or mdocs (Appendix A.2: the
``IssuerSigned`` of ``core.mdoc``, its ``deviceKeyInfo`` the proof's key), bound to the
wallet's proof keys (the keys of its ``jwt`` proofs, or the attested keys of its
``attestation`` proof), one per distinct key up to the batch size, each with its own
salts and its own random status index, committed together with their ledger entries
before the response.

Issuance times link credentials to each other and to the moment of issuance (RFC 9901
§10.2, SD-JWT VC §12): each credential's ``iat`` is a random instant of the precision
window before the one it was issued in (``IssuancePolicy.issued_at_precision``, a day by
default), drawn for each credential apart, and its ``exp`` is that ``iat`` plus the
configuration's validity. No two credentials of a batch share a timestamp, and none
states a time later than its real issuance.

The response is the plain Credential Response; where the request asks for it encrypted,
the endpoint encrypts it (``credential_encryption``, §10).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import math
import secrets
from collections.abc import Callable, Mapping, Sequence

from cryptography import x509
from msgspec import UNSET

from core.audit.trail import AuditEntry
from core.errors import (
    CredentialRequestDenied,
    InvalidCredentialRequest,
    InvalidNonce,
    InvalidProof,
    InvalidToken,
    ProtocolError,
    UnknownCredentialConfiguration,
    UnknownCredentialIdentifier,
)
from core.faults import AFTER_COMMIT_BEFORE_RESPONSE, AFTER_SIGN_BEFORE_COMMIT
from core.keys.signer import Signer
from core.mdoc.issue import issue_mdoc
from core.oid4vci import CredentialRequest, CredentialResponse, IssuedCredential
from core.replay import UsedBefore
from core.sdjwt_vc.profile import issue_sd_jwt_vc
from core.status_list.token import StatusReference
from issuers.domain import (
    MDOC_FORMAT,
    Agency,
    CredentialConfiguration,
    DeliveredResponse,
    NonceReused,
    Offer,
)
from issuers.domain import IssuedCredential as RecordedCredential
from issuers.ports import CredentialIssuance, GrantWork
from issuers.services.codes import sha256_hex
from issuers.services.context import IssuerContext
from issuers.services.defer_issuance import defer_issuance
from issuers.services.delivered_responses import (
    UnreadableResponse,
    open_response,
    request_fingerprint,
    seal_response,
)
from issuers.services.mdoc_elements import mdoc_name_spaces
from issuers.services.metadata import (
    ATTESTATION_PROOF,
    BATCH_SIZE,
    SIGNING_ALGORITHMS,
    key_attestations_required,
    proof_types_supported,
)
from issuers.services.nonces import check_c_nonce
from issuers.services.proofs import (
    KeyAttestationTrust,
    VerifiedProof,
    verify_attestation_proof,
    verify_jwt_proof,
    with_attested_keys,
)
from issuers.services.register_reads import register_reads
from issuers.services.sender_constraint import (
    PresentedToken,
    ProtectedRequest,
    checked_token,
)

PROOF_ALGORITHMS = frozenset(SIGNING_ALGORITHMS)
DAY = 86400
_RANDOM = secrets.SystemRandom()


def issuance_times(
    now: float, precision: int, validity: float, count: int
) -> list[tuple[int, int]]:
    """(``iat``, ``exp``) for each of ``count`` credentials issued at ``now``: distinct
    instants of the previous precision window (exactly ``now`` for a precision of 1)."""
    if precision <= 1:
        return [(int(now), int(now + validity))] * count
    window = int(now) // precision * precision
    offsets = _RANDOM.sample(range(precision), min(count, precision))
    offsets += [_RANDOM.randrange(precision) for _ in range(count - len(offsets))]
    return [(window - offset, window - offset + int(validity)) for offset in offsets]


def _utc(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _certified_from(signer: Signer) -> int:
    """When the signer's certificate (the mdoc's document signer) became valid."""
    chain = signer.x5c
    if not chain:
        raise RuntimeError("an agency's signing key without its certificate cannot sign mdocs")
    return _not_before(chain[0])


@functools.lru_cache(maxsize=64)
def _not_before(leaf_x5c: str) -> int:
    """A minute after the certificate's ``notBefore``, read once per certificate (libraries
    compare the MSO's time with it to the second)."""
    leaf = x509.load_der_x509_certificate(base64.b64decode(leaf_x5c))
    return math.ceil(leaf.not_valid_before_utc.timestamp()) + 60


def status_list_uri(context: IssuerContext, issuer_id: str, list_id: str) -> str:
    agency = context.agency(issuer_id)
    return f"{agency.identifier(context.public_base_url)}/status-lists/{list_id}"


async def audit_issued(
    context: IssuerContext, issuer_id: str, configuration_id: str, count: int
) -> None:
    """One entry of the deployment's audit trail per issuance (``count`` credentials of
    one configuration: a batch is one action)."""
    configuration = context.configuration(issuer_id, configuration_id)
    await context.audit_trail.append(
        AuditEntry(
            "agency",
            issuer_id,
            "credential.issued",
            facts={
                "credential_configuration": configuration_id,
                "format": configuration.format,
                "count": count,
            },
        )
    )


async def sign_and_record(
    context: IssuerContext,
    agency: Agency,
    configuration_id: str,
    *,
    work: CredentialIssuance,
    signer: Signer,
    claims: Mapping[str, object],
    holder_keys: Sequence[Mapping[str, str]],
    nonces: list[tuple[str, float]],
    now: float,
    notification_id: str | None = None,
) -> tuple[list[RecordedCredential], list[str]]:
    """One credential of ``claims`` (an SD-JWT VC, or an mdoc of the configuration's
    format) bound to each holder key, each with its own issuance time and random status
    index, signed and recorded in ``work``'s open transaction
    together with the ``c_nonce`` values it uses up. ``NonceReused`` when one was used."""
    issuer_id = agency.issuer_id
    configuration = context.configuration(issuer_id, configuration_id)
    times = issuance_times(
        now,
        context.policy.issued_at_precision,
        configuration.validity_days * DAY,
        len(holder_keys),
    )
    expires_at = float(max(expires for _, expires in times))

    sign_one = (
        _mdoc_signer(context, issuer_id, configuration, signer, claims, now=now)
        if configuration.format == MDOC_FORMAT
        else _sd_jwt_vc_signer(context, agency, configuration, signer, claims)
    )

    def sign(references: list[StatusReference]) -> list[str]:
        signed = [
            sign_one(holder_key, reference, issued_at, expires)
            for holder_key, reference, (issued_at, expires) in zip(
                holder_keys, references, times, strict=True
            )
        ]
        context.faults.reach(AFTER_SIGN_BEFORE_COMMIT)
        return signed

    return await work.issue(
        count=len(holder_keys),
        now=now,
        expires_at=expires_at,
        status_list_uri=lambda list_id: status_list_uri(context, issuer_id, list_id),
        sign=sign,
        nonces=nonces,
        notification_id=notification_id,
    )


#: One credential: for a holder key, at a status reference, issued at and valid until.
SignOne = Callable[[Mapping[str, str], StatusReference, int, int], str]


def _sd_jwt_vc_signer(
    context: IssuerContext,
    agency: Agency,
    configuration: CredentialConfiguration,
    signer: Signer,
    claims: Mapping[str, object],
) -> SignOne:
    def sign_one(
        holder_key: Mapping[str, str], reference: StatusReference, issued_at: int, expires: int
    ) -> str:
        return issue_sd_jwt_vc(
            claims,
            signer,
            vct=agency.vct(context.public_base_url, configuration.id),
            issuer=agency.identifier(context.public_base_url),
            holder_jwk=holder_key,
            disclosable=configuration.disclosable_paths,
            issued_at=issued_at,
            expires_at=expires,
            status=reference,
        ).serialize()

    return sign_one


def _mdoc_signer(
    context: IssuerContext,
    issuer_id: str,
    configuration: CredentialConfiguration,
    signer: Signer,
    claims: Mapping[str, object],
    *,
    now: float,
) -> SignOne:
    """Appendix A.2: the base64url IssuerSigned, its elements made from the offer's
    record (``mdoc_elements``)."""
    doc_type = configuration.doctype
    assert doc_type is not None  # catalog
    record = context.configuration(issuer_id, configuration.record_id)
    # ISO/IEC 18013-5 §9.3.1: the MSO is signed within the document signer certificate's
    # validity, so a drawn instant never predates a new certificate
    earliest = min(_certified_from(signer), int(now))

    def sign_one(
        holder_key: Mapping[str, str], reference: StatusReference, issued_at: int, expires: int
    ) -> str:
        signed = _utc(max(issued_at, earliest))
        return issue_mdoc(
            mdoc_name_spaces(
                configuration,
                record,
                claims,
                issued_on=signed.date(),
                expires_on=_utc(expires).date(),
                country=context.country,
            ),
            signer,
            doc_type=doc_type,
            holder_jwk=holder_key,
            signed=signed,
            valid_from=signed,
            valid_until=_utc(expires),
            status=reference,
        ).credential

    return sign_one


def other_response_key(token_hash: str, configuration_id: str) -> str:
    """Where the response for a configuration other than an offer's first is kept."""
    return sha256_hex(f"{token_hash} {configuration_id}")


def response_key(token_hash: str, offer: Offer, configuration_id: str) -> str:
    """Where the response of a credential request is kept for its retry: by the access
    token's hash, or for another configuration of the same offer, apart from it."""
    if configuration_id == offer.configuration_id:
        return token_hash
    return other_response_key(token_hash, configuration_id)


def _requested_configuration(
    context: IssuerContext, issuer_id: str, request: CredentialRequest
) -> str:
    if request.credential_identifier is not UNSET:
        raise UnknownCredentialIdentifier("this issuer hands out no credential identifiers")
    configuration_id = request.credential_configuration_id
    if (
        configuration_id is UNSET
        or configuration_id not in context.agency(issuer_id).configurations
    ):
        raise UnknownCredentialConfiguration("this credential configuration is unknown")
    return configuration_id


def _proof_values(request: CredentialRequest) -> list[str]:
    values = request.jwt_proofs()
    if len(values) > BATCH_SIZE:
        raise InvalidCredentialRequest(f"at most {BATCH_SIZE} proofs in one request")
    return values


def _verified_proofs(
    context: IssuerContext,
    issuer_id: str,
    configuration_id: str,
    request: CredentialRequest,
    now: float,
) -> list[VerifiedProof]:
    """The keys to bind, one credential each. Where the configuration requires key
    attestations (§12.2.4), every key must be attested by a trusted wallet provider at an
    accepted level, in its ``jwt`` proof's ``key_attestation`` or as an ``attestation``
    proof (Appendix F); anything less is ``invalid_proof`` (§8.3.1.2)."""
    configuration = context.configuration(issuer_id, configuration_id)
    accepted = proof_types_supported(configuration)
    if request.proof_type is not None and request.proof_type not in accepted:
        raise InvalidProof(
            f"this credential configuration accepts the proof types {', '.join(accepted)}"
        )
    policy = context.policy
    trust = KeyAttestationTrust(
        context.wallet_provider_anchors,
        policy.key_attestation_max_age,
        context.wallet_provider_chains,
    )
    if request.proof_type == ATTESTATION_PROOF:
        proofs = verify_attestation_proof(
            request.attestation_proof(),
            algorithms=PROOF_ALGORITHMS,
            now=now,
            leeway=policy.proof_leeway,
            key_attestations=trust,
            limit=BATCH_SIZE,
        )
    else:
        audience = context.agency(issuer_id).identifier(context.public_base_url)
        proofs = [
            verify_jwt_proof(
                value,
                audience=audience,
                algorithms=PROOF_ALGORITHMS,
                now=now,
                max_age=policy.proof_max_age,
                leeway=policy.proof_leeway,
                key_attestations=trust,
            )
            for value in _proof_values(request)
        ]
    required = key_attestations_required(configuration.key_attestations_required)
    if required is not None:
        for proof in proofs:
            if proof.key_attestation is None:
                raise InvalidProof(
                    "this credential needs a key attestation for each key: send it in the "
                    "key_attestation header of each jwt proof, or as an attestation proof"
                )
            proof.key_attestation.require(required)
    if len({p.thumbprint for p in proofs}) != len(proofs):
        raise InvalidProof("each proof must be for a different key")
    if request.proof_type != ATTESTATION_PROOF:
        proofs = with_attested_keys(proofs, algorithms=PROOF_ALGORITHMS, limit=BATCH_SIZE)
    return proofs


async def issue_credentials(
    context: IssuerContext, issuer_id: str, access: ProtectedRequest, request: CredentialRequest
) -> CredentialResponse:
    """The credentials for the access token the request presents (a bound token with the
    DPoP proof of its key, ``issuers.services.sender_constraint``)."""
    checked = checked_token(context, issuer_id, access, endpoint_name="credential")
    presented = checked.token
    access_token = presented.token
    now = context.clock.now()
    token_hash = sha256_hex(access_token)
    signer = await context.keys.signer(issuer_id)
    spend = () if checked.proof_jti is None else (checked.proof_jti,)
    # One connection and one transaction for the whole request: the DPoP proof's jti and
    # the grant (live, unused, bound to the key that signed the proof, or to none without
    # one) are used up first, by one statement, and given back if any check below fails.
    try:
        async with context.ledger.open_grant(
            token_hash, now, presented.dpop_jkt, spend=spend
        ) as work:
            response = None
            if work is not None:
                if work.grant.issuer_id != issuer_id:
                    raise InvalidToken("the access token is not valid")
                response = await _issue(
                    context,
                    issuer_id,
                    signer=signer,
                    work=work,
                    access_token=access_token,
                    request=request,
                    now=now,
                )
    except UsedBefore as used:  # the proof's jti, as the grant was to be used up
        raise used.refusal from None
    if response is None:  # used up already (perhaps the retry of a lost response), or not ours
        response = await _repeat_delivered(context, issuer_id, presented, request, now)
    elif response.credentials is not UNSET:  # issued now (not deferred, not repeated)
        configuration_id = _requested_configuration(context, issuer_id, request)
        await audit_issued(context, issuer_id, configuration_id, len(response.credentials))
    context.faults.reach(AFTER_COMMIT_BEFORE_RESPONSE)
    return response


async def _repeat_delivered(
    context: IssuerContext,
    issuer_id: str,
    presented: PresentedToken,
    request: CredentialRequest,
    now: float,
) -> CredentialResponse:
    """The kept response of this access token, to a retry of the very same request
    presented the way the token is bound; why the token was not taken otherwise."""
    access_token = presented.token
    token_hash = sha256_hex(access_token)
    grant = await context.grants.get(token_hash)
    if grant is None or grant.issuer_id != issuer_id:
        raise InvalidToken("the access token is not valid")
    presented.check_binding(grant.dpop_jkt)
    # The token is used up: whatever else is wrong with a request that is not the same
    # one, the answer is about the token.
    try:
        configuration_id = _requested_configuration(context, issuer_id, request)
        proofs = _verified_proofs(context, issuer_id, configuration_id, request, now)
    except ProtocolError:
        raise InvalidToken("the access token was used for another credential request") from None
    kept = await context.ledger.delivered_response(token_hash, now)
    if kept is not None and request_fingerprint(issuer_id, configuration_id, proofs) != (
        kept.fingerprint
    ):
        # the response for another configuration of an offer of several, perhaps
        kept = await context.ledger.delivered_response(
            other_response_key(token_hash, configuration_id), now
        )
    if kept is None:
        raise InvalidToken("the access token is not valid")
    if request_fingerprint(issuer_id, configuration_id, proofs) != kept.fingerprint:
        raise InvalidToken("the access token was used for another credential request")
    try:
        return open_response(access_token, token_hash, kept.sealed)
    except UnreadableResponse:
        raise InvalidToken("the access token is not valid") from None


async def _issue(
    context: IssuerContext,
    issuer_id: str,
    *,
    signer: Signer,
    work: GrantWork,
    access_token: str,
    request: CredentialRequest,
    now: float,
) -> CredentialResponse | None:
    """The response, or None where the grant was used for this configuration before."""
    agency = context.agency(issuer_id)
    offer = work.offer
    configuration_id = _requested_configuration(context, issuer_id, request)
    if configuration_id not in offer.configuration_ids:
        raise CredentialRequestDenied("the access token is not for this credential configuration")
    configuration = context.configuration(issuer_id, configuration_id)
    proofs = _verified_proofs(context, issuer_id, configuration_id, request, now)
    if not await work.use_for(configuration_id):
        return None  # asked for already: perhaps the retry of a lost response
    nonces = [
        (sha256_hex(nonce), check_c_nonce(context, issuer_id, nonce))
        for nonce in dict.fromkeys(n for p in proofs for n in p.nonces)
    ]
    if configuration.approval_required:
        return await defer_issuance(
            context,
            issuer_id,
            work=work,
            access_token=access_token,
            proofs=proofs,
            nonces=nonces,
            now=now,
        )
    try:
        records, credentials = await sign_and_record(
            context,
            agency,
            configuration_id,
            work=work,
            signer=signer,
            claims=offer.claims,
            holder_keys=[proof.jwk for proof in proofs],
            nonces=nonces,
            now=now,
        )
    except NonceReused:
        raise InvalidNonce(
            "the c_nonce was used already; fetch a fresh one from the nonce endpoint"
        ) from None
    response = CredentialResponse(
        credentials=[IssuedCredential(credential=c) for c in credentials],
        notification_id=records[0].notification_id,
        register_reads=register_reads(agency, offer),
    )
    token_hash = work.grant.token_hash
    await work.remember_response(
        DeliveredResponse(
            token_hash=response_key(token_hash, offer, configuration_id),
            fingerprint=request_fingerprint(issuer_id, configuration_id, proofs),
            sealed=seal_response(access_token, token_hash, response),
            expires_at=work.grant.expires_at,
        )
    )
    return response
