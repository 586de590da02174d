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

Only the deployment's audit key signs heads: its certificate validates to the anchor and
names the URI ``<iss>/audit`` (``audit_signer_uri``) for the head's ``iss``; any other
key certified under the same anchor (an agency's, a counter's) signs nothing that counts.

``ChainVerifier`` reads entries and heads in position order (the database's order and an
export's), holding only the entry before, and reports the **first** break: its position
and what is wrong. When every entry was removed by retention, the heads left must verify
and the highest is where the chain goes on from. Entries after the last head are only
unsigned (a warning) while they are recent; older than a few head intervals
(``UnsignedLimit``) they are a break: heads are signed every interval, so an old unsigned
tail is one whose heads were removed. A head kept from an earlier export (``known``) must
still be covered with the same hash, which finds entries removed from the end together
with their heads.
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
from core.keys.x509 import (
    CertificateError,
    leaf_public_key,
    parse_x5c,
    san_uris,
    validate_chain,
)

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


#: The path, after the deployment's base URL (the heads' ``iss``), that the audit key's
#: certificate names as its URI: the only certificate under the anchor whose heads count.
AUDIT_SIGNER_PATH = "/audit"
#: ``iat`` values a head may state (seconds since the epoch, within years 1970 to 9999).
MAX_IAT = 253_402_300_799


def audit_signer_uri(issuer: str) -> str:
    """The URI the audit key's certificate carries for a deployment of base URL ``issuer``."""
    return f"{issuer}{AUDIT_SIGNER_PATH}"


@dataclass(frozen=True, slots=True)
class VerifiedHead:
    position: int
    entry_hash: str
    iat: int
    iss: str


#: Chooses the key a head is checked with, from its protected header and its (unverified)
#: payload; raises ``CertificateError`` when no key of the deployment's audit signer fits.
HeadKeys = Callable[[Mapping[str, Any], VerifiedHead], PublicKey]


@dataclass(frozen=True, slots=True)
class _CheckedChain:
    key: PublicKey
    uris: frozenset[str]
    not_before: float
    not_after: float


def anchored_head_keys(
    anchors: Sequence[x509.Certificate], *, issuer: str | None = None
) -> HeadKeys:
    """Heads signed by the deployment's audit key: its ``x5c`` validates to one of
    ``anchors`` at the head's ``iat`` (a copy checked years later still verifies), and its
    certificate names ``audit_signer_uri(iss)`` for the head's ``iss``, which must be
    ``issuer`` when one is given. Another key certified under the same anchor (an
    agency's, a counter's, the wallet provider's) signs no head. A chain is path-validated
    once and remembered with the span all its certificates are valid in."""
    checked: dict[tuple[str, ...], _CheckedChain] = {}

    def key(header: Mapping[str, Any], claimed: VerifiedHead) -> PublicKey:
        if issuer is not None and claimed.iss != issuer:
            raise CertificateError(f"the head's iss is not {issuer}")
        x5c = header.get("x5c")
        if not isinstance(x5c, list) or not all(isinstance(item, str) for item in x5c):
            raise CertificateError("the head carries no x5c chain")
        at = claimed.iat
        known = checked.get(tuple(x5c))
        if known is None or not known.not_before <= at <= known.not_after:
            parsed = parse_x5c(x5c)
            leaf = validate_chain(parsed, anchors, at=dt.datetime.fromtimestamp(at, dt.UTC))
            certificates = [*parsed, *anchors]
            try:
                uris = frozenset(san_uris(leaf))
            except ValueError as exc:
                raise CertificateError(f"the head's certificate is malformed: {exc}") from exc
            known = _CheckedChain(
                key=leaf_public_key(leaf),
                uris=uris,
                not_before=max(c.not_valid_before_utc for c in certificates).timestamp(),
                not_after=min(c.not_valid_after_utc for c in certificates).timestamp(),
            )
            checked[tuple(x5c)] = known
        if audit_signer_uri(claimed.iss) not in known.uris:
            raise CertificateError("the head's signer is not the deployment's audit key")
        return known.key

    return key


class HeadInvalid(ValueError):
    """A head that is not a valid signed head (why, in the message)."""


def verify_head(head: SignedHead, keys: HeadKeys) -> VerifiedHead:
    """The head's signed statement, once its signature and certificate check out."""
    try:
        parsed = decode_unverified(head.jws, max_bytes=MAX_HEAD_BYTES)
        claimed = _head_payload(parsed.payload_bytes)
        verify_decoded(
            parsed,
            lambda header: keys(header, claimed),
            algorithms=HEAD_ALGORITHMS,
            typ=HEAD_TYPE,
        )
    except (JoseError, CertificateError) as exc:
        raise HeadInvalid(f"the head's signature does not verify: {exc}") from exc
    return claimed


def _head_payload(payload_bytes: bytes) -> VerifiedHead:
    try:
        payload = strict_json_object(payload_bytes, max_bytes=MAX_HEAD_BYTES)
    except EncodingError as exc:
        raise HeadInvalid(f"the head's payload is not a JSON object: {exc}") from exc
    position, entry_hash, iat, iss = (
        payload.get("position"),
        payload.get("entry_hash"),
        payload.get("iat"),
        payload.get("iss"),
    )
    if (
        not isinstance(position, int)
        or isinstance(position, bool)
        or position < 1
        or not isinstance(entry_hash, str)
        or len(entry_hash) != 64
        or not isinstance(iat, int)
        or isinstance(iat, bool)
        or not isinstance(iss, str)
    ):
        raise HeadInvalid("the head's payload lacks iss, position, entry_hash or iat")
    if not 0 <= iat <= MAX_IAT:
        raise HeadInvalid("the head's iat is not a time between 1970 and 9999")
    return VerifiedHead(position, entry_hash, iat, iss)


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place the chain does not hold: ``kind`` is one of ``hash_mismatch``
    (an entry's content does not give its hash), ``link_mismatch`` (its previous hash is
    not the hash of the entry before), ``gap`` (positions do not follow on: an entry
    removed, added or moved), ``head_signature_invalid``, ``head_mismatch`` (a signed
    head states another hash for that position, or is stored at another position than
    it signs), ``head_beyond_chain`` (a signed head covers entries that are not there:
    removed from the end), ``known_head_mismatch`` / ``known_head_not_covered`` (a head
    kept from an earlier export states another hash, or covers entries no longer there)
    or ``unsigned_too_long`` (entries older than a few head intervals that no head covers:
    heads are signed every interval, so a tail of old unsigned entries is one whose heads
    were removed, or a deployment that has not signed for that long)."""

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
    #: Heads kept from earlier exports (``known``) that the chain still covers.
    known_heads: int = 0
    first_break: ChainBreak | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_break is None

    @property
    def empty(self) -> bool:
        """Nothing was checked: no entry and no head."""
        return self.entries == 0 and self.heads == 0


@dataclass(frozen=True, slots=True)
class UnsignedLimit:
    """Entries stamped before ``older_than`` (seconds since the epoch) must be covered by
    a signed head: heads are signed every interval, so older unsigned entries are a break."""

    older_than: float


class ChainVerifier:
    """Feed entries (``entry``) and heads (``head``) in position order, a head after the
    entry of its position (``feed`` merges two such streams), then ``finish``. Only the
    entry before and a few heads are held, whatever the length of the trail.

    ``known``: heads kept from an earlier export (already verified, ``verify_head``) that
    the chain must still cover: the same hash at their position, or a position retention
    removed. ``unsigned``: how old an entry no head covers may be."""

    def __init__(
        self,
        keys: HeadKeys,
        *,
        known: Iterable[VerifiedHead] = (),
        unsigned: UnsignedLimit | None = None,
    ) -> None:
        self.report = ChainReport()
        self._keys = keys
        self._known = {head.position: head for head in known}
        self._unsigned = unsigned
        self._previous: ChainedEntry | None = None
        #: Before the first entry: the highest valid head (the start of a pruned chain).
        self._start_head: VerifiedHead | None = None
        #: A valid head beyond the last entry so far (a break unless entries follow it).
        self._ahead: VerifiedHead | None = None
        #: The first entry no head covers yet: its position and time.
        self._first_unsigned: tuple[int, float] | None = None

    def _fail(self, position: int, kind: str, detail: str) -> None:
        if self.report.first_break is None:
            self.report.first_break = ChainBreak(position, kind, detail)

    def head(self, head: SignedHead) -> None:
        report = self.report
        report.heads += 1
        try:
            verified = verify_head(head, self._keys)
        except HeadInvalid as exc:
            self._fail(head.position, "head_signature_invalid", str(exc))
            return
        if verified.position != head.position or verified.entry_hash != head.entry_hash:
            self._fail(
                head.position,
                "head_mismatch",
                f"the head is stored at position {head.position} but signs position"
                f" {verified.position} or another hash",
            )
            return
        previous = self._previous
        if previous is None:
            if self._start_head is None or verified.position > self._start_head.position:
                self._start_head = verified
        elif verified.position == previous.position:
            if verified.entry_hash != previous.entry_hash:
                self._fail(
                    verified.position, "head_mismatch", "a signed head states another hash here"
                )
            elif report.first_break is None:
                report.signed_through = verified.position
                self._first_unsigned = None
        elif verified.position > previous.position:
            if self._ahead is None:
                self._ahead = verified
        else:
            self._fail(verified.position, "gap", "heads are not in position order")

    def _start(self, entry: ChainedEntry) -> None:
        """The first entry: the genesis, or the entry right after a signed head (the
        entries before it removed by retention)."""
        start = self._start_head
        if entry.position == 1:
            if entry.previous_hash != GENESIS:
                self._fail(1, "link_mismatch", "the first entry does not follow the genesis")
            return
        if (
            start is not None
            and start.position == entry.position - 1
            and start.entry_hash == entry.previous_hash
        ):
            self.report.signed_through = start.position
            return
        self._fail(
            entry.position - 1,
            "gap",
            f"the chain starts at position {entry.position} without a signed head of"
            f" position {entry.position - 1} it follows",
        )

    def entry(self, entry: ChainedEntry) -> None:
        report = self.report
        report.entries += 1
        if report.first_break is not None:
            return
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
        known = self._known.get(entry.position)
        if report.first_break is None and known is not None:
            if known.entry_hash != entry.entry_hash:
                self._fail(
                    entry.position,
                    "known_head_mismatch",
                    "a head kept from an earlier export states another hash here",
                )
            else:
                report.known_heads += 1
        if self._first_unsigned is None:
            self._first_unsigned = (entry.position, entry.at)
        self._previous = entry
        report.last_position = entry.position

    def _check_known_before(self, first: int) -> None:
        """Known heads below the first entry: removed by retention, or the start head."""
        for position, known in sorted(self._known.items()):
            if position >= first:
                break
            start = self._start_head
            if start is not None and start.position == position:
                if start.entry_hash != known.entry_hash:
                    self._fail(
                        position,
                        "known_head_mismatch",
                        "a head kept from an earlier export states another hash here",
                    )
                    return
                self.report.known_heads += 1
            else:
                self.report.warnings.append(
                    f"the known head of position {position} lies before the retained chain"
                    " (removed by retention)"
                )

    def finish(self) -> ChainReport:
        report = self.report
        previous = self._previous
        if previous is None:
            # nothing left but heads (every entry removed by retention, or none yet): the
            # highest is where the chain goes on from
            start = self._start_head
            last = start.position if start is not None else 0
            if report.first_break is None:
                report.signed_through = last
            self._check_known_before(last + 1)
        else:
            last = previous.position
            if self._ahead is not None:
                self._fail(
                    last + 1,
                    "head_beyond_chain",
                    f"a signed head covers position {self._ahead.position}; the chain ends"
                    f" at {last}",
                )
            if report.first_break is None and report.first_position is not None:
                self._check_known_before(report.first_position)
        if report.first_break is None:
            beyond = [p for p in self._known if p > last]
            if beyond:
                self._fail(
                    last + 1,
                    "known_head_not_covered",
                    f"a head kept from an earlier export covers position {min(beyond)};"
                    f" the chain ends at {last}",
                )
        unsigned = self._first_unsigned
        if report.first_break is None and unsigned is not None and previous is not None:
            position, at = unsigned
            if self._unsigned is not None and at < self._unsigned.older_than:
                self._fail(
                    position,
                    "unsigned_too_long",
                    f"positions {position} to {last} are older than a few head intervals"
                    " and no signed head covers them",
                )
            else:
                report.warnings.append(
                    f"positions {position} to {last} are not covered by a signed head yet"
                )
        return report


def feed(
    verifier: ChainVerifier, entries: Iterable[ChainedEntry], heads: Iterable[SignedHead]
) -> ChainReport:
    """Both streams (each in position order) merged into ``verifier``: a head after the
    entry of its position."""
    pending = iter(heads)
    head = next(pending, None)
    for entry in entries:
        while head is not None and head.position < entry.position:
            verifier.head(head)
            head = next(pending, None)
        verifier.entry(entry)
    while head is not None:
        verifier.head(head)
        head = next(pending, None)
    return verifier.finish()


def verify_chain(
    entries: Iterable[ChainedEntry],
    heads: Iterable[SignedHead],
    keys: HeadKeys,
    *,
    known: Iterable[VerifiedHead] = (),
    unsigned: UnsignedLimit | None = None,
) -> ChainReport:
    """Entries in any order the caller has them (a break where they do not follow on) and
    heads in any order (sorted by position here)."""
    verifier = ChainVerifier(keys, known=known, unsigned=unsigned)
    return feed(verifier, entries, sorted(heads, key=lambda h: h.position))
