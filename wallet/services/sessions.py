"""Accounts, devices and sessions: a citizen's phone proves possession of its device key.

- ``POST /wallet/challenges`` hands out a single-use challenge (128 random bits and its
  expiry, authenticated by a MAC under a secret of this deployment, short-lived). Nothing
  is stored when it is handed out, so a crowd asking for challenges fills no table; the
  proof that uses it spends it (kept as spent until it expires), in the same statement as
  the session it opens when it logs in.
- Registering signs it with the new device key (a JWS with the public JWK in its header);
  logging in signs a fresh one with a registered device key (``kid`` = device id).
- A session is a short-lived access token (HS256 JWT under a secret of this deployment,
  verified with an explicit algorithm list) and a refresh token that rotates on every use;
  presenting a rotated refresh token again revokes its whole family (the token was copied).
- A revoked device can do nothing from that moment: every authenticated request checks it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

import jwt
from msgspec import UnsetType

from core.audit.trail import AuditEntry
from core.encoding import b64url_encode
from core.errors import InvalidGrant, InvalidRequest, InvalidToken
from core.jose.claims import InvalidClaims, check_time_claims
from core.jose.errors import JoseError
from core.jose.jwk import jwk_thumbprint, public_key_from_jwk
from core.jose.jws import decode_unverified, verify_decoded
from wallet.domain import Account, Device, Mediation, NotFound, NotificationKind, SpentChallenge
from wallet.services.account_messages import (
    MAX_PROOF_BYTES,
    AddedDevice,
    Challenge,
    DeviceLogin,
    DeviceRegistration,
    SessionGranted,
    SessionRefresh,
)
from wallet.services.activity import record, stamp
from wallet.services.activity_messages import DeviceRegisteredEntry, DeviceRevokedEntry
from wallet.services.context import WalletContext, signed_in
from wallet.services.holding_messages import DeviceList, DeviceView
from wallet.services.notification_messages import NotificationContent
from wallet.services.notifications import tell

DEVICE_PROOF_TYP = "wallet-device-proof+jwt"
DEVICE_ALGORITHMS = frozenset({"ES256"})
ACCESS_TOKEN_ALGORITHM = "HS256"  # noqa: S105 - an algorithm name, not a secret


@dataclass(frozen=True, slots=True)
class Session:
    account_id: str
    device_id: str
    #: A mediator's session within this mediation (docs/mediators.md); no device then.
    mediation: Mediation | None = None


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int

    def granted(self, account_id: str, device_id: str) -> SessionGranted:
        return SessionGranted(
            account_id=account_id,
            device_id=device_id,
            access_token=self.access_token,
            token_type="Bearer",  # noqa: S106 - the token type, not a secret
            expires_in=self.expires_in,
            refresh_token=self.refresh_token,
        )


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


async def issue_challenge(context: WalletContext) -> Challenge:
    lifetime = context.policy.challenge_lifetime
    body = f"{secrets.token_urlsafe(16)}.{int(context.clock.now()) + lifetime}"
    return Challenge(challenge=f"{body}.{_challenge_mac(context, body)}", expires_in=lifetime)


def _challenge_mac(context: WalletContext, body: str) -> str:
    mac = hmac.new(context.token_secret, b"wallet-challenge:" + body.encode(), hashlib.sha256)
    return b64url_encode(mac.digest()[:16])


def _spendable(context: WalletContext, challenge: object) -> SpentChallenge:
    """A challenge this wallet handed out and that has not expired, ready to be spent."""
    refused = InvalidGrant("the challenge is unknown, used or expired")
    if not isinstance(challenge, str) or len(challenge) > 128:
        raise InvalidGrant("device_proof has no challenge")
    body, _, mac = challenge.rpartition(".")
    expiry = body.rpartition(".")[2]
    if not expiry.isdigit() or not hmac.compare_digest(mac, _challenge_mac(context, body)):
        raise refused
    now = context.clock.now()
    if int(expiry) <= now:
        raise refused
    return SpentChallenge(_hash(challenge), float(expiry), now)


async def _verified_proof(
    context: WalletContext, proof: str, *, key_from: str
) -> tuple[SpentChallenge, dict[str, str] | Device]:
    """Check a device proof; returns its challenge, still to be spent, and the new JWK or
    the known device."""
    try:
        parsed = decode_unverified(proof, max_bytes=MAX_PROOF_BYTES)
    except JoseError as exc:
        raise InvalidRequest(f"device_proof is malformed: {exc}") from exc
    header = parsed.header
    subject: dict[str, str] | Device
    try:
        if key_from == "jwk":
            jwk = header.get("jwk")
            if not isinstance(jwk, dict) or "d" in jwk:
                raise InvalidRequest("device_proof must carry the public device key as jwk")
            key = public_key_from_jwk(jwk)
            subject = {k: str(v) for k, v in jwk.items() if k in ("kty", "crv", "x", "y")}
        else:
            device_id = header.get("kid")
            device = (
                await context.store.devices.by_device_id(device_id)
                if isinstance(device_id, str) and len(device_id) <= 64
                else None
            )
            if device is None or not device.active:
                raise InvalidGrant("the device is unknown or revoked")
            key = public_key_from_jwk(device.public_jwk)
            subject = device
        verified = verify_decoded(
            parsed, key, algorithms=DEVICE_ALGORITHMS, typ=DEVICE_PROOF_TYP, max_payload_bytes=2048
        )
    except JoseError as exc:
        raise InvalidGrant(f"device_proof does not verify: {exc}") from exc
    payload = verified.payload
    try:
        check_time_claims(payload, now=context.clock.now(), leeway=60, required=("iat",))
    except InvalidClaims as exc:
        raise InvalidGrant(f"device_proof: {exc}") from exc
    if abs(context.clock.now() - float(payload["iat"])) > context.policy.challenge_lifetime:
        raise InvalidGrant("device_proof is not fresh")
    if payload.get("aud") != context.audience:
        raise InvalidGrant("device_proof is for another audience")
    return _spendable(context, payload.get("nonce")), subject


async def _spend(context: WalletContext, challenge: SpentChallenge) -> None:
    if not await context.store.challenges.spend(challenge):
        raise InvalidGrant("the challenge is unknown, used or expired")


async def _session_tokens(
    context: WalletContext,
    account_id: str,
    device_id: str,
    family_id: str | None = None,
    *,
    spending: SpentChallenge | None = None,
) -> Tokens:
    """A new session; with ``spending``, only if that challenge is spent with it."""
    now = context.clock.now()
    lifetime = context.policy.access_token_lifetime
    access = jwt.encode(
        {
            "iss": context.audience,
            "aud": context.audience,
            "sub": account_id,
            "did": device_id,
            "iat": int(now),
            "exp": int(now) + lifetime,
            "jti": secrets.token_urlsafe(12),
        },
        context.token_secret,
        algorithm=ACCESS_TOKEN_ALGORITHM,
        headers={"typ": "at+jwt"},
    )
    refresh = secrets.token_urlsafe(32)
    if not await context.store.refresh_tokens.issue(
        _hash(refresh),
        family_id=family_id or str(uuid.uuid4()),
        account_id=account_id,
        device_id=device_id,
        expires_at=now + context.policy.refresh_token_lifetime,
        spending=spending,
    ):
        raise InvalidGrant("the challenge is unknown, used or expired")
    return Tokens(access, refresh, lifetime)


async def register(context: WalletContext, body: DeviceRegistration) -> SessionGranted:
    """A new account with its first device; answers with a session."""
    name = "device" if isinstance(body.device_name, UnsetType) else body.device_name
    challenge, jwk = await _verified_proof(context, body.device_proof, key_from="jwk")
    if not isinstance(jwk, dict):
        raise InvalidRequest("device_proof must carry the public device key as jwk")
    await _spend(context, challenge)
    thumbprint = jwk_thumbprint(jwk)
    if await context.store.devices.by_thumbprint(thumbprint) is not None:
        raise InvalidRequest("this device key is already registered")
    account_id, device_id = str(uuid.uuid4()), str(uuid.uuid4())
    box, wrapped = context.vault.new_account(account_id)
    now = context.clock.now()
    device = Device(
        device_id, account_id, thumbprint, jwk, box.seal("device", device_id, name), now, None
    )
    await context.store.accounts.create(Account(account_id, wrapped, now), device)
    await record(context, box, DeviceRegisteredEntry(**stamp(context), device_id=device_id))
    tokens = await _session_tokens(context, account_id, device_id)
    return tokens.granted(account_id, device_id)


async def login(context: WalletContext, body: DeviceLogin) -> SessionGranted:
    challenge, device = await _verified_proof(context, body.device_proof, key_from="kid")
    if not isinstance(device, Device):
        raise InvalidGrant("the device is unknown or revoked")
    # the challenge is spent by the statement that stores the session's refresh token
    tokens = await _session_tokens(context, device.account_id, device.device_id, spending=challenge)
    return tokens.granted(device.account_id, device.device_id)


async def refresh(context: WalletContext, body: SessionRefresh) -> SessionGranted:
    rotated = await context.store.refresh_tokens.rotate(
        _hash(body.refresh_token), context.clock.now()
    )
    if rotated is None:
        raise InvalidGrant("the refresh token is unknown, expired, revoked or already used")
    family_id, account_id, device_id = rotated
    device = await context.store.devices.get(account_id, device_id)
    if device is None or not device.active:
        raise InvalidGrant("the device is revoked")
    tokens = await _session_tokens(context, account_id, device_id, family_id)
    return tokens.granted(account_id, device_id)


def _access_token_holder(context: WalletContext, authorization: str | None) -> Session:
    """The account and device an access token was issued to, from the token alone
    (signature, audience, issuer, lifetime); ``invalid_token`` when it does not verify."""
    if not authorization or not authorization.startswith("Bearer "):
        raise InvalidToken("a bearer access token is required")
    token = authorization.removeprefix("Bearer ").strip()
    if len(token) > 2048:
        raise InvalidToken("the access token is not valid")
    try:
        claims = jwt.decode(
            token,
            context.token_secret,
            algorithms=[ACCESS_TOKEN_ALGORITHM],
            audience=context.audience,
            issuer=context.audience,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken("the access token is not valid", detail=type(exc).__name__) from exc
    account_id, device_id = claims.get("sub"), claims.get("did")
    if not isinstance(account_id, str) or not isinstance(device_id, str):
        raise InvalidToken("the access token is not valid")
    return Session(account_id, device_id)


def account_of_access_token(context: WalletContext, authorization: str | None) -> str | None:
    """The account whose budget a request spends (the rate limits count per account), or
    None when the request carries no valid access token. No database read: a revoked
    device's token still names its account here and is refused by ``authenticate``."""
    try:
        return _access_token_holder(context, authorization).account_id
    except InvalidToken:
        return None


