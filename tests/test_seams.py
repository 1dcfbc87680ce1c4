"""The extension seams through the whole run: a fourth species (SO2), an observation type
defined outside the package (a box mean) and a registered hotspot statistic (a local excess),
all handed to :func:`gridcarbon.run` on a region that is not the default (:mod:`tests.region`).

Each extension is written in ``tests/seams.py`` against the public contracts only; no file of
the package names any of them.
"""

from __future__ import annotations

import pytest

from tests.inversion.test_species_values import run_script

_RUN = """
import json, sys
import numpy as np
import pandas as pd
import xarray as xr
import gridcarbon
from gridcarbon.config import RunConfig
from gridcarbon.contracts import ObservationSet
from gridcarbon.zoning.hotspots import register_statistic
from tests.region import small_region_scenario
from tests.seams import SO2, BoxMean, local_excess, with_so2

register_statistic("local_excess", local_excess, label="local excess (toy)")
scenario = with_so2(small_region_scenario())
so2 = {k: v for k, v in vars(SO2).items() if k not in ("unit", "emission_long_name")}
config = RunConfig.validate_dict({
    "period": {"start": "2023-03-01", "end": "2023-03-12"},
    "species": ["CO2", "NOx", "VOC", "SO2"],
    "species_definitions": [so2],
    "zoning": {"hotspot_statistic": "local_excess"},
})
box = BoxMean("CO2", rows=range(8, 12), cols=range(8, 12), hours=range(48), value=1.5,
              uncertainty=0.01)
observations = ObservationSet(kinds=(box,), stations=scenario.stations, synthetic=True)
result = gridcarbon.run(config, out_dir=sys.argv[1] if len(sys.argv) > 1 else "out",
                        scenario=scenario, observations=observations)
out = result.out_dir
prior, post = xr.open_dataset(out / "prior.nc"), xr.open_dataset(out / "posterior.nc")
e = prior["CO2"].values[:48, 8:12, 8:12].astype(float)
f = post["CO2"].values[:48, 8:12, 8:12].astype(float)
units = pd.read_csv(out / "zone_units.csv", encoding="utf-8-sig", dtype={"unit_code": str})
hot = xr.open_dataset(out / "hotspots_day.nc")
print(json.dumps({
    "prior_species": [v for v in ("CO2", "NOx", "VOC", "SO2") if v in prior],
    "so2_prior_kg": float(prior["SO2"].sum(dtype="f8") + prior["SO2_point"].sum(dtype="f8")),
    "so2_posterior_kg": float(post["SO2"].sum(dtype="f8") + post["SO2_point"].sum(dtype="f8")),
    "so2_units_kg": float(units["SO2_kg"].sum()),
    "so2_in_map": "SO₂" in (out / "map.html").read_text(encoding="utf-8")
                  or "SO2" in (out / "map.html").read_text(encoding="utf-8"),
    "box_factor": float(f.sum() / e.sum()),
    "by_type": result.stages["inversion"].metrics["n_observations_by_type"],
    "hot_long_name": hot["SO2_z"].attrs["long_name"],
    "hot_bins": sorted(set(np.unique(hot["CO2_bin"].values[~np.isnan(hot["CO2_bin"].values)]
                                     if hot["CO2_bin"].dtype.kind == "f"
                                     else hot["CO2_bin"].values).tolist())),
}))
"""


@pytest.fixture(scope="module")
def seams(tmp_path_factory):
    out = tmp_path_factory.mktemp("seams") / "out"
    return run_script(_RUN.replace('sys.argv[1] if len(sys.argv) > 1 else "out"', repr(str(out))))


@pytest.mark.slow
def test_a_fourth_species_runs_through_every_stage(seams):
    assert seams["prior_species"] == ["CO2", "NOx", "VOC", "SO2"]
    assert seams["so2_prior_kg"] > 0
    # no station measures SO2: its posterior is its prior, and the units tally all of it
    assert seams["so2_posterior_kg"] == pytest.approx(seams["so2_prior_kg"], rel=1e-5)
    assert seams["so2_units_kg"] == pytest.approx(seams["so2_posterior_kg"], rel=1e-4)
    assert seams["so2_in_map"]


@pytest.mark.slow
def test_an_observation_type_of_its_own_is_inverted_by_the_run(seams):
    assert seams["by_type"] == {"box_mean": 1}
    # the box's 1.5 ± 0.01 pulls its emission-weighted CO2 factor there
    assert seams["box_factor"] == pytest.approx(1.5, abs=0.03)


@pytest.mark.slow
def test_a_registered_hotspot_statistic_is_used_by_the_run(seams):
    assert seams["hot_long_name"].startswith("local excess (toy) z-score of SO2")
    assert len(seams["hot_bins"]) > 1  # it found hot (or cold) cells as well as background
