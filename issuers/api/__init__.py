"""HTTP endpoints of the issuer role: the wallet-facing protocol (metadata and issuance)
apart from the agencies' operator API."""

from issuers.api.applications import OperatorApplicationController
from issuers.api.authorization import AuthorizationController
from issuers.api.deferred import DeferredCredentialController
from issuers.api.metadata import IssuerMetadataController
from issuers.api.operator import OperatorOfferController
from issuers.api.operator_credentials import OperatorCredentialController
from issuers.api.presentation_login import PresentationLoginController
from issuers.api.protocol import IssuanceController
from issuers.api.sign_in_choice import SignInChoiceController

WALLET_FACING = [
    IssuerMetadataController,
    IssuanceController,
    DeferredCredentialController,
    AuthorizationController,
    PresentationLoginController,
    SignInChoiceController,
]
OPERATOR = [OperatorOfferController, OperatorCredentialController, OperatorApplicationController]

__all__ = ["OPERATOR", "WALLET_FACING"]
