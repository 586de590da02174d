"""A mediator's help request and the citizen's consent to it, in the citizen's own wallet
(docs/mediators.md).

The mediator's screen asks for a help request: a short code (8 characters of an alphabet
without look-alikes, about 40 bits: with the per-account rate limit and a lifetime of
minutes, guessing a live one is hopeless) shown with a QR code of the wallet link, and
the token of the mediation it will become. The citizen's wallet looks the code up (who
would help, where, how long, doing what) and consents: one atomic claim of the code
starts the mediation, whichever worker is asked, however many at once; the code is then
spent. Codes and tokens are stored only as their SHA-256.

Or the citizen consents by presenting their national ID (OpenID4VP 1.0) to the
deployment's consent counter, whose request the mediator's screen shows: the wallet
service, having posted an accepted presentation from the citizen's own session to that
request's response URI, starts the mediation for that account
(``consent_by_presentation``).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from core.qr import render_qr
from wallet.domain import CounterpartyFailed, Mediation, Mediator, NotFound
from wallet.services.activity import record, stamp
from wallet.services.activity_messages import MediationStartedEntry
from wallet.services.assistance import ASSISTING
from wallet.services.context import WalletContext
from wallet.services.mediation_messages import (
    MEDIATION_ACTIONS,
    NEVER_IN_MEDIATION,
    HelpRequestCreated,
    HelpRequestStatus,
    HelpRequestView,
    MediationView,
)
from wallet.services.mediators import audit, secret_hash
from wallet.services.sealing import AccountBox
from wallet.services.sessions import Session

#: Upper-case letters and digits without 0/O, 1/I/L: read aloud or typed without doubt.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
MEDIATION_TOKEN_PREFIX = "mdt."  # noqa: S105 - how such a token starts, not a secret


def new_code() -> str:
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{code[:4]}-{code[4:]}"


def normalized_code(code: str) -> str:
    """What the citizen typed, as it was made: upper case, spaces and dashes ignored."""
    plain = "".join(c for c in code.upper() if c not in " -")
    return f"{plain[:4]}-{plain[4:]}" if len(plain) == CODE_LENGTH else plain


def confirmation(mediation_id: str) -> str:
    """Three digits both screens show once the citizen consented."""
    digest = hashlib.sha256(f"idwallet mediation/{mediation_id}".encode()).digest()
    return f"{int.from_bytes(digest[:4], 'big') % 1000:03d}"


def mediation_view(mediation: Mediation) -> MediationView:
    return MediationView(
        mediation_id=mediation.mediation_id,
        mediator=mediation.mediator.name,
        space=mediation.mediator.space.name,
        started_at=int(mediation.started_at),
        expires_at=int(mediation.expires_at),
        actions=list(MEDIATION_ACTIONS),
        confirmation=confirmation(mediation.mediation_id),
    )


def expected_answer(request_uri: str) -> str:
    """Where the wallet posts its answer to the consent counter's request: this
    deployment's verifier serves a request at ``…/requests/{id}`` and takes its answer at
    ``…/responses/{id}`` (``verifiers.services.context.response_uri``)."""
    base, _, request_id = request_uri.rpartition("/requests/")
    if not base or not request_id or "/" in request_id:
        raise CounterpartyFailed("the consent counter's request_uri is not one it serves")
    return f"{base}/responses/{request_id}"


async def start_help_request(
    context: WalletContext, mediator: Mediator, consent_by: str = "wallet"
) -> HelpRequestCreated:
    code = new_code()
    token = MEDIATION_TOKEN_PREFIX + secrets.token_urlsafe(32)
    request_id = str(uuid.uuid4())
    lifetime = context.policy.help_request_lifetime
    answer_hash = transaction_id = None
    uri = f"{context.public_base_url}/wallet-app#help={code}"
    if consent_by == "national_id":
        if context.identity_check is None:
            raise CounterpartyFailed("this deployment has no consent counter")
        transaction_id, uri, request_uri = await context.identity_check.ask()
        answer_hash = secret_hash(expected_answer(request_uri))
    await context.mediations.add_help_request(
        request_id,
        mediator.mediator_id,
        code_hash=secret_hash(code),
        token_hash=secret_hash(token),
        expires_at=context.clock.now() + lifetime,
        answer_hash=answer_hash,
        transaction_id=transaction_id,
    )
    await audit(context, mediator, "requested", subject_key=None, consent=consent_by)
    return HelpRequestCreated(
        request_id=request_id,
        consent="national_id" if consent_by == "national_id" else "wallet",
        code=code,
        consent_uri=uri,
        qr_svg=render_qr(uri, title="Help request").svg,
        expires_in=lifetime,
        mediation_token=token,
    )


async def help_request_status(
    context: WalletContext, mediator: Mediator, request_id: str
) -> HelpRequestStatus:
    if len(request_id) > 36:
        raise NotFound("no such help request")
    found = await context.mediations.help_request(mediator.mediator_id, request_id)
    if found is None:
        raise NotFound("no such help request")
    now = context.clock.now()
    if found.mediation_id is None:
        if now < found.expires_at:
            return HelpRequestStatus(request_id=request_id, status="waiting")
        return HelpRequestStatus(request_id=request_id, status="expired")
    mediation = await context.mediations.mediation(found.mediation_id)
    if mediation is None or not mediation.live(now):
        return HelpRequestStatus(request_id=request_id, status="ended")
    status = HelpRequestStatus(
        request_id=request_id, status="consented", mediation=mediation_view(mediation)
    )
    if found.transaction_id is not None and context.identity_check is not None:
        names = await context.identity_check.proven_names(found.transaction_id)
        if names:
            status.proven_name = " ".join(
                names[n] for n in ("given_name", "family_name") if n in names
            )
    return status


async def look_up(context: WalletContext, code: str) -> HelpRequestView:
    """What the citizen would consent to; the code stays unspent."""
    found = await context.mediations.help_request_by_code(
        secret_hash(normalized_code(code)), context.clock.now()
    )
    if found is None:
        raise NotFound("no help request has this code: it was used, has expired, or is mistyped")
    mediator = found.mediator
    return HelpRequestView(
        mediator=mediator.name,
        mediator_languages=list(mediator.languages),
        space=mediator.space.name,
        minutes=context.policy.mediation_lifetime // 60,
        actions=list(MEDIATION_ACTIONS),
        never=list(NEVER_IN_MEDIATION),
    )


async def consent(context: WalletContext, session: Session, code: str) -> MediationView:
    """The citizen's consent: spends the code and starts the mediation."""
    now = context.clock.now()
    mediation = await context.mediations.consent(
        secret_hash(normalized_code(code)),
        session.account_id,
        str(uuid.uuid4()),
        now=now,
        lifetime=context.policy.mediation_lifetime,
    )
    if mediation is None:
        raise NotFound("no help request has this code: it was used, has expired, or is mistyped")
    box = await context.box(session.account_id)
    await _started(context, box, mediation, "wallet")
    return mediation_view(mediation)


