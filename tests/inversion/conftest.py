"""Shared small synthetic cases for the inversion tests (session-scoped: built once)."""

from __future__ import annotations

import numpy as np
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


def mixing_height_twin(system: ObservationSystem, seed: int = 5):
    """An identical twin of ``system`` with mixing-height unknowns: the truth draws its own
    scales from B and the inversion must recover them, each within 3 posterior σ and with σ
    below the prior's.  Returns the truth, the result and the absolute errors of the scales."""
    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.osse import make_truth, synthetic_observations

    cfg = system.config
    rng = np.random.default_rng(seed)
    truth = make_truth(system, rng, "identical", cfg)
    obs = synthetic_observations(system, truth, rng, cfg)
    res = assimilate(system, obs, build_posterior=False)
    tr = system.layout.segments["transport"]
    ext = res.extras[res.extras["segment"] == "transport"]
    assert len(ext) == tr.stop - tr.start
    assert np.all(ext["posterior_std"] < ext["prior_std"])
    err = np.abs(ext["posterior"].to_numpy() - truth.x[tr])
    assert np.all(err < 3 * ext["posterior_std"].to_numpy()), (err, ext["posterior_std"])
    return truth, res, err
