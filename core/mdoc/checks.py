"""The named checks of mdoc verification, and the log of those that passed.

Names, in the order they run (each error class of :mod:`core.mdoc.errors` carries the one
it fails): ``cbor`` (strict decoding within limits), ``structure`` (the ISO/IEC 18013-5
CDDL), ``trust_chain`` (``x5chain`` to a trust anchor, the document signer certificate
valid now), ``issuer_signature`` (``issuerAuth`` by that certificate's key, an allowed
``alg``), ``doc_type`` (the document's, the MSO's and the expected one agree), ``digests``
(an allowed digest algorithm and every disclosed item's digest in the MSO),
``validity`` (``validityInfo`` and the certificate's validity at signing), then for a
holder receiving an mdoc ``device_key`` (bound to the key it asked for), for a verifier
``device_auth`` (``deviceSignature`` by the MSO's device key over the expected
``DeviceAuthentication``).
"""

from __future__ import annotations

from core.mdoc.errors import MdocError

CBOR = "cbor"
STRUCTURE = "structure"
TRUST_CHAIN = "trust_chain"
ISSUER_SIGNATURE = "issuer_signature"
DOC_TYPE = "doc_type"
DIGESTS = "digests"
VALIDITY = "validity"
DEVICE_KEY = "device_key"
DEVICE_AUTH = "device_auth"


class CheckLog:
    """The checks that passed so far; :meth:`failed` hands them to the error that ends
    the verification, so its caller can show every check that ran."""

    __slots__ = ("document_index", "passed")

    def __init__(self, passed: tuple[str, ...] = (), document_index: int | None = None) -> None:
        self.passed: list[str] = list(passed)
        self.document_index = document_index

    def done(self, check: str) -> None:
        self.passed.append(check)

    def failed(self, error: MdocError) -> MdocError:
        error.passed_checks = tuple(self.passed)
        if self.document_index is not None:
            error.document_index = self.document_index
        return error