async def consent_by_presentation(
    context: WalletContext, box: AccountBox, response_uri: str
) -> None:
    """After the citizen's own wallet posted a presentation that the verifier accepted:
    where it answered a mediator's help request for the national ID, the presentation is
    the citizen's consent, and the mediation is bound to this account (the one whose
    credential the wallet service presented; nobody else can make it post one). A
    presentation made through a mediation never starts another."""
    check = context.identity_check
    if ASSISTING.get() is not None or check is None or not check.answers_to(response_uri):
        return  # not the consent counter's request: no help request to look for
    mediation = await context.mediations.consent_by_answer(
        secret_hash(response_uri),
        box.account_id,
        str(uuid.uuid4()),
        now=context.clock.now(),
        lifetime=context.policy.mediation_lifetime,
    )
    if mediation is not None:
        await _started(context, box, mediation, "national_id")


async def _started(
    context: WalletContext, box: AccountBox, mediation: Mediation, consent_by: str
) -> None:
    await record(
        context,
        box,
        MediationStartedEntry(
            **stamp(context),
            mediation_id=mediation.mediation_id,
            mediator=mediation.mediator.name,
            space=mediation.mediator.space.name,
            until=int(mediation.expires_at),
        ),
    )
    await audit(
        context, mediation.mediator, "started", subject_key=box.subject_key, consent=consent_by
    )
