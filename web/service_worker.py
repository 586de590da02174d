"""The web wallet's service worker (W3C Service Workers §4.1, §3.3): served at
``/wallet-app/sw.js`` with the type a browser requires of it (``text/javascript``,
checked with ``nosniff``), never cached long (a browser checks it for updates), and with
``Service-Worker-Allowed: /wallet-app`` so that its scope is the wallet's page. It only
shows the pushed notifications (``wallet-sw.js``), so its own policy allows nothing else."""

from __future__ import annotations

from litestar import Controller, Response, get

from web.pages import ASSETS

SERVICE_WORKER = (ASSETS / "wallet-sw.js").read_bytes()
SERVICE_WORKER_HEADERS = {
    "Cache-Control": "no-cache",
    "Service-Worker-Allowed": "/wallet-app",
    "Content-Security-Policy": "default-src 'none'",
    "X-Content-Type-Options": "nosniff",
}


class ServiceWorkerController(Controller):
    tags = ["screens"]  # noqa: RUF012 - litestar reads a list
    include_in_schema = False

    @get("/wallet-app/sw.js", media_type="text/javascript")
    async def wallet_service_worker(self) -> Response[bytes]:
        return Response(
            SERVICE_WORKER, media_type="text/javascript", headers=SERVICE_WORKER_HEADERS
        )
