"""Independent oversight: the auditor role (a data-protection authority) reading
aggregates of the deployment's audit trail, per counter and per agency, for a period;
never personal data, never an identifier of a citizen or a credential, small counts
suppressed (``/oversight/api``, the ``/oversight`` screen).

Layers: ``api`` → ``services`` → ``domain``/``ports``; ``storage`` is imported only by ``app``.
Reads the trail through its ``AuditCounts`` port and appends its own reads through
``core.audit.trail.AuditTrail``.
May import: ``core``. Must never import: ``issuers``, ``verifiers``, ``wallet``, ``app``.
Tests: ``tests/oversight``.
"""
