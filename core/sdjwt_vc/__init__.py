"""SD-JWT VC (``shared/specs/sd-jwt-vc-editors-copy.txt``): the ``dc+sd-jwt`` profile of
SD-JWT for verifiable digital credentials.

``profile``: issue and verify with the §2.2 rules (``typ``, ``vct``, claims that are never
selectively disclosable). ``issuer_keys``: §2.5 key discovery (inline ``x5c`` to trust
anchors, JWT VC Issuer Metadata of §4), with all I/O injected. ``type_metadata``: §5.
"""
