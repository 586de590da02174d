"""``idwallet auditor``: registering the oversight bodies (data-protection authorities)
that read the figures of ``/oversight``, in the deployment's database. A new key is
printed once and kept only as its digest: hand it to the authority over a channel you
trust."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
from typing import Any

from sqlalchemy.exc import DBAPIError

from app.settings import Settings
from core.storage.audit_trail import SqlAuditTrail
from core.storage.engine import create_engine, session_factory
from oversight.services.context import OversightContext
from oversight.services.register_auditor import (
    AuditorRefused,
    register_auditor,
    remove_auditor,
    replace_auditor_key,
)
from oversight.storage.sql import SqlAuditCounts, SqlAuditors


def add_auditor_commands(sub: Any) -> None:
    auditor = sub.add_parser("auditor", help="oversight bodies reading /oversight (auditor keys)")
    auditor_sub = auditor.add_subparsers(dest="auditor_command", required=True)
    add = auditor_sub.add_parser("add", help="register an auditor and print its key (once)")
    add.add_argument("auditor_id", help="e.g. dpa (lower-case letters, digits, . _ -)")
    add.add_argument("--name", required=True, help="e.g. 'Data Protection Authority'")
    new_key = auditor_sub.add_parser(
        "new-key", help="a new key for the auditor (the old one stops working)"
    )
    new_key.add_argument("auditor_id")
    remove = auditor_sub.add_parser("remove", help="remove the auditor and its key")
    remove.add_argument("auditor_id")
    auditor_sub.add_parser("list", help="the registered auditors")


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    engine = create_engine(settings.database_url, pool_size=1)
    # the changes are appended to the deployment's trail (chained by its workers, or by
    # ``idwallet audit seal``)
    trail = SqlAuditTrail(session_factory(engine), time.time)
    context = OversightContext(
        auditors=SqlAuditors(engine), counts=SqlAuditCounts(engine), trail=trail
    )
    try:
        command = args.auditor_command
        if command == "list":
            auditors = await context.auditors.listed()
            print(
                json.dumps(
                    [
                        {
                            "auditor_id": a.auditor_id,
                            "name": a.name,
                            "registered_at": dt.datetime.fromtimestamp(
                                a.registered_at, dt.UTC
                            ).isoformat(),
                        }
                        for a in auditors
                    ],
                    indent=2,
                    ensure_ascii=False,
                )
            )
            return 0
        if command == "remove":
            await remove_auditor(context, args.auditor_id)
            print(json.dumps({"auditor_id": args.auditor_id, "removed": True}))
            return 0
        if command == "add":
            key = await register_auditor(context, args.auditor_id, args.name)
        else:
            key = await replace_auditor_key(context, args.auditor_id)
        print(
            json.dumps(
                {
                    "auditor_id": args.auditor_id,
                    "auditor_key": key,
                    "note": "shown once: hand it to the auditor; the screen is /oversight",
                },
                indent=2,
            )
        )
        return 0
    except AuditorRefused as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except DBAPIError as exc:
        print(
            f"the database could not be used ({type(exc.orig).__name__}):"
            " is it reachable, and migrated (idwallet migrate)?",
            file=sys.stderr,
        )
        return 1
    finally:
        await engine.dispose()


def run_auditor(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))
