"""HTTP endpoints of the issuer role: the wallet-facing protocol apart from the
agencies' operator API."""

from issuers.api.metadata import IssuerMetadataController

WALLET_FACING = [IssuerMetadataController]

__all__ = ["WALLET_FACING", "IssuerMetadataController"]
