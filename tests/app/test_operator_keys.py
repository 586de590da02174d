"""Operator and counter keys: one file, two keyrings that never open each other's tenants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.operator_keys import keyrings
from app.settings import Settings, SettingsError


def test_an_agency_and_a_counter_with_the_same_id_stop_start_up(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    with pytest.raises(SettingsError, match="may not share an id: city-hall"):
        keyrings(settings, ["civil-registry", "city-hall"], ["city-hall", "bar-age-check"])
    assert not (tmp_path / "operator-keys.json").exists()  # refused before any key was made


def test_operator_keys_open_agencies_only_and_counter_keys_counters_only(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    operators, counters = keyrings(settings, ["civil-registry"], ["bar-age-check"])
    keys = json.loads((tmp_path / "operator-keys.json").read_text())
    agency_key, counter_key = keys["civil-registry"], keys["bar-age-check"]
    assert operators.allows("civil-registry", agency_key)
    assert counters.allows("bar-age-check", counter_key)
    assert not operators.allows("bar-age-check", counter_key)
    assert not counters.allows("civil-registry", agency_key)
    assert not operators.allows("civil-registry", counter_key)
