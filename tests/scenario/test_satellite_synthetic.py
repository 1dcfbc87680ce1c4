"""The synthetic TROPOMI-like NO2 and CO2M-like XCO2 files: written in the real layouts, read back
by gridcarbon.io.satellite, with the truth's own physics and the documented retrieval model."""

from __future__ import annotations

import netCDF4
import numpy as np
import pandas as pd
import pytest

from gridcarbon.errors import ConfigError
from gridcarbon.io.satellite import read_oco_lite, read_tropomi_no2
from gridcarbon.scenario import satellite_synthetic as ss
from tests.region import small_region_scenario

DAY = pd.Timestamp("2023-06-03")  # a day with ~80 clear pixels over the small region


@pytest.fixture(scope="module")
def scenario():
    return small_region_scenario()


@pytest.fixture(scope="module")
def met(scenario):
    return scenario.meteorology.for_hours(pd.date_range(DAY, periods=24, freq="h"))


@pytest.fixture(scope="module")
def fluxes(scenario):
    return ss.truth_fluxes(scenario, DAY)


@pytest.fixture(scope="module")
def no2_file(tmp_path_factory, scenario, fluxes, met):
    path = (
        tmp_path_factory.mktemp("sat")
        / "S5P_SYNT_L2__NO2____20230603T000000_20230603T235959_00000_01_020400_20230603T000000.nc"
    )
    return ss.write_synthetic_tropomi_no2(
        path, grid=scenario.grid, fluxes=fluxes, met=met, date=DAY
    )


@pytest.fixture(scope="module")
def imager_file(tmp_path_factory, scenario, fluxes, met):
    path = tmp_path_factory.mktemp("sat") / "co2m_like_LtCO2_230603.nc4"
    return ss.write_synthetic_oco_lite(path, grid=scenario.grid, fluxes=fluxes, met=met, date=DAY)


def _raw(path, name):
    with netCDF4.Dataset(path) as ds:
        return np.ma.filled(ds[name][...].astype(float), np.nan).reshape(-1)


def test_truth_fluxes_are_the_prior_perturbed_plus_nee(scenario, fluxes):
    inv = scenario.inventory
    nox_prior = inv.area_maps("NOx").sum(axis=0)
    np.add.at(nox_prior, (inv.points["row"], inv.points["col"]), inv.points["NOx"])
    ratio = fluxes.nox / (nox_prior * 1.15 / (365.25 * 86400))
    # a log-normal field of σ_ln 0.3 around 1, not the prior itself
    assert 0.3 < ratio.min() < 0.95 < 1.05 < ratio.max() < 3.0
    assert fluxes.co2.min() < 0  # June: midday uptake over forest and cropland


def test_synthetic_tropomi_file_reads_back_as_documented(no2_file, scenario):
    obs = read_tropomi_no2(no2_file, grid=scenario.grid)
    md = obs.metadata
    assert obs.synthetic and "not satellite data" in md["simulation"]
    assert md["processor_version"] == "2.4.0"
    n = int(md["n_pixels"])
    crf = _raw(
        no2_file,
        "PRODUCT/SUPPORT_DATA/DETAILED_RESULTS/cloud_radiance_fraction_nitrogendioxide_window",
    )  # noqa: E501
    qa = _raw(no2_file, "PRODUCT/qa_value")
    assert crf.size == n and int(md["n_quality_rejected"]) == int((crf >= 0.5).sum())
    assert np.array_equal(qa > 0.75, crf < 0.5)
    assert int(md["n_used"]) == len(obs) > 20
    assert int(md["n_used"]) + int(md["n_outside_grid"]) + int(md["n_quality_rejected"]) == n
    # pixels of 3.5 × 5.5 km² in the grid's equal-area CRS
    np.testing.assert_allclose(obs.polygons.area, 3500.0 * 5500.0, rtol=0.01)
    # precision = slant noise / M_trop
    np.testing.assert_allclose(
        obs.precision * obs.extra["amf_troposphere"], ss.SLANT_COLUMN_NOISE_MOL_M2, rtol=1e-5
    )
    # overpass at 13:30 local solar time at the grid centre, scanlines 0.84 s apart
    lon0 = float(np.mean(scenario.grid.lonlat()[0]))
    expected = DAY + pd.Timedelta(hours=13.5 - lon0 / 15)
    assert abs(pd.Timestamp(obs.time.min()) - expected) < pd.Timedelta(minutes=1)
    # the tropospheric kernel: 0 above the tropopause, surface sensitivity ~0.35 of the free
    # troposphere's (the documented box-AMF shape), A_trop = m'/M_trop
    tp = obs.extra["tropopause_layer_index"]
    layer = np.arange(obs.kernel.shape[1])
    assert np.all(obs.kernel[layer[None, :] > tp[:, None]] == 0)
    surface = obs.kernel[:, 0] / obs.kernel[:, 15]
    assert np.all((surface > 0.3) & (surface < 0.45))
    # partial columns in mol m-2 between TM5-like layer pressures from the surface up
    assert np.all(obs.pressure_pa[:, 0, 0] == obs.surface_pressure_pa)
    assert np.all(np.diff(obs.pressure_pa[:, :, 0], axis=1) < 0)
    assert np.all((obs.value > -1e-4) & (obs.value < 1e-3))
    # the values are the file's, pixel by pixel; the kernel is the file's A·M/M_trop
    with netCDF4.Dataset(no2_file) as ds:
        n_ground = ds["PRODUCT"].dimensions["ground_pixel"].size
    i = obs.extra["scanline"] * n_ground + obs.extra["ground_pixel"]
    raw_value = _raw(no2_file, "PRODUCT/nitrogendioxide_tropospheric_column")
    np.testing.assert_array_equal(obs.value, raw_value[i])
    raw_ak = _raw(no2_file, "PRODUCT/averaging_kernel").reshape(-1, 34)[i]
    m = _raw(no2_file, "PRODUCT/air_mass_factor_total")[i]
    m_trop = _raw(no2_file, "PRODUCT/air_mass_factor_troposphere")[i]
    below = layer[None, :] <= tp[:, None]
    np.testing.assert_allclose(obs.kernel[below], (raw_ak * (m / m_trop)[:, None])[below])


