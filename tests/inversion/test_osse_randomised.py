"""The harder OSSE truth (issue 13 point 6): the stacks' own plume rise and displaced stacks in
the truth's transport, and the randomised-error OSSE (transport errors drawn per replicate)."""

import numpy as np
import pytest

from gridcarbon.config.inversion import InversionConfig, RandomisedErrors, TruthStructure
from gridcarbon.inversion.operator import forward
from gridcarbon.inversion.osse import (
    RANDOMISED_COLUMNS,
    make_truth,
    perturbed_footprints,
    randomised_transport_errors,
    run_osse,
    structured_stacks,
    synthetic_observations,
)


def _with_structure(system, **pieces) -> InversionConfig:
    cfg = system.config.model_copy(deep=True)
    cfg.osse.truth_structure = TruthStructure(**pieces)
    return cfg


def _replicate(system, case, cfg, seed=5):
    """A perturbed replicate as run_osse makes it: truth, its transport, observations."""
    rng = np.random.default_rng(seed)
    truth = make_truth(system, rng, "perturbed", cfg, case.area_shares)
    fp = perturbed_footprints(system, rng, cfg, truth)
    return truth, fp, synthetic_observations(system, truth, rng, cfg, fp)


def _stack_signals(system, fp) -> np.ndarray:
    """``(pairs' rows, npt)``: each stack's inert signal at every receptor-hour for 1 kg/h."""
    npt = len(system.points)
    out = []
    for k in range(npt):
        e = np.zeros((system.nt, npt), np.float32)
        e[:, k] = 1.0
        out.append(forward(fp, None, e))
    return np.column_stack(out)


def test_stack_draws_are_reproducible_and_within_their_ranges(system):
    npt = len(system.points)
    structure = TruthStructure(
        stack_rise_factor_range=(0.6, 1.4),
        stack_displaced_fraction=0.25,
        stack_displacement_km=(1.0, 3.0),
    )
    rise, xy = structured_stacks(system, structure, 40000)
    rise2, xy2 = structured_stacks(system, structure, 40000)
    np.testing.assert_array_equal(rise, rise2)
    np.testing.assert_array_equal(xy, xy2)
    assert rise.shape == (npt,) and 0.6 <= rise.min() and rise.max() <= 1.4
    assert np.unique(rise).size == npt  # one factor per stack
    home = system.points[["x", "y"]].to_numpy(float)
    moved = np.hypot(*(xy - home).T)
    assert (moved > 0).sum() == round(0.25 * npt)
    assert (1000.0 <= moved[moved > 0]).all() and (moved[moved > 0] <= 3000.0).all()
    other_rise, other_xy = structured_stacks(system, structure, 40001)
    assert not np.array_equal(other_rise, rise) and not np.array_equal(other_xy, xy)
    # over many replicates: the rise factors fill their range, the directions every quadrant
    many = np.concatenate([structured_stacks(system, structure, s)[0] for s in range(50)])
    assert many.min() < 0.65 and many.max() > 1.35
    dirs = []
    for s in range(50):
        d = structured_stacks(system, structure, s)[1] - home
        dirs.extend(np.arctan2(d[:, 1], d[:, 0])[np.hypot(*d.T) > 0])
    assert len(np.unique(np.floor(np.asarray(dirs) / (np.pi / 2)))) == 4
    assert structured_stacks(system, TruthStructure(), 40000) == (None, None)


def test_rise_one_and_no_displacement_reproduce_the_old_truth_bit_for_bit(case, system):
    plain = _replicate(system, case, system.config)
    neutral = _replicate(
        system,
        case,
        _with_structure(
            system,
            stack_rise_factor_range=(1.0, 1.0),
            stack_displaced_fraction=0.25,
            stack_displacement_km=(0.0, 0.0),
        ),
    )
    assert neutral[0].point_rise_factor is not None and neutral[0].point_xy is not None
    np.testing.assert_array_equal(neutral[0].x, plain[0].x)
    np.testing.assert_array_equal(neutral[0].points, plain[0].points)
    np.testing.assert_array_equal(neutral[1].pt_val, plain[1].pt_val)
    np.testing.assert_array_equal(neutral[2]["value"].to_numpy(), plain[2]["value"].to_numpy())


