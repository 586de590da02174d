"""Serving the screens: each page is an HTML file whose asset references are replaced by
URLs under the release's digest (``/assets/{release}/{name}``, the digest of every asset
together, so that scripts can import each other relatively), so assets are cached for a
year and a new release is picked up at once; pages themselves are never cached. A strict Content
Security Policy allows only this origin's scripts, styles and connections.

The messages of every language (``assets/messages/{language}.json``) travel in the page,
as a JSON data block in place of ``{{messages}}``: a data block runs nothing (the policy
stays as it is) and is read at once, so the screens speak their language from the first
paint and their handlers are in place before anyone can submit a form."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from litestar import Controller, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

ASSETS = Path(__file__).resolve().parent / "assets"
MEDIA_TYPES = {  # the framework adds "charset=utf-8" to the text types
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_NAME = re.compile(r"^[a-z][a-z0-9-]*\.(css|js|svg)$")


def _release() -> tuple[str, frozenset[str]]:
    digest = hashlib.sha256()
    names = []
    for path in sorted(ASSETS.iterdir()):
        if _NAME.match(path.name):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
            names.append(path.name)
    return digest.hexdigest()[:12], frozenset(names)


RELEASE, ASSET_NAMES = _release()


def asset_url(name: str) -> str:
    if name not in ASSET_NAMES:
        raise KeyError(name)
    return f"/assets/{RELEASE}/{name}"


def messages() -> dict[str, dict[str, str]]:
    """The messages of each language, by language."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted((ASSETS / "messages").glob("*.json")):
        found[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return found


def messages_block() -> str:
    """Every language's messages as a JSON data block; ``<``, ``>`` and ``&`` escaped, so
    no message can end the element or start markup."""
    text = json.dumps(messages(), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    for character in "<>&":
        text = text.replace(character, f"\\u{ord(character):04x}")
    return f'<script type="application/json" id="messages">{text}</script>'


def render_page(name: str) -> str:
    """The page with ``{{asset:NAME}}`` replaced by the asset's versioned URL and
    ``{{messages}}`` by the messages' data block."""
    text = (ASSETS / name).read_text(encoding="utf-8")
    text = re.sub(r"\{\{asset:([a-z0-9.-]+)\}\}", lambda m: asset_url(m.group(1)), text)
    return text.replace("{{messages}}", messages_block())


COUNTER_PAGE = render_page("counter.html")
WALLET_PAGE = render_page("wallet.html")
DESK_PAGE = render_page("desk.html")
SAME_DEVICE_PAGE = render_page("same-device.html")
ISSUANCE_PRESENTATION_PAGE = render_page("issuance-presentation.html")
ISSUANCE_SIGN_IN_PAGE = render_page("issuance-sign-in.html")
MEDIATOR_PAGE = render_page("mediator.html")
OVERSIGHT_PAGE = render_page("oversight.html")

#: What an agency's authorization endpoint could not tie to a wallet's request, by the
#: endpoint a browser reached: the authorization endpoint (an unknown, used or expired
#: request_uri), the eID login's callback, the page of a presentation during issuance and
#: the choice of a way (an unknown or forged state).
PROBLEM_KINDS = ("request", "eid-login", "identity-check", "sign-in")


def _problem_pages() -> dict[str, str]:
    """The problem page for each kind: its paragraph shown, the others' left hidden (the
    page says what happened before any script runs)."""
    page = render_page("issuance-problem.html")
    pages = {}
    for kind in PROBLEM_KINDS:
        hidden = f'<p hidden data-problem="{kind}"'
        if page.count(hidden) != 1:
            raise KeyError(f"issuance-problem.html has no paragraph for {kind}")
        pages[kind] = page.replace(hidden, f'<p data-problem="{kind}"')
    return pages


_PROBLEM_PAGES = _problem_pages()


def problem_page(kind: str) -> str:
    """The page in plain words for a browser whose request an agency could not tie to a
    wallet's (there is no wallet to send it back to): what happened and what to do."""
    return _PROBLEM_PAGES[kind]


class ScreenController(Controller):
    tags = ["screens"]  # noqa: RUF012 - litestar reads a list
    include_in_schema = False

    @get("/counter/{verifier_id:str}", media_type="text/html")
    async def counter(self, verifier_id: FromPath[str]) -> Response[str]:
        """A counter clerk's screen; the page reads the verifier id from its own path."""
        return Response(COUNTER_PAGE, media_type="text/html", headers=PAGE_HEADERS)

    @get("/desk/{issuer_id:str}", media_type="text/html")
    async def desk(self, issuer_id: FromPath[str]) -> Response[str]:
        """An agency clerk's desk; the page reads the issuer id from its own path."""
        return Response(DESK_PAGE, media_type="text/html", headers=PAGE_HEADERS)

    @get(
        "/verifiers/{verifier_id:str}/presentations/{transaction_id:str}/same-device",
        media_type="text/html",
    )
    async def same_device(
        self, verifier_id: FromPath[str], transaction_id: FromPath[str]
    ) -> Response[str]:
        """Where a wallet sends the citizen back after a same-device presentation."""
        return Response(SAME_DEVICE_PAGE, media_type="text/html", headers=PAGE_HEADERS)

    @get("/issuers/{issuer_id:str}/presentation-login/{login:str}", media_type="text/html")
    async def issuance_presentation(
        self, issuer_id: FromPath[str], login: FromPath[str]
    ) -> Response[str]:
        """An agency's authorization page: the citizen shows who they are with a
        credential their wallet holds; the page reads its endpoints from its own path."""
        return Response(ISSUANCE_PRESENTATION_PAGE, media_type="text/html", headers=PAGE_HEADERS)

    @get("/issuers/{issuer_id:str}/sign-in/{choice:str}", media_type="text/html")
    async def issuance_sign_in(
        self, issuer_id: FromPath[str], choice: FromPath[str]
    ) -> Response[str]:
        """An agency's authorization page where the citizen chooses how to prove who they
        are; the page reads its endpoints from its own path."""
        return Response(ISSUANCE_SIGN_IN_PAGE, media_type="text/html", headers=PAGE_HEADERS)

    @get("/wallet-app", media_type="text/html")
    async def wallet(self) -> Response[str]:
        """The citizen web wallet, standing in for the phone app."""
        return Response(WALLET_PAGE, media_type="text/html", headers=PAGE_HEADERS)

    @get("/wallet/callback", media_type="text/html")
    async def wallet_callback(self) -> Response[str]:
        """The wallet's redirect URI in the authorization code flow: the web wallet hands
        the issuer's redirect (code, state, iss) to the mobile API and shows what came
        of it; a phone app claims this URL as a universal link and does the same."""
        return Response(WALLET_PAGE, media_type="text/html", headers=PAGE_HEADERS)

    @get("/mediator", media_type="text/html")
    async def mediator(self) -> Response[str]:
        """A mediator's screen at a citizen space, used with the citizen beside them."""
        return Response(MEDIATOR_PAGE, media_type="text/html", headers=PAGE_HEADERS)

    @get("/oversight", media_type="text/html")
    async def oversight(self) -> Response[str]:
        """The oversight body's screen: aggregates of the audit trail for a period."""
        return Response(OVERSIGHT_PAGE, media_type="text/html", headers=PAGE_HEADERS)

    @get("/assets/{digest:str}/{name:str}")
    async def asset(self, digest: FromPath[str], name: FromPath[str]) -> Response[bytes]:
        if digest != RELEASE or name not in ASSET_NAMES:
            raise NotFoundException("no such asset")
        return Response(
            (ASSETS / name).read_bytes(),
            media_type=MEDIA_TYPES[Path(name).suffix],
            headers={
                "Cache-Control": "public, max-age=31536000, immutable",
                "X-Content-Type-Options": "nosniff",
            },
        )