async def authenticate(context: WalletContext, authorization: str | None) -> Session:
    """The session behind ``Authorization: Bearer …``, or ``invalid_token`` (RFC 6750)."""
    session = _access_token_holder(context, authorization)
    account = await context.store.devices.session_account(session.account_id, session.device_id)
    if account is None:
        raise InvalidToken("the device is revoked")
    signed_in(account)
    return session


async def add_device(
    context: WalletContext, session: Session, body: DeviceRegistration
) -> AddedDevice:
    """Another phone of the same citizen, proven like a registration."""
    name = "device" if isinstance(body.device_name, UnsetType) else body.device_name
    challenge, jwk = await _verified_proof(context, body.device_proof, key_from="jwk")
    if not isinstance(jwk, dict):
        raise InvalidRequest("device_proof must carry the public device key as jwk")
    await _spend(context, challenge)
    thumbprint = jwk_thumbprint(jwk)
    if await context.store.devices.by_thumbprint(thumbprint) is not None:
        raise InvalidRequest("this device key is already registered")
    box = await context.box(session.account_id)
    device_id = str(uuid.uuid4())
    now = context.clock.now()
    await context.store.devices.add(
        Device(
            device_id,
            session.account_id,
            thumbprint,
            jwk,
            box.seal("device", device_id, name),
            now,
            None,
        )
    )
    await record(context, box, DeviceRegisteredEntry(**stamp(context), device_id=device_id))
    # the deployment's trail: the account only as its keyed hash, no device id or name
    await context.audit.append(
        AuditEntry("citizen", "", "wallet.device_added", subject_key=box.subject_key)
    )
    await tell(
        context, box, NotificationKind.DEVICE_ADDED, NotificationContent(device_id=device_id)
    )
    return AddedDevice(device_id=device_id)


