"""A run folder read back into MapInputs: exactly the registered files, by role."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcarbon.config import RunConfig
from gridcarbon.errors import InputFileError
from gridcarbon.io.run_folder_reader import read_map_inputs, read_run_config
from gridcarbon.species import DEFAULT_SPECIES, NOX, VOC
from tests.maps.fixtures import small_boundaries, small_grid, small_inputs, write_run_folder


@pytest.fixture(scope="module")
def inputs():
    return small_inputs(small_grid())


def test_every_role_is_read_into_its_field(tmp_path, inputs):
    run = tmp_path / "run"
    write_run_folder(run, inputs, RunConfig.validate_dict({"species": ["NOx", "VOC"]}).to_yaml())
    boundaries = small_boundaries(small_grid())
    got = read_map_inputs(run, boundaries)
    assert got.boundaries == boundaries
    assert got.species == (NOX, VOC)  # from config.yaml
    np.testing.assert_allclose(got.prior["CO2"].values, inputs.prior["CO2"].values)
    np.testing.assert_allclose(got.posterior["NOx_std"].values, inputs.posterior["NOx_std"].values)
    z, want = got.zoning, inputs.zoning
    assert list(z.units["unit_code"]) == list(want.units["unit_code"])  # hostile codes too
    assert list(z.units["unit_name"]) == list(want.units["unit_name"])
    np.testing.assert_allclose(z.diurnal.values, want.diurnal.values)
    assert list(z.diurnal["species"].values) == ["CO2", "NOx", "VOC"]
    # the monthly sums under their species' names, the daily ones apart
    assert sorted(z.tally_month.data_vars) == ["CO2", "NOx", "VOC"]
    np.testing.assert_allclose(z.tally_month["VOC"].values, want.tally_month["VOC"].values)
    assert sorted(z.tally_day.data_vars) == ["CO2", "NOx", "VOC"]
    assert z.tally_day.sizes["day"] == 2 and "month" not in z.tally_day.dims
    assert list(z.hotspots) == ["day"]
    np.testing.assert_array_equal(
        z.hotspots["day"]["coloc_all"].values, want.hotspots["day"]["coloc_all"].values
    )
    # what a run folder does not keep stays empty
    assert z.table is None and z.tally is None and z.rollups == {} and z.grids_kind is None
    # stations from the per-station statistics, text as written (the CSV guard removed)
    assert list(got.stations.columns) == ["station_id", "name", "kind", "lon", "lat"]
    assert list(got.stations["name"]) == list(inputs.stations["name"])
    assert list(got.station_stats["species"].unique()) == ["CO2"]
    assert pd.api.types.is_datetime64_any_dtype(got.station_series["time"])
    assert len(got.station_series) == len(inputs.station_series)
    assert read_run_config(run).species == ["NOx", "VOC"]


def test_a_prior_alone_and_species_given(tmp_path, inputs):
    run = tmp_path / "run"
    run.mkdir()
    inputs.prior.to_netcdf(run / "prior.nc")
    got = read_map_inputs(run, species=(VOC,))
    assert got.posterior is None and got.zoning is None and got.stations is None
    assert got.station_series is None and got.boundaries == {}
    assert got.species == (VOC,)
    assert read_map_inputs(run).species == DEFAULT_SPECIES  # no config.yaml
    assert read_run_config(run) is None


def test_other_file_names_are_not_read(tmp_path, inputs):
    run = tmp_path / "run"
    run.mkdir()
    inputs.prior.to_netcdf(run / "prior.nc")
    inputs.zoning.units.to_file(run / "zones.gpkg", layer="zone_units")
    inputs.zoning.hotspots["day"].to_netcdf(run / "hotspots.nc")
    inputs.stations.to_csv(run / "stations.csv", index=False)
    got = read_map_inputs(run)
    assert got.zoning is None and got.stations is None


def test_bad_folders_and_files_are_refused(tmp_path, inputs):
    with pytest.raises(InputFileError, match="does not exist"):
        read_map_inputs(tmp_path / "nothing")
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(InputFileError, match="no prior.nc"):
        read_map_inputs(run)
    inputs.prior.to_netcdf(run / "prior.nc")
    inputs.zoning.units.to_file(run / "zone_units.gpkg", layer="units")
    with pytest.raises(InputFileError, match=r"no layer 'zone_units' \(layers: \['units'\]\)"):
        read_map_inputs(run)
    (run / "zone_units.gpkg").unlink()
    inputs.zoning.units.to_file(run / "zone_units.gpkg", layer="zone_units")
    inputs.zoning.diurnal.rename("profile").to_dataset().to_netcdf(run / "zone_diurnal.nc")
    with pytest.raises(InputFileError, match="no 'diurnal_profile' variable"):
        read_map_inputs(run)
    (run / "zone_diurnal.nc").write_text("not NetCDF", encoding="utf-8")
    with pytest.raises(InputFileError, match="cannot be read as NetCDF"):
        read_map_inputs(run)
