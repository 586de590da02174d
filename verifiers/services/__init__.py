"""The verifier's use cases, one per module."""
