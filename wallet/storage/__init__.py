"""Storage adapters of the wallet role; imported only by ``app``."""
