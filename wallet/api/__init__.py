"""HTTP endpoints of the wallet role: the citizen mobile API."""

from wallet.api.accounts import WalletAccountController
from wallet.api.holdings import WalletActivityController, WalletCredentialController
from wallet.api.interactions import (
    WalletOfferController,
    WalletPresentationController,
    WalletScanController,
)
from wallet.api.provider import WalletProviderController

MOBILE = [
    WalletAccountController,
    WalletCredentialController,
    WalletActivityController,
    WalletScanController,
    WalletOfferController,
    WalletPresentationController,
    WalletProviderController,
]

__all__ = ["MOBILE"]
