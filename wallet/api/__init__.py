"""HTTP endpoints of the wallet role: the citizen mobile API."""

from wallet.api.accounts import WalletAccountController
from wallet.api.holdings import WalletActivityController, WalletCredentialController
from wallet.api.interactions import (
    WalletOfferController,
    WalletPresentationController,
    WalletScanController,
)

MOBILE = [
    WalletAccountController,
    WalletCredentialController,
    WalletActivityController,
    WalletScanController,
    WalletOfferController,
    WalletPresentationController,
]

__all__ = ["MOBILE"]
