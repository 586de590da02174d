"""``idwallet mediator``: registering citizen spaces and their mediators
(docs/mediators.md), in the deployment's database, like counters: an id, a name, the
languages spoken; a mediator's key is printed once and only its hash is kept. ``new-key``
replaces a mediator's key, ``remove`` removes the mediator (its key, its live mediations,
its open help requests); both are audited in the deployment's audit trail."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

from app.settings import Settings
from core.errors import InvalidRequest

if TYPE_CHECKING:
    from app.deployment import Deployment
    from wallet.services.context import WalletContext


def add_mediator_commands(sub: Any) -> None:
    mediator = sub.add_parser("mediator", help="citizen spaces and their mediators")
    commands = mediator.add_subparsers(dest="mediator_command", required=True)
    space = commands.add_parser("add-space", help="register a citizen space")
    space.add_argument("--space", required=True, help="its id, e.g. espaco-cidadao-lisboa")
    space.add_argument("--name", required=True, help="its name as citizens know it")
    space.add_argument("--languages", required=True, help="comma-separated, e.g. pt,en")
    add = commands.add_parser("add", help="register a mediator of a space; prints the key")
    add.add_argument("--mediator", required=True, help="its id, e.g. ana-sousa")
    add.add_argument("--space", required=True, help="the space the mediator works at")
    add.add_argument("--name", required=True, help="the name citizens are shown")
    add.add_argument("--languages", required=True, help="comma-separated, e.g. pt,en")
    commands.add_parser("list", help="the spaces and their mediators")
    new_key = commands.add_parser(
        "new-key", help="a new key for the mediator (the old one stops working); prints it"
    )
    new_key.add_argument("--mediator", required=True)
    remove = commands.add_parser(
        "remove", help="remove the mediator: its key, its live mediations end"
    )
    remove.add_argument("--mediator", required=True)


def _wallet_context(settings: Settings, deployment: Deployment) -> WalletContext:
    """What ending a citizen's mediation needs: the mediations, the citizens' accounts
    (their activity logs, sealed under each account's key) and the audit trail; nothing
    of this context reaches outside (no outbound request is made)."""
    from core.http.client import OutboundClient
    from core.http.published_documents import PublishedDocuments
    from core.sdjwt_vc.issuer_keys import X5cIssuerKeys
    from wallet.services.context import WalletContext
    from wallet.services.sealing import AccountVault
    from wallet.storage.mediations import SqlMediations
    from wallet.storage.sql import SqlWalletStore

    outbound = OutboundClient()
    return WalletContext(
        store=SqlWalletStore(deployment.sessions),
        outbound=outbound,
        documents=PublishedDocuments(outbound),
        vault=AccountVault(deployment.derived_secret("wallet data keys")),
        anchors=[],
        issuer_trust=X5cIssuerKeys([]),
        verifier_trust=X5cIssuerKeys([]),
        public_base_url=settings.public_base_url,
        token_secret=b"",
        watch_secret=deployment.derived_secret("wallet status watches"),
        audit=deployment.audit_trail,
        mediations=SqlMediations(deployment.sessions),
    )


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from app.deployment import Deployment
    from wallet.services.mediators import register_mediator, register_space
    from wallet.storage.mediations import SqlMediations

    deployment = Deployment.open(settings)
    mediations = SqlMediations(deployment.sessions)
    try:
        if args.mediator_command in ("new-key", "remove"):
            return await _key_command(args, settings, deployment)
        if args.mediator_command == "list":
            listed = [
                {
                    "space": space.space_id,
                    "name": space.name,
                    "languages": list(space.languages),
                    "mediators": [
                        {"mediator": m.mediator_id, "name": m.name, "languages": list(m.languages)}
                        for m in members
                    ],
                }
                for space, members in await mediations.spaces()
            ]
            print(json.dumps(listed, indent=2, ensure_ascii=False))
            return 0
        languages = args.languages.split(",")
        if args.mediator_command == "add-space":
            space = await register_space(mediations, args.space, args.name, languages)
            print(json.dumps({"space": space.space_id, "name": space.name}, ensure_ascii=False))
            return 0
        key = await register_mediator(mediations, args.mediator, args.space, args.name, languages)
        print(
            json.dumps(
                {"mediator": args.mediator, "space": args.space, "mediator_key": key},
                ensure_ascii=False,
            )
        )
        return 0
    except InvalidRequest as exc:
        print(f"refused: {exc.description}", file=sys.stderr)
        return 2
    finally:
        await deployment.close()


async def _key_command(args: argparse.Namespace, settings: Settings, deployment: Deployment) -> int:
    from core.http.client import OutboundClient
    from wallet.services.mediator_keys import remove_mediator, replace_mediator_key

    context = _wallet_context(settings, deployment)
    try:
        if args.mediator_command == "remove":
            ended = await remove_mediator(context, args.mediator)
            print(json.dumps({"mediator": args.mediator, "removed": True, "ended": ended}))
            return 0
        key = await replace_mediator_key(context, args.mediator)
        print(json.dumps({"mediator": args.mediator, "mediator_key": key}))
        return 0
    finally:
        outbound = context.outbound
        if isinstance(outbound, OutboundClient):
            await outbound.close()


def run_mediator(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))
