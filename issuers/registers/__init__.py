"""The agencies' register connectors (the ``RegisterConnector`` port): the file beside
the catalog (``file``, development), the register's own service over the signed exchange
of ``core.register_exchange`` (``http``), and the audit of every read (``audited``). Only
the composition root (``app``) imports them; tests in ``tests/issuers/test_registers*``."""
