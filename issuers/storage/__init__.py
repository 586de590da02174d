"""SQL storage of the issuer role (imported only by ``app``)."""
