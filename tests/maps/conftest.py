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
    grid = fx.small_grid()
    prior = fx.small_prior(grid)
    units = fx.small_units(grid)
    stations = fx.small_stations(grid)
    return {
        "grid": grid,
        "prior": prior,
        "posterior": fx.small_posterior(prior),
        "units": units,
        "unit_series": fx.small_unit_series(units),
        "hotspots": fx.small_hotspots(grid),
        "stations": stations,
        "station_series": fx.small_station_series(stations),
    }


@pytest.fixture(scope="session")
def small_map_path(small) -> Path:
    """The small map with every layer, hostile names included."""
    ARTIFACTS.mkdir(exist_ok=True)
    inputs = {k: v for k, v in small.items() if k != "grid"}
    return write_map(make_map(**inputs), ARTIFACTS / "small_map.html", overwrite=True)


@pytest.fixture(scope="session")
def default_map():
    """The full-size default map: its path, size and inputs."""
    ARTIFACTS.mkdir(exist_ok=True)
    inputs = fx.default_inputs()
    path = write_map(make_map(**inputs), ARTIFACTS / "default_map.html", overwrite=True)
    return {"path": path, "bytes": path.stat().st_size, "inputs": inputs}
