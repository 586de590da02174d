"""SD-JWT (RFC 9901; text in ``shared/specs/sd-jwt-draft-22.txt``): selective disclosure
for JWTs. Issue (§4), present with key binding (§4.3, §7.2), verify (§7.1, §7.3).

Modules: ``disclosures`` (§4.2), ``issue``, ``serialization`` (§4 compact form),
``present``, ``key_binding`` (§4.3), ``verify``. Framework-free; no I/O.
"""
