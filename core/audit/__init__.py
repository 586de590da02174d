"""The deployment's tamper-evident audit trail: what every role appends, and how the
chain of entries is checked.

An entry says who acted (an agency, its operators, a counter, an auditor, a mediator, the
wallet service on a citizen's behalf, the deployment itself), what was done and how it
ended, with facts an oversight body may count (a credential type, the claims a counter
asked for, the purpose it registered). It never holds personal data or an identifier of a
citizen or a credential; a reference to a citizen's account is a keyed hash whose key is
forgotten with the account (``AuditEntry.subject_key``).

Roles append through the ``AuditTrail`` port (``core.audit.trail``); the deployment's
storage chains the entries (each commits to the one before) and signs the head with the
deployment key.
Tests: ``tests/core/audit``.
"""
