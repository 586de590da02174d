"""``idwallet register serve``: the demo register service, a process of its own
(``app.demo_register``); ``make run`` starts it beside ``idwallet serve``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.settings import Settings

DEFAULT_PORT = 8100


def add_register_commands(sub: Any) -> None:
    register = sub.add_parser("register", help="the demo register service")
    commands = register.add_subparsers(dest="register_command", required=True)
    serve = commands.add_parser("serve", help="serve the demo registers to the agencies")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--url",
        help="the URL the agencies reach it at, which its certificate names (default "
        "http(s)://HOST:PORT)",
    )
    serve.add_argument("--key", type=Path, help="its signing key (PEM), made elsewhere")
    serve.add_argument("--cert", type=Path, help="its certificate chain (PEM), with --key")
    serve.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    serve.add_argument("--tls-key", type=Path, help="the key of --tls-cert (PEM)")
    serve.add_argument(
        "--tls-client-ca",
        type=Path,
        help="mutual TLS: every client must show a certificate under this CA (PEM)",
    )


def run_register(args: argparse.Namespace, settings: Settings) -> int:
    from app.demo_register import ServeOptions, serve

    if (args.key is None) != (args.cert is None):
        raise SystemExit("idwallet register serve: --key and --cert go together")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise SystemExit("idwallet register serve: --tls-cert and --tls-key go together")
    scheme = "https" if args.tls_cert is not None else "http"
    url = (args.url or f"{scheme}://{args.host}:{args.port}").rstrip("/")
    return serve(
        ServeOptions(
            host=args.host,
            port=args.port,
            url=url,
            key_file=args.key,
            cert_file=args.cert,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            tls_client_ca=args.tls_client_ca,
        ),
        settings,
    )
