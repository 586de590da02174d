"""The tests' audit trail signer: a trust anchor and the audit key's access certificate
under it, as a deployment has them (``app.audit_sealing``), and a clock that moves."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from core.audit.chain import HeadKeys, anchored_head_keys
from core.audit.store import HeadPolicy
from core.keys.signer import Signer, SoftwareSigner
from core.keys.x509 import (
    AccessCertificateRequest,
    create_trust_anchor,
    issue_access_certificate,
    to_x5c,
)


@dataclass(frozen=True)
class AuditPki:
    anchor: x509.Certificate
    signer: Signer
    #: The anchor's own key (certifies other keys under it).
    anchor_signer: Signer

    @property
    def keys(self) -> HeadKeys:
        return anchored_head_keys([self.anchor])

    def heads(self, interval: float = 0.0) -> HeadPolicy:
        signer = self.signer

        async def get() -> Signer:
            return signer

        return HeadPolicy(get, "https://audit.example", interval)


def audit_pki() -> AuditPki:
    now = dt.datetime.now(dt.UTC)
    root = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
    anchor = create_trust_anchor(root, common_name="Test anchor", now=now)
    pki = AuditPki(anchor, root, root)
    return dataclasses.replace(
        pki, signer=certified_signer(pki, uris=("https://audit.example/audit",))
    )


def certified_signer(pki: AuditPki, *, uris: tuple[str, ...]) -> Signer:
    """A new key certified under the PKI's anchor, naming ``uris``."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = issue_access_certificate(
        AccessCertificateRequest("Audit", uris=uris),
        key.public_key(),
        anchor_signer=pki.anchor_signer,
        anchor=pki.anchor,
        now=dt.datetime.now(dt.UTC),
    )
    return SoftwareSigner(key, x5c=to_x5c([certificate]))


def ticking_clock(step: float = 1.0) -> Callable[[], float]:
    """Now, then a step later at every call."""
    start = time.time()
    counter = itertools.count()
    return lambda: start + step * next(counter)
