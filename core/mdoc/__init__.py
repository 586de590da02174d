"""ISO/IEC 18013-5 mdoc (``mso_mdoc``): strict CBOR, COSE_Sign1, issuing, presenting and
verifying, framework-free.

Specifications: ISO/IEC 18013-5 §8.3 and §9.1 structures as OpenID4VP 1.0 Appendix B.2
and OpenID4VCI 1.0 Appendix A.2 use them, HAIP 1.0's mdoc rules, and the Token Status
List's mdoc binding (draft -14 §6.3.2). Each module's docstring cites what it implements.

Modules, by what they do:

- ``cbor``: strict decoding within limits, deterministic encoding, tag 24 (:class:`EncodedCbor`).
- ``cose_sign1`` and ``cose_key``: COSE_Sign1 with an algorithm allow-list and
  ``x5chain``; COSE_Key to and from JWK.
- ``mso``, ``issuer_signed``, ``elements``: the Mobile Security Object, ``IssuerSigned``
  and its items, data element values.
- ``issue``: :func:`issue_mdoc` (issuer).
- ``verify_issuer_signed`` and ``verify_issued``: :func:`verify_issued_mdoc` (wallet, on
  receipt); ``present``: :func:`prepare_document` + :func:`assemble_device_response`, or
  :func:`present_mdoc` (wallet); ``session_transcript``: OpenID4VP's ``SessionTranscript``.
- ``verify_presentation``: :func:`verify_device_response` (verifier).
- ``checks`` and ``errors``: the named checks and the narrow errors that carry them.

May import: the standard library, ``cbor2``, ``cryptography``, and ``core.jose``,
``core.keys``, ``core.status_list``, ``core.encoding``, ``core.clock``.
Tests: ``tests/core/mdoc``.
"""
