"""HTTP endpoints of the wallet role: the citizen mobile API."""

from wallet.api.accounts import WalletAccountController
from wallet.api.holdings import WalletActivityController, WalletCredentialController
from wallet.api.interactions import (
    WalletOfferController,
    WalletPresentationController,
    WalletScanController,
)
from wallet.api.issuances import WalletIssuanceController, WalletIssuerController
from wallet.api.mediation import MediatorController, WalletMediationController
from wallet.api.notifications import (
    WalletNotificationController,
    WalletPushSubscriptionController,
)
from wallet.api.provider import WalletProviderController

MOBILE = [
    WalletAccountController,
    WalletCredentialController,
    WalletActivityController,
    WalletScanController,
    WalletOfferController,
    WalletIssuerController,
    WalletIssuanceController,
    WalletPresentationController,
    WalletProviderController,
    WalletNotificationController,
    WalletPushSubscriptionController,
    WalletMediationController,
    MediatorController,
]

__all__ = ["MOBILE"]
