"""Framework-free building blocks shared by every role.

Owns: JOSE (``core.jose``), keys and X.509 (``core.keys``), SD-JWT (``core.sdjwt``),
the SD-JWT VC profile (``core.sdjwt_vc``), Token Status List (``core.status_list``),
ISO/IEC 18013-5 mdoc (``core.mdoc``), DCQL (``core.dcql``), protocol errors, strict
JSON, QR codes (``core.qr``) and the storage base.
May import: the standard library, ``cryptography``, ``jwcrypto``, ``msgspec``;
``qrcode`` only inside ``core.qr``; ``cbor2`` only inside ``core.mdoc``; SQLAlchemy only
inside ``core.storage``.
Must never import: ``litestar``, ``app``, ``issuers``, ``verifiers`` or ``wallet``.
Tests: ``tests/core``.
"""
