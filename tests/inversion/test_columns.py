"""Satellite columns as an observation type (:mod:`gridcarbon.inversion.columns`) on a small
SYNTHETIC case: the adjoint of the column footprints, H against the footprints, the whitening and
plane projection, superobservations, input checks, the mixing-height sensitivity under a
TROPOMI-like kernel, and an identical-twin inversion (columns alone, and with the stations)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.contracts import ObservationSet, ObservationType
from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.inversion import assimilate, run_inversion
from gridcarbon.inversion.column_checks import conversion_check, lifetime_check
from gridcarbon.inversion.columns import (
    ColumnObservations,
    ColumnSettings,
    _whitening_projection,
    amf_correlation,
    dry_air_column,
    layer_heights,
    mixing_height_sensitivity,
    plane_design,
)
from gridcarbon.inversion.observation_types import StationHourObservations
from gridcarbon.inversion.operator import adjoint, forward
from gridcarbon.species import DEFAULT_SPECIES, by_name

from .column_cases import SIGMA_EDGES, swath_pixels, tropomi_like_kernel, with_values
from .conftest import build_system

NOX = by_name(DEFAULT_SPECIES, "NOx")
CO2 = by_name(DEFAULT_SPECIES, "CO2")
#: the tiny case's grid is ~50 km wide: every pixel is nearer than 150 km to an upwind edge
SETTINGS = ColumnSettings(min_upwind_fetch_km=0.0)


@pytest.fixture(scope="module")
def tiny_system(tiny_case):
    return build_system(tiny_case)


def _overpasses(system):
    """13:30 Beijing time on each day of the case (05:30 UTC)."""
    return [t + pd.Timedelta(minutes=30) for t in system.times if t.hour == 5]


@pytest.fixture(scope="module")
def no2(tiny_case, tiny_system):
    pixels = swath_pixels(tiny_system.grid, _overpasses(tiny_system), kernel="tropomi")
    return ColumnObservations(
        pixels, NOX, "vertical_column", tiny_case.scenario.meteorology, SETTINGS
    )


def _like(no2, tiny_case, **changes) -> ColumnObservations:
    """The NO2 columns of ``no2`` with its settings changed."""
    return ColumnObservations(
        no2.pixels,
        NOX,
        "vertical_column",
        tiny_case.scenario.meteorology,
        replace(SETTINGS, **changes),
    )


def test_columns_are_an_observation_type(no2, tiny_system):
    assert isinstance(no2, ObservationType)
    m = no2.match(tiny_system)
    rows = no2.assimilated(tiny_system)
    n_used_overpasses = m.counts["n_overpasses_used"]
    assert n_used_overpasses == 3
    # three rows of every overpass go into its plane
    assert len(rows) == m.counts["n_superobservations"] - 3 * n_used_overpasses
    assert no2.jacobian_block(tiny_system).shape == (len(rows), tiny_system.layout.n)
    assert np.all(no2.error_variance(tiny_system) == 1.0)
    assert set(rows["kind"]) == {"column contrast"} and set(rows["species"]) == {"NO2"}


@pytest.mark.parametrize("nox", [False, True])
def test_adjoint_of_the_column_footprints(no2, tiny_system, nox):
    fp = no2.match(tiny_system).footprints
    rng = np.random.default_rng(3)
    E = rng.random((tiny_system.nt, fp.ncell))
    P = rng.random((tiny_system.nt, fp.npoint)) * 100
    y = rng.standard_normal(fp.receptors.n)
    lhs = float(forward(fp, E, P, nox=nox) @ y)
    G, Gp = adjoint(fp, y, tiny_system.nt, nox=nox)
    rhs = float((G * E).sum() + (Gp * P).sum())
    assert abs(lhs - rhs) <= 1e-10 * abs(lhs)


def test_h_is_the_footprints_times_the_prior(no2, tiny_system):
    m = no2.match(tiny_system)
    si = tiny_system.species.index(NOX.name)
    direct = forward(m.footprints, tiny_system.E[si], tiny_system.Ep[si], nox=True)
    np.testing.assert_allclose(m.H @ tiny_system.layout.xb(), direct, rtol=1e-6)
    prior = m.superobs["prior"].to_numpy()
    # NO2 columns of a city-and-stacks window at 13:30: 1e-6..1e-3 mol m-2 at the most
    assert 1e-6 < prior.max() < 1e-3 and prior.min() >= 0


def test_whitening_removes_the_plane_and_whitens_the_errors(no2, tiny_system):
    m = no2.match(tiny_system)
    so = m.superobs
    T = m.transform.toarray()
    row = 0
    for label, C in m.covariance.items():
        idx = np.flatnonzero((so["overpass"] == label).to_numpy())
        Tb = T[row : row + idx.size - 3][:, idx]
        X = plane_design(so["x"].to_numpy()[idx], so["y"].to_numpy()[idx])
        assert np.abs(Tb @ X).max() <= 1e-10 * np.abs(Tb).max()
        np.testing.assert_allclose(Tb @ C @ Tb.T, np.eye(idx.size - 3), atol=1e-10)
        row += idx.size - 3
    assert row == T.shape[0]


def test_a_planar_background_is_invisible(no2, tiny_case, tiny_system):
    # without the AMF error, whose size follows the column (background included), R does not
    # depend on the values and the plane drops out exactly
    rng = np.random.default_rng(1)
    values = rng.normal(2e-5, 3e-6, no2.pixels.n)
    x, y = no2.pixels.centres()
    label = no2.pixels.overpass_labels().astype(int)
    plane = 1e-5 * (1 + label) + 2e-10 * x - 3e-10 * y * label
    no_amf = replace(SETTINGS, amf_error_rel=0.0)
    a, b = (
        ColumnObservations(
            with_values(no2.pixels, v), NOX, "vertical_column", tiny_case.scenario.meteorology,
            no_amf,
        ).assimilated(tiny_system)["observed"].to_numpy()
        for v in (values, values + plane)
    )  # fmt: skip
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-9 * np.abs(a).max())
    assert np.abs(a).max() > 0.1  # whitened values of order one


def test_superobservations_are_means_of_pixels(no2, tiny_system):
    m = no2.match(tiny_system)
    so = m.superobs
    # equal precisions: precision / sqrt(n)
    np.testing.assert_allclose(
        so["sigma_retrieval"], 1e-5 / np.sqrt(so["n_pixels"].to_numpy()), rtol=1e-12
    )
    # 3.5 × 5.5 km pixels in 9 km squares (fewer at the edges of the swath)
    assert so["n_pixels"].between(1, 9).all() and so["n_pixels"].max() >= 4
    # the prior superobservation is the mean of the pixels' own modelled columns
    table, H_pix = no2.pixel_operator(tiny_system)
    pix = H_pix @ tiny_system.layout.xb()
    x, y = no2.pixels.centres()
    g = tiny_system.grid
    key = pd.DataFrame(
        {
            "overpass": table["overpass"],
            "bx": np.floor((x[table["pixel"]] - g.x_min) / 9000.0).astype(int),
            "by": np.floor((g.y_max - y[table["pixel"]]) / 9000.0).astype(int),
            "model": pix,
        }
    )
    means = key.groupby(["overpass", "bx", "by"], sort=True)["model"].mean().to_numpy()
    # (the footprints are stored in float32, like the surface operator's)
    np.testing.assert_allclose(so["prior"], means, rtol=1e-6, atol=1e-20)


def test_pixels_near_the_stacks_stay_rows_of_their_own(no2, tiny_case, tiny_system):
    """``stack_pixels_km``: each pixel within the distance of a point source with its own
    unknowns is a superobservation of one pixel (its own modelled column); every pixel is
    still used once; squares with no such pixel keep their means."""
    system = tiny_system
    index = system.layout.point_index
    assert len(index) >= 1
    near = _like(no2, tiny_case, stack_pixels_km=6.0)
    plain, alone = no2.match(system).superobs, near.match(system).superobs
    assert alone["n_pixels"].sum() == plain["n_pixels"].sum()
    table, H_pix = no2.pixel_operator(system)
    x, y = no2.pixels.centres()
    px, py = x[table["pixel"]], y[table["pixel"]]
    stacks = system.points.iloc[index]
    d = np.hypot(px[:, None] - stacks["x"].to_numpy()[None], py[:, None] - stacks["y"].to_numpy())
    is_near = d.min(axis=1) <= 6000.0
    assert 0 < is_near.sum() < is_near.size
    assert near.match(system).counts["n_stack_pixel_rows"] == is_near.sum()
    # the one-pixel rows are those pixels, with their own modelled columns
    own = pd.DataFrame(
        {"overpass": table["overpass"], "x": px, "y": py, "model": H_pix @ system.layout.xb()}
    )[is_near]
    got = alone[alone["n_pixels"] == 1].merge(own, on=["overpass", "x", "y"])
    assert len(got) == is_near.sum()
    np.testing.assert_allclose(got["prior"], got["model"], rtol=1e-6, atol=1e-20)
    # squares far from every stack are unchanged
    far = (
        np.hypot(
            plain["x"].to_numpy()[:, None] - stacks["x"].to_numpy()[None],
            plain["y"].to_numpy()[:, None] - stacks["y"].to_numpy()[None],
        ).min(axis=1)
        > 6000.0 + 9000.0
    )
    kept = plain[far].merge(alone, on=["overpass", "x", "y"], suffixes=("", "_near"))
    assert len(kept) == far.sum() > 0
    np.testing.assert_allclose(kept["prior_near"], kept["prior"], rtol=1e-12)
    with pytest.raises(ConfigError, match="stack_pixels_km"):
        ColumnSettings(stack_pixels_km=-1.0)


def test_the_amf_error_correlation_takes_its_form_and_length(no2, tiny_case, tiny_system):
    """``amf_correlation_shape``: each overpass's covariance differs from the exponential's
    by the AMF term alone, σ_i σ_j (exp(−d²/2L²) − exp(−d/L)); a bad form is refused."""
    system = tiny_system
    gaussian = _like(no2, tiny_case, amf_correlation_km=30.0, amf_correlation_shape="gaussian")
    exponential = _like(no2, tiny_case, amf_correlation_km=30.0)
    a, b = gaussian.match(system), exponential.match(system)
    assert a.covariance.keys() == b.covariance.keys() and a.covariance
    so = a.superobs
    for label, C in a.covariance.items():
        idx = np.flatnonzero((so["overpass"] == label).to_numpy())
        x, y, sig = (so[k].to_numpy()[idx] for k in ("x", "y", "sigma_amf"))
        d = np.hypot(x[:, None] - x[None], y[:, None] - y[None]) / 30_000.0
        assert np.any(sig > 0)
        term = np.outer(sig, sig) * (np.exp(-0.5 * d**2) - np.exp(-d))
        np.testing.assert_allclose(C - b.covariance[label], term, rtol=1e-9, atol=1e-12 * C.max())
    assert amf_correlation(np.array([0.0, 2.0]), 2.0, "exponential") == pytest.approx(
        [1.0, np.exp(-1.0)]
    )
    with pytest.raises(ConfigError, match="amf_correlation_shape"):
        ColumnSettings(amf_correlation_shape="spherical")
    with pytest.raises(ConfigError, match="'spherical' is not one of exponential, gaussian"):
        amf_correlation(np.zeros(1), 1.0, "spherical")


def test_mixing_height_sensitivity_under_a_tropomi_like_kernel():
    edges = SIGMA_EDGES * 100_500.0
    zi = np.array([500.0, 1000.0, 1500.0, 2000.0])
    far = [30_000.0, 100_000.0]
    uniform = mixing_height_sensitivity(edges, np.ones(SIGMA_EDGES.size - 1), zi, far, stability=1)
    trop = mixing_height_sensitivity(edges, tropomi_like_kernel(), zi, far, stability=1)
    print("\nd ln(column) / d ln(mixing height), class B, ground release, TROPOMI-like kernel:")
    print(trop.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    np.testing.assert_allclose(uniform["kernel_weight"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(uniform["dlnV_dlnzi"], 0.0, atol=1e-9)
    # class B far out: the plume is well mixed below the lid, so the column sees the mean of the
    # kernel over [0, zi] (heights of the layer edges at 288 K), rising with zi
    z = layer_heights(edges[None], np.array([288.0]))[0]
    a = tropomi_like_kernel()
    for zi_, v in zip(trop["mixing_height_m"], trop["kernel_weight"], strict=True):
        width = np.clip(np.minimum(z[1:], zi_) - z[:-1], 0.0, None)
        assert v == pytest.approx(float((a * width).sum() / zi_), rel=1e-12)
    assert trop["dlnV_dlnzi"].between(0.05, 0.5).all()


def test_xco2_columns_in_ppm(tiny_case, tiny_system):
    pixels = swath_pixels(
        tiny_system.grid, _overpasses(tiny_system)[:1], pixel_m=(2000.0, 2000.0),
        precision=0.7, water_vapour=25.0,
    )  # fmt: skip
    xco2 = ColumnObservations(
        pixels, CO2, "dry_air_mole_fraction", tiny_case.scenario.meteorology, SETTINGS
    )
    prior = xco2.match(tiny_system).superobs["prior"]
    # a city's and its stacks' XCO2 enhancement: a few tenths to a few ppm
    assert 0.1 < prior.max() < 20.0
    assert dry_air_column(101_325.0, 0.0) == pytest.approx(101_325.0 / 9.80665 / 0.0289644)
    assert dry_air_column(101_325.0, 30.0) < dry_air_column(101_325.0, 0.0)


def test_bad_input_is_refused(tiny_case, tiny_system):
    pixels = swath_pixels(tiny_system.grid, _overpasses(tiny_system)[:1])
    with pytest.raises(InputDataError, match="pixel 0 must be finite, ≥ 0 and strictly decreasing"):
        replace(pixels, pressure_edges=pixels.pressure_edges[:, ::-1].copy())
    negative_top = pixels.pressure_edges.copy()
    negative_top[3, -1] = -1.0
    with pytest.raises(InputDataError, match="pressure_edges of pixel 3"):
        replace(pixels, pressure_edges=negative_top)
    with pytest.raises(InputDataError, match="value of pixel 5 is not finite"):
        replace(pixels, value=np.where(np.arange(pixels.n) == 5, np.nan, 0.0))
    with pytest.raises(InputDataError, match="precision of pixel 0"):
        replace(pixels, precision=np.zeros(pixels.n))
    with pytest.raises(InputDataError, match="surface_pressure"):
        replace(pixels, surface_pressure=pixels.surface_pressure / 100.0)
    with pytest.raises(InputDataError, match="water_vapour_column"):
        ColumnObservations(pixels, CO2, "dry_air_mole_fraction", tiny_case.scenario.meteorology)
    with pytest.raises(ConfigError, match="150 km"):
        ColumnSettings(truncation_km=100.0)


def test_pixels_near_the_upwind_edge_are_not_used(no2, tiny_case, tiny_system):
    strict = ColumnObservations(
        no2.pixels, NOX, "vertical_column", tiny_case.scenario.meteorology, ColumnSettings()
    )
    m = strict.match(tiny_system)
    assert m.counts["n_near_upwind_edge"] == no2.pixels.n
    assert len(strict.assimilated(tiny_system)) == 0


@pytest.mark.slow
def test_identical_twin_columns_alone_and_with_stations(tiny_case, tiny_system, no2):
    """IDENTICAL TWIN: the truth is the prior scaled by factors drawn from B, observed through
    this same column operator (plus a planar background per overpass and retrieval noise) and
    this same station operator; the columns alone, the stations alone and both together must
    bring the NOx factors closer to the truth."""
    system = tiny_system
    L = system.layout
    rng = np.random.default_rng(42)
    xb = L.xb()
    x_true = xb + system.B.sqrt_apply(rng.standard_normal(L.n))
    # columns: pixel truth + a plane per overpass + noise of the stated precision
    table, H_pix = no2.pixel_operator(system)
    x, y = no2.pixels.centres()
    values = np.zeros(no2.pixels.n)
    precision = 3e-6
    values[table["pixel"]] = (
        H_pix @ x_true
        + 2e-5
        + 1e-10 * (x[table["pixel"]] - x.mean())
        + rng.normal(0.0, precision, len(table))
    )
    pixels = replace(no2.pixels, value=values, precision=np.full(no2.pixels.n, precision))
    columns = ColumnObservations(
        pixels, NOX, "vertical_column", tiny_case.scenario.meteorology, SETTINGS
    )
    # stations: hourly truth + noise
    P = system.pairs
    y_true = system.y_prior + system.J @ (x_true - xb)
    stations = StationHourObservations(
        pd.DataFrame(
            {
                "time": P["time"],
                "station_id": P["station_id"],
                "species": P["obs_species"],
                "value": y_true + rng.normal(0.0, 0.02 * np.abs(y_true) + 1e-3),
                "uncertainty": 0.02 * np.abs(y_true) + 1e-3,
            }
        )
    )
    si = system.species.index(NOX.name)
    g = L.segments["grid"]
    nox = slice(g.start + si * L.nw * L.nby * L.nbx, g.start + (si + 1) * L.nw * L.nby * L.nbx)
    # the NOx emission of each factor, so that the error is weighted by what it scales
    weight = (
        np.asarray(np.abs(system.J[:, nox]).sum(axis=0)).ravel()
        + np.asarray(np.abs(columns.jacobian_block(system)[:, nox]).sum(axis=0)).ravel()
    )
    weight = weight / weight.sum()

    def error(x):
        return float(np.sqrt((weight * (x[nox] - x_true[nox]) ** 2).sum()))

    prior_err = error(xb)
    col = assimilate(system, [columns], build_posterior=False)
    sta = assimilate(system, [stations], build_posterior=False)
    joint = run_inversion(
        tiny_case.prior,
        tiny_case.scenario,
        system.config,
        ObservationSet(kinds=(stations, columns), stations=tiny_case.stations, synthetic=True),
    )
    joint_err = error(joint.details.x_post)
    print(
        f"\nidentical twin, NOx factor error weighted by sensitivity: prior {prior_err:.4f}, "
        f"columns {error(col.x_post):.4f}, stations {error(sta.x_post):.4f}, "
        f"joint {joint_err:.4f}"
    )
    assert joint.metrics["n_observations_by_type"]["column"] == len(columns.assimilated(system))
    # the superobservations' fit: posterior columns plus each overpass's fitted plane
    fit = {
        name: columns.superobservations(system, x - xb)
        for name, x in (("prior", xb), ("posterior", col.x_post))
    }
    misfit = {
        name: float(np.sqrt(((f["observed"] - f["posterior"] - f["background"]) ** 2).mean()))
        for name, f in fit.items()
    }
    print(f"superobservation misfit, mol m-2: {misfit}")
    assert misfit["posterior"] < 0.7 * misfit["prior"]
    # the fitted plane of the truth's background (2e-5 mol m-2 at the swath's centre)
    assert fit["posterior"]["background"].mean() == pytest.approx(2e-5, rel=0.2)
    assert error(col.x_post) < 0.8 * prior_err
    assert joint_err < error(sta.x_post)
    assert joint_err < 0.8 * prior_err


def test_mixing_height_unknowns_see_the_kernel(tiny_case):
    # with a uniform kernel the column does not depend on the mixing height: its column of the
    # daily mixing-height scale is zero; under the TROPOMI-like kernel it is positive (deeper
    # mixing lifts the plume to where the retrieval sees it better) and below the well-mixed
    # bound max(dlnV/dlnzi) < 0.5 of the column
    config = InversionConfig.model_validate({"state": {"mixing_height_unknowns": True}})
    system = build_system(tiny_case, config)
    L = system.layout
    sens = {}
    for kernel in ("uniform", "tropomi"):
        pixels = swath_pixels(system.grid, _overpasses(system)[:1], kernel=kernel)
        m = ColumnObservations(
            pixels, NOX, "vertical_column", tiny_case.scenario.meteorology, SETTINGS
        ).match(system)
        column = m.H[:, L.segments["transport"]].toarray().sum(axis=1)
        sens[kernel] = column / m.superobs["prior"].to_numpy()
    assert np.abs(sens["uniform"]).max() <= 1e-6
    assert np.all(sens["tropomi"] >= 0) and 0.0 < sens["tropomi"].max() < 0.5
    print(
        f"\nd ln(column)/d δ under the TROPOMI-like kernel: median {np.median(sens['tropomi']):.3f}"
    )


class _RequestedHoursOnly:
    """A meteorology source that gives exactly the hours asked for (as a model's hourly files
    would), not its whole dataset."""

    synthetic = True

    def __init__(self, source):
        self.source = source

    def for_hours(self, hours_utc):
        return self.source.for_hours(hours_utc).sel(time=pd.DatetimeIndex(hours_utc))


def test_met_of_a_source_that_gives_only_the_hours_asked_for(no2, tiny_case, tiny_system):
    only = ColumnObservations(
        no2.pixels, NOX, "vertical_column", _RequestedHoursOnly(tiny_case.scenario.meteorology),
        SETTINGS,
    )  # fmt: skip
    np.testing.assert_allclose(
        only.match(tiny_system).superobs["prior"], no2.match(tiny_system).superobs["prior"],
        rtol=1e-12,
    )  # fmt: skip


@given(
    n=st.integers(4, 30),
    seed=st.integers(0, 10_000),
    amf=st.floats(0.0, 2.0),
    length_km=st.floats(1.0, 500.0),
)
@settings(max_examples=60, deadline=None)
def test_whitening_projection_properties(n, seed, amf, length_km):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 2e5, n), rng.uniform(0, 2e5, n)
    sig = amf * rng.uniform(0, 1e-5, n)
    d = np.hypot(x[:, None] - x[None], y[:, None] - y[None])
    C = np.diag(rng.uniform(1e-12, 1e-10, n)) + np.outer(sig, sig) * np.exp(-d / (length_km * 1e3))
    X = plane_design(x, y)
    T = _whitening_projection(C, X)
    assert T.shape == (n - 3, n)
    assert np.abs(T @ X).max() <= 1e-9 * np.abs(T).max()
    np.testing.assert_allclose(T @ C @ T.T, np.eye(n - 3), atol=1e-9)


def _handed_footprints(no2, case, system, **handed):
    """The footprints of ``no2``'s pixels with ``handed`` column settings (the OSSE's
    truth diagnostics) on top of ``SETTINGS``."""
    kind = ColumnObservations(
        no2.pixels, NOX, "vertical_column", case.scenario.meteorology, replace(SETTINGS, **handed)
    )
    return kind.match(system).footprints


def test_a_handed_lifetime_and_flat_ratio_reach_the_column_plumes(no2, tiny_case, tiny_system):
    """``ColumnSettings.lifetime_h`` and ``no2_ratio`` (the OSSE's truth-chemistry diagnostic):
    with a flat ratio r and a lifetime far longer than the travel times the NO2 columns are r ×
    the inert ones; a shorter lifetime only takes NO2 away; the chemistry settings' ramp from
    the primary fraction gives less NO2 than a flat equilibrium ratio."""
    rng = np.random.default_rng(8)
    E = rng.random((tiny_system.nt, tiny_system.grid.size))
    P = rng.random((tiny_system.nt, len(tiny_system.points))) * 100

    def columns(**handed):
        fp = _handed_footprints(no2, tiny_case, tiny_system, **handed)
        return forward(fp, E, P, nox=False), forward(fp, E, P, nox=True)

    inert, flat = columns(no2_ratio=0.6, lifetime_h=1e6)
    assert inert.max() > 0
    # e^(-t/τ) ≥ 1 − 150 km / (1 m/s × 3.6e9 s) over the operator's reach
    np.testing.assert_allclose(flat, 0.6 * inert, rtol=1e-4, atol=1e-12 * inert.max())
    _, short = columns(no2_ratio=0.6, lifetime_h=1.0)
    assert np.all(short <= flat * (1 + 1e-12)) and short.sum() < 0.99 * flat.sum()
    chem = tiny_system.config.chemistry
    _, ramp = columns(no2_ratio=chem.no2_equilibrium_fraction, lifetime_h=1e6)
    _, configured = columns(lifetime_h=1e6)
    assert chem.no2_primary_fraction < chem.no2_equilibrium_fraction
    assert np.all(configured <= ramp * (1 + 1e-12)) and configured.sum() < ramp.sum()
    for bad in ({"no2_ratio": 1.5}, {"no2_ratio": 0.0}, {"lifetime_h": 0.0}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            ColumnSettings(**bad)


def test_photostationary_no2_is_the_equilibrium_ratio_from_the_source(no2, tiny_case, tiny_system):
    """``ColumnSettings.photostationary_no2`` (``inversion.columns.no2_conversion:
    photostationary``): the columns are those of a flat ratio equal to the chemistry's
    equilibrium fraction, to 1e-12, with the chemistry's lifetime; the ramp of the default
    gives less NO2 everywhere; a handed flat ratio (the truth diagnostic) overrides it; and
    the config reaches the settings of the files' and the OSSE's overpasses."""
    rng = np.random.default_rng(9)
    E = rng.random((tiny_system.nt, tiny_system.grid.size))
    P = rng.random((tiny_system.nt, len(tiny_system.points))) * 100

    def columns(**handed):
        fp = _handed_footprints(no2, tiny_case, tiny_system, **handed)
        return forward(fp, E, P, nox=True)

    chem = tiny_system.config.chemistry
    photostationary = columns(photostationary_no2=True)
    assert photostationary.max() > 0
    np.testing.assert_allclose(
        photostationary,
        columns(no2_ratio=chem.no2_equilibrium_fraction),
        rtol=1e-12,
        atol=1e-12 * photostationary.max(),
    )
    ramp = columns()
    assert np.all(ramp <= photostationary * (1 + 1e-12)) and ramp.sum() < photostationary.sum()
    np.testing.assert_array_equal(
        columns(photostationary_no2=True, no2_ratio=0.5), columns(no2_ratio=0.5)
    )
    from gridcarbon.config.inversion import InversionConfig
    from gridcarbon.pipeline import column_model_settings

    config = InversionConfig.model_validate({"columns": {"no2_conversion": "photostationary"}})
    assert column_model_settings(config.columns)["photostationary_no2"] is True
    assert column_model_settings(InversionConfig().columns)["photostationary_no2"] is False


def _columns_metrics(tiny_case, made, columns: dict | None = None) -> dict:
    """The ``columns`` metrics of a run of the tiny case on the columns ``made`` and the
    case's stations, with the ``inversion.columns`` settings ``columns``."""
    run = run_inversion(
        tiny_case.prior,
        tiny_case.scenario,
        InversionConfig.model_validate({"columns": columns or {}}),
        ObservationSet(kinds=(made,), stations=tiny_case.stations, synthetic=True),
    )
    return run.metrics["columns"]


def test_the_innovations_tell_which_no2_conversion_the_columns_hold(no2, tiny_case, tiny_system):
    """``inversion.columns.no2_conversion_check``: columns of 1.1 × the prior made with the
    photostationary conversion give, with the ramp in use, ``d = 0.1 m + 1.1 Δ`` exactly
    (a = 0.1, b = 1.1); made with the ramp, b = 0; seen from the photostationary operator,
    data of the ramp are all of the difference (b = 1, a = 0); inert columns and a handed
    ratio give nothing; and a run's metrics carry the fit."""
    ramp = _like(no2, tiny_case)
    photostationary = _like(no2, tiny_case, photostationary_no2=True)

    def prior(kind):
        return kind.match(tiny_system).superobs["prior"].to_numpy(float)

    def evidence(kind, observed):
        return conversion_check(tiny_system, [kind.with_observed(tiny_system, observed)])

    got = evidence(ramp, 1.1 * prior(photostationary))
    assert (got["in_use"], got["other"]) == ("ramp", "photostationary")
    assert got["n_overpasses"] == len(_overpasses(tiny_system)) == 3
    assert got["a"] == pytest.approx(0.1, abs=1e-8) and got["b"] == pytest.approx(1.1, abs=1e-8)
    assert got["verdict"] == "inconclusive"  # three overpasses are too few for a verdict
    got = evidence(ramp, 1.1 * prior(ramp))
    assert got["a"] == pytest.approx(0.1, abs=1e-8) and got["b"] == pytest.approx(0.0, abs=1e-8)
    got = evidence(photostationary, prior(ramp))
    assert got["in_use"] == "photostationary"
    assert got["a"] == pytest.approx(0.0, abs=1e-8) and got["b"] == pytest.approx(1.0, abs=1e-8)
    # pooled over the types (each file is one): the same columns under two names
    made = 1.1 * prior(photostationary)
    twice = [
        ColumnObservations(
            no2.pixels, NOX, "vertical_column", tiny_case.scenario.meteorology, SETTINGS, name
        ).with_observed(tiny_system, made)
        for name in ("a", "b")
    ]
    got = conversion_check(tiny_system, twice)
    assert got["n_overpasses"] == 6 and got["observation_types"] == ["a", "b"]
    assert got["b"] == pytest.approx(1.1, abs=1e-8)
    inert = ColumnObservations(
        no2.pixels, CO2, "vertical_column", tiny_case.scenario.meteorology, SETTINGS
    )
    assert inert.conversion_rows(tiny_system) is None
    assert _like(no2, tiny_case, no2_ratio=0.5).conversion_rows(tiny_system) is None
    assert conversion_check(tiny_system, [inert]) is None
    named = ColumnObservations(
        no2.pixels,
        NOX,
        "vertical_column",
        tiny_case.scenario.meteorology,
        replace(SETTINGS, photostationary_no2=True),
        "other",
    )
    with pytest.raises(ConfigError, match="different conversions"):
        conversion_check(tiny_system, [ramp, named])
    with pytest.raises(ConfigError, match="named 'column'"):
        conversion_check(tiny_system, [ramp, photostationary])

    made = ramp.with_observed(tiny_system, made)
    found = _columns_metrics(tiny_case, made, {"no2_conversion_check": True})["no2_conversion"]
    assert found["b"] == pytest.approx(1.1, abs=1e-8)
    assert "no2_conversion" not in _columns_metrics(tiny_case, made)


def test_the_innovations_tell_the_decay_length_the_columns_hold(no2, tiny_case, tiny_system):
    """``inversion.columns.lifetime_check_factor`` (the plumes' decay length ū τ, through the
    lifetime): columns of 1.1 × the prior made with half the lifetime give, to the operator in use checked at 0.5, ``d = 0.1 m + 1.1 Δ`` exactly
    (a = 0.1, b = 1.1, first-order reading 1 + 1.1 × (0.5 − 1) = 0.45); columns of the lifetime
    in use give b = 0; columns of a doubled lifetime lie the other way (b < 0, verdict
    "opposite" with enough overpasses); inert columns give nothing, a factor of 1 is refused,
    and a run's metrics carry the fit only when asked."""

    def prior(kind):
        return kind.match(tiny_system).superobs["prior"].to_numpy(float)

    def evidence(observed, copies=("column",)):
        kinds = [
            ColumnObservations(
                no2.pixels, NOX, "vertical_column", tiny_case.scenario.meteorology, SETTINGS, name
            ).with_observed(tiny_system, observed)
            for name in copies
        ]
        return lifetime_check(tiny_system, kinds, 0.5)

    half = prior(_like(no2, tiny_case, lifetime_reference=-0.5))
    got = evidence(1.1 * half)
    assert got["factor"] == 0.5 and got["n_overpasses"] == 3
    assert got["a"] == pytest.approx(0.1, abs=1e-8) and got["b"] == pytest.approx(1.1, abs=1e-8)
    assert got["implied_factor"] == pytest.approx(0.45, abs=1e-8)
    assert got["implied_low"] <= got["implied_factor"] <= got["implied_high"]
    assert got["verdict"] == "inconclusive"  # three overpasses are too few for a verdict
    got = evidence(1.1 * prior(no2))
    assert got["a"] == pytest.approx(0.1, abs=1e-8) and got["b"] == pytest.approx(0.0, abs=1e-8)
    doubled = prior(_like(no2, tiny_case, lifetime_reference=1.0))
    got = evidence(doubled, copies=("a", "b", "c"))
    assert got["n_overpasses"] == 9 and got["b_high"] < 0
    assert got["verdict"] == "opposite" and got["implied_factor"] > 1
    inert = ColumnObservations(
        no2.pixels, CO2, "vertical_column", tiny_case.scenario.meteorology, SETTINGS
    )
    assert inert.lifetime_rows(tiny_system, 0.5) is None
    assert lifetime_check(tiny_system, [inert], 0.5) is None
    with pytest.raises(ConfigError, match="not 1"):
        no2.lifetime_rows(tiny_system, 1.0)
    with pytest.raises(ValueError, match="compares the lifetime with itself"):
        InversionConfig.model_validate({"columns": {"lifetime_check_factor": 1}})
    with pytest.raises(ValueError, match="drop one of the two"):
        InversionConfig.model_validate(
            {
                "columns": {"lifetime_check_factor": 0.5},
                "state": {"column_transport_unknowns": True},
            }
        )

    made = no2.with_observed(tiny_system, 1.1 * half)
    found = _columns_metrics(tiny_case, made, {"lifetime_check_factor": 0.5})["lifetime"]
    assert found["b"] == pytest.approx(1.1, abs=1e-8) and found["factor"] == 0.5
    assert "lifetime" not in _columns_metrics(tiny_case, made)


def test_a_handed_wind_carries_every_plume(no2, tiny_case, tiny_system):
    """``ColumnSettings.plume_wind_m_s`` (the OSSE's truth-wind diagnostic): one wind carries
    every plume, urban, rural and stacks alike, so the inert columns go exactly as 1/speed
    (the spreads, the vertical shares and the stacks' rise are the met's, which the given
    wind leaves alone), a plume carried another way lands elsewhere, and the met's own winds
    (the default) give other columns again.  Bad winds are refused."""
    rng = np.random.default_rng(9)
    E = rng.random((tiny_system.nt, tiny_system.grid.size))
    P = rng.random((tiny_system.nt, len(tiny_system.points))) * 100
    assert len(tiny_system.points) > 0

    def inert(**handed):
        fp = _handed_footprints(no2, tiny_case, tiny_system, **handed)
        return forward(fp, E, P, nox=False), fp

    slow, fp_slow = inert(plume_wind_m_s=(3.0, -1.0))
    fast, _ = inert(plume_wind_m_s=(6.0, -2.0))
    assert slow.max() > 0 and fp_slow.pt_ptr[-1] > 0  # the stacks reach the pixels
    np.testing.assert_allclose(fast, slow / 2.0, rtol=1e-12, atol=0)
    across, _ = inert(plume_wind_m_s=(1.0, 3.0))
    own, _ = inert()
    for other in (across, own):
        assert np.abs(other - slow).max() > 0.1 * slow.max()
    for bad in ((0.0, 0.0), (np.nan, 1.0), (1.0, 2.0, 3.0), 3.0, ("east", 1.0)):
        with pytest.raises(ConfigError, match="plume_wind_m_s"):
            ColumnSettings(plume_wind_m_s=bad)
