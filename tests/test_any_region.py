"""The engine handed another region: a 60 km box around Chengdu built in code
(:mod:`tests.region`) runs through every stage without the embedded Zhejiang default.

The run happens in a fresh interpreter with an audit hook that refuses any ``open()`` under
``gridcarbon/data`` (the embedded default's files; national reference tables such as the official
control-unit field names live in ``gridcarbon/reference``), so a stage that still fetched its inputs from
the default instead of taking them from the scenario would fail here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gridcarbon.contracts import RUN_FILES

ROOT = Path(__file__).resolve().parents[1]

RUN = r"""
import json, os, sys
sys.path.insert(0, {root!r})
import gridcarbon
from gridcarbon.config import RunConfig

DATA = os.path.join(os.path.dirname(os.path.abspath(gridcarbon.__file__)), "data")

def refuse_embedded_data(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.abspath(os.fsdecode(args[0]))
        if path.startswith(DATA + os.sep):
            raise RuntimeError(f"a stage opened the embedded default's file {{path}}")

from tests.region import small_region_scenario

scenario = small_region_scenario()
sys.addaudithook(refuse_embedded_data)
config = RunConfig.validate_dict({config!r})
result = gridcarbon.run(config, out_dir={out!r}, scenario=scenario)
print(json.dumps({{
    "scenario_modules": sorted(m for m in sys.modules if m.startswith("gridcarbon.scenario")),
    "stages": sorted(result.stages),
    "hours": int(result.prior.sizes["time"]),
    "grid": [int(result.prior.sizes["y"]), int(result.prior.sizes["x"])],
}}))
"""

CONFIG = {
    "period": {"start": "2023-03-01", "end": "2023-03-14"},
}


@pytest.fixture(scope="module")
def region_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("region") / "out"
    code = RUN.format(root=str(ROOT), config=CONFIG, out=str(out))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=out.parent, timeout=1200
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_another_region_runs_every_stage_without_the_default(region_run):
    out, report = region_run
    assert report["stages"] == ["inversion", "maps", "zoning"]
    assert report["scenario_modules"] == []  # the Zhejiang default was never imported
    assert report["grid"] == [20, 20] and report["hours"] == 14 * 24
    for f in RUN_FILES:
        if f.always:
            assert (out / f.name).exists(), f.name


@pytest.mark.slow
def test_another_region_tallies_its_own_units(region_run):
    import geopandas as gpd
    import xarray as xr

    out, _ = region_run
    units = gpd.read_file(out / "zone_units.gpkg")
    assert sorted(units["unit_code"]) == [
        "ZH51010410001",
        "ZH51010420001",
        "ZH51010520001",
        "ZH51010530001",
    ]
    with xr.open_dataset(out / "prior.nc") as prior:
        assert prior.attrs["synthetic"] == "true"
        co2 = float(prior["CO2"].sum()) + float(prior["CO2_point"].sum())
    # every kg of the region's prior lands in one of its units (they tile the box)
    assert co2 > 0
    with xr.open_dataset(out / "posterior.nc") as posterior:
        assert "CO2_std" in posterior