def test_the_rise_factor_changes_the_stacks_plumes_only(case, system):
    _, fp0, obs0 = _replicate(system, case, system.config)
    cfg = _with_structure(system, stack_rise_factor_range=(0.6, 1.4))
    truth, fp1, obs1 = _replicate(system, case, cfg)
    # the area plumes and the met are the truth's as before; the stacks' plumes are not
    np.testing.assert_array_equal(fp1.area_val, fp0.area_val)
    np.testing.assert_array_equal(fp1.receptors.speed, fp0.receptors.speed)
    s0, s1 = _stack_signals(system, fp0), _stack_signals(system, fp1)
    changed = np.abs(s1 - s0).max(axis=0) > 1e-6 * np.abs(s0).max()
    assert changed.sum() >= len(system.points) // 2
    assert not np.array_equal(obs1["value"].to_numpy(), obs0["value"].to_numpy())
    # a per-stack factor is the scalar factor when all stacks share it
    same = np.full(len(system.points), 0.8)
    a = system.build(fp0.receptors, known_wind=True, rise_scale=same)
    b = system.build(fp0.receptors, known_wind=True, rise_scale=0.8)
    np.testing.assert_array_equal(a.pt_val, b.pt_val)
    # each stack's plume is the one of its own factor
    k = int(np.argmax(np.abs(s1 - s0).max(axis=0)))
    own = system.build(fp1.receptors, known_wind=True, rise_scale=float(truth.point_rise_factor[k]))
    np.testing.assert_allclose(_stack_signals(system, own)[:, k], s1[:, k], rtol=1e-6, atol=1e-12)


def test_a_displaced_stacks_signal_and_emission_move(case, system):
    cfg = _with_structure(system, stack_displaced_fraction=0.25, stack_displacement_km=(2.0, 3.0))
    plain, fp0, _ = _replicate(system, case, system.config)
    truth, fp1, _ = _replicate(system, case, cfg)
    home = system.points[["x", "y"]].to_numpy(float)
    moved = np.hypot(*(truth.point_xy - home).T) > 0
    assert moved.sum() == 2
    s0, s1 = _stack_signals(system, fp0), _stack_signals(system, fp1)
    np.testing.assert_array_equal(s1[:, ~moved], s0[:, ~moved])
    for k in np.flatnonzero(moved):
        assert np.abs(s1[:, k] - s0[:, k]).max() > 0.05 * np.abs(s0[:, k]).max()
    # the emissions are the same; the truth's cell totals put the moved stacks where they are
    np.testing.assert_array_equal(truth.points, plain.points)
    cells = truth.point_cells(system)
    np.testing.assert_array_equal(cells[~moved], system.point_cells[~moved])
    assert (cells[moved] != system.point_cells[moved]).all()  # 2-3 km away: another cell
    si = 0
    np.testing.assert_allclose(
        truth.cell_totals(system, si).sum(), plain.cell_totals(system, si).sum(), rtol=1e-9
    )
    diff = truth.cell_totals(system, si) - plain.cell_totals(system, si)
    assert set(np.flatnonzero(np.abs(diff) > 0)) <= set(cells[moved]) | set(
        system.point_cells[moved]
    )


def test_each_piece_leaves_the_other_draws_unchanged(case, system):
    rise = (0.6, 1.4)
    alone_rise = make_truth(
        system,
        np.random.default_rng(9),
        "perturbed",
        _with_structure(system, stack_rise_factor_range=rise),
        case.area_shares,
    )
    alone_moved = make_truth(
        system,
        np.random.default_rng(9),
        "perturbed",
        _with_structure(system, stack_displaced_fraction=0.25),
        case.area_shares,
    )
    everything = _with_structure(
        system,
        stack_rise_factor_range=rise,
        stack_displaced_fraction=0.25,
        cell_lognormal_sigma=0.3,
        stack_daily_sigma=0.2,
    )
    both = make_truth(system, np.random.default_rng(9), "perturbed", everything, case.area_shares)
    emissions_only = make_truth(
        system,
        np.random.default_rng(9),
        "perturbed",
        _with_structure(system, cell_lognormal_sigma=0.3, stack_daily_sigma=0.2),
        case.area_shares,
    )
    plain = make_truth(system, np.random.default_rng(9), "perturbed", system.config)
    np.testing.assert_array_equal(both.point_rise_factor, alone_rise.point_rise_factor)
    np.testing.assert_array_equal(both.point_xy, alone_moved.point_xy)
    assert alone_rise.point_xy is None and alone_moved.point_rise_factor is None
    # the transport pieces leave the emissions, the state and the later draws as they were
    np.testing.assert_array_equal(both.area, emissions_only.area)
    np.testing.assert_array_equal(both.points, emissions_only.points)
    np.testing.assert_array_equal(alone_rise.x, plain.x)
    assert alone_rise.micro_drift == plain.micro_drift
    # the twins never see them
    twin = make_truth(system, np.random.default_rng(9), "identical", everything)
    assert twin.point_rise_factor is None and twin.point_xy is None


