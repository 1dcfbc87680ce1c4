"""Satellites in the OSSE (issue 14 point 5): TROPOMI NO2 columns simulated from the replicate's
own truth, written in the S5P layout and read back, and three inversions per replicate (surface
only, column only, joint) on the small test region over two days.  Everything is SYNTHETIC."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gridcarbon.config import RunConfig
from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.inversion.columns import ColumnSettings
from gridcarbon.inversion.osse import make_truth, run_osse
from gridcarbon.inversion.osse_scores import (
    JOINT_NO_WORSE,
    satellite_target_rows,
    satellite_targets,
)
from gridcarbon.inversion.system import ObservationSystem
from gridcarbon.pipeline import (
    build_prior,
    inversion_inputs,
    osse_column_settings,
    osse_column_simulator,
    truth_chemistry_settings,
    truth_wind_settings,
)
from gridcarbon.scenario import satellite_synthetic as ss
from gridcarbon.species import CO2, NOX
from tests.region import small_region_scenario

PERIOD = {"start": "2023-06-03", "end": "2023-06-04"}  # 3 June has clear pixels over the region
# the 60 km test region is smaller than the 150 km upwind fetch the column operator asks for
SATELLITE = {"satellite": "tropomi_no2", "satellite_min_upwind_fetch_km": 0.0}


def _config(**osse) -> RunConfig:
    return RunConfig.validate_dict({"period": PERIOD, "inversion": {"osse": osse}})


@pytest.fixture(scope="module")
def setup():
    scenario = small_region_scenario()
    config = _config(**SATELLITE)
    prior = build_prior(config, scenario)
    scenario, _ = inversion_inputs(config, prior, with_observations=False, scenario=scenario)
    system = ObservationSystem(prior, scenario, config.inversion)
    return prior, scenario, system, config.inversion


def _daily_imager(ic, satellite: str):
    """The inversion settings with ``osse.satellite`` and an imager swath every day."""
    osse = ic.osse.model_copy(update={"satellite": satellite, "satellite_imager_every_days": 1})
    return ic.model_copy(update={"osse": osse})


def _truth_at(system, truth, species: str, hour: int) -> np.ndarray:
    """The truth's emissions at ``hour`` as its stations see them: area and point sources,
    the neighbouring regions' inflow at the truth's factors (field density × W) and the
    biogenic flux, kg h-1."""
    si = system.species.index(species)
    total = truth.area[si][hour].astype(np.float64)
    np.add.at(total, system.point_cells, truth.points[si][hour])
    L = system.layout
    for j, pj in enumerate(system.neighbour_used):
        factor = truth.x[L.segments["neighbours"].start + si * len(L.neighbours) + j]
        total += factor * system.neighbour_density[species][hour] * system.neighbour_W[pj]
    if truth.include_biogenic and species in system.bio:  # June: CO2's biogenic flux
        scale = 1.0
        if species in L.biogenic_species:
            day = system.hour_day[hour]
            b = L.segments["biogenic"].start + L.biogenic_species.index(species) * L.ndays
            scale = truth.x[b + day]
        total += scale * system.bio[species][hour]
    return total.reshape(system.grid.ny, system.grid.nx)


def test_columns_are_simulated_from_the_replicates_truth(setup, monkeypatch):
    prior, scenario, system, ic = setup
    truth = make_truth(system, np.random.default_rng(3), "perturbed", ic)
    calls = []
    writer = ss.write_synthetic_tropomi_no2

    def spy(path, **kw):
        calls.append(kw)
        return writer(path, **kw)

    monkeypatch.setattr(ss, "write_synthetic_tropomi_no2", spy)
    simulate = osse_column_simulator(scenario, ic)
    sim = simulate(system, truth, 40000)
    assert [pd.Timestamp(c["date"]) for c in calls] == list(pd.date_range(*PERIOD.values()))
    assert sim.info["n_files"] == 2 and len(sim.kinds) >= 1
    times = pd.DatetimeIndex(system.times)
    for c in calls:
        when = ss.tropomi_overpass_time(system.grid, c["date"])
        hour = int((when.floor("h") - times[0]) / pd.Timedelta(hours=1))
        # the replicate's own emissions at the overpass hour (area + point sources), kg s-1
        np.testing.assert_allclose(c["fluxes"].nox, _truth_at(system, truth, NOX.name, hour) / 3600)
        np.testing.assert_allclose(c["fluxes"].co2, _truth_at(system, truth, CO2.name, hour) / 3600)
        assert c["seed"] == 40000 and c["amf_error_sigma"] == ic.osse.satellite_amf_error_sigma
        assert c["free_troposphere_no2_mol_m2"] == 1.2e-5
    # one lifetime error per replicate, log-uniform within ±50 %
    factors = {c["lifetime_factor"] for c in calls}
    assert len(factors) == 1 and 0.5 <= factors.pop() <= 1.5
    assert sim.info["satellite_lifetime_factor"] == calls[0]["lifetime_factor"]
    # (the test region has no neighbouring regions; their inflow in the fluxes:
    # test_osse.py::test_the_truths_emissions_hold_what_its_stations_see)
    # doubling the truth (its neighbours' factors too) doubles the fluxes the columns are made
    # from
    first = len(calls)
    doubled = replace(truth, area=truth.area * 2, points=truth.points * 2, x=truth.x * 2)
    simulate(system, doubled, 40000)
    for a, b in zip(calls[:first], calls[first:], strict=True):
        np.testing.assert_allclose(b["fluxes"].nox, 2 * a["fluxes"].nox, rtol=1e-6)
    # another replicate draws another lifetime
    simulate(system, truth, 40001)
    assert calls[-1]["lifetime_factor"] != calls[0]["lifetime_factor"]


def test_the_simulated_files_can_be_kept_and_are_never_replaced(setup, tmp_path):
    from gridcarbon.errors import OutputExistsError

    prior, scenario, system, ic = setup
    truth = make_truth(system, np.random.default_rng(3), "perturbed", ic)
    in_temporary = osse_column_simulator(scenario, ic)(system, truth, 40000)
    kept = osse_column_simulator(scenario, ic, files_dir=tmp_path / "files")(system, truth, 40000)
    # the product's own names, one a day, read into the same observations as the temporary ones
    names = sorted(p.name for p in (tmp_path / "files").iterdir())
    assert names == [ss.tropomi_file_name(d) for d in pd.date_range(*PERIOD.values())]
    assert [k.name for k in kept.kinds] == [k.name for k in in_temporary.kinds]
    for a, b in zip(kept.kinds, in_temporary.kinds, strict=True):
        np.testing.assert_array_equal(a.pixels.value, b.pixels.value)
    assert kept.info == in_temporary.info
    # a file already there is refused, not replaced
    before = (tmp_path / "files" / names[0]).read_bytes()
    with pytest.raises(OutputExistsError, match=names[0]):
        osse_column_simulator(scenario, ic, files_dir=tmp_path / "files")(system, truth, 40001)
    assert (tmp_path / "files" / names[0]).read_bytes() == before


def test_the_column_twin_puts_the_operators_own_model_of_the_truth_in_place(setup):
    import pickle

    from gridcarbon.inversion.osse import operator_columns

    prior, scenario, system, ic = setup
    truth = make_truth(system, np.random.default_rng(3), "identical", ic)
    sim = osse_column_simulator(scenario, ic)(system, truth, 40000)
    kind = next(k for k in sim.kinds if k.match(system).blocks)
    found = kind.match(system)
    si = system.species.index(kind.species.name)
    L = system.layout
    ones = np.ones(len(system.neighbour_used))
    # at the prior emissions the operator's model is H x_b, for the twin's truth H x_true
    np.testing.assert_allclose(
        kind.modelled(system, system.E[si], system.Ep[si], ones),
        found.superobs["prior"],
        rtol=1e-5,
    )
    first = L.segments["neighbours"].start + si * len(L.neighbours)
    factors = truth.x[first : first + len(system.neighbour_used)]
    true = kind.modelled(system, truth.area[si], truth.points[si], factors)
    np.testing.assert_allclose(true, found.H @ truth.x, rtol=1e-4, atol=1e-6 * np.abs(true).max())
    # without noise the whitened rows are T H x_true: the background plane is projected out
    (twin,) = operator_columns(system, truth, [kind], None)
    rows = twin.match(system).rows
    np.testing.assert_allclose(
        rows["observed"], found.transform @ (found.H @ truth.x), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_array_equal(rows["prior"], found.rows["prior"])
    assert not np.allclose(rows["observed"], found.rows["observed"])
    # the superobservations keep the simulated overpass's background level
    used = found.superobs["used"].to_numpy()
    twin_so = twin.match(system).superobs["observed"].to_numpy()[used]
    sim_so = found.superobs["observed"].to_numpy()[used]
    assert abs(twin_so.mean() - sim_so.mean()) < 0.5 * np.abs(sim_so - sim_so.mean()).max()
    # with noise the whitened rows differ from the noise-free ones by N(0, I)
    (noisy,) = operator_columns(system, truth, [kind], np.random.default_rng(0))
    z = noisy.match(system).rows["observed"].to_numpy() - rows["observed"].to_numpy()
    assert z.size >= 20 and 0.5 < np.mean(z**2) < 1.7
    # the replaced values survive pickling (the match is rebuilt from the pixels)
    again = pickle.loads(pickle.dumps(noisy))
    np.testing.assert_allclose(
        again.match(system).rows["observed"], noisy.match(system).rows["observed"], rtol=1e-12
    )
    # and relinearising the lifetime keeps them (the observed values do not depend on it)
    moved = noisy.at_lifetime(0.2).match(system).superobs["observed"]
    np.testing.assert_array_equal(moved, noisy.match(system).superobs["observed"])
    # and the original columns are untouched
    np.testing.assert_array_equal(kind.match(system).rows["observed"], found.rows["observed"])
    with pytest.raises(InputDataError, match="one value per superobservation"):
        kind.with_observed(system, np.zeros(3))


def test_an_osse_with_the_column_twin_changes_only_the_columns(setup):
    prior, scenario, system, ic = setup
    sim = osse_column_simulator(scenario, ic)
    twin_ic = ic.model_copy(
        update={"osse": ic.osse.model_copy(update={"satellite_columns": "operator"})}
    )
    kw = {
        "replicates": 1,
        "seed": 5,
        "system": system,
        "column_simulator": sim,
        "mode": "identical",
    }
    twin = run_osse(prior, scenario, twin_ic, **kw).table
    plain = run_osse(prior, scenario, ic, **kw).table
    d = {name: t[t["label"] == "default"].set_index(["observations", "species"]) for name, t in
         (("twin", twin), ("plain", plain))}  # fmt: skip
    cols = ["rmse_post_near_kg", "reduced_chi2", "n_obs"]
    pd.testing.assert_frame_equal(d["twin"].loc["surface", cols], d["plain"].loc["surface", cols])
    assert (d["twin"].loc["column", "n_obs"] == d["plain"].loc["column", "n_obs"]).all()
    assert not np.allclose(
        d["twin"].loc["column", "rmse_post_near_kg"], d["plain"].loc["column", "rmse_post_near_kg"]
    )


def test_perturbed_footprints_move_the_plumes_of_the_pixels_they_are_given(setup):
    """The operator's footprints with the used pixels' met perturbed: no perturbation gives the
    match's own columns; a mixing height changed at one superobservation's pixels changes that
    row alone; a wind turned round or twice as fast changes (and dilutes) the plumes."""
    prior, scenario, system, ic = setup
    truth = make_truth(system, np.random.default_rng(3), "identical", ic)
    sim = osse_column_simulator(scenario, ic)(system, truth, 40000)
    kind = next(k for k in sim.kinds if k.match(system).blocks)
    found = kind.match(system)
    px = kind.pixels_used(system)
    n = len(px)
    assert n == found.superobs["n_pixels"].sum()
    hours = found.superobs["hour"].to_numpy()
    np.testing.assert_array_equal(px["hour"], hours[px["superobservation"]])
    si = system.species.index(kind.species.name)
    emissions = (system.E[si], system.Ep[si], np.ones(len(system.neighbour_used)))
    base = kind.modelled(system, *emissions)

    def modelled(turn=0.0, speed=1.0, mixing=1.0):
        fp = kind.perturbed_footprints(
            system,
            wind_turn_deg=np.broadcast_to(turn, n),
            wind_speed_factor=np.broadcast_to(speed, n),
            mixing_height_factor=np.broadcast_to(mixing, n),
        )
        return kind.modelled(system, *emissions, footprints=fp)

    np.testing.assert_allclose(modelled(), base, rtol=1e-6, atol=1e-9 * np.abs(base).max())
    row = int(np.argmax(np.abs(base)))
    one = np.where(px["superobservation"].to_numpy() == row, 0.4, 1.0)
    moved = modelled(mixing=one)
    others = np.arange(len(base)) != row
    np.testing.assert_allclose(moved[others], base[others], rtol=1e-6, atol=1e-9)
    assert abs(moved[row] - base[row]) > 1e-3 * abs(base[row])
    turned = modelled(turn=180.0)
    assert np.abs(turned - base).max() > 0.1 * np.abs(base).max()
    assert np.abs(modelled(speed=2.0)).sum() < 0.9 * np.abs(base).sum()
    with pytest.raises(ConfigError, match="wind_speed_factor"):
        modelled(speed=0.0)


def test_the_perturbed_column_twin_changes_only_the_columns_of_the_twin(setup):
    """``operator_perturbed`` in the randomised mode: the surface-only rows are the plain
    twin's, the columns' differ (their plumes see the replicate's transport errors)."""
    prior, scenario, system, ic = setup
    sim = osse_column_simulator(scenario, ic)

    def table(columns: str) -> pd.DataFrame:
        cfg = ic.model_copy(
            update={"osse": ic.osse.model_copy(update={"satellite_columns": columns})}
        )
        t = run_osse(
            prior, scenario, cfg, replicates=1, seed=5, system=system, column_simulator=sim,
            mode="randomised",
        ).table  # fmt: skip
        return t[t["label"] == "default"].set_index(["observations", "species"])

    twin, perturbed = table("operator"), table("operator_perturbed")
    cols = ["rmse_post_near_kg", "reduced_chi2", "n_obs"]
    pd.testing.assert_frame_equal(twin.loc["surface", cols], perturbed.loc["surface", cols])
    assert (twin.loc["column", "n_obs"] == perturbed.loc["column", "n_obs"]).all()
    assert not np.allclose(
        twin.loc["column", "rmse_post_near_kg"], perturbed.loc["column", "rmse_post_near_kg"]
    )


def _slant_enhancement(tmp_path, scenario, nox, name, **kw) -> np.ndarray:
    """Tropospheric slant column (column × tropospheric AMF) of a noise-free file."""
    day = pd.Timestamp(PERIOD["start"])
    met = scenario.meteorology.for_hours(pd.date_range(day, periods=24, freq="h"))
    fluxes = ss.fluxes_from_emissions(scenario.grid, np.zeros_like(nox), nox)
    path = ss.write_synthetic_tropomi_no2(
        tmp_path / f"{name}.nc", grid=scenario.grid, fluxes=fluxes, met=met, date=day, **kw
    )
    with xr.open_dataset(path, group="PRODUCT") as p:
        return (p["nitrogendioxide_tropospheric_column"] * p["air_mass_factor_troposphere"]).values


def test_the_modelled_enhancement_is_linear_in_the_truth_without_noise(tmp_path, setup):
    _, scenario, system, ic = setup
    truth = make_truth(system, np.random.default_rng(4), "perturbed", ic)
    nox = _truth_at(system, truth, NOX.name, 5)
    kw = {"noise_scale": 0.0, "seed": 7}
    zero = _slant_enhancement(tmp_path, scenario, 0 * nox, "zero", **kw)
    one = _slant_enhancement(tmp_path, scenario, nox, "one", **kw) - zero
    two = _slant_enhancement(tmp_path, scenario, 2 * nox, "two", **kw) - zero
    assert np.nanmax(one) > 1e-6  # a plume well above the 8.6e-6 mol m-2 noise
    # to the float32 precision of the stored columns (~1e-11 of a 5e-5 mol m-2 column)
    np.testing.assert_allclose(two, 2 * one, rtol=1e-4, atol=5e-11)
    # a shorter lifetime leaves less NO2 in the column
    short = _slant_enhancement(tmp_path, scenario, nox, "short", lifetime_factor=0.5, **kw) - zero
    assert np.nansum(short) < np.nansum(one)
    # with noise the same truth reads differently
    noisy = _slant_enhancement(tmp_path, scenario, nox, "noisy", seed=7) - zero
    assert np.nanstd(noisy - one) > 1e-6


def test_three_inversions_per_replicate_on_the_same_truth(setup):
    prior, scenario, system, ic = setup
    sim = osse_column_simulator(scenario, ic)
    res = run_osse(prior, scenario, ic, replicates=1, seed=5, system=system, column_simulator=sim)
    t = res.table
    d = t[t["label"] == "default"]
    assert set(d["observations"]) == {"surface", "column", "joint"}
    for _, g in d.groupby("observations"):
        assert sorted(g["species"]) == sorted(system.species)
    joint = d[d["observations"] == "joint"]
    surface = d[d["observations"] == "surface"]
    column = d[d["observations"] == "column"]
    # the joint inversion assimilates both sets of rows
    assert (joint["n_obs"].to_numpy() == surface["n_obs"].to_numpy() + column["n_obs"]).all()
    assert (joint["n_overpasses_used"] >= 1).all()
    assert (joint["city_510100_overpasses"] >= 1).all()
    assert set(res.summary["intervals_by_observations"]) == {"surface", "column", "joint"}
    targets = pd.DataFrame(res.summary["satellite_targets"])
    assert "≥ 1 usable overpass per city-month (fewest over replicates)" in set(targets["target"])
    # the same seed without satellites: the table of before, equal to the surface-only rows
    plain = run_osse(prior, scenario, ic.model_copy(update={"osse": ic.osse.model_copy(
        update={"satellite": "none"})}), replicates=1, seed=5, system=system)  # fmt: skip
    assert "observations" not in plain.table
    same = t[t["observations"] == "surface"].drop(columns="observations")
    same = same.dropna(axis=1, how="all").reset_index(drop=True)
    cols = [c for c in same.columns if not c.endswith("seconds")]
    expected = plain.table.reset_index(drop=True)
    assert set(expected.columns) - {"observations"} >= set(cols)
    pd.testing.assert_frame_equal(same[cols], expected[cols])
    assert res.summary["species"] == plain.summary["species"]


def test_satellites_need_a_column_simulator(setup):
    prior, scenario, system, ic = setup
    with pytest.raises(ConfigError, match="column_simulator="):
        run_osse(prior, scenario, ic, replicates=1, system=system)


def test_satellite_targets_on_paired_replicates():
    rows = []
    for rep, (es, ej, fs, fj) in enumerate([(0.2, 0.1, 0.0, 0.2), (-0.2, -0.1, 0.1, 0.3)]):
        for obs, e, far in (("surface", es, fs), ("joint", ej, fj)):
            for s in (CO2.name, NOX.name):
                rows.append(
                    {
                        "replicate": rep,
                        "label": "default",
                        "observations": obs,
                        "species": s,
                        "city_A_post_err": e if s == CO2.name else np.nan,
                        "own_rmse_reduction_far": far,
                        "own_rmse_reduction_0-5km": 0.5,
                        "own_rmse_reduction_near": 0.5,
                        "city_A_overpasses": 3 + rep if obs == "joint" else np.nan,
                        # the stacks: CO2's factors halve their error, NOx's keep it
                        "point_factor_rmse_prior": 0.3 + 0.1 * rep,
                        "point_factor_rmse_post": (0.3 + 0.1 * rep)
                        * (0.5 if s == CO2.name and obs == "joint" else 1.0),
                    }
                )
    v = satellite_target_rows(pd.DataFrame(rows), CO2.name, NOX.name, n_resamples=99)
    by = {(r.score, r._2): r for r in v.itertuples()}
    city = by[("city_rms_error_joint_over_surface", "A")]
    assert city.estimate == pytest.approx(0.5) and city.passes
    gain = by[("far_rmse_gain_joint_vs_surface", NOX.name)]
    # per replicate 1 - (1 - 0.2)/(1 - 0) = 0.2 and 1 - 0.7/0.9 = 0.222
    assert gain.estimate == pytest.approx((0.2 + (1 - 0.7 / 0.9)) / 2) and gain.passes
    band = by[("band_rmse_joint_over_surface", f"{NOX.name} 0-5km")]
    assert band.estimate == pytest.approx(1.0) and band.band_high == JOINT_NO_WORSE and band.passes
    far = by[("band_rmse_joint_over_surface", f"{CO2.name} far")]
    assert far.estimate == pytest.approx(np.mean([0.8, 0.7 / 0.9])) and far.passes
    count = by[("usable_overpasses", "A")]
    assert count.estimate == 3 and count.passes
    stacks = by[("point_factor_rmse_ratio", CO2.name)]
    assert stacks.estimate == pytest.approx(0.5) and stacks.band_high == 0.7 and stacks.passes
    stacks = by[("point_factor_rmse_ratio", NOX.name)]
    assert stacks.estimate == pytest.approx(1.0) and not stacks.passes


def test_the_far_field_gain_by_scale_on_paired_replicates():
    from gridcarbon.inversion.osse_scores import far_field_scale_rows

    rows = []
    # per replicate: the cells' reductions (surface, joint), the 27 km blocks', the totals'
    data = [((0.1, -0.8), (0.2, 0.3), (0.05, 0.02)), ((0.0, -0.6), (0.1, 0.1), (-0.04, 0.08))]
    for rep, (cells, blocks, totals) in enumerate(data):
        for k, obs in enumerate(("surface", "joint")):
            rows.append(
                {
                    "replicate": rep,
                    "label": "default",
                    "observations": obs,
                    "species": NOX.name,
                    "own_rmse_reduction_far": cells[k],
                    "own_far_block_rmse_reduction_27km": blocks[k],
                    "own_far_total_rel_error": totals[k],
                    "own_far_total_rel_error_prior": 0.3,
                }
            )
    got = far_field_scale_rows(pd.DataFrame(rows), NOX.name, n_resamples=99)
    by = {r["scale"]: r for r in got.to_dict(orient="records")}
    whole = "whole far field (RMS over replicates)"
    assert list(by) == ["cells", "27 km blocks", whole, "total relative error (mean)"]
    # the target's own score: per replicate 1 − (1 − r_joint)/(1 − r_surface)
    assert by["cells"]["gain"] == pytest.approx(np.mean([1 - 1.8 / 0.9, 1 - 1.6 / 1.0]))
    assert by["27 km blocks"]["gain"] == pytest.approx(np.mean([1 - 0.7 / 0.8, 0.0]))
    e_s, e_j = np.array([0.05, -0.04]), np.array([0.02, 0.08])
    assert by[whole]["gain"] == pytest.approx(1 - np.sqrt(np.mean(e_j**2) / np.mean(e_s**2)))
    assert by["27 km blocks"]["replicates"] == 2
    total = by["total relative error (mean)"]
    assert (total["prior"], total["surface"], total["joint"]) == pytest.approx((0.3, 0.005, 0.05))
    # without block scores (a cache from before them) there is nothing to print
    old = pd.DataFrame(rows).drop(columns=["own_far_block_rmse_reduction_27km"])
    assert far_field_scale_rows(old, NOX.name).empty


def _city_row(rep: int, observations: str, error: float, **more) -> dict:
    """One replicate's CO2 row of an OSSE table for city ``A`` (relative error ``error``)."""
    return {
        "replicate": rep,
        "label": "default",
        "observations": observations,
        "species": CO2.name,
        "city_A_post_err": error,
        **more,
    }


def test_both_joints_are_judged_when_the_imager_flies_beside_tropomi():
    """With ``joint_no2`` (surface + NO2 columns) beside ``joint`` (every product), each is
    judged against surface only on its own errors and overpass counts."""
    rows = []
    for rep, (es, ej, en) in enumerate([(0.2, 0.1, 0.3), (-0.2, -0.1, -0.3)]):
        for obs, e in (("surface", es), ("joint", ej), ("joint_no2", en)):
            overpasses = {"surface": np.nan, "joint": 5, "joint_no2": 2}[obs]
            rows.append(_city_row(rep, obs, e, city_A_overpasses=overpasses))
    v = satellite_targets(pd.DataFrame(rows), CO2.name, NOX.name)
    assert list(dict.fromkeys(v["observations"])) == ["joint", "joint_no2"]
    by = {(r.observations, r.score): r for r in v.itertuples()}
    assert by[("joint", "city_rms_error_joint_over_surface")].estimate == pytest.approx(0.5)
    assert by[("joint_no2", "city_rms_error_joint_over_surface")].estimate == pytest.approx(1.5)
    assert not by[("joint_no2", "city_rms_error_joint_over_surface")].passes
    assert by[("joint", "usable_overpasses")].estimate == 5
    assert by[("joint_no2", "usable_overpasses")].estimate == 2
    surface_only = pd.DataFrame(rows)
    assert satellite_targets(
        surface_only[surface_only.observations == "surface"], "CO2", "NOx"
    ).empty


def test_the_imager_columns_are_simulated_from_the_replicates_co2(setup, monkeypatch):
    """osse.satellite 'tropomi_no2+co2m_xco2': besides the NO2 files, a CO2M-like imager file
    every satellite_imager_every_days from the replicate's own CO2 at the imager's hour
    (11:30 local solar time), on its own random stream, read back as CO2 dry-air mole
    fractions; the TROPOMI files are those of 'tropomi_no2' alone."""
    prior, scenario, system, ic = setup
    truth = make_truth(system, np.random.default_rng(3), "perturbed", ic)
    both = _daily_imager(ic, "tropomi_no2+co2m_xco2")
    calls = []
    writer = ss.write_synthetic_oco_lite

    def spy(path, **kw):
        calls.append(kw)
        return writer(path, **kw)

    monkeypatch.setattr(ss, "write_synthetic_oco_lite", spy)
    sim = osse_column_simulator(scenario, both)(system, truth, 5)
    assert [pd.Timestamp(c["date"]) for c in calls] == list(pd.date_range(*PERIOD.values()))
    times = pd.DatetimeIndex(system.times)
    for c in calls:
        when = ss.imager_overpass_time(system.grid, c["date"])
        assert when.hour != ss.tropomi_overpass_time(system.grid, c["date"]).hour
        hour = int((when.floor("h") - times[0]) / pd.Timedelta(hours=1))
        np.testing.assert_allclose(c["fluxes"].co2, _truth_at(system, truth, CO2.name, hour) / 3600)
        assert c["seed"] != 5  # not the TROPOMI files' stream
    xco2 = [k for k in sim.kinds if k.quantity == "dry_air_mole_fraction"]
    assert xco2 and all(k.species is CO2 for k in xco2)  # seed 5: a usable swath on 4 June
    assert sim.info["n_files"] == 4
    no2 = [k for k in sim.kinds if k.quantity == "vertical_column"]
    alone = osse_column_simulator(scenario, ic)(system, truth, 5)
    assert [k.name for k in no2] == [k.name for k in alone.kinds]
    for a, b in zip(no2, alone.kinds, strict=True):
        np.testing.assert_array_equal(a.pixels.value, b.pixels.value)
    # every third day: only the period's first day
    third = both.model_copy(
        update={"osse": both.osse.model_copy(update={"satellite_imager_every_days": 3})}
    )
    calls.clear()
    osse_column_simulator(scenario, third)(system, truth, 5)
    assert [pd.Timestamp(c["date"]) for c in calls] == [pd.Timestamp(PERIOD["start"])]


def test_the_operators_lateral_spread_reaches_both_writers_when_asked(setup, monkeypatch):
    """osse.satellite_operator_lateral_spread (a diagnostic of the truth): each simulated
    file is made with the column operator's σ_y of the grid's most common Turner class at the
    overpass, urban by the system's own cells, and says so in its attributes; off, the
    writers get none."""
    import netCDF4

    from gridcarbon.inversion.dispersion import sigma_y_rural, sigma_y_urban, turner_class
    from gridcarbon.inversion.meteorology import met_at_points, with_cloud_cover

    prior, scenario, system, ic = setup
    truth = make_truth(system, np.random.default_rng(3), "perturbed", ic)
    both = _daily_imager(ic, "tropomi_no2+co2m_xco2")
    calls = []
    for name in ("write_synthetic_tropomi_no2", "write_synthetic_oco_lite"):
        writer = getattr(ss, name)

        def spy(path, _writer=writer, _name=name, **kw):
            out = _writer(path, **kw)
            with netCDF4.Dataset(out) as ds:
                attr = getattr(ds, "truth_lateral_spread", None)
            calls.append((_name, kw, attr))
            return out

        monkeypatch.setattr(ss, name, spy)
    osse_column_simulator(scenario, both)(system, truth, 5)
    assert len(calls) == 4 and all(c[1]["lateral_spread"] is None and c[2] is None for c in calls)
    calls.clear()
    on = both.model_copy(
        update={"osse": both.osse.model_copy(update={"satellite_operator_lateral_spread": True})}
    )
    osse_column_simulator(scenario, on)(system, truth, 5)
    assert (
        sorted(c[0] for c in calls)
        == ["write_synthetic_oco_lite"] * 2 + ["write_synthetic_tropomi_no2"] * 2
    )
    lon, lat = system.grid.lonlat()
    x = np.array([500.0, 5_000.0, 50_000.0])
    for name, kw, attr in calls:
        tropomi = name == "write_synthetic_tropomi_no2"
        when = (ss.tropomi_overpass_time if tropomi else ss.imager_overpass_time)(
            system.grid, kw["date"]
        )
        met = with_cloud_cover(
            scenario.meteorology.for_hours(pd.date_range(kw["date"], periods=24, freq="h"))
        )
        pm = met_at_points(met, pd.DatetimeIndex([when]), lon.ravel(), lat.ravel())
        classes = turner_class(pm.speed, pm.sun_elevation, pm.cloud)[0]
        k = int(np.bincount(classes.astype(int), minlength=6).argmax())
        spread = kw["lateral_spread"]
        np.testing.assert_array_equal(spread.rural(x), sigma_y_rural(k, x))
        np.testing.assert_array_equal(spread.urban(x), sigma_y_urban(k, x))
        np.testing.assert_array_equal(spread.urban_cells.ravel(), system.urban)
        assert (
            attr.startswith("DIAGNOSTIC: the column operator's") and f"class {'ABCDEF'[k]} " in attr
        )


def test_imager_targets_on_paired_replicates():
    from gridcarbon.inversion.osse_scores import imager_target_rows

    rows = []
    errors = [(0.10, 0.02, 1.0), (-0.10, -0.02, -1.0), (0.12, 0.05, 0.8), (-0.08, 0.01, 0.5)]
    for rep, (es, ej, z) in enumerate(errors):
        for obs, e in (("surface", es), ("joint", ej)):
            rows.append(_city_row(rep, obs, e, city_A_post_z=z if obs == "joint" else 3.0))
    v = imager_target_rows(pd.DataFrame(rows), CO2.name, n_resamples=99)
    by = {r.score: r for r in v.itertuples()}
    assert by["city_bias_joint"].estimate == pytest.approx(0.015) and by["city_bias_joint"].passes
    rms = np.sqrt(
        np.mean(np.square([0.02, 0.02, 0.05, 0.01])) / np.mean(np.square([0.1, 0.1, 0.12, 0.08]))
    )
    assert by["city_rms_error_joint_over_surface"].estimate == pytest.approx(rms)
    assert by["city_rms_error_joint_over_surface"].passes
    within = by["city_within_10pct_joint"]
    assert within.estimate == 1.0 and not within.passes  # 4 of 4, but Wilson lower 0.51 < 0.8
    calib = by["city_calibration_rms_joint"]
    assert calib.estimate == pytest.approx(np.sqrt(np.mean(np.square([1.0, 1.0, 0.8, 0.5]))))
    assert calib.passes


def test_mixing_height_targets_pool_the_overpass_days_of_each_set():
    from gridcarbon.inversion.osse_scores import mixing_height_target_rows

    sigma = 0.3
    rows = []
    # (observations, replicate, RMS error, RMS z, days, RMS of the truth δ)
    for obs, rep, err, z, days, truth in (
        ("surface", 0, 0.24, 1.0, 30, 0.25),
        ("surface", 1, 0.27, 1.2, 20, 0.26),
        ("joint", 0, 0.12, 0.9, 30, 0.25),
        ("joint", 1, 0.09, 1.6, 20, 0.26),
    ):
        rows.append(
            {
                "label": "default",
                "species": CO2.name,
                "observations": obs,
                "replicate": rep,
                "mixing_height_rms_error_overpass": err,
                "mixing_height_rms_error_ratio_overpass": err / sigma,
                "mixing_height_rms_z_overpass": z,
                "mixing_height_days_overpass": float(days),
                "mixing_height_rms_error_prior_overpass": truth,
            }
        )
    v = mixing_height_target_rows(pd.DataFrame(rows), n_resamples=99)
    by = {(r.observations, r.score): r for r in v.assign(observations=v["for"]).itertuples()}

    def pooled(values, days=(30, 20)):
        return np.sqrt(np.dot(days, np.square(values)) / sum(days))

    surface = by["surface", "mixing_height_rms_error_ratio_overpass"]
    assert surface.estimate == pytest.approx(pooled([0.8, 0.9])) and not surface.passes
    joint = by["joint", "mixing_height_rms_error_ratio_overpass"]
    assert joint.estimate == pytest.approx(pooled([0.4, 0.3])) and joint.passes
    assert by["joint", "mixing_height_rms_z_overpass"].estimate == pytest.approx(pooled([0.9, 1.6]))
    reference = by["joint", "mixing_height_rms_error_prior_ratio_overpass"]
    assert reference.estimate == pytest.approx(pooled([0.25 / sigma, 0.26 / sigma]))
    assert reference.passes is None
    # a table without a city-day truth has no mixing-height target
    assert mixing_height_target_rows(
        pd.DataFrame(rows).drop(
            columns=rows[0].keys() - {"label", "species", "observations", "replicate"}
        )
    ).empty


@pytest.mark.slow
def test_an_osse_with_the_imager_assimilates_xco2(setup):
    prior, scenario, system, ic = setup
    imager = _daily_imager(ic, "co2m_xco2")
    sim = osse_column_simulator(scenario, imager)
    res = run_osse(
        prior, scenario, imager, replicates=1, seed=5, system=system, column_simulator=sim
    )
    d = res.table[res.table["label"] == "default"].set_index(["observations", "species"])
    # n_obs: all the observations of the inversion (the same on every species' row)
    assert d.loc[("column", CO2.name), "n_obs"] > 0  # the XCO2 superobservations
    assert d.loc[("joint", CO2.name), "n_obs"] == (
        d.loc[("surface", CO2.name), "n_obs"] + d.loc[("column", CO2.name), "n_obs"]
    )
    assert (d.loc["joint", "n_overpasses_used"] >= 1).all()
    assert res.summary["satellite"] == "co2m_xco2"
    # the XCO2 rows carry information: the column-only posterior moves off the prior and its
    # innovations are not drowned in their error (an air-mass-factor error on XCO2 did that)
    column = d.loc[("column", CO2.name)]
    assert abs(column["rmse_reduction_near_with_points"]) > 1e-3
    assert column["reduced_chi2"] > 0.05


@pytest.mark.slow
def test_with_both_products_the_no2_joint_is_run_beside_the_full_joint(setup):
    """osse.satellite 'tropomi_no2+co2m_xco2': a fourth inversion, surface + NO2 columns
    (``joint_no2``), on the same truth; the full joint adds the XCO2 rows to it."""
    prior, scenario, system, ic = setup
    both = _daily_imager(ic, "tropomi_no2+co2m_xco2")
    sim = osse_column_simulator(scenario, both)
    res = run_osse(prior, scenario, both, replicates=1, seed=5, system=system, column_simulator=sim)
    d = res.table[res.table["label"] == "default"].set_index(["observations", "species"])
    assert set(d.index.get_level_values(0)) == {"surface", "column", "joint", "joint_no2"}
    n = {o: d.loc[(o, CO2.name), "n_obs"] for o in ("surface", "column", "joint", "joint_no2")}
    assert n["surface"] < n["joint_no2"] < n["joint"] == n["surface"] + n["column"]
    assert (d.loc["joint_no2", "n_overpasses_used"] < d.loc["joint", "n_overpasses_used"]).all()
    targets = pd.DataFrame(res.summary["satellite_targets"])
    assert set(targets["observations"]) == {"joint", "joint_no2"}
    assert set(res.summary["intervals_by_observations"]) == {
        "surface",
        "column",
        "joint",
        "joint_no2",
    }


def test_xco2_superobservations_carry_no_air_mass_factor_error(setup):
    """An XCO2 overpass's error covariance is its retrieval and representativeness errors
    only: 15 % of a ~415 ppm column (the NO2 air-mass-factor term) would be a 60 ppm error."""
    prior, scenario, system, ic = setup
    imager = _daily_imager(ic, "co2m_xco2")
    truth = make_truth(system, np.random.default_rng(3), "perturbed", ic)
    sim = osse_column_simulator(scenario, imager)(system, truth, 5)
    (kind,) = [k for k in sim.kinds if len(k.assimilated(system))]
    table = kind.match(system).superobs
    used = table[table["used"]]
    assert len(used) >= 4
    assert (used["sigma_amf"] == 0).all()
    assert used["sigma_retrieval"].max() < 1.0  # ppm: 0.7 ppm per sounding, averaged


def test_the_scale_error_switch_reaches_the_no2_overpasses_only(setup):
    """``errors.column_scale_error`` and ``errors.column_lifetime_error`` reach the NO2
    overpasses only (the scale without its lifetime part when both are on), and
    ``errors.column_wind_speed_error`` both products with the transport speed σ."""
    from gridcarbon.inversion.columns import REACTIVE_COLUMN_SCALE_ERROR_REL

    prior, scenario, system, ic = setup
    on = ic.model_copy(
        update={
            "errors": ic.errors.model_copy(
                update={"column_scale_error": True, "column_wind_speed_error": True}
            ),
            "osse": ic.osse.model_copy(
                update={"satellite": "tropomi_no2+co2m_xco2", "satellite_imager_every_days": 1}
            ),
        }
    )
    truth = make_truth(system, np.random.default_rng(3), "perturbed", ic)
    sim = osse_column_simulator(scenario, on)(system, truth, 5)
    scale = {k.quantity: k.settings.scale_error_rel for k in sim.kinds}
    assert scale == {
        "vertical_column": REACTIVE_COLUMN_SCALE_ERROR_REL,
        "dry_air_mole_fraction": 0.0,
    }
    lifetime_on = ic.model_copy(
        update={
            "errors": on.errors.model_copy(update={"column_lifetime_error": True}),
            "osse": on.osse,
        }
    )
    both = osse_column_simulator(scenario, lifetime_on)(system, truth, 5)
    got = {
        k.quantity: (k.settings.scale_error_rel, k.settings.lifetime_error_rel) for k in both.kinds
    }
    assert got == {
        "vertical_column": (pytest.approx(np.hypot(0.2, 0.2)), 0.5),
        "dry_air_mole_fraction": (0.0, 0.0),
    }
    wind = {k.settings.wind_speed_error_rel for k in sim.kinds}
    assert wind == {ic.errors.model_error_wind_speed_rel} and wind != {0.0}
    off = osse_column_simulator(scenario, ic)(system, truth, 5)
    assert {k.settings.amf_correlation_shape for k in off.kinds} == {"exponential"}
    gaussian = ic.model_copy(
        update={
            "columns": ic.columns.model_copy(
                update={"amf_correlation_shape": "gaussian", "amf_correlation_km": 150.0}
            )
        }
    )
    got = osse_column_simulator(scenario, gaussian)(system, truth, 5).kinds
    assert {(k.settings.amf_correlation_shape, k.settings.amf_correlation_km) for k in got} == {
        ("gaussian", 150.0)
    }
    assert {k.settings.truncation_km for k in off.kinds} == {150.0}
    longer = ic.model_copy(
        update={"columns": ic.columns.model_copy(update={"truncation_km": 300.0})}
    )
    got = osse_column_simulator(scenario, longer)(system, truth, 5).kinds
    assert {k.settings.truncation_km for k in got} == {300.0}
    assert {k.settings.scale_error_rel for k in off.kinds} == {0.0}
    assert {k.settings.wind_speed_error_rel for k in off.kinds} == {0.0}
    assert {k.settings.lifetime_error_rel for k in off.kinds} == {0.0}


def test_the_truth_chemistry_diagnostic_hands_each_overpass_its_own(setup):
    """``osse.satellite_truth_chemistry``: every NO2 overpass's operator gets the lifetime and
    NO2/NOx ratio the writer used for that file (3 h × the replicate's factor; 0.75 × U(0.8,
    1.2) a day); off, the operator keeps the chemistry settings."""
    prior, scenario, system, ic = setup
    on = ic.model_copy(
        update={"osse": ic.osse.model_copy(update={"satellite_truth_chemistry": True})}
    )
    truth = make_truth(system, np.random.default_rng(3), "perturbed", ic)
    sim = osse_column_simulator(scenario, on)(system, truth, 5)
    assert sim.kinds
    factor = sim.info["satellite_lifetime_factor"]
    for k in sim.kinds:
        assert k.settings.lifetime_h == pytest.approx(3.0 * factor, abs=1e-4)
        assert 0.75 * 0.8 <= k.settings.no2_ratio <= 0.75 * 1.2
    off = osse_column_simulator(scenario, ic)(system, truth, 5)
    assert {(k.settings.lifetime_h, k.settings.no2_ratio) for k in off.kinds} == {(None, None)}
    ratio_only = on.model_copy(
        update={"osse": on.osse.model_copy(update={"satellite_truth_chemistry_parts": "ratio"})}
    )
    handed = osse_column_simulator(scenario, ratio_only)(system, truth, 5)
    assert [k.settings.no2_ratio for k in handed.kinds] == [k.settings.no2_ratio for k in sim.kinds]
    assert {k.settings.lifetime_h for k in handed.kinds} == {None}


def test_the_truth_wind_diagnostic_hands_each_overpass_its_own(setup, monkeypatch):
    """``osse.satellite_truth_wind``: every overpass's operator, NO2 and XCO2 alike, gets the
    one wind the writer carried that file's plumes with (1.4 × the domain-mean 10 m wind at the
    overpass hour, at least 1.5 m s⁻¹); the chemistry stays the settings' unless the chemistry
    diagnostic is on as well; off, no wind is handed over."""
    prior, scenario, system, ic = setup
    truth = make_truth(system, np.random.default_rng(3), "perturbed", ic)
    both = _daily_imager(ic, "tropomi_no2+co2m_xco2")
    on = both.model_copy(
        update={"osse": both.osse.model_copy(update={"satellite_truth_wind": True})}
    )
    winds = {}
    for product, name, hour_of in (
        ("s5p", "write_synthetic_tropomi_no2", ss.tropomi_overpass_time),
        ("co2m", "write_synthetic_oco_lite", ss.imager_overpass_time),
    ):
        writer = getattr(ss, name)

        def spy(path, _writer=writer, _product=product, _hour_of=hour_of, **kw):
            when = _hour_of(kw["grid"], kw["date"])
            key = (_product, f"{pd.Timestamp(kw['date']):%Y%m%d}")
            winds[key] = ss._overpass_met(kw["met"], kw["grid"], when)[:2]
            return _writer(path, **kw)

        monkeypatch.setattr(ss, name, spy)
    sim = osse_column_simulator(scenario, on)(system, truth, 5)
    quantities = {k.quantity for k in sim.kinds}
    assert quantities == {"vertical_column", "dry_air_mole_fraction"}
    for k in sim.kinds:
        product, day = k.name.split("_")
        np.testing.assert_allclose(k.settings.plume_wind_m_s, winds[product, day], atol=5e-4)
        assert np.hypot(*k.settings.plume_wind_m_s) >= 1.5 - 1e-3
        assert (k.settings.lifetime_h, k.settings.no2_ratio) == (None, None)
    off = osse_column_simulator(scenario, both)(system, truth, 5)
    assert {k.settings.plume_wind_m_s for k in off.kinds} == {None}


def test_the_truth_chemistry_of_a_file_without_it_is_refused(tmp_path):
    """A NetCDF file without the writer's ``truth_*`` attributes (a real product's) is
    refused with both names; with them, the settings take the file's values."""
    path = tmp_path / "real.nc"
    xr.Dataset(attrs={"title": "not the synthetic writer's"}).to_netcdf(path)
    with pytest.raises(ConfigError, match="truth_no2_nox_ratio.*truth_nox_lifetime_h"):
        truth_chemistry_settings(path, ColumnSettings())
    xr.Dataset(attrs={"truth_nox_lifetime_h": 2.5, "truth_no2_nox_ratio": 0.7}).to_netcdf(path)
    got = truth_chemistry_settings(path, ColumnSettings(truncation_km=200.0))
    assert (got.lifetime_h, got.no2_ratio, got.truncation_km) == (2.5, 0.7, 200.0)
    lifetime = truth_chemistry_settings(path, ColumnSettings(), "lifetime")
    assert (lifetime.lifetime_h, lifetime.no2_ratio) == (2.5, None)
    ratio = truth_chemistry_settings(path, ColumnSettings(), "ratio")
    assert (ratio.lifetime_h, ratio.no2_ratio) == (None, 0.7)
    with pytest.raises(ConfigError, match="chemistry_parts = 'lifetime,ratio'"):
        truth_chemistry_settings(path, ColumnSettings(), "lifetime,ratio")
    with pytest.raises(ConfigError, match="truth_wind_u_v_m_s.*osse.satellite_truth_wind"):
        truth_wind_settings(path, ColumnSettings())
    for text in ("3.2", "east 1.5", "1 2 3"):
        xr.Dataset(attrs={"truth_wind_u_v_m_s": text}).to_netcdf(path)
        with pytest.raises(ConfigError, match="is not two numbers"):
            truth_wind_settings(path, ColumnSettings())
    xr.Dataset(attrs={"truth_wind_u_v_m_s": "-3.250 1.500"}).to_netcdf(path)
    got = truth_wind_settings(path, ColumnSettings(truncation_km=200.0))
    assert (got.plume_wind_m_s, got.truncation_km) == ((-3.25, 1.5), 200.0)


def test_the_osse_column_settings_follow_the_error_switches():
    """The OSSE's column settings: the upwind fetch of ``osse``, the transport terms of
    ``errors`` and the stacks' own pixels of ``columns`` on both products, the scale and
    lifetime terms on the NO2 columns alone."""
    off = RunConfig.validate_dict({"inversion": {"osse": SATELLITE}}).inversion
    xco2, no2 = osse_column_settings(off)
    assert xco2 == no2 == ColumnSettings(min_upwind_fetch_km=0.0)
    on = RunConfig.validate_dict(
        {
            "inversion": {
                "osse": SATELLITE,
                "errors": {
                    "column_wind_direction_error": True,
                    "column_scale_error": True,
                    "column_lifetime_error": True,
                },
                "columns": {"stack_pixels_km": 5.0},
            }
        }
    ).inversion
    xco2, no2 = osse_column_settings(on)
    deg = on.errors.model_error_wind_direction_deg
    assert xco2.wind_direction_error_deg == no2.wind_direction_error_deg == deg > 0
    assert xco2.scale_error_rel == xco2.lifetime_error_rel == 0.0
    assert no2.scale_error_rel > 0 and no2.lifetime_error_rel > 0
    assert xco2.stack_pixels_km == no2.stack_pixels_km == 5.0


def test_the_column_transport_unknowns_reach_the_osse_table(setup):
    """``state.column_transport_unknowns``: every row of the table carries the posterior urban,
    rural and lifetime scales and their σ; the surface-only inversion leaves them at the prior
    (no row sees them), the columns move them and shrink their σ."""
    prior, scenario, _, ic = setup
    on = ic.model_copy(
        update={"state": ic.state.model_copy(update={"column_transport_unknowns": True})}
    )
    system = ObservationSystem(prior, scenario, on)
    sim = osse_column_simulator(scenario, on)
    res = run_osse(prior, scenario, on, replicates=1, seed=5, system=system, column_simulator=sim)
    d = res.table[res.table["label"] == "default"].groupby("observations").first()
    sd = {"urban_transport_scale": 0.3, "rural_transport_scale": 0.3, "lifetime_scale": 0.5}
    for term, prior_sd in sd.items():
        assert d.loc["surface", f"column_{term}_post"] == 0.0
        assert d.loc["surface", f"column_{term}_post_std"] == pytest.approx(prior_sd)
    moved = [
        term
        for term in sd
        if d.loc["joint", f"column_{term}_post"] != 0.0
        and d.loc["joint", f"column_{term}_post_std"] < sd[term]
    ]
    assert moved, d.filter(like="column_").to_dict()


def test_the_innovation_variance_of_a_result_is_computed_once_for_its_species(setup):
    """``ScoreContext.result_hbh_variance``: diag(H B Hᵀ) of a joint result's rows (stations and
    whitened column contrasts) as B.aggregate_var of the stacked blocks; asked again for the
    same result (its next species) it is the same array, for another result its own."""
    import scipy.sparse as sp

    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.observation_types import StationHourObservations
    from gridcarbon.inversion.osse import replicate_truth
    from gridcarbon.inversion.osse_scores import score_context

    prior, scenario, system, ic = setup
    truth, obs, _ = replicate_truth(system, ic, "perturbed", 7, None)
    sim = osse_column_simulator(scenario, ic)(system, truth, 7)
    stations = StationHourObservations(obs)
    joint = assimilate(system, [stations, *sim.kinds], build_posterior=False)
    alone = assimilate(system, stations, build_posterior=False)
    ctx = score_context(system, ic)
    got = ctx.result_hbh_variance(joint)
    H = sp.vstack([sp.csr_matrix(k.jacobian_block(system)) for k in joint.kinds], format="csr")
    assert H.shape[0] > alone.obs.shape[0]  # the column rows are in
    np.testing.assert_allclose(got, joint.covariance.B.aggregate_var(H), rtol=1e-12)
    assert ctx.result_hbh_variance(joint) is got
    other = ctx.result_hbh_variance(alone)
    assert other.shape == (alone.obs.shape[0],)
    np.testing.assert_allclose(other, got[: other.size], rtol=1e-12)  # the stations come first


def test_the_perturbed_twin_scores_the_fitted_turn_against_the_truths(setup):
    """With ``errors.column_wind_direction_fit`` the perturbed twin's ``turn_fit`` tables hold
    one row per used overpass: its fitted turn is the twin's own, and the truth's mean and
    spread are those of the turns drawn for its pixels (drawn again from the same stream);
    the replicate's figures follow from the table."""
    from gridcarbon.inversion.osse import (
        column_transport_errors,
        operator_columns,
        replicate_transport_settings,
        turn_fit_summary,
    )

    prior, scenario, system, ic = setup
    errors = ic.errors.model_copy(
        update={"column_wind_direction_error": True, "column_wind_direction_fit": True}
    )
    cfg = ic.model_copy(update={"errors": errors})
    truth = make_truth(system, np.random.default_rng(3), "identical", cfg)
    sim = osse_column_simulator(scenario, cfg)(system, truth, 40000)
    settings = replicate_transport_settings(cfg, "randomised", 40000)[0]
    tables: dict = {}
    twin = operator_columns(
        system, truth, sim.kinds, None, settings, np.random.default_rng(9), turn_fit=tables
    )
    used = [k for k in sim.kinds if k.match(system).blocks]
    assert used and set(tables) == {"NO2"}
    table = tables["NO2"]
    pixels = [k.pixels_used(system) for k in used]
    drawn = column_transport_errors(
        system, pd.concat(pixels), settings, truth, np.random.default_rng(9)
    )["wind_turn_deg"]
    ends = np.cumsum([len(p) for p in pixels])[:-1]
    rows = iter(table.itertuples())
    twins = [t for k, t in zip(sim.kinds, twin, strict=True) if k.match(system).blocks]
    for k, t, px, turns in zip(used, twins, pixels, np.split(drawn, ends), strict=True):
        so = t.match(system).superobs
        overpass = so["overpass"].to_numpy()[px["superobservation"].to_numpy()]
        for label in np.unique(so.loc[so["used"], "overpass"]):
            row = next(rows)
            assert row.observation_type == k.name and row.overpass == label
            fitted = so.loc[so["overpass"] == label, "wind_turn_deg"].iloc[0]
            assert row.fitted_deg == pytest.approx(fitted, rel=1e-12)  # one turn per overpass
            mine = turns[overpass == label]
            assert row.pixels == mine.size
            assert row.truth_mean_deg == pytest.approx(mine.mean(), rel=1e-12)
            assert row.truth_within_rms_deg == pytest.approx(mine.std(), rel=1e-9)
            rms = np.sqrt(np.mean((fitted - mine) ** 2))
            assert row.pixel_rms_error_deg == pytest.approx(rms, rel=1e-9)
            assert row.pixel_rms_truth_deg == pytest.approx(np.sqrt(np.mean(mine**2)), rel=1e-9)
            sup = so.iloc[px["superobservation"].to_numpy()[overpass == label]]
            w = sup["sigma_shape"] ** 2 / (
                sup["sigma_retrieval"] ** 2 + sup["sigma_representativeness"] ** 2
            )
            w = w.to_numpy()
            assert w.min() >= 0 and w.sum() > 0 and row.weight == pytest.approx(w.sum())
            rms = np.sqrt(np.sum(w * (fitted - mine) ** 2) / w.sum())
            assert row.weighted_rms_error_deg == pytest.approx(rms, rel=1e-9)
    assert next(rows, None) is None
    figures = turn_fit_summary(tables)
    f, m = table["fitted_deg"].to_numpy(), table["truth_mean_deg"].to_numpy()
    assert figures["column_turn_fit_NO2_rms_error_deg"] == pytest.approx(
        np.sqrt(np.mean((f - m) ** 2))
    )
    assert figures["column_turn_fit_NO2_rms_truth_deg"] == pytest.approx(np.sqrt(np.mean(m**2)))
    n, e = table["pixels"].to_numpy(), table["pixel_rms_error_deg"].to_numpy()
    assert figures["column_turn_fit_NO2_pixel_rms_error_deg"] == pytest.approx(
        np.sqrt(np.sum(n * e**2) / n.sum())
    )


def test_the_amf_error_estimate_is_made_per_inversion_and_reported(setup, monkeypatch):
    """``errors.column_amf_error_estimate: innovations`` in the OSSE: the column and joint
    inversions carry the estimate per product in their rows (the same in both: one replicate's
    innovations), the surface-only one none."""
    from gridcarbon.inversion import column_errors

    prior, scenario, system, ic = setup
    monkeypatch.setattr(column_errors, "MIN_PAIRS", 1)  # the 60 km test region has few pairs
    on = ic.model_copy(
        update={"errors": ic.errors.model_copy(update={"column_amf_error_estimate": "innovations"})}
    )
    system_on = ObservationSystem(prior, scenario, on)
    sim = osse_column_simulator(scenario, on)
    res = run_osse(
        prior, scenario, on, replicates=1, seed=5, system=system_on, column_simulator=sim
    )
    t = res.table
    key = "amf_estimate_S5P_L2_NO2"
    assert {f"{key}_km", f"{key}_rel", f"{key}_gaussian", f"{key}_misfit"} <= set(t.columns)
    by = t.groupby("observations")[f"{key}_km"]
    assert by.apply(lambda s: s.isna().all())["surface"]
    assert by.apply(lambda s: s.notna().all())[["column", "joint"]].all()
    assert t.loc[t["observations"] != "surface", f"{key}_rel"].nunique() == 1