async def list_devices(context: WalletContext, session: Session) -> DeviceList:
    box = await context.box(session.account_id)
    return DeviceList(
        devices=[
            DeviceView(
                device_id=d.device_id,
                name=box.open("device", d.device_id, d.sealed_name),
                created_at=int(d.created_at),
                revoked_at=None if d.revoked_at is None else int(d.revoked_at),
                current=d.device_id == session.device_id,
            )
            for d in await context.store.devices.list(session.account_id)
        ]
    )


async def revoke_device(context: WalletContext, session: Session, device_id: str) -> None:
    if (
        len(device_id) > 64
        or await context.store.devices.get(session.account_id, device_id) is None
    ):
        raise NotFound("no such device")
    if not await context.store.devices.revoke(session.account_id, device_id, context.clock.now()):
        raise NotFound("no such device")
    context.notices.end_device(session.account_id, device_id)
    await context.store.push_subscriptions.delete_for_device(session.account_id, device_id)
    box = await context.box(session.account_id)
    await record(context, box, DeviceRevokedEntry(**stamp(context), device_id=device_id))


async def delete_account(context: WalletContext, session: Session) -> None:
    """Everything goes, with the account's data key (whatever a backup still holds of the
    sealed rows no longer opens)."""
    if not await context.store.accounts.delete(session.account_id):
        raise NotFound("no such account")
