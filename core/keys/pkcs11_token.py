"""A PKCS#11 token (a hardware security module, or SoftHSM2 in development) as the place
where private keys are made and used, through ``python-pkcs11``.

Keys are generated inside the token, sensitive and not extractable, and found again by
their ``CKA_ID``. ECDSA signs with the token's raw ``CKM_ECDSA`` mechanism over a digest
computed here (the mechanism every token has; PKCS#11 v2.40 §2.3.6), whose result is
already the JOSE form r||s (RFC 7518 §3.4).

Holder keys for citizens are too many for one object each (a national wallet holds
hundreds of millions): they are generated in the token as session objects and leave it
only wrapped under a wrapping key that never leaves the token (``CKM_AES_KEY_WRAP_PAD``,
RFC 5649); to sign, the blob is unwrapped into a session object, used and destroyed.

Fail closed: any failure of the module (token absent, PIN refused, session or handle
invalid, a key that is not where it was) raises ``KeyStoreUnavailable``, is reported once
to ``TokenEvents`` and closes the session. The next use after ``retry_interval`` seconds
reinitialises the module and logs in again, so service resumes by itself when the token
is back. A key found again after a reopen signs only after its first signature verified
under the public key on record, so a token swapped into the slot cannot sign in its place.

Calls are made in the caller's thread, one at a time per process (a lock), which PKCS#11
sessions need; a fork (another worker process) opens its own session.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import pkcs11
from pkcs11 import KDF, Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import PKCS11Error, UserAlreadyLoggedIn

from core.keys.unavailable import KeyStoreUnavailable

T = TypeVar("T")

#: DER of the named-curve OIDs (RFC 5480 §2.1.1.1) for ``CKA_EC_PARAMS``.
CURVE_PARAMETERS = {
    "P-256": bytes.fromhex("06082a8648ce3d030107"),
    "P-384": bytes.fromhex("06052b81040022"),
    "P-521": bytes.fromhex("06052b81040023"),
}
COORDINATE_BYTES = {"P-256": 32, "P-384": 48, "P-521": 66}
#: Bits of the AES key that wraps holder keys.
WRAPPING_KEY_BITS = 256


@dataclass(frozen=True, slots=True)
class Pkcs11Config:
    """Where the token is: the module (the vendor's PKCS#11 library), the token's label and
    the user PIN, given as such or as a file read at every login (so a corrected PIN file
    takes effect at the next retry). The PIN is never printed: it is left out of ``repr``.
    """

    module: str
    token_label: str
    pin: str | None = field(default=None, repr=False)
    pin_file: str | None = None

    def read_pin(self) -> str:
        if self.pin is not None:
            return self.pin
        if self.pin_file is None:
            raise KeyStoreUnavailable("no PIN is configured for the token")
        try:
            with open(self.pin_file, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as exc:
            raise KeyStoreUnavailable(
                f"the PIN file cannot be read ({type(exc).__name__})"
            ) from exc


class TokenEvents(Protocol):
    """Told when the token stops answering and when it answers again (once each)."""

    def unavailable(self, reason: str) -> None: ...

    def resumed(self) -> None: ...


class _NoEvents:
    def unavailable(self, reason: str) -> None:
        return None

    def resumed(self) -> None:
        return None


class _Library:
    """One loaded module per process and path; ``generation`` counts reinitialisations,
    each of which ends every session opened before it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.module = pkcs11.lib(path)
        self.generation = 0
        self.pid = os.getpid()

    def reinitialize(self) -> None:
        self.module.reinitialize()
        self.generation += 1
        self.pid = os.getpid()


_LIBRARIES: dict[str, _Library] = {}
_LIBRARIES_LOCK = threading.Lock()


def _library(path: str) -> _Library:
    with _LIBRARIES_LOCK:
        library = _LIBRARIES.get(path)
        if library is None:
            library = _LIBRARIES[path] = _Library(path)
        elif library.pid != os.getpid():
            library.reinitialize()  # a forked worker does not share its parent's sessions
        return library


def _reason(exc: BaseException) -> str:
    name = type(exc).__name__
    return {
        "TokenNotPresent": "the token is not present",
        "TokenNotRecognised": "the token is not recognised",
        "DeviceRemoved": "the token was removed",
        "DeviceError": "the token reported a device error",
        "PinIncorrect": "the token refused the PIN",
        "PinLocked": "the token's PIN is locked",
        "PinExpired": "the token's PIN has expired",
        "SessionClosed": "the session with the token was closed",
        "SessionHandleInvalid": "the session with the token broke",
        "ObjectHandleInvalid": "the session with the token broke",
        "NoSuchToken": "no token with the configured label is present",
        "NoSuchKey": "a key is missing from the token",
        "MultipleObjectsReturned": "a key is in the token more than once",
        "GeneralError": "the token module failed",
    }.get(name, f"the token module failed ({name})")


def _ec_point(value: bytes, curve: str) -> bytes:
    """The uncompressed point from ``CKA_EC_POINT``, which tokens give DER-wrapped in an
    OCTET STRING (PKCS#11 v2.40 §2.3.3) or, some of them, bare."""
    size = 1 + 2 * COORDINATE_BYTES[curve]
    if len(value) == size and value[0] == 0x04:
        return value
    if value[:1] == b"\x04":
        length, offset = value[1], 2
        if length & 0x80:
            count = length & 0x7F
            length, offset = int.from_bytes(value[2 : 2 + count], "big"), 2 + count
        point = value[offset : offset + length]
        if len(point) == size and point[0] == 0x04 and offset + length == len(value):
            return point
    raise KeyStoreUnavailable("the token gave a public key that is not a point of the curve")


_PUBLIC_SIGN = {
    Attribute.TOKEN: True,
    Attribute.VERIFY: True,
    Attribute.ENCRYPT: pkcs11.DEFAULT,
    Attribute.WRAP: pkcs11.DEFAULT,
    Attribute.DERIVE: pkcs11.DEFAULT,
}
_PUBLIC_DERIVE = {
    Attribute.TOKEN: True,
    Attribute.DERIVE: True,
    Attribute.ENCRYPT: pkcs11.DEFAULT,
    Attribute.VERIFY: pkcs11.DEFAULT,
    Attribute.WRAP: pkcs11.DEFAULT,
}
_PRIVATE_DERIVE = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.DERIVE: True,
    Attribute.DECRYPT: pkcs11.DEFAULT,
    Attribute.SIGN: pkcs11.DEFAULT,
    Attribute.UNWRAP: pkcs11.DEFAULT,
}
#: The session object an ECDH derivation makes: readable once, then destroyed.
_SHARED_SECRET = {
    Attribute.SENSITIVE: False,
    Attribute.EXTRACTABLE: True,
    Attribute.ENCRYPT: pkcs11.DEFAULT,
    Attribute.DECRYPT: pkcs11.DEFAULT,
    Attribute.SIGN: pkcs11.DEFAULT,
    Attribute.VERIFY: pkcs11.DEFAULT,
    Attribute.WRAP: pkcs11.DEFAULT,
    Attribute.UNWRAP: pkcs11.DEFAULT,
    Attribute.DERIVE: pkcs11.DEFAULT,
}
_PRIVATE_SIGN = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.SIGN: True,
    Attribute.DECRYPT: pkcs11.DEFAULT,
    Attribute.UNWRAP: pkcs11.DEFAULT,
    Attribute.DERIVE: pkcs11.DEFAULT,
}