def test_no2_plume_is_the_truth_through_the_retrieval(tmp_path, scenario, fluxes, met):
    """Same seed with and without the emissions: the noise, clouds and AMF error cancel, the
    difference is the plume seen by the retrieval: downwind of the sources, several times the
    precision, nothing upwind."""
    grid = scenario.grid
    none = ss.TruthFluxes(grid, np.zeros(grid.shape), np.zeros(grid.shape))
    kw = dict(grid=grid, met=met, date=DAY)
    with_src = read_tropomi_no2(
        ss.write_synthetic_tropomi_no2(tmp_path / "a.nc", fluxes=fluxes, **kw), grid=grid
    )
    without = read_tropomi_no2(
        ss.write_synthetic_tropomi_no2(tmp_path / "b.nc", fluxes=none, **kw), grid=grid
    )
    assert np.array_equal(with_src.extra["scanline"], without.extra["scanline"])
    diff = with_src.value - without.value
    assert diff.max() > 5 * with_src.precision.max()
    assert diff.min() >= -1e-3 * diff.max()
    # the background alone: free troposphere 1.2e-5 mol m-2 seen through the kernel ± noise
    np.testing.assert_allclose(np.mean(without.value), 1.2e-5, rtol=0.5)
    # without the free troposphere's NO2 and without noise nothing is left; with it, the
    # background scales with it
    quiet = dict(kw, fluxes=none, noise_scale=0.0, amf_error_sigma=0.0)
    columns = [
        read_tropomi_no2(
            ss.write_synthetic_tropomi_no2(
                tmp_path / f"bg{i}.nc", free_troposphere_no2_mol_m2=bg, **quiet
            ),
            grid=grid,
        ).value
        for i, bg in enumerate((0.0, 1.2e-5, 2.4e-5))
    ]
    assert np.abs(columns[0]).max() < 1e-12
    np.testing.assert_allclose(np.mean(columns[1]), 1.2e-5, rtol=0.5)
    np.testing.assert_allclose(columns[2], 2 * columns[1], rtol=1e-4)
    with pytest.raises(ConfigError, match="free_troposphere_no2_mol_m2"):
        ss.write_synthetic_tropomi_no2(tmp_path / "c.nc", free_troposphere_no2_mol_m2=-1.0, **quiet)


@pytest.mark.parametrize("lifetime_h", [None, 3.0])
def test_truth_column_plume_carries_q_over_u(scenario, lifetime_h):
    """The truth's column plume: crosswind line density Q/u·exp(−x/(u·τ)) downwind, 0 upwind."""
    grid = scenario.grid
    q = np.zeros(grid.shape)
    q[10, 3] = 1.0  # mol s-1, 3 cells from the western edge
    u = 4.0
    field = ss._column_field(q, grid, u, 0.0, None if lifetime_h is None else lifetime_h * 3600)
    for col in (9, 13, 16):
        x = (col - 3) * grid.cell_size
        expected = 1.0 / u * (1.0 if lifetime_h is None else np.exp(-x / (u * lifetime_h * 3600)))
        np.testing.assert_allclose(field[:, col].sum() * grid.cell_size, expected, rtol=0.02)
    assert field[:, :3].max() < 1e-12


