"""Encrypted Credential Requests and Responses at an agency's Credential Endpoint
(OpenID4VCI 1.0 §8.2, §8.3, §10; metadata §12.2.4).

A request may arrive as a compact JWE (``application/jwt``) to the agency's own key for
requests, which its metadata publishes in ``credential_request_encryption``: its size is
checked before anything is parsed, only ECDH-ES and the ``enc`` values listed are taken,
and the plaintext is then read as strictly as a plain request
(``open_credential_request``). A request encrypted to a key rotated away since the wallet
read the metadata is refused (``invalid_encryption_parameters``): the wallet reads the
metadata again.

What the request says about encryption is checked before anything is issued, so a request
the agency will not answer uses nothing up (``response_encryption``):

- §8.2: "Credential Request encryption MUST be used if the ``credential_response_encryption``
  parameter is included, to prevent it being substituted by an attacker"; and §10: "When
  encryption of a message was required but the received message is unencrypted, it SHOULD
  be rejected". A plain JSON request that asks for an encrypted response is refused.
- An agency whose catalog requires encryption (``"credential_encryption": {"required":
  true}``, published as ``encryption_required`` of both objects in §12.2.4) refuses a plain
  request, and an encrypted one that does not ask for an encrypted response (§8.3.1.2
  ``invalid_encryption_parameters``: "the Credential Issuer requires the Credential
  Response to be sent encrypted, but the Credential Request does not contain the
  necessary encryption parameters").
- ``credential_response_encryption`` itself is checked strictly
  (``core.oid4vci_encryption.checked_response_encryption``).

The answer to a request that asked for it is the Credential Response as a compact JWE to
the wallet's key (``encrypt_credential_response``; §8.3: "this is done regardless of the
content"). Errors are never encrypted (§8.3.1.2). A retry of a response that was lost is
answered the same way, to the key of the retry (see ``delivered_responses``).
"""

from __future__ import annotations

from msgspec import UNSET

from core.errors import InvalidEncryptionParameters
from core.messages import MAX_MESSAGE_BYTES
from core.oid4vci import CredentialRequest, CredentialResponse, DeferredCredentialRequest
from core.oid4vci_encryption import (
    EncryptedToAnotherKey,
    ResponseEncryption,
    checked_response_encryption,
    encrypt_message,
    open_encrypted_request,
)
from issuers.services.context import IssuerContext

#: An encrypted request is at most as large as a plain one may be; its plaintext, a quarter
#: smaller (base64url), still holds ten proofs with their key attestations.
MAX_ENCRYPTED_REQUEST_BYTES = MAX_MESSAGE_BYTES


async def open_credential_request(context: IssuerContext, issuer_id: str, body: bytes) -> bytes:
    """The plaintext (the request's JSON) of a Credential Request that arrived as a compact
    JWE to the agency's key for requests."""
    decrypter = await context.keys.decrypter(issuer_id)
    try:
        return open_encrypted_request(body, decrypter, max_bytes=MAX_ENCRYPTED_REQUEST_BYTES)
    except EncryptedToAnotherKey:
        # this process may remember a key that another has rotated since: look again once
        current = await context.keys.decrypter(issuer_id, fresh=True)
        if current.kid == decrypter.kid:
            raise
        return open_encrypted_request(body, current, max_bytes=MAX_ENCRYPTED_REQUEST_BYTES)


def response_encryption(
    context: IssuerContext,
    issuer_id: str,
    request: CredentialRequest | DeferredCredentialRequest,
    *,
    encrypted: bool,
) -> ResponseEncryption | None:
    """How to answer ``request`` (which arrived encrypted or not): the checked encryption
    to the wallet's key, or None for a plain response; ``invalid_encryption_parameters``
    for what the agency will not answer."""
    required = context.agency(issuer_id).encryption_required
    if required and not encrypted:
        raise InvalidEncryptionParameters(
            "this issuer requires encrypted credential requests (application/jwt, see "
            "credential_request_encryption in its metadata)"
        )
    parameters = request.credential_response_encryption
    if parameters is UNSET:
        if required:
            raise InvalidEncryptionParameters(
                "this issuer requires encrypted credential responses: send "
                "credential_response_encryption"
            )
        return None
    if not encrypted:
        raise InvalidEncryptionParameters(
            "a request with credential_response_encryption must itself be encrypted "
            "(OpenID4VCI 1.0 section 8.2)"
        )
    return checked_response_encryption(parameters)


def encrypt_credential_response(
    response: CredentialResponse, encryption: ResponseEncryption
) -> str:
    """§8.3, §10: the Credential Response as a compact JWE to the wallet's key."""
    return encrypt_message(response, encryption)
