"""Issuer use cases, one per module."""