def test_a_lateral_spread_handed_over_spreads_as_told_and_keeps_q_over_u(scenario):
    """The diagnostic spread (``osse.satellite_operator_lateral_spread``): each source's plume
    takes the rural or the urban σ_y by its cell, the crosswind line density stays Q/u, and
    the truth's own linear spread handed over as both gives the default field."""
    grid = scenario.grid
    q = np.zeros(grid.shape)
    q[10, 3] = 1.0
    u, col = 4.0, 13  # 30 km downwind

    def field(urban_cells, rural_m=4000.0, urban_m=1000.0):
        spread = ss.LateralSpread(
            rural=lambda x: np.full_like(x, rural_m),
            urban=lambda x: np.full_like(x, urban_m),
            urban_cells=urban_cells,
            description="test",
        )
        return ss._column_field(q, grid, u, 0.0, None, spread)

    def crosswind_sd_m(f):
        w = f[:, col]
        rows = np.arange(w.size)
        mean = (w * rows).sum() / w.sum()
        return float(np.sqrt((w * (rows - mean) ** 2).sum() / w.sum())) * grid.cell_size

    rural = field(np.zeros(grid.shape, bool))
    urban_cells = np.zeros(grid.shape, bool)
    urban_cells[10, 3] = True
    urban = field(urban_cells)
    for f in (rural, urban):
        np.testing.assert_allclose(f[:, col].sum() * grid.cell_size, 1.0 / u, rtol=0.02)
    # the grid's 3 km cells add their own width (a uniform cell: 3 km / sqrt(12))
    cell_sd = grid.cell_size / np.sqrt(12)
    np.testing.assert_allclose(crosswind_sd_m(rural), np.hypot(4000.0, cell_sd), rtol=0.05)
    assert crosswind_sd_m(urban) < 0.6 * crosswind_sd_m(rural)
    # an urban cell elsewhere does not change this source's plume
    elsewhere = np.zeros(grid.shape, bool)
    elsewhere[2, 2] = True
    np.testing.assert_array_equal(field(elsewhere), rural)
    linear = ss.LateralSpread(
        ss._linear_spread, ss._linear_spread, urban_cells, "the truth's own, as a test"
    )
    np.testing.assert_allclose(
        ss._column_field(q, grid, u, 0.0, None, linear),
        ss._column_field(q, grid, u, 0.0, None),
        rtol=0,
        atol=1e-12 * ss._column_field(q, grid, u, 0.0, None).max(),
    )


def test_nox_ratio_is_drawn_per_day(tmp_path, scenario, fluxes, met):
    ratios = []
    for i, day in enumerate(pd.date_range(DAY, periods=3)):
        m = scenario.meteorology.for_hours(pd.date_range(day, periods=24, freq="h"))
        path = ss.write_synthetic_tropomi_no2(
            tmp_path / f"{i}.nc", grid=scenario.grid, fluxes=fluxes, met=m, date=day
        )
        with netCDF4.Dataset(path) as ds:
            ratios.append(float(ds.truth_no2_nox_ratio))
    assert all(0.6 <= r <= 0.9 for r in ratios) and len(set(ratios)) == 3


