"""A credential response that may not have reached the wallet, kept for its retry.

The access token is single-use: the transaction that issues the credentials also uses the
grant up. If the process dies, or the connection drops, after that COMMIT and before the
response leaves, the wallet's retry used to meet ``invalid_token`` and the credentials
stayed issued but undelivered. Now the response is stored in the same transaction, and a
retry with the same access token and the same key proofs (the same keys, the same
``c_nonce``) gets the same credentials again, until the access token would have expired;
housekeeping deletes it afterwards.

The stored response is sealed with AES-256-GCM under a key derived from the access token
itself (HKDF-SHA256, RFC 5869), which the database never holds (only its hash): a copy of
the database does not reveal the credentials in it.

What is kept is the plain Credential Response, never the JWE a request may have asked for
(OpenID4VCI 1.0 §10). A retry is answered as it asks: encrypted to the key in its own
``credential_response_encryption``, which need not be the key of the first request, or
plain where the agency allows plain answers. The fingerprint leaves the encryption key out
on purpose:

- the key is the wallet's choice for each request, an ephemeral key that a wallet whose
  response was lost may well have lost with it; §9.2 says the same of the deferred
  endpoint ("The ``credential_response_encryption`` object may be different from the one
  included in the initial Credential Request so the Credential Issuer MUST use the newly
  provided one");
- nobody but the wallet can make a retry: it needs the access token and proofs of the same
  keys for the same ``c_nonce``, and a request that asks for an encrypted response is itself
  encrypted (§8.2), so its proofs were seen by nobody on the way;
- every rule of a first request holds for the retry as well (an agency that requires
  encryption refuses a plain retry; a plain retry cannot ask for an encrypted answer).
"""

from __future__ import annotations

import hashlib
import json

import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import ProtocolError
from core.messages import decode_message
from core.oid4vci import CredentialResponse
from core.sealing import Sealer, SealError
from issuers.services.proofs import VerifiedProof

_INFO = b"idwallet credential response"
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class UnreadableResponse(Exception):
    """The stored response does not open with this access token."""


def request_fingerprint(issuer_id: str, configuration_id: str, proofs: list[VerifiedProof]) -> str:
    """What makes a retry the same request: the agency, the configuration, the proof keys
    and the ``c_nonce`` each proof (and its key attestation) was made for (not the proof
    bytes: a wallet may sign again)."""
    parts = sorted(":".join((p.thumbprint, *p.nonces)) for p in proofs)
    message = json.dumps([issuer_id, configuration_id, parts], separators=(",", ":"))
    return hashlib.sha256(message.encode()).hexdigest()


def _sealer(access_token: str) -> Sealer:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        access_token.encode()
    )
    return Sealer(key)


def _context(token_hash: str) -> str:
    return f"idwallet issuer/credential response/{token_hash}"


def seal_response(access_token: str, token_hash: str, response: CredentialResponse) -> bytes:
    return _sealer(access_token).seal(msgspec.json.encode(response), _context(token_hash))


def open_response(access_token: str, token_hash: str, sealed: bytes) -> CredentialResponse:
    try:
        plain = _sealer(access_token).open(sealed, _context(token_hash))
        return decode_message(plain, CredentialResponse, max_bytes=MAX_RESPONSE_BYTES)
    except (SealError, ProtocolError) as exc:
        raise UnreadableResponse from exc
