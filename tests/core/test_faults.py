"""Fault points: an unarmed point does nothing, an armed one kills the process outright
(checked in a child process), and only known points can be armed."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from core.faults import AFTER_SIGN_BEFORE_COMMIT, NO_FAULTS, FaultPoints


def test_unarmed_points_do_nothing() -> None:
    NO_FAULTS.reach(AFTER_SIGN_BEFORE_COMMIT)
    FaultPoints(frozenset({"status_list_after_sign"})).reach(AFTER_SIGN_BEFORE_COMMIT)


def test_an_armed_point_kills_the_process() -> None:
    program = (
        "from core.faults import FaultPoints\n"
        "FaultPoints(frozenset({'after_sign_before_commit'})).reach('after_sign_before_commit')\n"
        "print('survived')\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", program], check=False, capture_output=True, text=True
    )
    assert child.returncode == -signal.SIGKILL
    assert "survived" not in child.stdout


def test_only_known_points_can_be_armed() -> None:
    with pytest.raises(ValueError, match="unknown fault points: elsewhere"):
        FaultPoints(frozenset({"elsewhere"}))
