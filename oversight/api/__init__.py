"""HTTP endpoints of the oversight role: the auditors' API."""

from oversight.api.figures import OversightController

AUDITOR = [OversightController]

__all__ = ["AUDITOR"]
