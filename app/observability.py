"""What operators watch: Prometheus metrics at ``/metrics`` (request latency per endpoint
template, issuances, verifications, protocol failures by error code) and a correlation id
on every request (``X-Request-ID``, taken from a trusted proxy when well formed, made
otherwise), echoed in the response and carried by every log line, which is JSON when
``IDWALLET_LOG_FORMAT=json``. No label or log field carries personal data, tokens or codes:
paths are templates (``/issuers/{issuer_id}/credential``), never concrete URLs.

Metrics are per process; with several workers ``idwallet serve`` points them all at one
``PROMETHEUS_MULTIPROC_DIR`` so that a scrape adds them up. Who may read them and on which
port: ``app.metrics_access``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import time
from typing import Any

from litestar.enums import ScopeType
from litestar.plugins.prometheus import PrometheusConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter

REQUEST_ID = contextvars.ContextVar("request_id", default="-")
access = logging.getLogger("idwallet.access")
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

ISSUANCES = Counter(
    "idwallet_issuances_total", "Credential responses issued (HTTP 200 of a credential endpoint)"
)
VERIFICATIONS = Counter(
    "idwallet_verifications_total",
    "Presentations received by a response URI, by outcome",
    ["outcome"],
)
PROTOCOL_FAILURES = Counter(
    "idwallet_protocol_failures_total", "Requests answered with a protocol error", ["error"]
)
RATE_LIMITED = Counter(
    "idwallet_rate_limited_total", "Requests refused with 429, by rate-limit class", ["policy"]
)
RATE_LIMIT_UNCHECKED = Counter(
    "idwallet_rate_limit_unchecked_total",
    "Requests served without a rate-limit check because the limit store (Redis) failed",
)

ISSUANCE_PATH = "/issuers/{issuer_id}/credential"
RESPONSE_PATH = "/verifiers/{verifier_id}/responses/{request_id}"


def prometheus_config() -> PrometheusConfig:
    return PrometheusConfig(
        app_name="idwallet",
        prefix="idwallet",
        group_path=True,  # endpoint templates, never concrete paths with ids in them
        exclude=["/metrics", "/health", "/ready"],
    )


def count_protocol_failure(error: str) -> None:
    PROTOCOL_FAILURES.labels(error=error).inc()


def correlation(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: the request's correlation id, and the business counters."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _WELL_FORMED.match(incoming) else secrets.token_hex(8)
        token = REQUEST_ID.set(request_id)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        started = time.perf_counter()
        try:
            await app(scope, receive, send_with_id)
        finally:
            template = scope.get("path_template")
            # the access log names the endpoint template: concrete paths carry offer and
            # request ids, which are bearer references
            access.info(
                "%s %s %d %.1fms",
                scope.get("method"),
                template or "(unrouted)",
                status,
                (time.perf_counter() - started) * 1000,
            )
            if scope.get("method") == "POST" and template == ISSUANCE_PATH and status == 200:
                ISSUANCES.inc()
            elif scope.get("method") == "POST" and template == RESPONSE_PATH:
                VERIFICATIONS.labels(outcome="verified" if status == 200 else "failed").inc()
            REQUEST_ID.reset(token)

    return middleware


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, log_format: str) -> None:
    """Our handler on the root logger, unless something (a test harness) set one up."""
    root = logging.getLogger()
    root.setLevel(level)
    if any(
        isinstance(h, logging.StreamHandler) and getattr(h, "idwallet", False)
        for h in root.handlers
    ):
        return
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.idwallet = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root.addHandler(handler)
