"""The assembled deployment: database engine, key provider and trust anchor, built once
from settings and shared by the HTTP app and the command line."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.bootstrap import (
    TrustAnchor,
    load_key_encryption_key,
    load_trust_anchor,
    load_wallet_provider_ca,
)
from app.key_audit import KeyAudit
from app.key_store_settings import key_class_of
from app.settings import Settings
from core.keys.pkcs11_token import Pkcs11Config, Pkcs11Token, shared_token
from core.keys.pkcs11_vault import Pkcs11Vault
from core.keys.provider import DeploymentKeyProvider, KeyVault
from core.keys.software_vault import SoftwareVault
from core.keys.unavailable import KeyStoreUnavailable
from core.keys.wrapping import KeyWrapper
from core.storage.audit_trail import SqlAuditTrail
from core.storage.change_feed import ChangeFeed
from core.storage.driver import is_postgresql
from core.storage.engine import create_engine, session_factory
from core.storage.key_records import SqlKeyRecords


def open_token(
    settings: Settings, records: SqlKeyRecords, trail: SqlAuditTrail | None = None
) -> Pkcs11Token | None:
    """The token named by the settings (opened on first use, not here: a worker process
    logs in for itself), or None where none is named. A token stays open after its class
    moved back to software, for the keys made in it before."""
    stores = settings.key_store
    if not stores.names_a_token or stores.pkcs11_module is None or stores.pkcs11_token is None:
        return None
    token = shared_token(
        Pkcs11Config(
            stores.pkcs11_module,
            stores.pkcs11_token,
            pin=stores.pkcs11_pin,
            pin_file=None if stores.pkcs11_pin_file is None else str(stores.pkcs11_pin_file),
        )
    )
    token.set_events(KeyAudit(records, stores.pkcs11_token, trail))
    return token


@dataclass(slots=True)
class Deployment:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    key_records: SqlKeyRecords
    keys: DeploymentKeyProvider
    trust_anchor: TrustAnchor
    #: Where every role appends what it audits (``core.audit``).
    audit_trail: SqlAuditTrail
    key_encryption_key: bytes
    #: The CA of this deployment as its citizens' wallet provider (None: it attests nothing).
    wallet_provider_ca: TrustAnchor | None = None
    #: The PKCS#11 token of the deployment, where some class of keys is kept in one.
    token: Pkcs11Token | None = None
    #: Changes any process commits to the keys, devices and accounts, heard while
    #: ``hearing_changes`` runs (PostgreSQL; None on SQLite, where every read goes to the
    #: database).
    changes: ChangeFeed | None = None

    def derived_secret(self, purpose: str) -> bytes:
        """A 256-bit secret for one purpose, derived from the KEK (HKDF, RFC 5869)."""
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"idwallet:" + purpose.encode()
        ).derive(self.key_encryption_key)

    @classmethod
    def open(cls, settings: Settings) -> Deployment:
        kek = load_key_encryption_key(settings)
        wrapper = KeyWrapper(kek)
        engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
        sessions = session_factory(engine)
        changes = ChangeFeed(settings.database_url) if is_postgresql(engine) else None
        records = SqlKeyRecords(sessions, feed=changes)
        audit_trail = SqlAuditTrail(sessions, time.time)
        token = open_token(settings, records, audit_trail)
        vaults: dict[str, KeyVault] = {"software": SoftwareVault(wrapper)}
        if token is not None:
            vaults["pkcs11"] = Pkcs11Vault(token)
        stores = settings.key_store
        # the deployment's own authorities (trust anchor, wallet-provider CA) made in the
        # token where that class is kept there, or named in it by a PKCS#11 URI
        authorities = token if stores.provider("deployment") == "pkcs11" else None
        keys = DeploymentKeyProvider(
            records,
            vaults,
            placement=lambda owner: stores.provider(key_class_of(owner)),
            alg=settings.signing_alg,
            events=KeyAudit(records, stores.pkcs11_token or "", audit_trail),
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            key_records=records,
            keys=keys,
            audit_trail=audit_trail,
            trust_anchor=load_trust_anchor(settings, wrapper, authorities),
            key_encryption_key=kek,
            wallet_provider_ca=load_wallet_provider_ca(settings, wrapper, authorities),
            token=token,
            changes=changes,
        )

    @contextlib.asynccontextmanager
    async def hearing_changes(self) -> AsyncIterator[None]:
        """While the app serves: this worker listens for changes to the keys, devices and
        accounts, and keeps what it read of them until it hears of one."""
        if self.changes is None:
            yield
            return
        listening = asyncio.create_task(self.changes.run())
        try:
            yield
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening

    def token_reachable(self) -> bool:
        """False while the deployment's token does not answer (no token: True)."""
        if self.token is None:
            return True
        try:
            self.token.check()
        except KeyStoreUnavailable:
            return False
        return True

    async def database_reachable(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()
