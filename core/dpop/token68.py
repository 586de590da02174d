"""The ``token68`` syntax (RFC 9110 §11.2) of ``DPoP`` header values (RFC 9449 §4.1) and of
``Authorization`` credentials of the ``DPoP`` and ``Bearer`` schemes (RFC 9449 §7.1,
RFC 6750 §2.1)."""

from __future__ import annotations

import re

_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def is_token68(value: str) -> bool:
    return _TOKEN68.fullmatch(value) is not None
