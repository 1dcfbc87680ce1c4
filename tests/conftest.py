"""Shared fixtures: small configurations that run in seconds."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import settings

from gridcarbon.config import RunConfig

# Property tests draw the same examples on every run (CI included): reproducible, and a failure
# seen once is seen again. `--hypothesis-profile explore` searches afresh.
settings.register_profile("default", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile("default")


def small_config(**overrides) -> RunConfig:
    """The default scenario on a coarse grid and a short period (fast for tests)."""
    data = {
        "grid": {"cell_size_m": 30000.0},
        "period": {"start": dt.date(2023, 1, 20), "end": dt.date(2023, 1, 22)},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return RunConfig.validate_dict(data)


@pytest.fixture
def small_cfg() -> RunConfig:
    return small_config()
