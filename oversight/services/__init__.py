"""The oversight use cases, one per module."""
