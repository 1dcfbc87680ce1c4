"""The memory and disk estimates of a run, and what the machine has."""

from __future__ import annotations

import pytest

from gridcarbon.io.resources import (
    BASE_BYTES,
    available_memory,
    estimate_memory,
    estimate_output_bytes,
)

DEFAULT_CELLS = 157 * 163


@pytest.mark.parametrize(
    ("hours", "units", "inversion", "zones", "stage", "gb"),
    [
        (744, 2082, True, True, "inversion", 3.1),  # the default run
        (2160, 0, True, False, "inversion", 7.8),  # 3 months with the inversion
        (8760, 2082, False, True, "zoning", 13.4),  # a prior-only year with zones
    ],
)
def test_memory_estimate_reproduces_the_calibration(hours, units, inversion, zones, stage, gb):
    est = estimate_memory(DEFAULT_CELLS, hours, 3, units, inversion=inversion, zones=zones)
    assert est.stage == stage
    assert est.peak_bytes / 1e9 == pytest.approx(gb, abs=0.05)
    assert f"about {gb:.1f} GB (the {stage} stage" in est.describe()


def test_prior_alone_is_three_times_its_grids_plus_the_base():
    est = estimate_memory(1000, 10, 2)
    assert est.stage == "prior" and est.prior_bytes == 1000 * 10 * 2 * 4
    assert est.peak_bytes == pytest.approx(BASE_BYTES + 3 * est.prior_bytes)


def test_output_estimate_of_the_default_run():
    need = estimate_output_bytes(DEFAULT_CELLS, 744, 3, 2082, grids=2, reports=True)
    assert need / 1e6 == pytest.approx(318, abs=1)
    assert estimate_output_bytes(DEFAULT_CELLS, 744, 3, 0, grids=1, reports=False) < need / 2


def test_available_memory_is_a_positive_byte_count():
    have = available_memory()
    assert have is None or have > 0
