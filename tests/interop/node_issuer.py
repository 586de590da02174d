"""The independent HAIP issuer of the interoperability tests (``haip_issuer.mjs``: the
server APIs of ``@openid4vc/oauth2`` and ``@openid4vc/openid4vci``, the SD-JWT VC of
``@sd-jwt/sd-jwt-vc``), run by node on a loopback port the test chooses, and the X.509
material the test makes for it with ``cryptography`` alone (no helper of this code base):
a root, an intermediate CA and the certificate of its credential signing key, which names
the issuer identifier as a SAN URI (SD-JWT VC §2.5: our wallet binds ``iss`` to it).

The test tells the issuer which wallet providers it trusts (the CA of our deployment's
wallet provider, from ``GET /wallet/provider``, or another), and may switch it to a
misbehaviour (``RunningIssuer.set_mode``), make the credentials it deferred ready
(``ready``) and expire every access token it issued so far (``expire_tokens``); what each
of its endpoints received and checked is read back with ``RunningIssuer.seen``."""

from __future__ import annotations

import base64
import json
import os
import selectors
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, Literal

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from tests.interop.node_wallets import INTEROP, pinned_node
from tests.support.certificates import signed_certificate

ISSUER_SCRIPT = INTEROP / "haip_issuer.mjs"
#: What the issuer issues (as ``haip_issuer.mjs`` describes it in its metadata).
CONFIGURATION_ID = "library_card"
VCT = "https://credentials.example/library_card"
BATCH_SIZE = 2

#: The issuer's modes (``haip_issuer.mjs``): misbehaviours, and what a server may do that
#: the wallet must cope with (``rotating_nonce``, RFC 9449 §8.2; ``scope_only``, OpenID4VCI
#: 1.0 §5.1.2; ``deferred``, §8.3 and §9).
Mode = Literal[
    "wrong_iss",
    "metadata_issuer",
    "nonce_loop",
    "unattested_key",
    "other_vct",
    "rotating_nonce",
    "scope_only",
    "deferred",
]

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 5.0


def _b64url_int(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode("ascii")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "City Library (interop issuer)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _der_b64(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(Encoding.DER)).decode("ascii")


@dataclass(frozen=True)
class IssuerPki:
    """The interop issuers' root and intermediate CA; ``signing_material`` certifies a new
    signing key for one issuer identifier under them."""

    root: x509.Certificate
    intermediate: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls) -> IssuerPki:
        root_key, intermediate_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
        root_name = _name("Interop Issuer Root")
        root = signed_certificate(
            root_name, root_key, issuer=root_name, issuer_key=root_key, ca=True
        )
        intermediate = signed_certificate(
            _name("Interop Issuer CA"),
            intermediate_key,
            issuer=root_name,
            issuer_key=root_key,
            ca=True,
        )
        return cls(root, intermediate, intermediate_key)

    def root_pem(self) -> bytes:
        return self.root.public_bytes(Encoding.PEM)

    def signing_material(self, issuer: str) -> dict[str, Any]:
        """A new ES256 key and its chain (leaf first, without the root), the leaf naming
        ``issuer``; as the node issuer reads it."""
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = signed_certificate(
            _name("City Library credential signer"),
            key,
            issuer=self.intermediate.subject,
            issuer_key=self.intermediate_key,
            ca=False,
            uri=issuer,
        )
        numbers = key.private_numbers()
        return {
            "private_jwk": {
                "kty": "EC",
                "crv": "P-256",
                "x": _b64url_int(numbers.public_numbers.x),
                "y": _b64url_int(numbers.public_numbers.y),
                "d": _b64url_int(numbers.private_value),
            },
            "x5c": [_der_b64(leaf), _der_b64(self.intermediate)],
        }


@dataclass
class RunningIssuer:
    issuer: str
    port: int
    _log: IO[bytes]

    def log(self) -> str:
        """The end of what the issuer wrote to stderr (the causes of its refusals)."""
        return _log_tail(self._log)

    def seen(self) -> list[dict[str, Any]]:
        """Every request the issuer's endpoints answered, oldest first: what each received
        and checked, or the error it refused with."""
        response = httpx.get(f"{self.issuer}/_test/seen", timeout=10)
        response.raise_for_status()
        events: list[dict[str, Any]] = response.json()["events"]
        return events

    def set_mode(self, mode: Mode | None) -> None:
        """From now on, behave this way (``None``: as the specifications say)."""
        response = httpx.post(f"{self.issuer}/_test/mode", json={"mode": mode}, timeout=10)
        response.raise_for_status()

    def ready(self) -> list[str]:
        """The deferred transactions waiting so far are ready to be collected: their ids."""
        response = httpx.post(f"{self.issuer}/_test/ready", timeout=10)
        response.raise_for_status()
        ready: list[str] = response.json()["ready"]
        return ready

    def expire_tokens(self) -> int:
        """Every access token issued so far has expired (``invalid_token`` from now on):
        how many were live."""
        response = httpx.post(f"{self.issuer}/_test/expire_tokens", timeout=10)
        response.raise_for_status()
        expired: int = response.json()["expired"]
        return expired


class IssuerStartError(RuntimeError):
    """The issuer process exited or stayed silent instead of announcing itself."""


def _log_tail(log: IO[bytes]) -> str:
    log.seek(0)
    tail = log.read()[-3000:].decode("utf-8", "replace")
    log.seek(0, os.SEEK_END)
    return tail


def _ready_line(process: subprocess.Popen[bytes], log: IO[bytes]) -> dict[str, Any]:
    assert process.stdout is not None
    deadline = time.monotonic() + _START_TIMEOUT
    received = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in received:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise IssuerStartError(
                    f"the HAIP issuer did not start in {_START_TIMEOUT:.0f} s:\n" + _log_tail(log)
                )
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                process.wait(_STOP_TIMEOUT)
                raise IssuerStartError(
                    f"the HAIP issuer exited ({process.returncode}):\n" + _log_tail(log)
                )
            received += chunk
    ready: dict[str, Any] = json.loads(received.split(b"\n", 1)[0])
    return ready


@contextmanager
def running_haip_issuer(
    *,
    port: int,
    signing: Mapping[str, Any],
    wallet_provider_cas: list[str],
    citizen: Mapping[str, Any],
    mode: Mode | None = None,
) -> Iterator[RunningIssuer]:
    """The issuer on ``127.0.0.1:port`` until the block ends (then SIGTERM, or SIGKILL
    when it does not stop). Skips the test when node is missing (fails under CI)."""
    node = pinned_node()
    config = {
        "port": port,
        "signing": dict(signing),
        "wallet_provider_cas": wallet_provider_cas,
        "citizen": dict(citizen),
        "mode": mode,
    }
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [node, str(ISSUER_SCRIPT)],
            cwd=INTEROP,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        try:
            assert process.stdin is not None
            process.stdin.write(json.dumps(config).encode("utf-8"))
            process.stdin.close()
            ready = _ready_line(process, log)
            yield RunningIssuer(issuer=str(ready["issuer"]), port=int(ready["port"]), _log=log)
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
