"""Where the deployment's keys are kept, by class of owner: ``software`` (wrapped under the
key-encryption key in the database, the embedded default) or ``pkcs11`` (a hardware
security module, or SoftHSM2 in development).

``IDWALLET_KEY_PROVIDER`` sets every class; ``IDWALLET_KEY_PROVIDER_<CLASS>`` sets one
(``AGENCY``: the agencies' signing keys; ``COUNTER``: the relying parties' request-signing
keys; ``WALLET_PROVIDER``: the key that signs wallet and key attestations; ``HOLDER``: the
citizens' server-held holder keys; ``DEPLOYMENT``: the trust anchor and the wallet-provider
CA, generated here in development). A token is named by ``IDWALLET_PKCS11_MODULE``,
``IDWALLET_PKCS11_TOKEN`` and ``IDWALLET_PKCS11_PIN`` or ``IDWALLET_PKCS11_PIN_FILE``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "IDWALLET_"
PROVIDERS = ("software", "pkcs11")
KEY_CLASSES = ("agency", "counter", "wallet_provider", "holder", "deployment")
#: Attack potential (OpenID4VCI 1.0 Appendix D.2) claimed for holder keys in the token
#: unless the deployment states its module's certification.
DEFAULT_HSM_KEY_STORAGE = ("iso_18045_moderate",)
_LEVELS = frozenset(
    {"iso_18045_high", "iso_18045_moderate", "iso_18045_enhanced-basic", "iso_18045_basic"}
)


class KeyStoreSettingsError(ValueError):
    """A key store variable has an invalid value (start-up stops, naming it)."""


@dataclass(frozen=True, slots=True)
class KeyStoreSettings:
    #: class of owner → ``software`` or ``pkcs11``
    providers: Mapping[str, str] = field(
        default_factory=lambda: dict.fromkeys(KEY_CLASSES, "software")
    )
    pkcs11_module: str | None = None
    pkcs11_token: str | None = None
    pkcs11_pin: str | None = field(default=None, repr=False)
    pkcs11_pin_file: Path | None = None
    #: Seconds a retired key's private part is kept before it is destroyed.
    retired_key_overlap: int = 7 * 86400
    #: What key attestations claim for holder keys kept in the token.
    hsm_key_storage: tuple[str, ...] = DEFAULT_HSM_KEY_STORAGE

    def provider(self, key_class: str) -> str:
        return self.providers[key_class]

    @property
    def names_a_token(self) -> bool:
        """A token is configured: opened even where no class makes new keys in it any
        more, so that the keys made there before keep working."""
        pin_given = self.pkcs11_pin is not None or self.pkcs11_pin_file is not None
        return self.pkcs11_module is not None and self.pkcs11_token is not None and pin_given

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KeyStoreSettings:
        def get(name: str) -> str | None:
            return env.get(PREFIX + name) or None

        default = get("KEY_PROVIDER") or "software"
        if default not in PROVIDERS:
            raise KeyStoreSettingsError(f"{PREFIX}KEY_PROVIDER must be software or pkcs11")
        providers = {}
        for key_class in KEY_CLASSES:
            name = f"KEY_PROVIDER_{key_class.upper()}"
            value = get(name) or default
            if value not in PROVIDERS:
                raise KeyStoreSettingsError(f"{PREFIX}{name} must be software or pkcs11")
            providers[key_class] = value
        module, token = get("PKCS11_MODULE"), get("PKCS11_TOKEN")
        pin, pin_file = env.get(PREFIX + "PKCS11_PIN") or None, get("PKCS11_PIN_FILE")
        if "pkcs11" in providers.values():
            if module is None or token is None:
                raise KeyStoreSettingsError(
                    f"keys in pkcs11 need {PREFIX}PKCS11_MODULE and {PREFIX}PKCS11_TOKEN"
                )
            if not Path(module).is_file():
                raise KeyStoreSettingsError(f"{PREFIX}PKCS11_MODULE names no file: {module}")
            if (pin is None) == (pin_file is None):
                raise KeyStoreSettingsError(
                    f"keys in pkcs11 need one of {PREFIX}PKCS11_PIN and {PREFIX}PKCS11_PIN_FILE"
                )
        overlap_raw = get("RETIRED_KEY_OVERLAP") or str(7 * 86400)
        try:
            overlap = int(overlap_raw)
        except ValueError:
            raise KeyStoreSettingsError(
                f"{PREFIX}RETIRED_KEY_OVERLAP must be a number of seconds"
            ) from None
        if not 0 <= overlap <= 10 * 365 * 86400:
            raise KeyStoreSettingsError(f"{PREFIX}RETIRED_KEY_OVERLAP must be 0 to ten years")
        levels = (
            tuple(v.strip() for v in (get("PKCS11_KEY_STORAGE") or "").split(",") if v.strip())
            or DEFAULT_HSM_KEY_STORAGE
        )
        unknown = sorted(set(levels) - _LEVELS)
        if unknown:
            raise KeyStoreSettingsError(
                f"{PREFIX}PKCS11_KEY_STORAGE names unknown levels: {', '.join(unknown)}"
            )
        return cls(
            providers=providers,
            pkcs11_module=module,
            pkcs11_token=token,
            pkcs11_pin=pin,
            pkcs11_pin_file=Path(pin_file) if pin_file else None,
            retired_key_overlap=overlap,
            hsm_key_storage=levels,
        )


def key_class_of(owner: str) -> str:
    """The class of a key owner of the key provider."""
    if owner.startswith("issuer:"):
        return "agency"
    if owner.startswith("verifier:"):
        return "counter"
    if owner == "wallet-provider":
        return "wallet_provider"
    return "deployment"
