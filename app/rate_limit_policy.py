"""Which endpoints are rate limited, how much, and by whose budget: the classes of
endpoints, their defaults, and ``IDWALLET_RATE_LIMITS`` (validated at start-up).

Each limited endpoint declares its class in its route handler's ``opt`` (``rate_limit``);
endpoints without one (health, readiness, metrics, the screens and their assets, the API
documentation) are not limited. Classes of the wallet-facing protocols and the citizens'
log-in are counted per client address; the citizen, operator and counter classes per
principal: the citizen's account, the agency or the relying party whose key was presented
(per client address where no valid credential came with the request).

Defaults are generous where many citizens share one address (mobile networks put
thousands behind one NAT address) and strict where a request guesses at something: the
token endpoint (transaction codes) and the wallet's log-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from limits import RateLimitItem, parse

VARIABLE = "IDWALLET_RATE_LIMITS"
OPT_KEY = "rate_limit"
#: an endpoint whose errors are problem details (RFC 9457) says so in its ``opt``
PROBLEM_DETAILS_KEY = "problem_details"


class Budget(Enum):
    """Whose requests one counter counts."""

    ADDRESS = "address"
    ACCOUNT = "account"  # the citizen's account behind the access token
    AGENCY = "agency"  # the agency whose operator key was presented
    RELYING_PARTY = "relying_party"  # the relying party whose counter key was presented


@dataclass(frozen=True, slots=True)
class EndpointClass:
    name: str
    budget: Budget
    default: str
    endpoints: str


CLASSES: tuple[EndpointClass, ...] = (
    EndpointClass("token", Budget.ADDRESS, "60/minute", "OpenID4VCI token endpoint"),
    EndpointClass("nonce", Budget.ADDRESS, "300/minute", "OpenID4VCI nonce endpoint"),
    EndpointClass(
        "credential", Budget.ADDRESS, "300/minute", "OpenID4VCI credential and notification"
    ),
    EndpointClass("offer", Budget.ADDRESS, "300/minute", "credential offers by reference"),
    EndpointClass(
        "metadata",
        Budget.ADDRESS,
        "1200/minute",
        "issuer and type metadata, issuer keys, status lists",
    ),
    EndpointClass("request_object", Budget.ADDRESS, "300/minute", "OpenID4VP request objects"),
    EndpointClass(
        "response",
        Budget.ADDRESS,
        "300/minute",
        "OpenID4VP response endpoints, same-device result release",
    ),
    EndpointClass(
        "wallet_auth",
        Budget.ADDRESS,
        "60/minute",
        "/wallet/challenges, /wallet/accounts, /wallet/sessions (device proofs, refresh)",
    ),
    EndpointClass("citizen", Budget.ACCOUNT, "300/minute", "the rest of the citizen mobile API"),
    EndpointClass("operator", Budget.AGENCY, "3000/minute", "the agency operator API"),
    EndpointClass("counter", Budget.RELYING_PARTY, "3000/minute", "the counter API"),
    EndpointClass("mediator", Budget.ADDRESS, "600/minute", "the mediator API (/mediator/api)"),
    EndpointClass("oversight", Budget.ADDRESS, "60/minute", "the oversight API (auditors)"),
)
BY_NAME = {c.name: c for c in CLASSES}


class RateLimitSyntaxError(ValueError):
    """``IDWALLET_RATE_LIMITS`` does not parse; the message says where."""


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """The limit of each class (``None``: that class is not limited); ``enabled`` False
    switches limiting off entirely."""

    enabled: bool = True
    overrides: Mapping[str, str | None] = field(default_factory=dict)

    @classmethod
    def off(cls) -> RateLimitPolicy:
        return cls(enabled=False)

    def limit(self, name: str) -> RateLimitItem | None:
        if not self.enabled:
            return None
        text = self.overrides[name] if name in self.overrides else BY_NAME[name].default
        return None if text is None else parse(text)

    def describe(self) -> str:
        if not self.enabled:
            return "off"
        parts = []
        for endpoint_class in CLASSES:
            item = self.limit(endpoint_class.name)
            parts.append(
                f"{endpoint_class.name}="
                + ("off" if item is None else f"{item.amount}/{item.get_expiry()}s")
            )
        return ", ".join(parts)


def _rate(name: str, text: str) -> str | None:
    if text == "off":
        return None
    try:
        item = parse(text)
    except ValueError:
        raise RateLimitSyntaxError(
            f"{VARIABLE}: {name}={text!r} is not a rate such as 30/minute (second, minute, "
            "hour or day) or off"
        ) from None
    if item.amount < 1:
        raise RateLimitSyntaxError(f"{VARIABLE}: {name} must allow at least one request")
    return text


def parse_policy(raw: str | None) -> RateLimitPolicy:
    """``off``, or comma-separated ``class=rate`` entries (``token=30/minute``,
    ``metadata=off``) that replace the defaults of the classes they name."""
    if raw is None or not raw.strip():
        return RateLimitPolicy()
    if raw.strip() == "off":
        return RateLimitPolicy.off()
    overrides: dict[str, str | None] = {}
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        name, equals, text = (p.strip() for p in entry.partition("="))
        if not equals:
            raise RateLimitSyntaxError(f"{VARIABLE}: {entry!r} is not class=rate")
        if name not in BY_NAME:
            raise RateLimitSyntaxError(
                f"{VARIABLE}: unknown class {name!r} (classes: {', '.join(BY_NAME)})"
            )
        if name in overrides:
            raise RateLimitSyntaxError(f"{VARIABLE}: {name} is given twice")
        overrides[name] = _rate(name, text)
    return RateLimitPolicy(overrides=overrides)
