"""A citizen scans a credential offer (OpenID4VCI 1.0 §4.1).

The offer (by value, or fetched by reference, §4.1.3), the issuer's metadata and its
authorization server's metadata are fetched and checked (``issuer_discovery``); the
citizen sees who offers what, whether a transaction code is needed or the issuer will
ask them to prove who they are first (authorization code flow), and how many holder keys
a phone that keeps its own keys should make. Nothing is asked of the issuer yet: the
offer flow waits, sealed, for the citizen's acceptance.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from core.messages import to_plain
from core.oid4vci import TxCode
from core.oid4vci_metadata import CredentialConfiguration, CredentialIssuerMetadata
from wallet.domain import (
    MSO_MDOC,
    SD_JWT_VC,
    Flow,
    FlowKind,
    FlowState,
    OfferUnavailable,
    Refused,
)
from wallet.services.authorization_plan import plan_authorization
from wallet.services.context import WalletContext
from wallet.services.display import claim_labels, pick, safe_display
from wallet.services.holder_keys import HOLDER_ALGORITHM
from wallet.services.holding_messages import CredentialIssuer
from wallet.services.interaction_messages import OfferedCredential, OfferView
from wallet.services.issuer_client import (
    IssuerClient,
    parse_offer,
    parse_offer_parameter,
    tx_code_prompt,
)
from wallet.services.issuer_discovery import DiscoveredIssuer, discover_issuer
from wallet.services.offer_flow import OfferedConfiguration, OfferFlow
from wallet.services.response_encryption import encryption_plan
from wallet.services.sealing import AccountBox

#: The credential formats this wallet holds, each with the key binding method it
#: asks for (OpenID4VCI 1.0 Appendix A.3: ``jwk`` in ``cnf``; A.2: ``cose_key``, the MSO's
#: ``deviceKeyInfo``).
BINDING_METHODS = {SD_JWT_VC: "jwk", MSO_MDOC: "cose_key"}
HELD_FORMATS = frozenset(BINDING_METHODS)


def plain_list(value: Sequence[msgspec.Struct] | UnsetType | None) -> Any:
    return [] if value is None or isinstance(value, UnsetType) else [to_plain(v) for v in value]


def _offered(config_id: str, config: CredentialConfiguration) -> OfferedConfiguration:
    """The configuration, if this wallet can hold it bound to an ES256 key (by ``jwk``
    for an SD-JWT VC, by ``cose_key`` for an mdoc, whose ``doctype`` it names)."""
    if config.format not in HELD_FORMATS:
        raise Refused(f"{config_id!r} is neither an SD-JWT VC (dc+sd-jwt) nor an mdoc (mso_mdoc)")
    binding = BINDING_METHODS[config.format]
    methods = config.cryptographic_binding_methods_supported
    if not isinstance(methods, UnsetType) and binding not in methods:
        raise Refused(f"{config_id!r} cannot be bound to a holder key by {binding}")
    doctype = None if isinstance(config.doctype, UnsetType) else config.doctype
    if config.format == MSO_MDOC and not doctype:
        raise Refused(f"{config_id!r} is an mdoc without its doctype (Appendix A.2.2)")
    proof_types = config.proof_types_supported
    key_attestations = None
    if not isinstance(proof_types, UnsetType):
        jwt = proof_types.get("jwt")
        if jwt is None or HOLDER_ALGORITHM not in jwt.proof_signing_alg_values_supported:
            raise Refused(f"{config_id!r} does not take ES256 jwt proofs")
        if not isinstance(jwt.key_attestations_required, UnsetType):
            key_attestations = jwt.key_attestations_required
    metadata = config.credential_metadata
    display = None if isinstance(metadata, UnsetType) else metadata.display
    claims = None if isinstance(metadata, UnsetType) else metadata.claims
    return OfferedConfiguration(
        vct=None if isinstance(config.vct, UnsetType) else config.vct,
        format=config.format,
        doctype=doctype if config.format == MSO_MDOC else None,
        display=safe_display(plain_list(display)),
        claims=claim_labels(plain_list(claims)),
        key_attestations_required=key_attestations,
    )


def _configurations(
    metadata: CredentialIssuerMetadata, ids: Sequence[str]
) -> dict[str, OfferedConfiguration]:
    supported = metadata.credential_configurations_supported
    chosen = {}
    for config_id in ids:
        config = supported.get(config_id)
        if config is None:
            raise Refused(f"the issuer does not describe {config_id!r}")
        chosen[config_id] = _offered(config_id, config)
    return chosen


def _instances(context: WalletContext, metadata: CredentialIssuerMetadata) -> int:
    """§12.2.4 ``batch_size``: how many instances (each with its own key) to ask for."""
    batch = metadata.batch_credential_issuance
    if isinstance(batch, UnsetType):
        return 1
    return min(batch.batch_size, context.policy.batch_size)


def offer_flow(
    context: WalletContext,
    box: AccountBox,
    discovered: DiscoveredIssuer,
    configuration_ids: Sequence[str],
    *,
    pre_authorized_code: str | None,
    tx_code: TxCode | None,
    issuer_state: str | None,
) -> OfferFlow:
    """The flow of receiving ``configuration_ids`` from a discovered issuer: by the
    pre-authorized code, or else by the authorization code flow (planned now)."""
    metadata = discovered.metadata
    flow = OfferFlow(
        issuer=discovered.metadata.credential_issuer,
        pre_authorized_code=pre_authorized_code,
        tx_code=tx_code,
        token_endpoint=discovered.token_endpoint,
        credential_endpoint=metadata.credential_endpoint,
        nonce_endpoint=discovered.nonce_endpoint,
        notification_endpoint=discovered.notification_endpoint,
        issuer_display=safe_display(plain_list(metadata.display)),
        configurations=_configurations(metadata, configuration_ids),
        instances=_instances(context, metadata),
        encryption=encryption_plan(metadata),
        deferred_endpoint=None
        if isinstance(metadata.deferred_credential_endpoint, UnsetType)
        else metadata.deferred_credential_endpoint,
    )
    if pre_authorized_code is None:
        scopes = [
            metadata.credential_configurations_supported[config_id].scope
            for config_id in configuration_ids
        ]
        flow.authorization = plan_authorization(
            context,
            box,
            discovered,
            issuer_state=issuer_state,
            # RFC 6749 §3.3: space-delimited; only when every configuration has one
            scope=None
            if any(isinstance(scope, UnsetType) for scope in scopes)
            else " ".join(dict.fromkeys(str(scope) for scope in scopes)),
        )
    return flow


async def scan_offer(
    context: WalletContext, account_id: str, parameters: dict[str, str], language: str | None
) -> OfferView:
    client = IssuerClient(context.outbound)
    if "credential_offer" in parameters:
        offer = parse_offer(parse_offer_parameter(parameters["credential_offer"]))
    else:
        offer = parse_offer(
            await client.get_json(
                parameters["credential_offer_uri"],
                "credential offer",
                redirects=3,
                gone=OfferUnavailable(
                    "this offer was used already or has expired; the agency can make a new one"
                ),
            )
        )
    issuer = offer.credential_issuer
    discovered = await discover_issuer(
        client,
        issuer,
        authorization_server_hint=offer.authorization_server,
        language=language,
    )
    box = await context.box(account_id)
    flow = offer_flow(
        context,
        box,
        discovered,
        offer.credential_configuration_ids,
        pre_authorized_code=offer.pre_authorized_code,
        tx_code=offer.tx_code,
        issuer_state=offer.issuer_state,
    )
    flow_id = str(uuid.uuid4())
    expires_at = context.clock.now() + context.policy.flow_lifetime
    await context.keep_flow(
        Flow(
            flow_id,
            account_id,
            FlowKind.OFFER,
            FlowState.OFFERED,
            box.seal("flow", flow_id, flow.content()),
            expires_at,
        )
    )
    return _offer_view(flow_id, flow, expires_at, [language] if language else [])


def _offer_view(
    flow_id: str, flow: OfferFlow, expires_at: float, preferred: Sequence[str]
) -> OfferView:
    issuer_display = pick(flow.issuer_display, preferred) or {}
    credentials = []
    for config_id, config in flow.configurations.items():
        display = pick(config.display, preferred) or {}
        credentials.append(
            OfferedCredential(
                credential_configuration_id=config_id,
                name=display.get("name", config_id),
                display=display,
                vct=config.vct,
                format=config.format,
                doctype=UNSET if config.doctype is None else config.doctype,
            )
        )
    return OfferView(
        offer_id=flow_id,
        issuer=CredentialIssuer(
            credential_issuer=flow.issuer,
            name=issuer_display.get("name", flow.issuer),
            display=issuer_display,
        ),
        credentials=credentials,
        tx_code=tx_code_prompt(flow.tx_code),
        holder_keys_needed=flow.holder_keys_needed,
        expires_at=int(expires_at),
        authorization_required=flow.authorization is not None,
    )
