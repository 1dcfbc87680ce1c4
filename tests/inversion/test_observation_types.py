"""The observation-type seam: a kind of observation defined outside the package (a toy box mean)
is assimilated together with the station-hour observations through the public API only."""

import pytest

from .test_species_values import run_script

# Run in a fresh interpreter (the box mean is in tests/seams.py): nothing leaks into other tests.
_BOX_MEAN = """
import json
import numpy as np
import pandas as pd
import scipy.sparse as sp
from gridcarbon.config.inversion import InversionConfig
from gridcarbon.contracts import ObservationSet, ObservationType
from gridcarbon.inversion import StationHourObservations, run_inversion
from tests.inversion.cases import small_case
from tests.seams import BoxMean


case = small_case(lon=(119.95, 120.45), lat=(30.05, 30.45), days=2, seed=11,
                  species=("CO2", "NOx"), n_points=0)
cfg = InversionConfig(solver={"method": "dense"})
base = run_inversion(case.prior, case.scenario, cfg)
stations = StationHourObservations(base.observations)
box = BoxMean("CO2", rows=range(2, 6), cols=range(2, 6), hours=range(48), value=1.5,
              uncertainty=0.01)
assert isinstance(box, ObservationType)
again = run_inversion(case.prior, case.scenario, cfg,
                      ObservationSet(kinds=(stations,), stations=case.stations, synthetic=True))
both = run_inversion(case.prior, case.scenario, cfg,
                     ObservationSet(kinds=(stations, box), stations=case.stations, synthetic=True))


def box_factor(res):
    e = case.prior["CO2"].values[:, 2:6, 2:6].astype(float)
    return float((res.posterior["CO2"].values[:, 2:6, 2:6] * 1.0).sum() / e.sum())


def far_change(res):
    a, b = res.posterior["CO2"].values[:, 15:, 15:], base.posterior["CO2"].values[:, 15:, 15:]
    return float(np.abs(a - b).max() / np.abs(b).max())


rows = both.details.obs
box_row = rows[rows["observation_type"] == "box_mean"].iloc[0]
stats = both.station_stats.set_index("station_id")
print(json.dumps({
    "same_without_box": float(np.abs(again.posterior["CO2"].values
                                     - base.posterior["CO2"].values).max()),
    "box_factor_base": box_factor(base),
    "box_factor_both": box_factor(both),
    "box_posterior": float(box_row["posterior"]),
    "box_prior": float(box_row["prior"]),
    "far_change": far_change(both),
    "by_type": both.metrics["n_observations_by_type"],
    "n_observations": [base.metrics["n_observations"], both.metrics["n_observations"]],
    "box_in_station_stats": "box A" in stats.index,
    "box_kind": stats.loc["box A", "kind"] if "box A" in stats.index else None,
    "box_n_obs": int(stats.loc["box A", "n_obs"]) if "box A" in stats.index else None,
}))
"""


@pytest.mark.slow
def test_a_box_mean_observation_type_through_the_public_api():
    out = run_script(_BOX_MEAN)
    assert out["same_without_box"] == 0.0  # the same observations, the same posterior
    assert out["box_prior"] == pytest.approx(1.0)  # the prior factors are 1
    # the box's observation of 1.5 ± 0.01 pulls its emission-weighted factor there
    assert abs(out["box_factor_base"] - 1.5) > 0.2
    assert out["box_factor_both"] == pytest.approx(1.5, abs=0.03)
    assert out["box_posterior"] == pytest.approx(1.5, abs=0.03)
    assert out["far_change"] < 0.5 * abs(out["box_factor_both"] - out["box_factor_base"])
    m = out["n_observations"][0]
    assert out["by_type"] == {"station_hour": m, "box_mean": 1}
    assert out["n_observations"][1] == m + 1
    assert out["box_in_station_stats"] and out["box_kind"] == "box" and out["box_n_obs"] == 1