class Pkcs11Token:
    def __init__(
        self,
        config: Pkcs11Config,
        *,
        retry_interval: float = 1.0,
        events: TokenEvents | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._retry_interval = retry_interval
        self._events: TokenEvents = events or _NoEvents()
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self._session: Any = None
        self._generation = -1
        self._failure: str | None = None
        self._last_attempt = float("-inf")
        self._keys: dict[bytes, Any] = {}  # CKA_ID → private key object of this session
        self._checked: set[bytes] = set()  # keys whose signature verified in this session
        self._wrapping: dict[str, list[Any]] = {}

    @property
    def failure(self) -> str | None:
        """Why the token is not usable now, or None while it answers."""
        return self._failure

    def set_events(self, events: TokenEvents) -> None:
        self._events = events

    # -- the session ---------------------------------------------------------------------

    def _fail(self, reason: str) -> KeyStoreUnavailable:
        first = self._failure is None
        self._failure = reason
        self._last_attempt = self._monotonic()
        self._session = None
        self._keys.clear()
        self._checked.clear()
        self._wrapping.clear()
        if first:
            self._events.unavailable(reason)
        return KeyStoreUnavailable(reason)

    def _open(self) -> Any:
        try:
            library = _library(self.config.module)
        except (PKCS11Error, OSError, RuntimeError) as exc:
            raise self._fail(f"the PKCS#11 module cannot be loaded ({type(exc).__name__})") from exc
        if self._session is not None and self._generation == library.generation:
            return self._session
        if self._session is not None:  # another token of this process reinitialised
            self._session = None
            self._keys.clear()
            self._checked.clear()
            self._wrapping.clear()
        elif self._failure is not None:
            now = self._monotonic()
            if now - self._last_attempt < self._retry_interval:
                raise KeyStoreUnavailable(self._failure)
            self._last_attempt = now
            try:
                library.reinitialize()  # the module rescans its slots only when initialised
            except PKCS11Error as exc:
                raise self._fail(_reason(exc)) from exc
        try:
            pin = self.config.read_pin()
        except KeyStoreUnavailable as exc:
            raise self._fail(exc.reason) from exc
        try:
            try:
                token = library.module.get_token(token_label=self.config.token_label)
            except PKCS11Error:
                # tokens put in or taken out since the module was initialised are seen
                # after a rescan
                library.reinitialize()
                token = library.module.get_token(token_label=self.config.token_label)
            try:
                session = token.open(user_pin=pin, rw=True)
            except UserAlreadyLoggedIn:
                # the login is the application's: another session of this process holds it
                session = token.open(rw=True)
        except PKCS11Error as exc:
            raise self._fail(_reason(exc)) from exc
        self._session = session
        self._generation = library.generation
        if self._failure is not None:
            self._failure = None
            self._events.resumed()
        return session

    def call(self, operation: Callable[[Any], T]) -> T:
        """Run ``operation`` with the session, failing closed on any module error."""
        with self._lock:
            session = self._open()
            try:
                return operation(session)
            except PKCS11Error as exc:
                raise self._fail(_reason(exc)) from exc

    def check(self) -> None:
        """Raise ``KeyStoreUnavailable`` unless the token answers now."""
        self.call(lambda session: session.token.label)

    # -- keys kept as token objects ------------------------------------------------------

    @staticmethod
    def new_key_id() -> bytes:
        return secrets.token_bytes(16)

    def generate_signing_key(self, key_id: bytes, label: str, curve: str) -> bytes:
        """A new EC key pair in the token for ECDSA; its uncompressed public point."""
        return self._generate(key_id, label, curve, MechanismFlag.SIGN | MechanismFlag.VERIFY)

    def generate_agreement_key(self, key_id: bytes, label: str, curve: str) -> bytes:
        """A new EC key pair in the token for ECDH (``CKM_ECDH1_DERIVE``); its point."""
        return self._generate(key_id, label, curve, MechanismFlag.DERIVE)

    def _generate(self, key_id: bytes, label: str, curve: str, usage: MechanismFlag) -> bytes:
        signs = bool(usage & MechanismFlag.SIGN)

        def generate(session: Any) -> bytes:
            parameters = session.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: CURVE_PARAMETERS[curve]}, local=True
            )
            public, _ = parameters.generate_keypair(
                store=True,
                id=key_id,
                label=label,
                capabilities=usage,
                public_template=_PUBLIC_SIGN if signs else _PUBLIC_DERIVE,
                private_template=_PRIVATE_SIGN if signs else _PRIVATE_DERIVE,
            )
            return _ec_point(bytes(public[Attribute.EC_POINT]), curve)

        return self.call(generate)

    def agree(self, key_id: bytes, peer_point: bytes) -> bytes:
        """The ECDH shared secret Z (RFC 7518 §4.6.2) of the key ``key_id`` and a peer's
        uncompressed public point, computed in the token. Z leaves the token, as the key
        derivation after it is done here; the private key does not."""

        def derive(session: Any) -> bytes:
            secret = self._private_key(session, key_id).derive_key(
                KeyType.GENERIC_SECRET,
                8 * (len(peer_point) // 2),
                mechanism=Mechanism.ECDH1_DERIVE,
                mechanism_param=(KDF.NULL, None, peer_point),
                store=False,
                template=_SHARED_SECRET,
            )
            try:
                return bytes(secret[Attribute.VALUE])
            finally:
                secret.destroy()

        return self.call(derive)

    def _private_key(self, session: Any, key_id: bytes) -> Any:
        key = self._keys.get(key_id)
        if key is None:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
            self._keys[key_id] = key
        return key

    def sign_digest(
        self, key_id: bytes, digest: bytes, verify: Callable[[bytes], bool] | None = None
    ) -> bytes:
        """Raw ECDSA r||s over ``digest`` by the key ``key_id``. ``verify`` checks the first
        signature of the key in each session against the public key on record."""

        def sign(session: Any) -> bytes:
            signature = bytes(
                self._private_key(session, key_id).sign(digest, mechanism=Mechanism.ECDSA)
            )
            if key_id not in self._checked and verify is not None:
                if not verify(signature):
                    self._keys.pop(key_id, None)
                    raise self._fail("a key in the token is not the key on record")
                self._checked.add(key_id)
            return signature

        return self.call(sign)

    def find_private_key(self, *, label: str | None, key_id: bytes | None) -> bytes:
        """The ``CKA_ID`` of the one private key with this label and/or id (a key an
        operator made in the token); ``KeyStoreUnavailable`` when there is none or more."""

        def find(session: Any) -> bytes:
            template: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PRIVATE_KEY}
            if label is not None:
                template[Attribute.LABEL] = label
            if key_id is not None:
                template[Attribute.ID] = key_id
            found = list(session.get_objects(template))
            if len(found) != 1:
                raise KeyStoreUnavailable(
                    "the key named is not in the token"
                    if not found
                    else "the key named is in the token more than once"
                )
            return bytes(found[0][Attribute.ID])

        return self.call(find)

    def generate_named_signing_key(self, key_id: bytes, label: str, curve: str) -> bytes:
        """A signing key under a fixed ``CKA_ID`` (the deployment's own authorities); the
        existing one's point when the token already holds it."""

        def existing(session: Any) -> bytes | None:
            found = list(
                session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: key_id})
            )
            return _ec_point(bytes(found[0][Attribute.EC_POINT]), curve) if found else None

        point = self.call(existing)
        return point if point is not None else self.generate_signing_key(key_id, label, curve)

    def private_key_attributes(self, key_id: bytes) -> dict[str, bool]:
        """How the token keeps the key: ``sensitive``, ``extractable``, ``token`` (for
        checks and operators' reports)."""

        def read(session: Any) -> dict[str, bool]:
            key = self._private_key(session, key_id)
            return {
                "sensitive": bool(key[Attribute.SENSITIVE]),
                "extractable": bool(key[Attribute.EXTRACTABLE]),
                "token": bool(key[Attribute.TOKEN]),
                "never_extractable": bool(key[Attribute.NEVER_EXTRACTABLE]),
            }

        return self.call(read)

    def destroy(self, key_id: bytes) -> int:
        """Destroy every object with this ``CKA_ID``; how many there were (0: already gone)."""

        def destroy(session: Any) -> int:
            objects = list(session.get_objects({Attribute.ID: key_id}))
            for item in objects:
                item.destroy()
            self._keys.pop(key_id, None)
            self._checked.discard(key_id)
            return len(objects)

        return self.call(destroy)

    def count_objects(self) -> int:
        return self.call(lambda session: sum(1 for _ in session.get_objects({})))

    # -- keys kept outside, wrapped (holder keys) -----------------------------------------

    def _wrapping_keys(self, session: Any, label: str, *, create: bool) -> list[Any]:
        """The token's wrapping keys of ``label``, in ``CKA_ID`` order; one made first when
        there is none and ``create``. Workers of several nodes making their first holder
        keys at once may each make one: every worker then wraps under the first of them and
        unwraps with whichever opens the blob, so a second one costs nothing."""
        keys = self._wrapping.get(label)
        if keys:
            return keys

        def listed() -> list[Any]:
            found = session.get_objects(
                {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: label}
            )
            return sorted(found, key=lambda key: bytes(key[Attribute.ID]))

        keys = listed()
        if not keys and create:
            session.generate_key(
                KeyType.AES,
                WRAPPING_KEY_BITS,
                store=True,
                label=label,
                id=self.new_key_id(),
                capabilities=MechanismFlag.WRAP | MechanismFlag.UNWRAP,
                template={
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.PRIVATE: True,
                    Attribute.ENCRYPT: False,
                    Attribute.DECRYPT: False,
                },
            )
            keys = listed()
        if keys:
            self._wrapping[label] = keys
        return keys

    def generate_wrapped_key(self, wrapping_label: str, curve: str) -> tuple[bytes, bytes]:
        """A new EC key pair made in the token and exported only wrapped: its uncompressed
        public point and the wrapped private key."""

        def generate(session: Any) -> tuple[bytes, bytes]:
            wrapping = self._wrapping_keys(session, wrapping_label, create=True)[0]
            parameters = session.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: CURVE_PARAMETERS[curve]}, local=True
            )
            public, private = parameters.generate_keypair(
                store=False,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                public_template={**_PUBLIC_SIGN, Attribute.TOKEN: False},
                private_template={
                    **_PRIVATE_SIGN,
                    Attribute.TOKEN: False,
                    Attribute.EXTRACTABLE: True,  # only under the wrapping key
                    Attribute.WRAP_WITH_TRUSTED: pkcs11.DEFAULT,
                },
            )
            try:
                blob = bytes(wrapping.wrap_key(private, mechanism=Mechanism.AES_KEY_WRAP_PAD))
                point = _ec_point(bytes(public[Attribute.EC_POINT]), curve)
            finally:
                private.destroy()
                public.destroy()
            return point, blob

        return self.call(generate)

    def sign_with_wrapped_key(
        self, wrapping_label: str, blob: bytes, digest: bytes, verify: Callable[[bytes], bool]
    ) -> bytes:
        """Raw ECDSA r||s by a wrapped key: unwrapped into a session object for this one
        signature, then destroyed. The signature must verify under the key on record. A
        blob no wrapping key of its label opens makes this one key unusable
        (``KeyStoreUnavailable`` for this request), not the token."""

        def sign(session: Any) -> bytes:
            for wrapping in self._wrapping_keys(session, wrapping_label, create=False):
                try:
                    key = wrapping.unwrap_key(
                        ObjectClass.PRIVATE_KEY,
                        KeyType.EC,
                        blob,
                        mechanism=Mechanism.AES_KEY_WRAP_PAD,
                        store=False,
                        capabilities=MechanismFlag.SIGN,
                        template={
                            Attribute.SENSITIVE: True,
                            Attribute.EXTRACTABLE: False,
                            Attribute.ENCRYPT: pkcs11.DEFAULT,
                            Attribute.VERIFY: pkcs11.DEFAULT,
                            Attribute.WRAP: pkcs11.DEFAULT,
                        },
                    )
                except PKCS11Error:
                    # a blob not wrapped under this key (AES key wrap's integrity check) or
                    # damaged; some modules say so only as a general error, so the token
                    # is asked whether it still answers: if not, that is the failure
                    bytes(wrapping[Attribute.ID])
                    continue
                try:
                    signature = bytes(key.sign(digest, mechanism=Mechanism.ECDSA))
                finally:
                    key.destroy()
                if not verify(signature):
                    raise KeyStoreUnavailable("a wrapped key is not the key on record")
                return signature
            raise KeyStoreUnavailable("no wrapping key in the token opens this key")

        return self.call(sign)


_TOKENS: dict[tuple[str, str], Pkcs11Token] = {}
_TOKENS_LOCK = threading.Lock()


def shared_token(config: Pkcs11Config, *, retry_interval: float = 1.0) -> Pkcs11Token:
    """The process's one ``Pkcs11Token`` for a module and token label (sessions and the
    module's reinitialisation are per process, so every key provider shares it)."""
    with _TOKENS_LOCK:
        token = _TOKENS.get((config.module, config.token_label))
        if token is None or token.config != config:
            token = _TOKENS[(config.module, config.token_label)] = Pkcs11Token(
                config, retry_interval=retry_interval
            )
        return token
