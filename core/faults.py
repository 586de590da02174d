"""Fault points for crash tests: named places in a request where a test deployment
(``IDWALLET_FAULT``) has the process killed outright, as a power cut or the kernel's
out-of-memory killer would, to prove that what was committed before stays and what was
not leaves no trace. Production configuration refuses to arm any of them."""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass

log = logging.getLogger("idwallet.faults")

#: After a credential request signed its credentials, before its transaction commits.
AFTER_SIGN_BEFORE_COMMIT = "after_sign_before_commit"
#: After a credential request's transaction committed, before its response is sent.
AFTER_COMMIT_BEFORE_RESPONSE = "after_commit_before_response"
#: After a status list token was built and signed, before it is stored as published.
STATUS_LIST_AFTER_SIGN = "status_list_after_sign"

FAULT_POINTS = frozenset(
    {AFTER_SIGN_BEFORE_COMMIT, AFTER_COMMIT_BEFORE_RESPONSE, STATUS_LIST_AFTER_SIGN}
)


@dataclass(frozen=True, slots=True)
class FaultPoints:
    armed: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = self.armed - FAULT_POINTS
        if unknown:
            raise ValueError(f"unknown fault points: {', '.join(sorted(unknown))}")

    def reach(self, name: str) -> None:
        """Kill this process with SIGKILL when ``name`` is armed; nothing otherwise."""
        if name in self.armed:
            log.critical("fault point %s reached: killing the process", name)
            os.kill(os.getpid(), signal.SIGKILL)


NO_FAULTS = FaultPoints()
