"""``idwallet presentation``: counter scripts talking to a running server over its counter
API, printing one JSON object each."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import httpx

from app.operator_keys import operator_keys_path
from app.settings import Settings

DEFAULT_SERVER = "http://127.0.0.1:8000"


def add_counter_commands(sub: Any) -> None:
    presentation = sub.add_parser("presentation", help="presentation requests (counter API)")
    presentation_sub = presentation.add_subparsers(dest="presentation_command", required=True)
    request = presentation_sub.add_parser("request", help="ask a citizen's wallet for data")
    request.add_argument("--verifier", required=True, help="the verifier_id, e.g. bar-age-check")
    _common(request)
    what = request.add_mutually_exclusive_group(required=True)
    what.add_argument("--template", help="a named check: age_over_18, identity, address…")
    what.add_argument("--dcql", type=argparse.FileType("r"), help="a JSON file with raw DCQL")
    request.add_argument(
        "--response-mode", choices=["direct_post", "direct_post.jwt"], default="direct_post"
    )
    request.add_argument(
        "--same-device", action="store_true", help="the wallet is on the device that asks"
    )
    request.add_argument(
        "--request-uri-method", choices=["get", "post"], default="get", help="default get"
    )
    result = presentation_sub.add_parser("result", help="status and result of a request")
    result.add_argument("transaction_id")
    result.add_argument("--verifier", help="the verifier_id (default: found among known keys)")
    _common(result)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        default=os.environ.get("IDWALLET_SERVER", DEFAULT_SERVER),
        help=f"default {DEFAULT_SERVER}",
    )
    parser.add_argument(
        "--counter-key",
        default=os.environ.get("IDWALLET_COUNTER_KEY"),
        help="the verifier's counter key (default: the development key in var/)",
    )


def _known_keys(settings: Settings) -> dict[str, str]:
    try:
        keys = json.loads(operator_keys_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in keys.items() if isinstance(v, str)} if isinstance(keys, dict) else {}


def _counters(settings: Settings) -> list[str]:
    """The catalog's counters (the key file holds the agencies' operator keys too)."""
    from verifiers.services.catalog import load_relying_parties, load_templates

    return list(load_relying_parties(load_templates(settings.public_base_url)))


def _key_for(args: argparse.Namespace, settings: Settings, verifier_id: str) -> str | None:
    if args.counter_key:
        key: str = args.counter_key
        return key
    return _known_keys(settings).get(verifier_id)


def _print(response: httpx.Response) -> int:
    if response.status_code >= 400:
        print(response.text, file=sys.stderr)
        return 1
    print(json.dumps(response.json(), indent=2, ensure_ascii=False))
    return 0


def _unreachable(exc: httpx.HTTPError) -> int:
    print(json.dumps({"error": "server_unreachable", "detail": str(exc)}), file=sys.stderr)
    return 1


def run_presentation(args: argparse.Namespace, settings: Settings) -> int:
    base = args.server.rstrip("/")
    if args.presentation_command == "request":
        key = _key_for(args, settings, args.verifier)
        if key is None:
            print(f"no counter key for {args.verifier}: pass --counter-key", file=sys.stderr)
            return 2
        body: dict[str, Any] = {
            "response_mode": args.response_mode,
            "same_device": bool(args.same_device),
            "request_uri_method": args.request_uri_method,
        }
        if args.template:
            body["template"] = args.template
        else:
            try:
                body["dcql_query"] = json.load(args.dcql)
            except ValueError as exc:
                print(f"the DCQL file is not JSON: {exc}", file=sys.stderr)
                return 2
        try:
            response = httpx.post(
                f"{base}/verifiers/{args.verifier}/presentations",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
        except httpx.HTTPError as exc:
            return _unreachable(exc)
        if response.status_code < 400:
            document = response.json()
            qr = document.pop("qr", {})
            document["qr_svg_url"] = qr.get("svg_url")
            document["qr_png_url"] = qr.get("png_url")
            print(json.dumps(document, indent=2, ensure_ascii=False))
            return 0
        return _print(response)
    candidates = [args.verifier] if args.verifier else _counters(settings)
    last: httpx.Response | None = None
    for verifier_id in candidates:
        key = _key_for(args, settings, verifier_id)
        if key is None:
            continue
        try:
            last = httpx.get(
                f"{base}/verifiers/{verifier_id}/presentations/{args.transaction_id}",
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
        except httpx.HTTPError as exc:
            return _unreachable(exc)
        if last.status_code != 404 or args.verifier:
            return _print(last)
    if last is None:
        print("no counter key: pass --verifier and --counter-key", file=sys.stderr)
        return 2
    return _print(last)
