"""The one error of a key store that cannot sign right now (a hardware token removed, its
PIN refused, its session broken, its slot changed): answered 503 with ``Retry-After``,
never by signing with any other key. The store retries by itself, so service resumes
when the token is back."""

from __future__ import annotations

from core.errors import ProtocolError


class KeyStoreUnavailable(ProtocolError):
    """RFC 6749 §4.1.2.1 ``temporarily_unavailable``: nothing was signed; retry shortly.

    ``reason`` names what failed for the operators' audit and logs (never a PIN or key
    material); the caller is told only that the key store cannot be reached."""

    error = "temporarily_unavailable"
    status_code = 503
    retry_after = 5

    def __init__(self, reason: str) -> None:
        super().__init__("the signing keys cannot be reached right now; retry shortly")
        self.reason = reason
