"""Typed reads of decoded CBOR: each names where in the structure it reads (a path such as
``DeviceResponse.documents[0].issuerSigned``) and raises :class:`MalformedMdoc` with that
path and what was expected, so a refused structure says what is wrong in our words."""

from __future__ import annotations

from typing import Any

from core.mdoc.cbor import EncodedCbor
from core.mdoc.errors import MalformedMdoc

_KINDS: dict[type, str] = {
    dict: "a map",
    list: "an array",
    str: "a text string",
    bytes: "a byte string",
    int: "an integer",
    bool: "a boolean",
    EncodedCbor: "an encoded CBOR item (tag 24)",
}


def _kind(value: object) -> str:
    return "null" if value is None else _KINDS.get(type(value), "another kind of item")


def _expected(where: str, what: str, value: object) -> MalformedMdoc:
    return MalformedMdoc(f"{where} must be {what}, not {_kind(value)}")


def as_map(value: object, where: str) -> dict[Any, Any]:
    if type(value) is not dict:
        raise _expected(where, "a map", value)
    return value


def as_list(value: object, where: str, *, non_empty: bool = False) -> list[Any]:
    if type(value) is not list:
        raise _expected(where, "an array", value)
    if non_empty and not value:
        raise MalformedMdoc(f"{where} must not be empty")
    return value


def text(value: object, where: str) -> str:
    if type(value) is not str:
        raise _expected(where, "a text string", value)
    return value


def byte_string(value: object, where: str) -> bytes:
    if type(value) is not bytes:
        raise _expected(where, "a byte string", value)
    return value


def unsigned(value: object, where: str) -> int:
    if type(value) is not int or value < 0:
        raise _expected(where, "an unsigned integer", value)
    return value


def encoded(value: object, where: str) -> EncodedCbor:
    if type(value) is not EncodedCbor:
        raise _expected(where, "an encoded CBOR item (tag 24)", value)
    return value


def member(mapping: dict[Any, Any], key: str | int, where: str) -> Any:
    """The required member ``key`` of a map."""
    try:
        return mapping[key]
    except KeyError:
        raise MalformedMdoc(f"{where} lacks {key!r}") from None
