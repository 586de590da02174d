"""SQL storage of the verifier role (imported only by ``app``)."""
