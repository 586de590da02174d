"""``idwallet mediator``: registering citizen spaces and their mediators
(docs/mediators.md), in the deployment's database, like counters: an id, a name, the
languages spoken; a mediator's key is printed once and only its hash is kept."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from app.settings import Settings
from core.errors import InvalidRequest


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


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from app.deployment import Deployment
    from wallet.services.mediators import register_mediator, register_space
    from wallet.storage.mediations import SqlMediations

    deployment = Deployment.open(settings)
    mediations = SqlMediations(deployment.sessions)
    try:
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


def run_mediator(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))
