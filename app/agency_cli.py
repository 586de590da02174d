"""``idwallet offer``, ``idwallet credential`` and ``idwallet application``: agency scripts
talking to a running server over its operator API, printing one JSON object each."""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from app.operator_keys import operator_keys_path
from app.settings import Settings
from issuers.domain import ApplicationState

DEFAULT_SERVER = "http://127.0.0.1:8000"


def add_agency_commands(sub: Any) -> None:
    offer = sub.add_parser("offer", help="offers of credentials (agency operator API)")
    offer_sub = offer.add_subparsers(dest="offer_command", required=True)
    create = offer_sub.add_parser("create", help="offer a credential to a citizen")
    _common(create)
    create.add_argument(
        "--credential", required=True, help="credential configuration id, e.g. national_id"
    )
    create.add_argument(
        "--claims",
        type=Path,
        help="JSON file with the citizen's claims; left out, the agency reads them from its "
        "register for --subject (once only)",
    )
    create.add_argument(
        "--tx-code", action="store_true", help="protect the offer with a transaction code"
    )
    create.add_argument(
        "--grant",
        choices=("pre-authorized_code", "authorization_code"),
        default="pre-authorized_code",
        help="pre-authorized_code (the QR code is enough) or authorization_code (the citizen"
        " signs in online; the offer's issuer_state ties it to them)",
    )
    create.add_argument(
        "--subject", help="the agency's id of the citizen (default: document_number)"
    )
    create.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="CONFIG",
        help="offer the same credential in another format too (made from the same claims),"
        " e.g. --credential national_id --also national_id_mdoc",
    )

    credential = sub.add_parser(
        "credential", help="revoke, suspend or unsuspend issued credentials"
    )
    credential.add_argument("action", choices=["revoke", "suspend", "unsuspend"])
    _common(credential)
    target = credential.add_mutually_exclusive_group(required=True)
    target.add_argument("--credential-id", help="one credential")
    target.add_argument("--subject", help="every credential of this citizen")
    target.add_argument("--status-uri", help="the status list URI found inside a credential")
    credential.add_argument("--status-idx", type=int, help="the index found inside a credential")
    credential.add_argument("--reason", default="", help="why (kept in the audit trail)")

    application = sub.add_parser(
        "application",
        help="applications for credentials a clerk approves first (deferred issuance)",
    )
    application_sub = application.add_subparsers(dest="application_command", required=True)
    listing = application_sub.add_parser("list", help="the agency's applications, oldest first")
    _common(listing)
    listing.add_argument(
        "--state", choices=[state.value for state in ApplicationState], help="only in this state"
    )
    approve = application_sub.add_parser(
        "approve", help="approve: the wallet's next deferred request collects the credentials"
    )
    _common(approve)
    approve.add_argument("application_id")
    refuse = application_sub.add_parser(
        "refuse", help="refuse: the wallet is told the credential will not be issued"
    )
    _common(refuse)
    refuse.add_argument("application_id")
    refuse.add_argument(
        "--reason",
        default="",
        help="why (kept with the application for the agency; never sent to the wallet)",
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--issuer", required=True, help="the agency's issuer_id, e.g. civil-registry"
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("IDWALLET_SERVER", DEFAULT_SERVER),
        help=f"default {DEFAULT_SERVER}",
    )
    parser.add_argument(
        "--operator-key",
        default=os.environ.get("IDWALLET_OPERATOR_KEY"),
        help="the agency's operator key (default: the development key in var/)",
    )


def _operator_key(args: argparse.Namespace, settings: Settings) -> str:
    if args.operator_key:
        key: str = args.operator_key
        return key
    path = operator_keys_path(settings)
    try:
        keys = json.loads(path.read_text(encoding="utf-8"))
        key = keys[args.issuer]
    except (OSError, ValueError, KeyError):
        raise SystemExit(
            f"no operator key for {args.issuer}: pass --operator-key or run the server once"
        ) from None
    return key


def _post(
    args: argparse.Namespace, settings: Settings, path: str, body: dict[str, Any] | None
) -> int:
    return _call(args, settings, "POST", path, body=body)


def _call(
    args: argparse.Namespace,
    settings: Settings,
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> int:
    url = f"{args.server.rstrip('/')}/issuers/{args.issuer}/{path}"
    headers = {"Authorization": f"Bearer {_operator_key(args, settings)}"}
    try:
        response = httpx.request(method, url, json=body, params=params, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        print(json.dumps({"error": "server_unreachable", "detail": str(exc)}), file=sys.stderr)
        return 1
    if response.status_code >= 400:
        print(response.text, file=sys.stderr)
        return 1
    document = response.json()
    if path == "offers":
        qr = document.pop("qr", {})
        document["qr_svg_url"] = qr.get("svg_url")
        document["qr_png_url"] = qr.get("png_url")
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return 0


def run_offer(args: argparse.Namespace, settings: Settings) -> int:
    if args.claims is None:  # once only: the agency reads its register for this citizen
        if not args.subject:
            print("offer create needs --claims, or --subject to read the register", file=sys.stderr)
            return 2
        asked: dict[str, Any] = {
            "subject_id": args.subject,
            "credential_configuration_id": args.credential,
            "tx_code": bool(args.tx_code),
            "grant": args.grant,
        }
        if args.also:
            asked["other_formats"] = args.also
        return _post(args, settings, "offers", asked)
    try:
        claims = json.loads(args.claims.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"cannot read claims from {args.claims}: {exc}", file=sys.stderr)
        return 2
    subject = (
        args.subject
        or (claims.get("document_number") if isinstance(claims, dict) else None)
        or uuid.uuid4().hex
    )
    body: dict[str, Any] = {
        "subject_id": subject,
        "credential_configuration_id": args.credential,
        "claims": claims,
        "tx_code": bool(args.tx_code),
        "grant": args.grant,
    }
    if args.also:
        body["other_formats"] = args.also
    return _post(args, settings, "offers", body)


def run_credential(args: argparse.Namespace, settings: Settings) -> int:
    body: dict[str, Any] = {"reason": args.reason}
    if args.credential_id:
        body["credential_id"] = args.credential_id
    elif args.subject:
        body["subject_id"] = args.subject
    else:
        if args.status_idx is None:
            print("--status-uri needs --status-idx", file=sys.stderr)
            return 2
        body.update(status_uri=args.status_uri, status_idx=args.status_idx)
    return _post(args, settings, f"credentials/{args.action}", body)


def run_application(args: argparse.Namespace, settings: Settings) -> int:
    if args.application_command == "list":
        params = {"state": args.state} if args.state else None
        return _call(args, settings, "GET", "applications", params=params)
    path = f"applications/{quote(args.application_id, safe='')}/{args.application_command}"
    if args.application_command == "refuse":
        return _post(args, settings, path, {"reason": args.reason})
    return _post(args, settings, path, None)
