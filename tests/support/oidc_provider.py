"""A real OpenID Provider for the tests of our OpenID Connect client: panva's certified
``oidc-provider`` (the version pinned in ``tests/support/oidc_provider/package.json``), run by
node from ``tests/support/oidc_provider/provider.mjs`` on a free loopback port, standing in
for the national eID provider.

It serves the authorization code flow with PKCE (S256 only), discovery and a JWKS, logs in
the configured test users through a one-field form (each with a fixed ``acr``, whatever the
client asked for) and grants consent without a page. Two test controls do what a certified
provider never does by itself: ``rotate_keys()`` rolls its signing keys over (the JWKS lists
the new keys first and keeps the previous ones), and ``misbehave(mode)`` doctors the ID
token of its token responses (wrong ``iss``, ``aud`` or ``nonce``, expired, ``alg: none``,
a key outside its JWKS, a broken signature) until set back to ``None``.

``log_in()`` drives a login the way a browser would, so tests need no Chromium for it."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any, Literal

import httpx

from tests.support.node_packages import node_with_packages, pinned_versions

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
PACKAGES: dict[str, str] = pinned_versions(PROVIDER_DIR)

EIDAS_LOW = "http://eidas.europa.eu/LoA/low"
EIDAS_SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
EIDAS_HIGH = "http://eidas.europa.eu/LoA/high"
EIDAS_LEVELS = (EIDAS_LOW, EIDAS_SUBSTANTIAL, EIDAS_HIGH)

Misbehaviour = Literal[
    "wrong_iss",
    "wrong_aud",
    "wrong_nonce",
    "expired",
    "alg_none",
    "unknown_kid",
    "bad_signature",
]
MISBEHAVIOURS: tuple[Misbehaviour, ...] = (
    "wrong_iss",
    "wrong_aud",
    "wrong_nonce",
    "expired",
    "alg_none",
    "unknown_kid",
    "bad_signature",
)

TokenEndpointAuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
IdTokenAlg = Literal["ES256", "RS256"]

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 5.0
_LOGIN_HOPS = 12


@dataclass(frozen=True)
class ProviderClient:
    """A registered relying party. ``jwks`` is its JWK Set (``{"keys": [...]}``) of public
    keys, for ``private_key_jwt``."""

    client_id: str
    redirect_uris: tuple[str, ...]
    client_secret: str | None = None
    token_endpoint_auth_method: TokenEndpointAuthMethod = "client_secret_basic"
    jwks: Mapping[str, Any] | None = None
    id_token_signed_response_alg: IdTokenAlg = "ES256"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "client_id": self.client_id,
            "redirect_uris": list(self.redirect_uris),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
        }
        if self.client_secret is not None:
            data["client_secret"] = self.client_secret
        if self.jwks is not None:
            data["jwks"] = dict(self.jwks)
        return data


@dataclass(frozen=True)
class ProviderUser:
    """A citizen the provider can log in: by ``sub`` or by the ``personal_number`` claim.
    Its ID tokens carry ``acr`` and ``claims`` (those released by the claims scope)."""

    sub: str
    acr: str
    claims: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"sub": self.sub, "acr": self.acr, "claims": dict(self.claims)}


@dataclass(frozen=True)
class ProviderConfig:
    """``claims_scope`` is the scope (besides ``openid``) that releases ``id_token_claims``
    into the ID token; ``None`` for these: every claim name any user has."""

    clients: tuple[ProviderClient, ...]
    users: tuple[ProviderUser, ...]
    acr_values: tuple[str, ...] = EIDAS_LEVELS
    claims_scope: str = "eid"
    id_token_claims: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "clients": [client.to_json() for client in self.clients],
            "users": [user.to_json() for user in self.users],
            "acr_values": list(self.acr_values),
            "claims_scope": self.claims_scope,
        }
        if self.id_token_claims is not None:
            data["id_token_claims"] = list(self.id_token_claims)
        return data


@dataclass
class RunningProvider:
    issuer: str
    port: int

    def _control(self, name: str, body: Mapping[str, Any] | None = None) -> None:
        response = httpx.post(f"{self.issuer}/_test/{name}", json=body, timeout=30)
        response.raise_for_status()

    def rotate_keys(self) -> None:
        """Sign with new keys (new ``kid``) from now on. The JWKS then lists the new keys
        first and the previous ones after them; keys older than those are retired."""
        self._control("rotate-keys")

    def misbehave(self, mode: Misbehaviour | None) -> None:
        """Doctor every ID token of the token endpoint this way until set back to ``None``."""
        self._control("misbehave", {"mode": mode})


class ProviderStartError(RuntimeError):
    """The provider process exited or stayed silent instead of announcing its issuer."""


def _log_tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read()[-3000:].decode("utf-8", "replace")


def _ready_line(process: subprocess.Popen[bytes], log: IO[bytes]) -> dict[str, Any]:
    assert process.stdout is not None
    deadline = time.monotonic() + _START_TIMEOUT
    received = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in received:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise ProviderStartError(
                    f"the OpenID Provider did not start in {_START_TIMEOUT:.0f} s:\n"
                    + _log_tail(log)
                )
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                process.wait(_STOP_TIMEOUT)
                raise ProviderStartError(
                    f"the OpenID Provider exited ({process.returncode}):\n" + _log_tail(log)
                )
            received += chunk
    ready: dict[str, Any] = json.loads(received.split(b"\n", 1)[0])
    return ready


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_oidc_provider(config: ProviderConfig) -> Iterator[RunningProvider]:
    """The provider, serving ``config`` until the block ends (then SIGTERM, or SIGKILL when
    it does not stop). Skips the test when node is missing (fails under CI)."""
    node = node_with_packages(PROVIDER_DIR, "the OpenID Provider oracle")
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [node, "provider.mjs"],
            cwd=PROVIDER_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        try:
            assert process.stdin is not None
            process.stdin.write(json.dumps(config.to_json()).encode("utf-8"))
            process.stdin.close()
            ready = _ready_line(process, log)
            yield RunningProvider(issuer=str(ready["issuer"]), port=int(ready["port"]))
        finally:
            _stop(process)
            if process.stdout is not None:
                process.stdout.close()


class LoginError(AssertionError):
    """The provider did not send the browser back to the relying party."""


class _LoginForm(HTMLParser):
    """The action of the first ``method=post`` form with a ``login`` input, and the text
    of any ``role=alert`` element."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.has_login_input = False
        self.alert = ""
        self._in_form = False
        self._in_alert = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if (
            tag == "form"
            and self.action is None
            and (attributes.get("method") or "").lower() == "post"
        ):
            self.action = attributes.get("action") or ""
            self._in_form = True
        elif tag == "input" and self._in_form and attributes.get("name") == "login":
            self.has_login_input = True
        if attributes.get("role") == "alert":
            self._in_alert = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        self._in_alert = False

    def handle_data(self, data: str) -> None:
        if self._in_alert:
            self.alert += data


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def log_in(client: httpx.Client, authorization_url: str, login: str) -> str:
    """Follow the provider's redirects from ``authorization_url`` through its login form,
    submitting ``login`` (a user's ``sub`` or personal number), as a browser would, and
    return the URL the provider finally redirects to outside itself (the relying party's
    redirect URI with ``code``, ``state`` and ``iss``, or with ``error``), without
    requesting it. ``client`` keeps the provider's cookies: a client that logged in before
    is sent back without the form (single sign-on). Raises ``LoginError`` when the provider
    refuses the login or answers anything else."""
    provider = _origin(httpx.URL(authorization_url))
    response = client.get(authorization_url, follow_redirects=False)
    submitted = 0
    for _ in range(_LOGIN_HOPS):
        if response.is_redirect:
            location = response.url.join(response.headers["location"])
            if _origin(location) != provider:
                return str(location)
            response = client.get(location, follow_redirects=False)
            continue
        form = _LoginForm()
        form.feed(response.text)
        if response.status_code != 200 or form.action is None or not form.has_login_input:
            reason = form.alert.strip() or response.text[:500]
            raise LoginError(f"the provider answered {response.status_code}: {reason}")
        if submitted == 2:
            raise LoginError("the provider asked for a login again after two logins")
        submitted += 1
        response = client.post(
            response.url.join(form.action), data={"login": login}, follow_redirects=False
        )
    raise LoginError(f"the provider redirected more than {_LOGIN_HOPS} times")
