"""The wallet's use cases, one per module."""
