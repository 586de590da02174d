"""HTTP endpoints of the verifier role: the wallet-facing protocol apart from the counters'
API."""

from verifiers.api.counter import CounterPresentationController, SameDeviceController
from verifiers.api.protocol import PresentationProtocolController

WALLET_FACING = [PresentationProtocolController]
COUNTER = [CounterPresentationController, SameDeviceController]

__all__ = ["COUNTER", "WALLET_FACING"]
