"""Typed protocol messages: the base every message struct shares and the one decoder that
reads them from the wire.

A message arrives as bytes and passes the strict JSON profile first (duplicate members,
NaN and Infinity, nesting depth and size are refused before any value is kept,
``core.encoding``); msgspec then converts the plain value into the message's struct with
strict types (a number in a string is not a number). What the wire may hold beyond the
struct's fields is ignored where the specification says so (the OAuth family: "MUST
ignore any unrecognized parameters") and refused where this deployment defines the body
itself (``forbid_unknown_fields``).

A message that does not fit its struct is refused with the error its specification names
for a malformed message (``Message.malformed``), described in our words with the JSON path
of what is wrong. Rules a struct cannot state (exactly one of two members, a member that
must not be sent) live in the message's ``check()``, which raises the specification's own
error code.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from core.encoding import StrictJsonError, strict_json_loads
from core.errors import InvalidRequest, Problem

M = TypeVar("M", bound="Message")

#: Upper bound for any message body read by this decoder unless a smaller one is given.
MAX_MESSAGE_BYTES = 128 * 1024


class Message(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A protocol or API message. Subclasses name their fields as the specification writes
    them; absent optional members stay absent (``msgspec.UNSET``) when encoded again."""

    #: The error a body that does not fit this message is refused with.
    malformed: ClassVar[type[Exception]] = InvalidRequest

    def check(self) -> None:
        """The rules a struct cannot state; raises the specification's error code."""

    @classmethod
    def rejection(cls, description: str) -> Exception:
        """The error for a body that is not this message, in the family's format."""
        return cls.malformed(description)


class LocalizedName(Message):
    """A name in one language (BCP 47 ``locale``), as display metadata gives it."""

    locale: str
    name: str


class LocalizedText(Message):
    locale: str
    text: str


class ProblemDetails(Message):
    """RFC 9457 §3: how the operator and counter APIs say no (``core.errors.Problem``)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[str] | UnsetType = UNSET


class ProblemBody(Message, forbid_unknown_fields=True):
    """A body of an operator or counter API, defined by this deployment: an unknown member
    is refused, and a misfit is answered as problem details (RFC 9457)."""

    @classmethod
    def rejection(cls, description: str) -> Exception:
        return Problem(400, "Bad Request", description)


def convert_message(value: Any, message_type: type[M]) -> M:
    """A plain JSON value (already parsed strictly) as ``message_type``, checked."""
    try:
        message = msgspec.convert(value, message_type, strict=True)
    except msgspec.ValidationError as exc:
        raise message_type.rejection(_described(exc)) from None
    message.check()
    return message


def decode_message(
    body: bytes | str, message_type: type[M], *, max_bytes: int = MAX_MESSAGE_BYTES
) -> M:
    """``body`` under the strict JSON profile, then as ``message_type``, checked."""
    try:
        value = strict_json_loads(body, max_bytes=max_bytes)
    except StrictJsonError as exc:
        raise message_type.rejection(f"the body is not acceptable JSON: {exc}") from None
    return convert_message(value, message_type)


def to_plain(message: msgspec.Struct) -> Any:
    """The message as plain JSON values (absent members left out)."""
    return msgspec.to_builtins(message)


def _described(exc: msgspec.ValidationError) -> str:
    """msgspec's text, turned into ours: ``Expected `str`, got `int` - at `$.proofs.jwt[0]```
    becomes ``$.proofs.jwt[0]: expected a string, got a number``."""
    text = str(exc)
    reason, _, where = text.partition(" - at `")
    path = where.rstrip("`") if where else "$"
    for theirs, ours in _WORDS:
        reason = reason.replace(theirs, ours)
    reason = reason.replace("`", "")
    return f"{path}: {reason[:1].lower()}{reason[1:]}"


_WORDS = (
    ("`str`", "a string"),
    ("`int`", "an integer"),
    ("`float`", "a number"),
    ("`bool`", "true or false"),
    ("`null`", "null"),
    ("`object`", "an object"),
    ("`array`", "an array"),
    ("`int | null`", "an integer or null"),
    ("`str | null`", "a string or null"),
    ("Object missing required field", "missing the required member"),
    ("Object contains unknown field", "holds the unknown member"),
)
