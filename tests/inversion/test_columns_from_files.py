"""Satellite columns end to end on the real formats: a synthetic S5P L2 NO2 file written in the
product's layout over the small test region, read by the reader, turned into column pixels and
assimilated by ``gridcarbon.run`` with no station data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gridcarbon.contracts import ObservationSet
from gridcarbon.inversion.columns import ColumnObservations, ColumnPixels, ColumnSettings
from gridcarbon.io.satellite import read_tropomi_no2
from gridcarbon.scenario import satellite_synthetic as ss
from gridcarbon.species import NOX
from tests.region import small_region_scenario

DAY = pd.Timestamp("2023-06-03")  # a day with clear pixels over the small region
NAME = "S5P_SYNT_L2__NO2____20230603T000000_20230603T235959_00000_01_020400_20230603T000000.nc"


@pytest.fixture(scope="module")
def scenario():
    return small_region_scenario()


@pytest.fixture(scope="module")
def columns(tmp_path_factory, scenario):
    met = scenario.meteorology.for_hours(pd.date_range(DAY, periods=24, freq="h"))
    path = tmp_path_factory.mktemp("s5p") / NAME
    ss.write_synthetic_tropomi_no2(
        path, grid=scenario.grid, fluxes=ss.truth_fluxes(scenario, DAY), met=met, date=DAY
    )
    return read_tropomi_no2(path, grid=scenario.grid)


def test_pixels_from_a_tropomi_file_keep_its_values_and_kernel(columns):
    pixels = ColumnPixels.from_satellite(columns)
    assert pixels.n == columns.value.size > 0
    np.testing.assert_array_equal(pixels.value, columns.value)
    np.testing.assert_array_equal(pixels.averaging_kernel, columns.kernel)
    # layer edges: each layer's bottom, then the top of the last; from the surface up
    np.testing.assert_array_equal(pixels.pressure_edges[:, :-1], columns.pressure_pa[:, :, 0])
    assert np.all(np.diff(pixels.pressure_edges, axis=1) <= 0)
    cx, cy = pixels.centres()
    np.testing.assert_allclose(cx, columns.polygons.centroid.x, atol=200.0)
    np.testing.assert_allclose(cy, columns.polygons.centroid.y, atol=200.0)
    assert len(set(pixels.overpass)) == 1  # one file, one overpass


def test_pixels_in_lon_lat_are_refused(tmp_path, scenario, columns):
    from gridcarbon.errors import InputDataError

    lonlat = read_tropomi_no2(columns.metadata["file"])
    with pytest.raises(InputDataError, match="read the file with grid="):
        ColumnPixels.from_satellite(lonlat)


@pytest.mark.slow
def test_a_column_only_run_from_the_file(tmp_path, scenario, columns):
    import gridcarbon
    from gridcarbon.config import RunConfig

    kind = ColumnObservations(
        ColumnPixels.from_satellite(columns),
        NOX,
        "vertical_column",
        scenario.meteorology,
        # the 60 km test region is smaller than the 150 km fetch the default asks of a plume
        ColumnSettings(min_upwind_fetch_km=0.0),
    )
    observations = ObservationSet(kinds=(kind,), stations=scenario.stations, synthetic=True)
    config = RunConfig.validate_dict({"period": {"start": str(DAY.date()), "end": str(DAY.date())}})
    result = gridcarbon.run(
        config, out_dir=tmp_path / "out", scenario=scenario, observations=observations
    )
    metrics = result.stages["inversion"].metrics
    assert metrics["n_observations_by_type"] == {"column": metrics["n_observations"]}
    assert metrics["n_observations"] >= 4
    with xr.open_dataset(tmp_path / "out" / "posterior.nc") as post:
        assert post.attrs["synthetic"] == "true"
        ur = post["NOx_uncertainty_reduction"].values
        assert np.nanmax(ur) > 0.01  # the columns constrained some NOx
    _check_column_outputs(tmp_path / "out", result, scenario, columns.metadata["product"])


def _check_column_outputs(out, result, scenario, product):
    """The column fit of the run: one row per overpass in overpass_stats.csv, the
    superobservations in column_observations.csv, the metrics' "columns" section, and the
    column layers in the map (made by the run, and again from the run folder)."""
    import json

    from gridcarbon.inversion.column_fit import OVERPASS_COLUMNS, SUPEROBSERVATION_COLUMNS
    from gridcarbon.io.run_folder_reader import read_map_inputs
    from gridcarbon.io.tables import read_csv_table
    from gridcarbon.maps import make_map
    from gridcarbon.maps.build import map_html
    from gridcarbon.maps.layers_columns import COLUMN_LAYER_NAMES

    stats = read_csv_table(out / "overpass_stats.csv")
    assert list(stats.columns) == [*OVERPASS_COLUMNS, "synthetic"]
    assert len(stats) == 1 and stats["overpass"].iloc[0] == NAME  # one file, one overpass
    row = stats.iloc[0]
    assert row["product"] == product and row["species"] == "NO2"
    assert row["unit"] == "mol m-2"
    assert pd.Timestamp(row["time"]).strftime("%Y-%m-%d") == str(DAY.date())
    superobs = read_csv_table(out / "column_observations.csv")
    assert list(superobs.columns) == [*SUPEROBSERVATION_COLUMNS, "synthetic"]
    used = superobs[superobs["used"].astype(str) == "True"]
    assert len(used) == row["n_superobservations"] == row["n_contrasts"] + 3
    # χ² of the overpass = Σ of the squared whitened posterior residuals of its assimilated rows
    rows = result.stages["inversion"].details.obs
    rows = rows[rows["observation_type"] == "column"]
    chi2 = float((((rows["observed"] - rows["posterior"]) / rows["r_std"]) ** 2).sum())
    assert row["posterior_chi2"] == pytest.approx(chi2, rel=1e-6)
    assert row["posterior_rms"] <= row["prior_rms"]
    metrics = json.loads((out / "inversion_metrics.json").read_text(encoding="utf-8"))
    columns = metrics["columns"]
    assert columns["n_overpasses"] == 1 and columns["n_superobservations"] == len(used)
    assert columns["posterior_reduced_chi2"] == pytest.approx(row["posterior_reduced_chi2"])
    assert columns["by_type"]["column"]["unit"] == "mol m-2"
    print(
        f"\ncolumn-only run, one overpass: {len(used)} superobservations, RMS residual "
        f"prior {row['prior_rms']:.3g} -> posterior {row['posterior_rms']:.3g} mol m-2, "
        f"reduced chi2 prior {row['prior_reduced_chi2']:.3g} -> posterior "
        f"{row['posterior_reduced_chi2']:.3g}, r posterior {row['posterior_r']:.3f}"
    )
    page = (out / "map.html").read_text(encoding="utf-8")
    for name in COLUMN_LAYER_NAMES.values():
        assert json.dumps(name) in page
    assert json.dumps(NAME) in page  # the overpass id in the popups
    again = read_map_inputs(out, scenario.boundaries)
    assert again.column_observations is not None and len(again.column_observations) == len(superobs)
    assert json.dumps(COLUMN_LAYER_NAMES["residual"]) in map_html(make_map(again))


# -- the same file through the configuration (inversion.columns) -----------------------------


def _columns_config(tmp_path, **columns):
    from gridcarbon.config import RunConfig

    return RunConfig.validate_dict(
        {
            "period": {"start": str(DAY.date()), "end": str(DAY.date())},
            "inversion": {"columns": columns},
        }
    )


def test_configured_column_files_become_one_observation_type_per_overpass(
    tmp_path, scenario, columns
):
    import shutil

    from gridcarbon.errors import ConfigError
    from gridcarbon.pipeline import satellite_observation_kinds

    (tmp_path / "s5p").mkdir()
    path = shutil.copy(columns.metadata["file"], tmp_path / "s5p" / NAME)
    pattern = str(tmp_path / "s5p" / "S5P_*_L2__NO2____*.nc")
    config = _columns_config(tmp_path, tropomi_no2=[pattern], min_upwind_fetch_km=0.0)
    kinds, info = satellite_observation_kinds(config.inversion.columns, scenario)
    assert [k.name for k in kinds] == [NAME]
    assert info["n_files"] == 1 and info["n_synthetic_files"] == 1
    assert info["n_pixels"] == columns.value.size
    direct = ColumnObservations(
        ColumnPixels.from_satellite(columns),
        NOX,
        "vertical_column",
        scenario.meteorology,
        ColumnSettings(min_upwind_fetch_km=0.0),
    )
    np.testing.assert_array_equal(kinds[0].pixels.value, direct.pixels.value)
    assert info["files"] == [{"file": str(path), "n_pixels": columns.value.size}]
    assert kinds[0].settings.amf_correlation_shape == "exponential"
    # the AMF error's settings reach the operator
    amf = {"amf_error_rel": 0.3, "amf_correlation_km": 120.0, "amf_correlation_shape": "gaussian"}
    config = _columns_config(tmp_path, tropomi_no2=[pattern], min_upwind_fetch_km=0.0, **amf)
    (kind,), _ = satellite_observation_kinds(config.inversion.columns, scenario)
    assert {k: getattr(kind.settings, k) for k in amf} == amf
    # and so does the truncation (150 km unless set; never less)
    assert kind.settings.truncation_km == 150.0
    config = _columns_config(
        tmp_path, tropomi_no2=[pattern], min_upwind_fetch_km=0.0, truncation_km=300.0
    )
    (kind,), _ = satellite_observation_kinds(config.inversion.columns, scenario)
    assert kind.settings.truncation_km == 300.0
    with pytest.raises(ConfigError, match="truncation_km"):
        _columns_config(tmp_path, tropomi_no2=[pattern], truncation_km=100.0)


def test_configured_columns_are_refused_with_the_fix(tmp_path, scenario):
    from gridcarbon.errors import ConfigError
    from gridcarbon.pipeline import _with_columns, satellite_observation_kinds

    config = _columns_config(tmp_path, tropomi_no2=[str(tmp_path / "nothing_*.nc")])
    with pytest.raises(ConfigError, match="matches no file"):
        satellite_observation_kinds(config.inversion.columns, scenario)
    with pytest.raises(ConfigError, match="water_vapour_column_kg_m2"):
        _columns_config(tmp_path, oco_lite=["x.nc4"])
    # joint with synthetic stations of another truth: refused, naming both ways out
    config = _columns_config(tmp_path, tropomi_no2=["x.nc"])
    with pytest.raises(ConfigError, match="with_stations: false"):
        _with_columns(config.inversion, scenario, None)


@pytest.mark.slow
def test_a_column_only_run_from_the_configuration(tmp_path, scenario, columns):
    import json

    import gridcarbon

    config = _columns_config(
        tmp_path,
        tropomi_no2=[columns.metadata["file"]],
        with_stations=False,
        min_upwind_fetch_km=0.0,
    )
    gridcarbon.run(config, out_dir=tmp_path / "out", scenario=scenario)
    metrics = json.loads((tmp_path / "out" / "inversion_metrics.json").read_text())
    assert metrics["n_observations_by_type"] == {NAME: metrics["n_observations"]}
    assert metrics["synthetic_observations"] is True  # the file says it is a simulation
    assert metrics["columns"]["n_overpasses"] == 1
    stats = pd.read_csv(tmp_path / "out" / "overpass_stats.csv")
    assert list(stats["overpass"]) == [NAME]
    assert (tmp_path / "out" / "column_observations.csv").exists()


def test_a_run_with_the_two_wind_speed_scales_reports_each_overpass_s(tmp_path, scenario, columns):
    """With the columns' wind-speed term as two scales, overpass_stats.csv carries each
    overpass's posterior urban and rural scale and σ; without the term the columns are there,
    empty."""
    import gridcarbon
    from gridcarbon.config import RunConfig

    tables, cues = {}, {}
    for on in (True, False):
        config = RunConfig.validate_dict(
            {
                "period": {"start": str(DAY.date()), "end": str(DAY.date())},
                "inversion": {
                    "columns": {
                        "tropomi_no2": [columns.metadata["file"]],
                        "with_stations": False,
                        "min_upwind_fetch_km": 0.0,
                    },
                    "errors": {"column_wind_speed_error": on},
                },
            }
        )
        out = tmp_path / f"out-{on}"
        gridcarbon.run(config, out_dir=out, scenario=scenario)
        tables[on] = pd.read_csv(out / "overpass_stats.csv")
        metrics = json.loads((out / "inversion_metrics.json").read_text())
        (entry,) = metrics["columns"]["by_type"].values()
        cues[on] = entry.get("transport_scales")
    on, off = tables[True].iloc[0], tables[False].iloc[0]
    # the month's persistence cue: one overpass, its own scale and the z of it alone
    assert cues[False] is None
    urban = cues[True]["urban"]
    assert urban["n_overpasses"] == 1 and urban["mean"] == pytest.approx(
        on["urban_transport_scale"]
    )
    spread = on["transport_scale_prior_std"] ** 2 - on["urban_transport_scale_std"] ** 2
    assert urban["z"] == pytest.approx(on["urban_transport_scale"] / np.sqrt(spread))
    assert np.isnan(off["transport_scale_prior_std"])
    sigma = RunConfig.validate_dict({}).inversion.errors.model_error_wind_speed_rel
    for part in ("urban", "rural"):
        assert np.isfinite(on[f"{part}_transport_scale"])
        assert 0 < on[f"{part}_transport_scale_std"]
        assert np.isnan(off[f"{part}_transport_scale"])
    assert abs(on["urban_transport_scale"]) < 5 * sigma


def test_configured_xco2_files_are_co2_dry_air_mole_fractions(tmp_path, scenario):
    """An OCO Lite layout file (the CO2M-like simulation) through inversion.columns.oco_lite:
    a CO2 observation type of dry-air mole fractions with the configured water vapour; a file
    whose soundings are all cloudy gives no observation type."""
    from gridcarbon.pipeline import satellite_observation_kinds
    from gridcarbon.species import CO2

    paths = []
    for day in ("2023-01-07", "2023-01-14"):  # 726 usable soundings; all flagged cloudy
        day = pd.Timestamp(day)
        met = scenario.meteorology.for_hours(pd.date_range(day, periods=24, freq="h"))
        paths.append(
            ss.write_synthetic_oco_lite(
                tmp_path / f"co2m_like_LtCO2_{day:%y%m%d}.nc4",
                grid=scenario.grid,
                fluxes=ss.truth_fluxes(scenario, day),
                met=met,
                date=day,
            )
        )
    config = _columns_config(
        tmp_path,
        oco_lite=[str(tmp_path / "co2m_like_LtCO2_*.nc4")],
        water_vapour_column_kg_m2=10.0,
        min_upwind_fetch_km=0.0,
    )
    kinds, info = satellite_observation_kinds(config.inversion.columns, scenario)
    assert info["n_files"] == 2 and info["n_overpasses"] == 1
    assert [f["file"] for f in info["files"]] == [str(p) for p in paths]
    (kind,) = kinds
    assert kind.name == paths[0].name and kind.species is CO2
    assert kind.quantity == "dry_air_mole_fraction"
    np.testing.assert_array_equal(kind.pixels.water_vapour_column, 10.0)
    assert 400 < np.median(kind.pixels.value) < 430  # ppm
    # the same soundings under another name: refused, naming both files
    import shutil

    from gridcarbon.errors import ConfigError

    twin = shutil.copy(paths[0], tmp_path / "copy_LtCO2.nc4")
    config = _columns_config(
        tmp_path,
        oco_lite=[str(paths[0]), str(twin)],
        water_vapour_column_kg_m2=10.0,
        min_upwind_fetch_km=0.0,
    )
    with pytest.raises(ConfigError, match="count them twice") as refused:
        satellite_observation_kinds(config.inversion.columns, scenario)
    assert str(paths[0]) in str(refused.value) and str(twin) in str(refused.value)


def test_a_measurement_is_assimilated_once(tmp_path, scenario, columns):
    """A file matched by two patterns is read once; a copy in another folder (the same name)
    and a copy under another name (e.g. the near-real-time and offline versions of one
    orbit) are refused with both paths: each would count the same measurements twice."""
    import shutil

    from gridcarbon.errors import ConfigError
    from gridcarbon.pipeline import satellite_observation_kinds

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    path = shutil.copy(columns.metadata["file"], tmp_path / "a" / NAME)
    both = [str(tmp_path / "a" / "S5P_*.nc"), str(path)]
    config = _columns_config(tmp_path, tropomi_no2=both, min_upwind_fetch_km=0.0)
    kinds, info = satellite_observation_kinds(config.inversion.columns, scenario)
    assert [k.name for k in kinds] == [NAME] and info["n_files"] == 1
    same_name = shutil.copy(path, tmp_path / "b" / NAME)
    other_name = shutil.copy(path, tmp_path / "b" / NAME.replace("_SYNT_", "_NRTI_"))
    for copy, match in ((same_name, "same file name"), (other_name, "count them twice")):
        config = _columns_config(
            tmp_path, tropomi_no2=[str(path), str(copy)], min_upwind_fetch_km=0.0
        )
        with pytest.raises(ConfigError, match=match) as refused:
            satellite_observation_kinds(config.inversion.columns, scenario)
        assert str(path) in str(refused.value) and str(copy) in str(refused.value)
