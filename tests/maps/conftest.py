"""Fixtures of the map tests (inputs are built in :mod:`tests.maps.fixtures`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fixtures as fx  # noqa: E402

from gridcarbon.maps import make_map, write_map  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def small():
    """The small map's inputs: ``grid`` and ``inputs`` (a MapInputs with every piece)."""
    grid = fx.small_grid()
    return {"grid": grid, "inputs": fx.small_inputs(grid)}


@pytest.fixture(scope="session")
def small_map_path(small) -> Path:
    """The small map with every layer, hostile names included."""
    ARTIFACTS.mkdir(exist_ok=True)
    return write_map(make_map(small["inputs"]), ARTIFACTS / "small_map.html", overwrite=True)


@pytest.fixture(scope="session")
def small_map_zh_path(small) -> Path:
    """The small map with every layer, in Chinese."""
    ARTIFACTS.mkdir(exist_ok=True)
    m = make_map(small["inputs"], language="zh")
    return write_map(m, ARTIFACTS / "small_map_zh.html", overwrite=True)


@pytest.fixture(scope="session")
def default_map():
    """The full-size default map: its path, size and inputs."""
    ARTIFACTS.mkdir(exist_ok=True)
    inputs = fx.default_inputs()
    path = write_map(make_map(inputs), ARTIFACTS / "default_map.html", overwrite=True)
    return {"path": path, "bytes": path.stat().st_size, "inputs": inputs}