def test_structure_and_randomised_ranges_are_validated():
    with pytest.raises(ValueError, match="stack_rise_factor_range"):
        TruthStructure(stack_rise_factor_range=(1.4, 0.6))
    with pytest.raises(ValueError, match="stack_displacement_km"):
        TruthStructure(stack_displacement_km=(3.0, 1.0))
    with pytest.raises(ValueError, match="stack_displaced_fraction"):
        TruthStructure(stack_displaced_fraction=1.5)
    with pytest.raises(ValueError, match="error_time_scale_h"):
        RandomisedErrors(error_time_scale_h=(0.0, 12.0))
    with pytest.raises(ValueError, match="mixing_height_bias"):
        RandomisedErrors(mixing_height_bias=(-1.0, 0.3))
    with pytest.raises(ValueError, match="wind_speed_error"):
        RandomisedErrors(wind_speed_error=(0.35, 0.10))
    assert not TruthStructure().transport_active and not TruthStructure().active
    assert InversionConfig().osse.mode == "perturbed"
    assert InversionConfig(osse={"mode": "randomised"}).osse.mode == "randomised"
    from gridcarbon.inversion.outputs import osse_file_names

    assert osse_file_names("randomised") == [
        "osse_randomised.csv",
        "osse_randomised_summary.json",
    ]


def test_randomised_draws_are_reproducible_independent_and_within_their_ranges():
    ranges = RandomisedErrors()
    draws = [randomised_transport_errors(ranges, s) for s in range(40000, 40200)]
    assert draws[0] == randomised_transport_errors(ranges, 40000)
    assert draws[0] != draws[1]
    bounds = {name: getattr(ranges, name) for name in RANDOMISED_COLUMNS.values()}
    for name, (low, high) in bounds.items():
        v = np.array([d[name] for d in draws])
        assert low <= v.min() and v.max() <= high, name
        # uniform: the draws fill the range (200 draws: every fifth of it is hit)
        assert len(np.unique(np.floor((v - low) / (high - low) * 5))) == 5, name
    assert bounds["wind_direction_error_deg"] == (15.0, 35.0)
    assert bounds["wind_speed_error"] == (0.10, 0.35)
    assert bounds["mixing_height_bias"] == (-0.30, 0.30)
    assert bounds["error_time_scale_h"] == (3.0, 12.0)
    # narrowing one range leaves the other draws as they were
    narrow = RandomisedErrors(wind_speed_error=(0.2, 0.2))
    for s in (40000, 40001, 40002):
        a, b = randomised_transport_errors(ranges, s), randomised_transport_errors(narrow, s)
        assert b["wind_speed_error"] == 0.2
        assert {k: v for k, v in a.items() if k != "wind_speed_error"} == {
            k: v for k, v in b.items() if k != "wind_speed_error"
        }


@pytest.mark.slow
def test_randomised_mode_records_its_draws_and_is_the_perturbed_case_at_fixed_values(case, system):
    kw = dict(
        replicates=2,
        seed=40000,
        area_shares=case.area_shares,
        city_codes=[],
        system=system,
        cross_species_zero=False,
        honest=False,
    )
    cfg = InversionConfig()
    res = run_osse(case.prior, case.scenario, cfg, mode="randomised", **kw)
    t = res.table
    assert set(t["mode"]) == {"randomised"} and set(RANDOMISED_COLUMNS) <= set(t.columns)
    for i, s in enumerate((40000, 40001)):
        drawn = randomised_transport_errors(cfg.osse.randomised, s)
        rows = t[t["replicate"] == i]
        for col, name in RANDOMISED_COLUMNS.items():
            assert (rows[col] == drawn[name]).all()
    assert res.summary["mode"] == "randomised" and "chi2_ok" in res.summary["species"]["CO2"]
    # ranges collapsed on the perturbed case's fixed errors: the perturbed case, bit for bit
    o = cfg.osse
    fixed = cfg.model_copy(deep=True)
    fixed.osse.randomised = RandomisedErrors(
        **{n: (getattr(o, n), getattr(o, n)) for n in RANDOMISED_COLUMNS.values()}
    )
    kw["replicates"] = 1
    same = run_osse(case.prior, case.scenario, fixed, mode="randomised", **kw).table
    perturbed = run_osse(case.prior, case.scenario, cfg, mode="perturbed", **kw).table
    assert not set(RANDOMISED_COLUMNS) & set(perturbed.columns)
    scores = [c for c in perturbed.columns if c not in ("mode", "solver_seconds")]
    scores = [c for c in scores if "seconds" not in c]
    for c in scores:
        np.testing.assert_array_equal(same[c].to_numpy(), perturbed[c].to_numpy(), err_msg=c)
    # and the drawn errors move the scores
    assert not np.array_equal(
        t[t["replicate"] == 0]["rmse_post_near_kg"].to_numpy(),
        perturbed["rmse_post_near_kg"].to_numpy(),
    )
