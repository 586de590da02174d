"""The assembled deployment: database engine, key provider and trust anchor, built once
from settings and shared by the HTTP app and the command line."""

from __future__ import annotations

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
from app.settings import Settings
from core.keys.provider import SoftwareKeyProvider
from core.keys.wrapping import KeyWrapper
from core.storage.engine import create_engine, session_factory
from core.storage.key_records import SqlKeyRecords


@dataclass(slots=True)
class Deployment:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    key_records: SqlKeyRecords
    keys: SoftwareKeyProvider
    trust_anchor: TrustAnchor
    key_encryption_key: bytes
    #: The CA of this deployment as its citizens' wallet provider (None: it attests nothing).
    wallet_provider_ca: TrustAnchor | None = None

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
        records = SqlKeyRecords(sessions)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            key_records=records,
            keys=SoftwareKeyProvider(records, wrapper, alg=settings.signing_alg),
            trust_anchor=load_trust_anchor(settings, wrapper),
            key_encryption_key=kek,
            wallet_provider_ca=load_wallet_provider_ca(settings, wrapper),
        )

    async def database_reachable(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()
