"""Splitting the compact serialization (RFC 9901 §4), with its limits."""

import pytest

from core.sdjwt.errors import MalformedSdJwt
from core.sdjwt.serialization import SdJwtParts, split_sd_jwt

JWT = "aGVhZGVy.cGF5bG9hZA.c2ln"
KB = "a2I.a2I.a2I"


@pytest.mark.parametrize("key_binding", ["", KB])
def test_up_to_the_limit_of_disclosures(key_binding: str) -> None:
    for count in (0, 1, 3):
        text = "~".join([JWT, *(f"D{i}" for i in range(count)), key_binding])
        parts = split_sd_jwt(text, max_disclosures=3)
        assert parts == SdJwtParts(JWT, tuple(f"D{i}" for i in range(count)), key_binding or None)
        assert parts.serialize() == text
        assert parts.sd_jwt == text[: len(text) - len(key_binding)]
    too_many = "~".join([JWT, *(f"D{i}" for i in range(4)), key_binding])
    with pytest.raises(MalformedSdJwt, match="more than 3"):
        split_sd_jwt(too_many, max_disclosures=3)


@pytest.mark.parametrize(
    "text",
    [
        JWT,
        "~",
        f"~D~{KB}",
        f"{JWT}~~",
        f"{JWT}~D~~",
        f"{JWT}~~D~",
        f"{JWT}~D~a.b",
        f"{JWT}~a.b.c.d",
    ],
)
def test_malformed(text: str) -> None:
    with pytest.raises(MalformedSdJwt):
        split_sd_jwt(text)


def test_size_limit_and_type() -> None:
    with pytest.raises(MalformedSdJwt):
        split_sd_jwt(JWT + "~" + "D" * 100 + "~", max_bytes=100)
    with pytest.raises(MalformedSdJwt):
        split_sd_jwt(b"x~")  # type: ignore[arg-type]
