"""Shared small synthetic cases for the inversion tests (session-scoped: built once)."""

from __future__ import annotations

import numpy as np
import pytest

from gridcarbon.inversion.config import InversionConfig
from gridcarbon.inversion.synthetic import small_case
from gridcarbon.inversion.system import ObservationSystem


def no_neighbours(case):
    return ([], np.zeros((0, case.prior.sizes["y"] * case.prior.sizes["x"])))


@pytest.fixture(scope="session")
def case():
    return small_case(days=4, seed=7)


@pytest.fixture(scope="session")
def system(case):
    return ObservationSystem(
        case.prior,
        case.stations,
        case.met,
        InversionConfig(),
        landcover=case.landcover,
        neighbour_fraction=no_neighbours(case),
    )


@pytest.fixture(scope="session")
def tiny_case():
    return small_case(
        lon=(119.95, 120.45),
        lat=(30.05, 30.45),
        days=3,
        seed=11,
        species=("CO2", "NOx"),
        n_points=3,
    )
