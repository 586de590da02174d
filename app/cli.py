"""The ``idwallet`` command: ``serve``, ``migrate``, ``keys`` and ``openapi``; the agency,
counter and wallet scripts (``offer``, ``credential``, ``application``, ``presentation``,
``wallet``) and the audit trail's (``audit``)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from app.agency_cli import add_agency_commands, run_application, run_credential, run_offer
from app.audit_cli import add_audit_commands, run_audit
from app.auditor_cli import add_auditor_commands, run_auditor
from app.counter_cli import add_counter_commands, run_presentation
from app.mediator_cli import add_mediator_commands, run_mediator
from app.register_cli import add_register_commands, run_register
from app.settings import Settings, SettingsError
from app.wallet_cli import add_wallet_commands, run_wallet


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app import migrate
    from app.metrics_access import serve_metrics, worker_metrics

    host, port = args.host or settings.host, args.port or settings.port
    workers = args.workers or settings.workers
    # The app (in this process or in each worker) reads its settings from the
    # environment: command-line choices go there, so the default public URL follows them.
    os.environ["IDWALLET_HOST"], os.environ["IDWALLET_PORT"] = host, str(port)
    settings = Settings.from_env()
    migrate.upgrade(settings.database_url)
    _print_welcome(settings, host, port)
    if workers > 1 and settings.redis_url is None and settings.rate_limits.enabled:
        print(
            f"  WARNING: rate limits are counted per worker ({workers} workers, no "
            "IDWALLET_REDIS_URL): each client gets that many times its budget",
            flush=True,
        )
    with worker_metrics(workers):
        if settings.metrics_port is not None:
            serve_metrics(host, settings.metrics_port, settings.metrics_token)
        uvicorn.run(
            "app.factory:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level.lower(),
            access_log=False,  # our own access log names endpoint templates, never ids in paths
            log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
            # The client's address is the socket's, unless the socket's peer is one of
            # IDWALLET_TRUSTED_PROXIES: then X-Forwarded-For (its rightmost address that is
            # not a trusted proxy) and X-Forwarded-Proto are believed.
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=list(settings.trusted_proxies),
            timeout_graceful_shutdown=30,
            # A worker that does not answer the supervisor's ping in time is killed and
            # replaced; one still importing on a busy machine may take longer than 5 s.
            timeout_worker_healthcheck=30,
        )
    return 0


def _print_welcome(settings: Settings, host: str, port: int) -> None:
    from app.key_store_settings import KEY_CLASSES
    from issuers.services.catalog import load_catalog

    local = f"http://{host}:{port}"
    lines = [
        f"idwallet on {local} (public base URL {settings.public_base_url})",
        f"  API documentation   {local}/schema",
        f"  health / readiness  {local}/health  {local}/ready",
    ]
    if settings.metrics_port is not None:
        lines.append(f"  metrics             http://{host}:{settings.metrics_port}/metrics")
    elif settings.metrics_on_public_port:
        token = " (bearer IDWALLET_METRICS_TOKEN)" if settings.metrics_token else ""
        lines.append(f"  metrics             {local}/metrics{token}")
    else:
        lines.append(
            "  metrics             not served: set IDWALLET_METRICS_PORT or IDWALLET_METRICS_TOKEN"
        )
    stores = settings.key_store
    in_token = [c.replace("_", " ") for c in KEY_CLASSES if stores.provider(c) == "pkcs11"]
    if in_token:
        rest = "" if len(in_token) == len(KEY_CLASSES) else " (the rest in software)"
        lines.append(
            f"  keys in PKCS#11     token {stores.pkcs11_token!r}: {', '.join(in_token)}{rest}"
        )
    else:
        lines.append("  keys                software, wrapped under the key-encryption key")
    for issuer_id, agency in load_catalog().items():
        configurations = ", ".join(agency.configurations)
        identifier = agency.identifier(settings.public_base_url)
        lines.append(f"  agency {issuer_id:<18} {identifier}  ({configurations})")
        lines.append(f"  agency desk         {local}/desk/{issuer_id}")
    from verifiers.services.catalog import load_relying_parties, load_templates

    for verifier_id in load_relying_parties(load_templates(settings.public_base_url)):
        lines.append(f"  counter screen      {local}/counter/{verifier_id}")
    lines.append(f"  citizen web wallet  {local}/wallet-app")
    lines.append(
        f"  mediator screen     {local}/mediator  (idwallet mediator add: docs/mediators.md)"
    )
    lines.append("  demo citizen        demo-citizen (in each demo agency's register)")
    from app.register_wiring import describe_connector

    lines.append(f"  registers read from {describe_connector(settings)}")
    if not settings.is_production:
        keys = settings.operator_keys_file or settings.var_dir / "operator-keys.json"
        lines.append(f"  operator keys       {keys}")
        from app.demo_mediator import DEMO_MEDIATOR_ID, DEMO_SPACE, demo_mediator_key_path

        lines.append(
            f"  demo mediator       {DEMO_MEDIATOR_ID} at {DEMO_SPACE.space_id}, key in"
            f" {demo_mediator_key_path(settings)}"
        )
    print("\n".join(lines), flush=True)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from app import migrate
    from app.deployment import Deployment

    migrate.upgrade(settings.database_url, args.revision)
    asyncio.run(Deployment.open(settings).close())  # first start: KEK and trust anchor
    print(f"database at revision {args.revision}")
    return 0


async def _keys(args: argparse.Namespace, settings: Settings) -> int:
    from app.deployment import Deployment
    from core.keys.decrypter import KEY_AGREEMENT_ALG, Decrypter
    from core.keys.signer import Signer

    deployment = Deployment.open(settings)
    try:
        if args.action == "trust-anchor":
            print(deployment.trust_anchor.pem(), end="")
            return 0
        if args.action == "rotate":
            active = await deployment.keys.active_record(args.owner)
            rotated: Signer | Decrypter
            if active is not None and active.alg == KEY_AGREEMENT_ALG:
                rotated = await deployment.keys.rotate_decrypter(args.owner)
            else:
                rotated = await deployment.keys.rotate(args.owner, replacing=args.replacing)
                if (
                    args.replacing is not None
                    and active is not None
                    and (active.kid != args.replacing)
                ):
                    print(
                        f"{args.owner}: {args.replacing} is no longer the active key;"
                        f" the active key is {rotated.kid} ({rotated.alg})"
                    )
                    return 0
            print(f"{args.owner}: new active key {rotated.kid} ({rotated.alg})")
            return 0
        if args.action == "certify":
            from app.access_certificates import ensure_access_certificate
            from core.keys.x509 import AccessCertificateRequest

            request = AccessCertificateRequest(
                common_name=args.name or args.owner,
                dns_names=tuple(args.dns),
                uris=tuple(args.uri),
            )
            signer = await ensure_access_certificate(deployment, args.owner, request)
            print(f"{args.owner}: key {signer.kid} certified under the trust anchor")
            return 0
        if args.action == "destroy-retired":
            overlap = settings.key_store.retired_key_overlap
            destroyed = await deployment.keys.destroy_retired(overlap)
            print(json.dumps({"destroyed": destroyed, "overlap_seconds": overlap}, indent=2))
            return 0
        if args.action == "events":
            events = await deployment.key_records.events(args.limit)
            print(
                json.dumps(
                    [
                        {
                            "at": _iso(e.at),
                            "owner": e.owner,
                            "kid": e.kid,
                            "action": e.action,
                            "detail": e.detail,
                        }
                        for e in events
                    ],
                    indent=2,
                )
            )
            return 0
        owners = [args.owner] if args.owner else await deployment.key_records.owners()
        rows = []
        for owner in owners:
            for record in await deployment.key_records.for_owner(owner):
                rows.append(
                    {
                        "owner": record.owner,
                        "kid": record.kid,
                        "alg": record.alg,
                        "created_at": _iso(record.created_at),
                        "retired_at": _iso(record.retired_at),
                        "location": record.location,
                        "destroyed_at": _iso(record.destroyed_at),
                        "certified": bool(record.certificate_chain),
                        "public_jwk": record.public_jwk,
                    }
                )
        print(json.dumps(rows, indent=2))
        return 0
    finally:
        await deployment.close()


def _iso(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


def _openapi(args: argparse.Namespace, settings: Settings) -> int:
    from app.openapi_document import render_openapi

    document = render_openapi(settings)
    if args.output == "-":
        sys.stdout.write(document)
    else:
        Path(args.output).write_text(document, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="idwallet", description="idwallet backend")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate, then serve the HTTP API")
    serve.add_argument("--host", help="bind address (IDWALLET_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (IDWALLET_PORT, default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (IDWALLET_WORKERS, default 1)")

    mig = sub.add_parser("migrate", help="upgrade the database schema")
    mig.add_argument("--revision", default="head", help="target revision (default head)")

    keys = sub.add_parser("keys", help="show or rotate keys, print the trust anchor")
    keys.add_argument(
        "action",
        choices=["show", "rotate", "certify", "trust-anchor", "events", "destroy-retired"],
        help="show keys; rotate an owner's key; certify it; print the trust anchor; the key "
        "events of the audit trail (newest first); destroy retired keys past the overlap",
    )
    keys.add_argument("--limit", type=int, default=100, help="events: how many (default 100)")
    keys.add_argument(
        "--replacing",
        metavar="KID",
        help="rotate: only if KID is still the owner's active signing key (a rotation asked "
        "for by several nodes' scripts then happens once)",
    )
    keys.add_argument(
        "--owner",
        help="key owner, e.g. issuer:civil-registry, or issuer:civil-registry:request-encryption "
        "for its key for encrypted credential requests (required for rotate and certify)",
    )
    keys.add_argument("--name", help="certify: the certificate's common name (default: the owner)")
    keys.add_argument("--dns", action="append", default=[], help="certify: a SAN DNS name")
    keys.add_argument("--uri", action="append", default=[], help="certify: a SAN URI")

    add_agency_commands(sub)
    add_counter_commands(sub)
    add_wallet_commands(sub)
    add_audit_commands(sub)
    add_register_commands(sub)
    add_mediator_commands(sub)
    add_auditor_commands(sub)

    api = sub.add_parser("openapi", help="write the OpenAPI document")
    api.add_argument("--output", default="-", help="file to write, or - for standard output")
    return parser


# Options whose values are key ids: a JWK thumbprint is base64url and may begin with "-",
# which argparse would otherwise take for an option of its own.
_KEY_ID_OPTIONS = frozenset({"--replacing"})


def _key_ids_joined(argv: Sequence[str]) -> list[str]:
    """``--replacing -Xy…`` as ``--replacing=-Xy…``, so a script may pass any key id."""
    joined: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token in _KEY_ID_OPTIONS:
            value = next(tokens, None)
            joined.append(token if value is None else f"{token}={value}")
        else:
            joined.append(token)
    return joined


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(_key_ids_joined(sys.argv[1:] if argv is None else argv))
    if args.command == "wallet":  # a client of some server: no settings of its own
        return run_wallet(args)
    try:
        settings = Settings.from_env()
        if args.command == "serve":
            return _serve(args, settings)
        if args.command == "migrate":
            return _migrate(args, settings)
        if args.command == "keys":
            if args.action in ("rotate", "certify") and not args.owner:
                print(f"idwallet keys {args.action} needs --owner", file=sys.stderr)
                return 2
            if args.action == "certify" and not (args.dns or args.uri):
                print("idwallet keys certify needs at least one --dns or --uri", file=sys.stderr)
                return 2
            return asyncio.run(_keys(args, settings))
        if args.command == "offer":
            return run_offer(args, settings)
        if args.command == "credential":
            return run_credential(args, settings)
        if args.command == "application":
            return run_application(args, settings)
        if args.command == "presentation":
            return run_presentation(args, settings)
        if args.command == "audit":
            return run_audit(args, settings)
        if args.command == "register":
            return run_register(args, settings)
        if args.command == "mediator":
            return run_mediator(args, settings)
        if args.command == "auditor":
            return run_auditor(args, settings)
        return _openapi(args, settings)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
