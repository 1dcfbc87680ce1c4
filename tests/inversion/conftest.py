"""Shared small synthetic cases for the inversion tests (session-scoped: built once)."""

from __future__ import annotations

import pytest

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.inversion.system import ObservationSystem

from .cases import small_case


@pytest.fixture(scope="session")
def case():
    return small_case(days=4, seed=7)


def build_system(case, config: InversionConfig | None = None, prior=None) -> ObservationSystem:
    """The observation system of a small case (its own land cover, no neighbour inflow;
    ``prior`` replaces the case's prior, e.g. a subset of it)."""
    return ObservationSystem(
        case.prior if prior is None else prior,
        case.scenario,
        InversionConfig() if config is None else config,
    )


@pytest.fixture(scope="session")
def system(case):
    return build_system(case)


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
