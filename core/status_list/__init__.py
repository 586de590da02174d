"""IETF Token Status List (``shared/specs/token-status-list-draft-20.txt``).

``bits``: the packed status array and its ZLIB/DEFLATE encoding (§4.1, §4.2), with
bounded decompression. ``token``: the ``statuslist+jwt`` Status List Token (§5.1), the
``status.status_list`` reference of a Referenced Token (§6.2) and the §8.3 checks.
"""
