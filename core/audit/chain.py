"""The hash chain of the audit trail and its signed heads, and the verifier an auditor
runs over the deployment's database or over an exported copy.

An entry's **canonical bytes** are the UTF-8 JSON array (no whitespace)::

    ["idwallet-audit/1", position, previous_hash, at_microseconds, actor_kind, actor,
     action, outcome, facts, subject_key]

where ``position`` counts from 1, ``previous_hash`` is the ``entry_hash`` of the entry at
``position - 1`` (``GENESIS``, 64 zeros, for the first), ``at_microseconds`` the entry's
time (Unix seconds × 10⁶, rounded), ``facts`` the canonical facts text (a JSON object with
sorted keys, ``canonical_facts``) as a string, and ``subject_key`` a string or ``null``.
``entry_hash`` is the lowercase hex SHA-256 of those bytes (FIPS 180-4): each entry commits
to the one before, so changing, removing or reordering one changes every hash after it.

A **head** is a compact JWS (RFC 7515 §7.1) of ``typ`` ``idwallet-audit-head+jwt``,
signed by the deployment's audit key with its access certificate in ``x5c`` (§4.1.6),
whose payload states ``position`` and ``entry_hash`` of the last entry it covers and
``iat``. Whoever holds the deployment's trust anchor certificate can check a head
offline: the ``x5c`` chain validates to the anchor at ``iat`` and the signature to its leaf.

Retention removes whole entries up to a signed head: the remaining chain starts at the
entry after that head, whose ``previous_hash`` must be the head's ``entry_hash``.

``ChainVerifier`` reads entries in the order given (in position order: the database's
order and an export's) and the heads, and reports the **first** break: its position and
what is wrong. Entries after the last head are not a break, only unsigned (a warning).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography import x509

from core.audit.trail import FactValue
from core.encoding import EncodingError, json_dumps, json_dumps_bytes, strict_json_object
from core.jose.algorithms import PublicKey
from core.jose.errors import JoseError
from core.jose.jws import decode_unverified, sign_compact, verify_decoded
from core.keys.signer import Signer
from core.keys.x509 import CertificateError, leaf_public_key, validate_x5c

CHAIN_VERSION = "idwallet-audit/1"
GENESIS = "0" * 64
HEAD_TYPE = "idwallet-audit-head+jwt"
HEAD_ALGORITHMS = ("ES256", "ES384", "ES512", "EdDSA")
#: A head is a small token; anything larger is not one of ours.
MAX_HEAD_BYTES = 16 * 1024


def canonical_facts(facts: Mapping[str, FactValue]) -> str:
    """The facts as the JSON text the chain hashes: sorted keys, tuples as arrays."""
    return json_dumps(
        {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in sorted(facts.items())
        }
    )


@dataclass(frozen=True, slots=True)
class ChainedEntry:
    """An entry with its place in the chain (``facts`` as its canonical text)."""

    position: int
    previous_hash: str
    at: float
    actor_kind: str
    actor: str
    action: str
    outcome: str
    facts: str
    subject_key: str | None
    entry_hash: str


def entry_bytes(
    *,
    position: int,
    previous_hash: str,
    at: float,
    actor_kind: str,
    actor: str,
    action: str,
    outcome: str,
    facts: str,
    subject_key: str | None,
) -> bytes:
    """The canonical bytes of an entry (the module docstring's array)."""
    return json_dumps_bytes(
        [
            CHAIN_VERSION,
            position,
            previous_hash,
            round(at * 1_000_000),
            actor_kind,
            actor,
            action,
            outcome,
            facts,
            subject_key,
        ]
    )


def hash_entry(
    *,
    position: int,
    previous_hash: str,
    at: float,
    actor_kind: str,
    actor: str,
    action: str,
    outcome: str,
    facts: str,
    subject_key: str | None,
) -> str:
    return hashlib.sha256(
        entry_bytes(
            position=position,
            previous_hash=previous_hash,
            at=at,
            actor_kind=actor_kind,
            actor=actor,
            action=action,
            outcome=outcome,
            facts=facts,
            subject_key=subject_key,
        )
    ).hexdigest()


def recomputed_hash(entry: ChainedEntry) -> str:
    """What ``entry.entry_hash`` must be, from the rest of the entry."""
    return hash_entry(
        position=entry.position,
        previous_hash=entry.previous_hash,
        at=entry.at,
        actor_kind=entry.actor_kind,
        actor=entry.actor,
        action=entry.action,
        outcome=entry.outcome,
        facts=entry.facts,
        subject_key=entry.subject_key,
    )


@dataclass(frozen=True, slots=True)
class UnchainedEntry:
    """An appended entry not yet in the chain (the chainer's input)."""

    at: float
    actor_kind: str
    actor: str
    action: str
    outcome: str
    facts: str
    subject_key: str | None


def link(entry: UnchainedEntry, position: int, previous_hash: str) -> ChainedEntry:
    """``entry`` chained at ``position`` after the entry whose hash is ``previous_hash``."""
    unhashed = ChainedEntry(
        position=position,
        previous_hash=previous_hash,
        at=entry.at,
        actor_kind=entry.actor_kind,
        actor=entry.actor,
        action=entry.action,
        outcome=entry.outcome,
        facts=entry.facts,
        subject_key=entry.subject_key,
        entry_hash="",
    )
    return replace(unhashed, entry_hash=recomputed_hash(unhashed))


@dataclass(frozen=True, slots=True)
class SignedHead:
    """A head as stored and exported: what it covers, and its JWS (which is what counts)."""

    position: int
    entry_hash: str
    at: float
    jws: str


def sign_head(
    signer: Signer, *, position: int, entry_hash: str, at: float, issuer: str
) -> SignedHead:
    """A head over the chain up to ``position`` (whose entry hashes to ``entry_hash``)."""
    payload = {"iss": issuer, "position": position, "entry_hash": entry_hash, "iat": int(at)}
    jws = sign_compact(payload, signer, typ=HEAD_TYPE, include_x5c=bool(signer.x5c))
    return SignedHead(position=position, entry_hash=entry_hash, at=at, jws=jws)


#: Chooses the key a head is checked with: its protected header and (unverified) ``iat``.
HeadKeys = Callable[[Mapping[str, Any], int], PublicKey]


def anchored_head_keys(anchors: Sequence[x509.Certificate]) -> HeadKeys:
    """Heads signed by a key whose ``x5c`` validates to one of ``anchors`` at the head's
    ``iat`` (a copy checked years later still verifies)."""

    def key(header: Mapping[str, Any], iat: int) -> PublicKey:
        at = dt.datetime.fromtimestamp(iat, dt.UTC)
        return leaf_public_key(validate_x5c(header.get("x5c"), anchors, at=at))

    return key


class HeadInvalid(ValueError):
    """A head that is not a valid signed head (why, in the message)."""


@dataclass(frozen=True, slots=True)
class VerifiedHead:
    position: int
    entry_hash: str
    iat: int


def verify_head(head: SignedHead, keys: HeadKeys) -> VerifiedHead:
    """The head's signed statement, once its signature and certificate check out."""
    try:
        parsed = decode_unverified(head.jws, max_bytes=MAX_HEAD_BYTES)
        claimed = _head_payload(parsed.payload_bytes)
        verified = verify_decoded(
            parsed,
            lambda header: keys(header, claimed.iat),
            algorithms=HEAD_ALGORITHMS,
            typ=HEAD_TYPE,
        )
    except (JoseError, CertificateError) as exc:
        raise HeadInvalid(f"the head's signature does not verify: {exc}") from exc
    payload = verified.payload
    return VerifiedHead(payload["position"], payload["entry_hash"], payload["iat"])


def _head_payload(payload_bytes: bytes) -> VerifiedHead:
    try:
        payload = strict_json_object(payload_bytes, max_bytes=MAX_HEAD_BYTES)
    except EncodingError as exc:
        raise HeadInvalid(f"the head's payload is not a JSON object: {exc}") from exc
    position, entry_hash, iat = (
        payload.get("position"),
        payload.get("entry_hash"),
        payload.get("iat"),
    )
    if (
        not isinstance(position, int)
        or isinstance(position, bool)
        or position < 1
        or not isinstance(entry_hash, str)
        or len(entry_hash) != 64
        or not isinstance(iat, int)
        or isinstance(iat, bool)
    ):
        raise HeadInvalid("the head's payload lacks position, entry_hash or iat")
    return VerifiedHead(position, entry_hash, iat)


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place the chain does not hold: ``kind`` is one of ``hash_mismatch``
    (an entry's content does not give its hash), ``link_mismatch`` (its previous hash is
    not the hash of the entry before), ``gap`` (positions do not follow on: an entry
    removed, added or moved), ``head_signature_invalid``, ``head_mismatch`` (a signed
    head states another hash for that position) or ``head_beyond_chain`` (a signed head
    covers entries that are not there: removed from the end)."""

    position: int
    kind: str
    detail: str

    def describe(self) -> str:
        return f"position {self.position}: {self.kind}: {self.detail}"


@dataclass(slots=True)
class ChainReport:
    entries: int = 0
    heads: int = 0
    first_position: int | None = None
    last_position: int | None = None
    #: The last position a valid signed head covers (0: none).
    signed_through: int = 0
    first_break: ChainBreak | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_break is None


class ChainVerifier:
    """Feed entries in position order (``entry``), then ``finish``; heads are given up
    front and checked where the chain reaches their position."""

    def __init__(self, heads: Iterable[SignedHead], keys: HeadKeys) -> None:
        self.report = ChainReport()
        self._heads: dict[int, list[tuple[SignedHead, VerifiedHead | None, str]]] = {}
        for head in heads:
            self.report.heads += 1
            try:
                verified: VerifiedHead | None = verify_head(head, keys)
                why = ""
            except HeadInvalid as exc:
                verified, why = None, str(exc)
            position = verified.position if verified is not None else head.position
            self._heads.setdefault(position, []).append((head, verified, why))
        self._previous: ChainedEntry | None = None
        self._start_checked = False

    def _fail(self, position: int, kind: str, detail: str) -> None:
        if self.report.first_break is None:
            self.report.first_break = ChainBreak(position, kind, detail)

    def _start(self, entry: ChainedEntry) -> None:
        """The first entry: the genesis, or the entry right after a signed head (the
        entries before it removed by retention)."""
        if entry.position == 1:
            if entry.previous_hash != GENESIS:
                self._fail(1, "link_mismatch", "the first entry does not follow the genesis")
            return
        # heads below the start cover removed entries; their signatures must still hold
        for position in sorted(p for p in self._heads if p < entry.position):
            for _, verified, why in self._heads[position]:
                if verified is None:
                    self._fail(position, "head_signature_invalid", why)
                elif position == entry.position - 1 and verified.entry_hash == entry.previous_hash:
                    self.report.signed_through = position
        if self.report.signed_through != entry.position - 1:
            self._fail(
                entry.position - 1 if entry.position > 1 else 1,
                "gap",
                f"the chain starts at position {entry.position} without a signed head of"
                f" position {entry.position - 1} it follows",
            )

    def entry(self, entry: ChainedEntry) -> None:
        if self.report.first_break is not None:
            self.report.entries += 1
            return
        report = self.report
        report.entries += 1
        previous = self._previous
        if previous is None:
            report.first_position = entry.position
            self._start(entry)
        elif entry.position != previous.position + 1:
            self._fail(
                min(entry.position, previous.position + 1),
                "gap",
                f"position {entry.position} follows position {previous.position}",
            )
        elif entry.previous_hash != previous.entry_hash:
            self._fail(
                entry.position,
                "link_mismatch",
                "its previous hash is not the hash of the entry before",
            )
        if report.first_break is None and recomputed_hash(entry) != entry.entry_hash:
            self._fail(entry.position, "hash_mismatch", "its content does not give its hash")
        if report.first_break is None:
            self._check_heads(entry)
        self._previous = entry
        report.last_position = entry.position

    def _check_heads(self, entry: ChainedEntry) -> None:
        for _, verified, why in self._heads.get(entry.position, ()):
            if verified is None:
                self._fail(entry.position, "head_signature_invalid", why)
            elif verified.entry_hash != entry.entry_hash:
                self._fail(
                    entry.position, "head_mismatch", "a signed head states another hash here"
                )
            else:
                self.report.signed_through = entry.position

    def finish(self) -> ChainReport:
        report = self.report
        last = self._previous.position if self._previous is not None else 0
        if report.first_break is None:
            beyond = sorted(p for p in self._heads if p > last)
            for position in beyond:
                for _, verified, why in self._heads[position]:
                    if verified is None:
                        self._fail(position, "head_signature_invalid", why)
                    else:
                        self._fail(
                            last + 1,
                            "head_beyond_chain",
                            f"a signed head covers position {position}; the chain ends at {last}",
                        )
            if self._previous is None and not beyond:
                # nothing left but heads (every entry removed by retention): they must hold
                for position in sorted(self._heads):
                    for _, verified, why in self._heads[position]:
                        if verified is None:
                            self._fail(position, "head_signature_invalid", why)
        if report.first_break is None and last > report.signed_through:
            report.warnings.append(
                f"positions {report.signed_through + 1} to {last} are not covered by a signed"
                " head yet"
            )
        return report


def verify_chain(
    entries: Iterable[ChainedEntry], heads: Iterable[SignedHead], keys: HeadKeys
) -> ChainReport:
    verifier = ChainVerifier(heads, keys)
    for entry in entries:
        verifier.entry(entry)
    return verifier.finish()
