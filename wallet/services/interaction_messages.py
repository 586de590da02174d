"""What the phone sends to receive and to present: the scanned text, the acceptance of
an offer, the consent to a presentation, and the signatures of device-held keys (the
citizen mobile API). Like every body this deployment defines, a member it does not know
is refused."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from core.messages import Message
from wallet.services.holding_messages import CredentialIssuer

MAX_TX_CODE = 64
MAX_DEVICE_KEYS = 10

_Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=299)]
# A public P-256 key and an ES256 signature, as the documentation's examples show them.
_HOLDER_KEY = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
}
_SIGNATURE = (
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
)


class ScannedText(Message, forbid_unknown_fields=True):
    uri: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            description=(
                "The text of the scanned QR code or followed link; at most 4096 bytes "
                "(more answers 413: no QR code holds it)."
            ),
            examples=[
                "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fid.example.gov"
                "%2Fissuers%2Fcivil-registry%2Fcredential-offers%2Fza-cW4q_nUflpWZvy",
                "openid4vp://?client_id=x509_san_dns%3Abar.example.com&request_uri=https%3A%2F"
                "%2Fid.example.gov%2Fverifiers%2Fbar-age-check%2Frequests%2FT8kq2Lw9xZ",
            ],
        ),
    ]


class InstanceKeyPair(Message, forbid_unknown_fields=True):
    """The phone's two fresh public P-256 keys for one issuance in the authorization code
    flow, when it keeps its keys: the wallet attestation's ``cnf`` key, whose proofs of
    possession it signs, and the DPoP key its access token is bound to."""

    attestation: Annotated[dict[str, Any], msgspec.Meta(examples=[_HOLDER_KEY])]
    dpop: Annotated[dict[str, Any], msgspec.Meta(examples=[_HOLDER_KEY])]


_INSTANCE_KEYS = {
    "attestation": _HOLDER_KEY,
    "dpop": {
        "kty": "EC",
        "crv": "P-256",
        "x": "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
        "y": "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps",
    },
}
_INSTANCE_KEYS_DESCRIPTION = (
    "With custody device, in the authorization code flow: the phone's keys of this "
    "wallet instance for this issuer; every proof made with them is handed to the phone "
    "to sign (proofs_needed). Without them the wallet service holds these two keys."
)


class OfferAcceptance(Message, forbid_unknown_fields=True):
    """Accept an offer: the transaction code when the offer asks for one, and who keeps
    the holder keys: the wallet service (``server``, the default) or the phone
    (``device``, with one fresh public P-256 JWK per credential instance)."""

    tx_code: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TX_CODE, examples=["493817"])]
        | UnsetType
    ) = UNSET
    custody: Annotated[Literal["server", "device"], msgspec.Meta(examples=["device"])] = "server"
    holder_keys: (
        Annotated[
            list[dict[str, Any]],
            msgspec.Meta(min_length=1, max_length=MAX_DEVICE_KEYS, examples=[[_HOLDER_KEY]]),
        ]
        | UnsetType
    ) = UNSET
    instance_keys: Annotated[
        InstanceKeyPair | UnsetType,
        msgspec.Meta(description=_INSTANCE_KEYS_DESCRIPTION, examples=[_INSTANCE_KEYS]),
    ] = UNSET


class IssuanceStart(Message, forbid_unknown_fields=True):
    """The citizen asks an issuer for a credential (wallet-initiated issuance, OpenID4VCI
    1.0 §3.4): the issuer's identifier (one of ``GET /wallet/issuers``, or any other),
    the credential configuration, and who keeps the holder keys (as when accepting)."""

    credential_issuer: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=2048,
            examples=["https://id.example.gov/issuers/transport-agency"],
        ),
    ]
    credential_configuration_id: Annotated[
        str, msgspec.Meta(min_length=1, max_length=256, examples=["driving_licence"])
    ]
    custody: Annotated[Literal["server", "device"], msgspec.Meta(examples=["server"])] = "server"
    holder_keys: (
        Annotated[
            list[dict[str, Any]],
            msgspec.Meta(min_length=1, max_length=MAX_DEVICE_KEYS, examples=[[_HOLDER_KEY]]),
        ]
        | UnsetType
    ) = UNSET
    instance_keys: Annotated[
        InstanceKeyPair | UnsetType,
        msgspec.Meta(description=_INSTANCE_KEYS_DESCRIPTION, examples=[_INSTANCE_KEYS]),
    ] = UNSET


class AuthorizationReturn(Message, forbid_unknown_fields=True):
    """Where the issuer sent the citizen's browser back: the whole URL of
    ``/wallet/callback`` with its ``code``, ``state`` and ``iss`` (or ``error``). The
    issuance it finishes is named by its ``state``; ``issuance_id``, when given, must be
    that one. A phone that keeps its holder keys sends them here if it did not before."""

    redirect_url: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=4096,
            examples=[
                "https://id.example.gov/wallet/callback?code=SplxlOBeZQQYbYS6WxSbIA"
                "&state=2b6f0cc9-4f7e-4b4f-9f8e-1c2d3e4f5a6b.Jx0ZC2r8c1s&iss=https%3A%2F%2F"
                "id.example.gov%2Fissuers%2Ftransport-agency"
            ],
        ),
    ]
    issuance_id: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1, max_length=64, examples=["2b6f0cc9-4f7e-4b4f-9f8e-1c2d3e4f5a6b"]
            ),
        ]
        | UnsetType
    ) = UNSET
    holder_keys: (
        Annotated[
            list[dict[str, Any]],
            msgspec.Meta(min_length=1, max_length=MAX_DEVICE_KEYS, examples=[[_HOLDER_KEY]]),
        ]
        | UnsetType
    ) = UNSET


class CredentialRenewal(Message, forbid_unknown_fields=True):
    """A fresh batch of a one-time credential whose holder keys the phone keeps: one
    fresh public P-256 JWK per copy (as many as the credential's ``instances`` when it
    was received)."""

    holder_keys: Annotated[
        list[dict[str, Any]],
        msgspec.Meta(min_length=1, max_length=MAX_DEVICE_KEYS, examples=[[_HOLDER_KEY]]),
    ]


class DeviceSignatures(Message, forbid_unknown_fields=True):
    """The phone's signatures over the signing inputs it was given, in their order,
    each base64url."""

    signatures: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=512)]],
        msgspec.Meta(max_length=64, examples=[[_SIGNATURE]]),
    ]


class PresentationConsent(Message, forbid_unknown_fields=True):
    """The citizen's consent: optional claims to leave out (by path), and which of their
    credentials answers which credential query when more than one could."""

    omit: Annotated[
        list[_Identifier], msgspec.Meta(max_length=100, examples=[["address.street_address"]])
    ] = msgspec.field(default_factory=list)
    credentials: Annotated[
        dict[_Identifier, _Identifier],
        msgspec.Meta(examples=[{"national_id": "3f1c2b9e-8d4a-4c1e-9b7f-2a6d5e8c0f13"}]),
    ] = msgspec.field(default_factory=dict)


# What the phone is shown ----------------------------------------------------------------


class OfferedCredential(Message):
    credential_configuration_id: str
    name: Annotated[str, msgspec.Meta(examples=["National ID"])]
    display: dict[str, Any]
    vct: str | None
    format: Annotated[str, msgspec.Meta(examples=["dc+sd-jwt", "mso_mdoc"])]
    doctype: Annotated[
        str | UnsetType,
        msgspec.Meta(
            description="mso_mdoc: the ISO/IEC 18013-5 docType.",
            examples=["org.iso.18013.5.1.mDL"],
        ),
    ] = UNSET


class TxCodePrompt(Message):
    """What to ask the citizen for (OpenID4VCI 1.0 §4.1.1 ``tx_code``)."""

    required: bool
    input_mode: Literal["numeric", "text"] | UnsetType = UNSET
    length: int | UnsetType = UNSET
    description: str | UnsetType = UNSET


class OfferView(Message):
    """Who offers what: shown before the citizen accepts."""

    offer_id: str
    issuer: CredentialIssuer
    credentials: list[OfferedCredential]
    tx_code: TxCodePrompt | None
    holder_keys_needed: Annotated[
        int, msgspec.Meta(description="Public keys the phone sends when it keeps the keys.")
    ]
    expires_at: Annotated[int, msgspec.Meta(description="Seconds since the epoch.")]
    authorization_required: Annotated[
        bool,
        msgspec.Meta(
            description="The issuer asks the citizen to prove who they are in a browser "
            "first (authorization code flow): accepting answers the URL to open."
        ),
    ] = False


class SigningRequest(Message):
    """What the phone signs with a device-held key, with the key: a JWS signing input
    (a key proof, a KB-JWT), or for an mdoc presentation the COSE ``Sig_structure`` of
    its DeviceAuth (``encoding`` ``base64url``). The signature is ES256 over those bytes,
    returned as the raw ``r || s`` (64 bytes), base64url, in either case."""

    holder_key: dict[str, Any]
    alg: str
    signing_input: str
    query_id: str | UnsetType = UNSET
    encoding: Annotated[
        Literal["ascii", "base64url"] | UnsetType,
        msgspec.Meta(
            description="How signing_input gives the bytes to sign: absent or ascii, its "
            "ASCII characters (a JWS signing input, RFC 7515 §5.1); base64url, the bytes it "
            "decodes to (an mdoc's DeviceAuth: the COSE Sig_structure, RFC 9052 §4.4, over "
            "the DeviceAuthentication of ISO/IEC 18013-5 §9.1.3 with the OpenID4VP session "
            "transcript)."
        ),
    ] = UNSET
    format: Annotated[
        Literal["dc+sd-jwt", "mso_mdoc"] | UnsetType,
        msgspec.Meta(
            description="In a presentation: the format of the credential the signature "
            "presents (a KB-JWT for dc+sd-jwt, a DeviceAuth signature for mso_mdoc)."
        ),
    ] = UNSET
    use: Annotated[
        Literal["key_proof", "client_attestation_pop", "dpop"] | UnsetType,
        msgspec.Meta(
            description="In an issuance: what the signature is for: a holder key's proof "
            "(key_proof), or a proof by the wallet instance's attestation key "
            "(client_attestation_pop) or DPoP key (dpop) kept on the phone."
        ),
    ] = UNSET


class ReceivedCredential(Message):
    credential_id: str
    credential_configuration_id: str
    name: str
    instances: int


class PendingCredential(Message):
    """A credential the issuer will issue later (deferred issuance, OpenID4VCI 1.0 §9): the
    wallet asks again by itself, or when the citizen asks it to."""

    credential_configuration_id: str
    name: str
    next_check_at: Annotated[
        int, msgspec.Meta(description="Seconds since the epoch: when the wallet asks next.")
    ]


class OfferOutcome(Message):
    """``received`` with the credentials stored, ``proofs_needed`` with what the phone
    must sign first (device-held keys), or ``authorization_required`` with the URL the
    citizen opens in a browser to prove who they are at the issuer (authorization code
    flow; the issuer sends the browser back to ``/wallet/callback``)."""

    offer_id: Annotated[
        str, msgspec.Meta(description="The offer's id, also the issuance's (issuance_id).")
    ]
    status: Annotated[
        str,
        msgspec.Meta(examples=["received", "proofs_needed", "authorization_required", "pending"]),
    ]
    credentials: list[ReceivedCredential] | UnsetType = UNSET
    signing_requests: list[SigningRequest] | UnsetType = UNSET
    authorization_url: str | UnsetType = UNSET
    pending: Annotated[
        list[PendingCredential] | UnsetType,
        msgspec.Meta(description="With status pending: the credentials still to come."),
    ] = UNSET
    holder_keys_needed: Annotated[
        int | UnsetType,
        msgspec.Meta(
            description="With authorization_required: the public keys a phone that keeps "
            "its keys sends with the redirect (none when it sent them already)."
        ),
    ] = UNSET


class VerifierView(Message):
    """Who asks: authenticated by its certificate (the name shown is the certificate's),
    or not (then only what it says about itself, marked unverified)."""

    client_id: str
    authenticated: bool
    name: str | None
    claimed_name: str | None
    claimed_name_verified: bool
    certificate: dict[str, str] | None
    registered: Annotated[
        bool, msgspec.Meta(description="An attested registration came with the request.")
    ]
    response_host: str | None


class RequestedClaim(Message):
    path: Annotated[
        list[str | int | None],
        msgspec.Meta(description="For an mdoc: [name space, element identifier]."),
    ]
    name: str
    label: Annotated[str, msgspec.Meta(examples=["Over 18"])]
    optional: Annotated[bool, msgspec.Meta(description="The citizen may leave it out.")]
    intent_to_retain: Annotated[
        bool | UnsetType,
        msgspec.Meta(
            description="mso_mdoc: the verifier says it will keep this element after the "
            "check (OpenID4VP 1.0 Appendix B.2.4 intent_to_retain); absent: it did not say."
        ),
    ] = UNSET


class AnsweringCredential(Message):
    credential_id: str
    name: str
    issuer: str
    status: str
    linkable: Annotated[
        bool,
        msgspec.Meta(
            description="No fresh copy is left: this verifier would get a copy another "
            "verifier has seen, and the two could link the presentations."
        ),
    ] = False


class RequestedCredential(Message):
    query_id: str
    required: bool
    types: Annotated[
        list[str],
        msgspec.Meta(description="The credential types asked for: vct values, or the doctype."),
    ]
    claims: list[RequestedClaim]
    candidates: Annotated[
        list[AnsweringCredential],
        msgspec.Meta(description="The citizen's credentials that can answer, best first."),
    ]
    format: Annotated[str, msgspec.Meta(examples=["dc+sd-jwt", "mso_mdoc"])] = "dc+sd-jwt"


class IssuanceCredential(Message):
    """A credential the issuer issues after this presentation, as the registration names
    it."""

    credential_configuration_id: Annotated[str, msgspec.Meta(examples=["driving_licence"])]
    name: Annotated[
        str,
        msgspec.Meta(
            description="Its display name, where the wallet knows the issuer's metadata "
            "(an issuance of this citizen waiting there, or the issuer listing); else the "
            "configuration id.",
            examples=["Driving licence"],
        ),
    ]
    awaiting_authorization: Annotated[
        bool,
        msgspec.Meta(
            description="An issuance of this credential that the citizen started waits for "
            "this issuer's authorization."
        ),
    ]


class IssuanceContext(Message):
    """The registrar's word that the verifier asks in order that an issuer can issue the
    citizen a credential (presentation during issuance): shown only from a registration
    the wallet verified, and only for the registered purpose that covers the request."""

    credential_issuer: Annotated[
        str,
        msgspec.Meta(
            description="The issuer identifier the registration names.",
            examples=["https://id.example.gov/issuers/transport-agency"],
        ),
    ]
    issuer_name: Annotated[
        str,
        msgspec.Meta(
            description="The issuer's display name where the wallet knows it; else the "
            "registered organization of the verifier; else the identifier.",
            examples=["Transport Agency"],
        ),
    ]
    credentials: list[IssuanceCredential]
    awaiting_authorization: Annotated[
        bool,
        msgspec.Meta(
            description="An issuance this citizen started at this issuer waits for its "
            "authorization (``authorization_required``): this request is most likely "
            "that issuer's page asking."
        ),
    ]
    statement: Annotated[
        str,
        msgspec.Meta(
            description="The same in one plain English line; screens compose their own "
            "from the members in the citizen's language.",
            examples=["Transport Agency asks for this in order to issue you Driving licence"],
        ),
    ]


class ConsentView(Message):
    """Everything the citizen decides on: who asks, the registered purpose, each requested
    claim (and whether it may be left out), which credentials can answer, and warnings
    (``beyond_registration``, ``registration_invalid``, ``unauthenticated_verifier``,
    ``cannot_satisfy``, ``invalid_credentials``). ``issuance`` is present when the
    registered purpose serves an issuer's issuance."""

    presentation_id: str
    expires_at: Annotated[int, msgspec.Meta(description="Seconds since the epoch.")]
    verifier: VerifierView
    purpose: dict[str, Any] | None
    response_mode: str
    requests: list[RequestedCredential]
    satisfiable: bool
    warnings: list[str]
    issuance: IssuanceContext | UnsetType = UNSET


class ScanResult(Message):
    """What was scanned: a credential offer (who offers what) or a presentation request
    (the consent view: who asks, why, for which claims, and which credentials can answer)."""

    kind: Literal["offer", "presentation"]
    offer: OfferView | UnsetType = UNSET
    presentation: ConsentView | UnsetType = UNSET


class PresentationOutcome(Message):
    """``submitted`` (with the verifier's verdict), ``signatures_needed`` (what the phone
    must sign first, device-held keys) or ``declined``."""

    presentation_id: str
    status: Annotated[str, msgspec.Meta(examples=["submitted", "signatures_needed", "declined"])]
    outcome: Literal["accepted", "rejected"] | UnsetType = UNSET
    verifier_status: int | UnsetType = UNSET
    redirect_uri: (
        Annotated[
            str, msgspec.Meta(description="Where the verifier sends the citizen on (same device).")
        ]
        | UnsetType
    ) = UNSET
    redirect_refused: str | UnsetType = UNSET
    error: str | UnsetType = UNSET
    error_description: str | UnsetType = UNSET
    signing_requests: list[SigningRequest] | UnsetType = UNSET


# Examples for the API documentation ------------------------------------------------------

_ISSUER = CredentialIssuer(
    credential_issuer="https://id.example.gov/issuers/civil-registry",
    name="Civil Registry",
    display={"locale": "en", "name": "Civil Registry"},
)
_CREDENTIAL_ID = "3f1c2b9e-8d4a-4c1e-9b7f-2a6d5e8c0f13"

OFFER_VIEW_EXAMPLE = OfferView(
    offer_id="f-2c7d9a41",
    issuer=_ISSUER,
    credentials=[
        OfferedCredential(
            credential_configuration_id="national_id",
            name="National identity card",
            display={"locale": "en", "name": "National identity card"},
            vct="https://id.example.gov/issuers/civil-registry/types/national_id",
            format="dc+sd-jwt",
        )
    ],
    tx_code=TxCodePrompt(
        required=True,
        input_mode="numeric",
        length=6,
        description="The code sent to you by SMS",
    ),
    holder_keys_needed=3,
    expires_at=1767226200,
)
CONSENT_VIEW_EXAMPLE = ConsentView(
    presentation_id="p-8e41b0d2",
    expires_at=1767312300,
    verifier=VerifierView(
        client_id="x509_san_dns:bar.example.com",
        authenticated=True,
        name="Corner Bar",
        claimed_name="Corner Bar",
        claimed_name_verified=True,
        certificate={"subject": "CN=Corner Bar", "issuer": "CN=Relying Party CA"},
        registered=True,
        response_host="bar.example.com",
    ),
    purpose={"id": "age_over_18", "description": "Serving alcohol only to adults"},
    response_mode="direct_post",
    requests=[
        RequestedCredential(
            query_id="national_id",
            required=True,
            types=["https://id.example.gov/issuers/civil-registry/types/national_id"],
            claims=[
                RequestedClaim(
                    path=["age_over_18"], name="age_over_18", label="Over 18", optional=False
                )
            ],
            candidates=[
                AnsweringCredential(
                    credential_id=_CREDENTIAL_ID,
                    name="National identity card",
                    issuer="Civil Registry",
                    status="valid",
                )
            ],
        )
    ],
    satisfiable=True,
    warnings=[],
)
_SIGNING_REQUEST = SigningRequest(
    holder_key=_HOLDER_KEY,
    alg="ES256",
    signing_input="eyJhbGciOiJFUzI1NiIsInR5cCI6Im9wZW5pZDR2Y2ktcHJvb2Yrand0In0.eyJub25jZSI6Ii4uLiJ9",
)
SCAN_RESULT_EXAMPLES = {
    "A credential offer": ScanResult(kind="offer", offer=OFFER_VIEW_EXAMPLE),
    "A presentation request": ScanResult(kind="presentation", presentation=CONSENT_VIEW_EXAMPLE),
}
_RECEIVED = OfferOutcome(
    offer_id=OFFER_VIEW_EXAMPLE.offer_id,
    status="received",
    credentials=[
        ReceivedCredential(
            credential_id=_CREDENTIAL_ID,
            credential_configuration_id="national_id",
            name="National identity card",
            instances=3,
        )
    ],
)
AUTHORIZATION_REQUIRED_EXAMPLE = OfferOutcome(
    offer_id=OFFER_VIEW_EXAMPLE.offer_id,
    status="authorization_required",
    authorization_url="https://id.example.gov/issuers/transport-agency/authorize?client_id="
    "https%3A%2F%2Fid.example.gov%2Fwallet&request_uri=urn%3Aietf%3Aparams%3Aoauth%3A"
    "request_uri%3AbwcqgZ6mQ1W1d3Jv",
)
OFFER_OUTCOME_EXAMPLES = {
    "Received (keys kept by the wallet service)": _RECEIVED,
    "Authorization required (authorization code flow)": AUTHORIZATION_REQUIRED_EXAMPLE,
    "Proofs needed (keys kept by the phone)": OfferOutcome(
        offer_id=OFFER_VIEW_EXAMPLE.offer_id,
        status="proofs_needed",
        signing_requests=[_SIGNING_REQUEST],
    ),
}
OFFER_COMPLETED_EXAMPLE = _RECEIVED
_SUBMITTED = PresentationOutcome(
    presentation_id=CONSENT_VIEW_EXAMPLE.presentation_id,
    status="submitted",
    outcome="accepted",
    verifier_status=200,
)
PRESENTATION_OUTCOME_EXAMPLES = {
    "Submitted and accepted": _SUBMITTED,
    "Signatures needed (keys kept by the phone)": PresentationOutcome(
        presentation_id=CONSENT_VIEW_EXAMPLE.presentation_id,
        status="signatures_needed",
        signing_requests=[
            SigningRequest(
                holder_key=_HOLDER_KEY,
                alg="ES256",
                signing_input=_SIGNING_REQUEST.signing_input,
                query_id="national_id",
            )
        ],
    ),
}
PRESENTATION_COMPLETED_EXAMPLE = _SUBMITTED
PRESENTATION_DECLINED_EXAMPLE = PresentationOutcome(
    presentation_id=CONSENT_VIEW_EXAMPLE.presentation_id, status="declined", verifier_status=200
)


class PendingIssuance(Message):
    """An issuance whose credentials the issuer deferred: who, what, and when the wallet
    asks next."""

    issuance_id: str
    issuer: str
    issuer_name: str
    pending: list[PendingCredential]
    fetch_by_phone: Annotated[
        bool,
        msgspec.Meta(
            description="The issuance's keys are on the phone, so the wallet does not ask by "
            "itself: from next_check_at on the phone asks (POST /wallet/issuances/{id}/fetch) "
            "and signs what it is handed (POST /wallet/offers/{id}/complete)."
        ),
    ] = False


class PendingIssuances(Message):
    issuances: Annotated[list[PendingIssuance], msgspec.Meta(description="The next due first.")]


PENDING_ISSUANCES_EXAMPLE = PendingIssuances(
    issuances=[
        PendingIssuance(
            issuance_id="2b6f0cc9-4f7e-4b4f-9f8e-1c2d3e4f5a6b",
            issuer="https://id.example.gov/issuers/transport-agency",
            issuer_name="Transport Agency",
            pending=[
                PendingCredential(
                    credential_configuration_id="professional_driving_licence",
                    name="Professional driving licence",
                    next_check_at=1767225900,
                )
            ],
        )
    ]
)
