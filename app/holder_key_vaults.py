"""Where the citizens' server-held holder keys are made and used: in software, or in the
deployment's PKCS#11 token (``IDWALLET_KEY_PROVIDER_HOLDER=pkcs11``), wrapped there under
a wrapping key that never leaves it.

The token's vault is wired wherever the deployment has a token, whichever class of keys
put it there, so keys made in it keep signing after holder keys are switched back to
software; without a token, such keys fail closed (503)."""

from __future__ import annotations

from app.deployment import Deployment
from core.keys.wrapped_keys import WrappedKeyVault
from wallet.domain import KeyMaterial
from wallet.services.server_held_keys import ServerHeldKeys

#: The label of the token's AES key that wraps holder keys (kept with each wrapped key, so
#: a later wrapping key under another label leaves the earlier keys signing).
HOLDER_WRAPPING_KEY = "idwallet holder keys"


def server_held_keys(deployment: Deployment) -> ServerHeldKeys:
    """The wallet's vaults of server-held keys, new ones made as the settings say."""
    token = deployment.token
    in_token = deployment.settings.key_store.provider("holder") == "pkcs11"
    return ServerHeldKeys(
        hsm=None if token is None else WrappedKeyVault(token, HOLDER_WRAPPING_KEY),
        new_in=KeyMaterial.HSM if in_token else KeyMaterial.SOFTWARE,
    )
