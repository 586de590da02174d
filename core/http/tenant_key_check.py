"""The key check of the per-tenant staff APIs (an agency's operator API, a counter's API):
the request carries ``Authorization: Bearer <key>`` (RFC 6750 §2.1) with a key the
keyring holds for the tenant named in the path, or it is answered 401 as problem details
(RFC 9457). A key of one tenant opens nothing of another."""

from __future__ import annotations

from typing import Protocol

from core.errors import Problem


class TenantKeyring(Protocol):
    def allows(self, tenant_id: str, key: str, /) -> bool:
        """Whether ``key`` is one of the tenant's current keys."""
        ...


def bearer_key(authorization: str) -> str | None:
    """The key of an ``Authorization`` header value of the Bearer scheme (any case);
    None for another scheme or an empty key."""
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    return key


def require_tenant_key(
    authorization: str, keyring: TenantKeyring, tenant_id: str, *, refusal: str
) -> None:
    """Nothing when the header carries a key of ``tenant_id``; ``Problem`` 401
    ``Unauthorized`` with ``refusal`` as its detail otherwise."""
    key = bearer_key(authorization)
    if key is None or not keyring.allows(tenant_id, key):
        raise Problem(401, "Unauthorized", refusal)