def test_synthetic_imager_file_reads_back_as_documented(imager_file, scenario):
    with netCDF4.Dataset(imager_file) as ds:
        assert "CO2M-like" in ds.title and ds.synthetic == "true"
        assert "CO2M-like" in ds.simulation and "not satellite data" in ds.simulation
        cloud = ds["Retrieval/cloud_fraction"][:]
        flag = ds["xco2_quality_flag"][:]
    assert np.array_equal(flag == 0, cloud < 0.01)
    obs = read_oco_lite(imager_file, grid=scenario.grid)
    assert obs.synthetic and obs.product == "OCO_LITE_XCO2"
    assert int(obs.metadata["n_quality_rejected"]) == int((flag != 0).sum())
    np.testing.assert_allclose(obs.polygons.area, 4e6, rtol=0.01)
    np.testing.assert_allclose(obs.precision, 0.7, rtol=1e-6)
    np.testing.assert_allclose(obs.pressure_weight.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(obs.pressure_pa[:, -1] == obs.surface_pressure_pa)


def test_imager_bias_is_half_a_ppm_plus_half_a_ppm_per_100_km(tmp_path, scenario, met):
    grid = scenario.grid
    none = ss.TruthFluxes(grid, np.zeros(grid.shape), np.zeros(grid.shape))
    path = ss.write_synthetic_oco_lite(
        tmp_path / "bias.nc4", grid=grid, fluxes=none, met=met, date=DAY, precision_ppm=0.05
    )
    with netCDF4.Dataset(path) as ds:
        xco2 = ds["xco2"][:].astype(float)
        apriori = ds["xco2_apriori"][:].astype(float)
        kernel = ds["xco2_averaging_kernel"][0].astype(float)
        weight = ds["pressure_weight"][0].astype(float)
        background = float(ds.truth_xco2_background_ppm)
        lon, lat = ds["longitude"][:], ds["latitude"][:]
    residual = xco2 - apriori - (background - apriori) * (weight * kernel).sum()
    x, y = grid.project(lon, lat)
    design = np.c_[np.ones_like(x), x - x.mean(), y - y.mean()]
    coef = np.linalg.lstsq(design, residual, rcond=None)[0]
    np.testing.assert_allclose(coef[0], 0.5, atol=0.02)
    np.testing.assert_allclose(np.hypot(coef[1], coef[2]) * 1e5, 0.5, rtol=0.05)


def test_cloud_climatology_most_in_june_least_in_december():
    assert int(np.argmax(ss.YRD_MONTHLY_CLOUD)) == 5 and int(np.argmin(ss.YRD_MONTHLY_CLOUD)) == 11
    x, y = np.meshgrid(np.arange(0, 300e3, 3e3), np.arange(0, 300e3, 3e3))
    clear = {}
    for month in (6, 12):
        cloud = ss._cloud_fraction(month, 0.5, x, y, np.random.default_rng(1))
        clear[month] = (3 * cloud / (3 * cloud + 1 - cloud) < 0.5).mean()
    assert clear[6] < clear[12]


def test_tm5_like_layers_are_hybrid_from_the_surface_up():
    a, b = ss.TM5_LIKE_A_PA, ss.TM5_LIKE_B
    assert a.shape == b.shape == (34, 2)
    assert np.array_equal(a[1:, 0], a[:-1, 1]) and np.array_equal(b[1:, 0], b[:-1, 1])
    assert a[0, 0] == 0 and b[0, 0] == 1 and b[-1, 1] == 0
    for ps in (95000.0, 101325.0):
        p = a + b * ps
        assert np.all(np.diff(p[:, 0]) < 0) and p[0, 0] == ps


def test_period_files_written_and_read(tmp_path, scenario):
    days = pd.date_range("2023-01-10", periods=4)
    files = ss.write_synthetic_satellite_files(tmp_path, scenario, days, imager_every_days=3)
    names = [f.name for f in files]
    assert [n for n in names if n.startswith("S5P")] == [ss.tropomi_file_name(d) for d in days]
    assert names[0][9:19] == "L2__NO2___" and names[0][52:57] == "00000"  # as real S5P names
    assert [n for n in names if n.startswith("co2m")] == [
        "co2m_like_LtCO2_230110.nc4",
        "co2m_like_LtCO2_230113.nc4",
    ]
    for f in files:
        reader = read_tropomi_no2 if f.suffix == ".nc" else read_oco_lite
        assert reader(f, grid=scenario.grid).synthetic


@pytest.mark.slow
def test_default_scenario_files_cover_zhejiang(tmp_path):
    """One January day on the default grid: both files read back with usable pixels inside the
    grid, 150 km from the upwind edge too, and the NO2 columns in the range TROPOMI sees over
    the Yangtze River Delta."""
    from gridcarbon.scenario.zhejiang import zhejiang_scenario

    scenario = zhejiang_scenario(with_units=False)
    day = pd.Timestamp("2023-01-15")
    no2_path, imager_path = ss.write_synthetic_satellite_files(tmp_path, scenario, [day])
    no2 = read_tropomi_no2(no2_path, grid=scenario.grid)
    assert no2.synthetic and len(no2) > 1000
    assert 5e-6 < np.median(no2.value) < 1e-4 and no2.value.max() < 1e-3
    with netCDF4.Dataset(no2_path) as ds:
        u, v = (float(w) for w in ds.truth_wind_u_v_m_s.split())
    wind_from = np.degrees(np.arctan2(-u, -v)) % 360
    upwind = read_tropomi_no2(
        no2_path, grid=scenario.grid, min_edge_distance_m=150e3, wind_from_deg=wind_from
    )
    assert 0 < len(upwind) < len(no2)
    imager = read_oco_lite(imager_path, grid=scenario.grid)
    assert imager.synthetic and len(imager) > 100
    assert 405 < np.median(imager.value) < 425
