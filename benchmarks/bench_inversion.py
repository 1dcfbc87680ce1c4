"""Benchmark of the inversion on the full default: one month (January 2023) of hourly data, the
default network (116 stations) and grid (157 x 163), CO2 + NOx + VOC jointly.

Prints: observations, state size, H non-zeros, kernel evaluations per second, time to build H
(numba cache warm), time to solve including posterior sigma, peak RSS; then the dense-vs-CG
check on a problem of a few thousand unknowns, and the wall time of the whole stage
(`run_inversion`: synthetic perturbed-transport observations -> inversion -> posterior, and its
documents written).  Everything is SYNTHETIC.

With ``--columns``: the cost of a month of satellite columns beside the stations (issue target:
one overpass a day adds ≤ 60 s to the inversion and ≤ 1.5 GB of memory, 9 km superobservations).
One simulated TROPOMI NO2 file per day of January is written in the S5P L2 layout
(``gridcarbon.scenario.satellite_synthetic``, SYNTHETIC), read back by the reader and assimilated
with the station observations; printed: the seconds to read the files and build the pixels, the
joint solve against the station-only solve, the added seconds and the peak RSS before and
after (added), and the load average.  ``--column-shape-error`` gives the columns the
plume-shape error (``errors.column_wind_direction_error``: 30°, 3 nodes, two more operator
builds per overpass).  The columns take the run's ``errors`` settings, ``--set`` included (e.g.
``--set errors.column_auxiliary_sampling=coarse``: the shape nodes at coarse sampling).  With
``--set columns.no2_conversion_check=true``, ``--set columns.truncation_check_km=300`` and/or
``--set columns.lifetime_check_factor=0.5`` also the operator checks against the files' innovations (``gridcarbon.inversion.column_checks``:
the other operator built on the same pixels, the innovations fitted, pooled over the month's
files), their fits and their seconds apart from ``added_s`` (the checks are opt-in).

With ``--transport-error-estimate``: the cost of ``errors.transport_error_estimate:
wind_direction_and_relative`` on the month's station observations, its first call (the turned
coarse operators of every angle tried) and a second call on another replicate's observations
(the angles kept on the system, as an OSSE's later replicates find them), with the values found
and the angles tried.

With ``--set group.name=value`` (repeatable, as in ``bench_osse.py``): the same figures with
settings of the ``inversion`` section changed, e.g. the transport-error quadrature of issue 13
(``--set errors.transport_error_model=quadrature --set errors.quadrature_nodes=5``; each node
off the centre is one more coarse operator, streamed: only its per-pair signals are kept) and
its same-day correlated part (``--set errors.transport_error_correlation=same_day``).

Usage (from the repository root): python benchmarks/bench_inversion.py [--skip-stage]
[--skip-dense] [--columns [--column-shape-error]] [--transport-error-estimate]
[--set group.name=value ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

# the small synthetic cases of the tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def warm() -> None:
    """Compile/load every numba kernel once on a tiny case (cache warm)."""
    from gridcarbon.config.inversion import InversionConfig
    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.osse import make_truth, synthetic_observations
    from gridcarbon.inversion.system import ObservationSystem
    from tests.inversion.cases import small_case

    c = small_case(lon=(120.0, 120.3), lat=(30.1, 30.35), days=2, n_points=2)
    cfg = InversionConfig(solver={"method": "cg"})
    s = ObservationSystem(c.prior, c.scenario, cfg)
    rng = np.random.default_rng(0)
    obs = synthetic_observations(s, make_truth(s, rng, "identical", cfg), rng, cfg)
    assimilate(s, obs, build_posterior=False)
    # the column kernels too (a swath of pixels over the small case)
    from gridcarbon.inversion.columns import ColumnObservations, ColumnSettings
    from gridcarbon.species import NOX
    from tests.inversion.column_cases import swath_pixels

    times = [t + pd.Timedelta(minutes=30) for t in s.times if t.hour == 5]
    pixels = swath_pixels(s.grid, times, kernel="tropomi")
    ColumnObservations(
        pixels, NOX, "vertical_column", c.scenario.meteorology,
        ColumnSettings(min_upwind_fetch_km=0.0),
    ).match(s)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-stage", action="store_true")
    ap.add_argument("--skip-dense", action="store_true")
    ap.add_argument("--columns", action="store_true", help="also cost a month of TROPOMI columns")
    ap.add_argument(
        "--column-shape-error",
        action="store_true",
        help="with --columns: the columns carry the plume-shape error (wind direction ±30°)",
    )
    ap.add_argument(
        "--files-lifetime-factor",
        type=float,
        default=1.0,
        help="with --columns: the simulated files' NOx lifetime, a factor of the writer's 3 h "
        "(the operator's is chemistry.nox_lifetime_day_h, 4 h), e.g. to try "
        "--set columns.lifetime_check_factor on files of a known lifetime",
    )
    ap.add_argument(
        "--transport-error-estimate",
        action="store_true",
        help="also cost the transport errors estimated from the station innovations",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="GROUP.NAME=VALUE",
        help="an inversion setting for the month's run (repeatable; as in bench_osse.py)",
    )
    args = ap.parse_args()
    import numba
    from bench_osse import run_config

    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.osse import make_truth, synthetic_observations
    from gridcarbon.inversion.system import ObservationSystem
    from gridcarbon.pipeline import build_prior, inversion_inputs

    out: dict = {"numba_threads": numba.get_num_threads(), "load_average_1_5_15": os.getloadavg()}
    t = time.perf_counter()
    warm()
    out["warmup_s"] = time.perf_counter() - t
    config = run_config(1, args.set)
    out["settings"] = args.set
    t = time.perf_counter()
    prior = build_prior(config)
    out["prior_s"] = time.perf_counter() - t
    scenario, _ = inversion_inputs(config, prior, with_observations=False)
    ic = config.inversion
    t = time.perf_counter()
    system = ObservationSystem(prior, scenario, ic)
    out["system_setup_s"] = time.perf_counter() - t
    info = system.info()
    out.update(
        {
            "H_build_s": info["H_build_seconds"],
            "receptor_hours": info["receptor_hours"],
            "hourly_pairs": info["pairs"],
            "state_size": info["state_size"],
            "H_nnz": info["H_nnz"],
            "J_nnz": info["J_nnz"],
            "kernel_evaluations": info["kernel_evaluations"],
            "kernel_evaluations_per_s": info["kernel_evaluations_per_second"],
        }
    )
    rng = np.random.default_rng(1)
    truth = make_truth(system, rng, "identical", ic)
    obs = synthetic_observations(system, truth, rng, ic)
    t, c = time.perf_counter(), time.process_time()
    res = assimilate(system, obs, build_posterior=False)
    out["solve_with_posterior_sigma_s"] = time.perf_counter() - t
    out["solve_with_posterior_sigma_cpu_s"] = time.process_time() - c
    out["n_observations"] = res.metrics["n_observations"]
    out["solver"] = res.solver
    out["dofs"] = res.dofs
    out["peak_rss_gb_after_solve"] = rss_gb()
    if args.transport_error_estimate:
        out["transport_error_estimate"] = transport_error_estimate_cost(system, obs, ic)
    if args.columns:
        out["columns"] = columns_cost(
            system,
            scenario,
            obs,
            out["solve_with_posterior_sigma_s"],
            out["solve_with_posterior_sigma_cpu_s"],
            shape_error=args.column_shape_error,
            errors=ic.errors,
            columns=ic.columns,
            files_lifetime_factor=args.files_lifetime_factor,
        )
    if not args.skip_stage:
        del res, truth, obs
        with tempfile.TemporaryDirectory() as d:
            from gridcarbon.inversion import inversion_documents, run_inversion
            from gridcarbon.io.outputs import write_documents

            t = time.perf_counter()
            r = run_inversion(prior, scenario, ic)
            write_documents(inversion_documents(r, config.output.formats), Path(d))
            out["stage_total_s"] = time.perf_counter() - t
            out["stage_reduced_chi2"] = r.metrics["reduced_chi2"]
        out["peak_rss_gb_after_stage"] = rss_gb()
    if not args.skip_dense:
        out["dense_vs_cg"] = dense_vs_cg()
    out["peak_rss_gb"] = rss_gb()
    print(json.dumps(out, indent=2, default=str))


def transport_error_estimate_cost(system, obs: pd.DataFrame, ic) -> dict:
    """Seconds of ``estimate_transport_errors`` (wind direction and relative error) on the
    month's station observations (identical twin: its errors drawn at the configured 30° and
    50 %), then on a perturbed-transport replicate's."""
    from gridcarbon.inversion.observation_types import StationHourObservations
    from gridcarbon.inversion.osse import make_truth, synthetic_observations
    from gridcarbon.inversion.transport_estimate import estimate_transport_errors

    rng = np.random.default_rng(2)
    other = synthetic_observations(system, make_truth(system, rng, "perturbed", ic), rng, ic)
    errors = system.config.errors.model_copy(
        update={"transport_error_estimate": "wind_direction_and_relative"}
    )
    system.config = system.config.model_copy(update={"errors": errors})
    out: dict = {}
    for name, table in (("twin", obs), ("perturbed", other)):
        t, c = time.perf_counter(), time.process_time()
        _, found = estimate_transport_errors(system, [StationHourObservations(table)], system.B)
        out[f"{name}_s"] = time.perf_counter() - t
        out[f"{name}_cpu_s"] = time.process_time() - c
        out[name] = found
    out["peak_rss_gb"] = rss_gb()
    print(
        f"transport-error estimate: first (twin) {out['twin_s']:.1f} s wall, "
        f"{out['twin']['angles']} angles: {out['twin']['wind_direction_deg']:.1f}°, "
        f"{out['twin']['model_error_rel']:.2f}; second (perturbed) {out['perturbed_s']:.1f} s: "
        f"{out['perturbed']['wind_direction_deg']:.1f}°, "
        f"{out['perturbed']['model_error_rel']:.2f}",
        file=sys.stderr,
    )
    return out


def columns_cost(
    system,
    scenario,
    station_obs: pd.DataFrame,
    station_solve_s: float,
    station_solve_cpu_s: float,
    shape_error: bool = False,
    errors=None,
    columns=None,
    files_lifetime_factor: float = 1.0,
) -> dict:
    """What a month of daily TROPOMI NO2 overpasses adds to the default inversion; the column
    settings from ``errors`` and ``columns`` (the run's ``inversion.errors`` and
    ``inversion.columns``, with ``--set``: the transport terms, the truncation, the AMF error
    and the upwind fetch), the plume-shape error switched on by ``shape_error``; the files
    written with ``files_lifetime_factor`` × the writer's NOx lifetime."""
    from gridcarbon.config.inversion import ColumnsConfig, ErrorsConfig
    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.columns import ColumnObservations, ColumnPixels, ColumnSettings
    from gridcarbon.inversion.observation_types import StationHourObservations
    from gridcarbon.io.satellite import read_tropomi_no2
    from gridcarbon.pipeline import column_model_settings, column_transport_errors
    from gridcarbon.scenario import satellite_synthetic as ss
    from gridcarbon.species import NOX

    days = pd.date_range("2023-01-01", "2023-01-31", freq="D")
    out: dict = {
        "days": len(days),
        "peak_rss_gb_before": rss_gb(),
        "shape_error": shape_error,
        "files_lifetime_factor": files_lifetime_factor,
    }
    errors = ErrorsConfig() if errors is None else errors
    if shape_error:
        errors = errors.model_copy(update={"column_wind_direction_error": True})
    columns = ColumnsConfig() if columns is None else columns
    out["column_settings"] = {
        **column_transport_errors(errors),
        **column_model_settings(columns),
        "min_upwind_fetch_km": columns.min_upwind_fetch_km,
    }
    settings = ColumnSettings(**out["column_settings"])
    kinds = []
    write_s = read_s = read_cpu = 0.0
    with tempfile.TemporaryDirectory() as d:
        for day in days:
            t = time.perf_counter()
            met = scenario.meteorology.for_hours(pd.date_range(day, periods=24, freq="h"))
            stamp = day.strftime("%Y%m%d")
            name = f"S5P_SYNT_L2__NO2____{stamp}T000000_{stamp}T235959_00000_01_020400_{stamp}.nc"
            path = ss.write_synthetic_tropomi_no2(
                Path(d) / name,
                grid=scenario.grid,
                fluxes=ss.truth_fluxes(scenario, day),
                met=met,
                date=day,
                lifetime_factor=files_lifetime_factor,
            )
            write_s += time.perf_counter() - t
            t, c = time.perf_counter(), time.process_time()
            cols = read_tropomi_no2(path, grid=scenario.grid)
            if cols.value.size:
                pixels = ColumnPixels.from_satellite(cols)
                kinds.append(
                    ColumnObservations(
                        pixels,
                        NOX,
                        "vertical_column",
                        scenario.meteorology,
                        settings,
                        name=f"s5p_{stamp}",
                    )
                )
            read_s += time.perf_counter() - t
            read_cpu += time.process_time() - c
    out["synthetic_files_write_s"] = write_s
    out["read_and_pixels_s"] = read_s
    out["overpasses_with_pixels"] = len(kinds)
    out["pixels"] = int(sum(k.pixels.n for k in kinds))
    # the column operators (plume integrals over each pixel, superobservations, whitening by
    # the overpass's error covariance) are built once per system: timed apart from the solve
    t, c = time.perf_counter(), time.process_time()
    matches = [k.match(system) for k in kinds]
    out["column_operator_build_s"] = time.perf_counter() - t
    out["column_operator_build_cpu_s"] = time.process_time() - c
    out["column_rows"] = int(sum(len(m.rows) for m in matches))
    # what the solver applies: the superobservations' sparse H and each overpass's dense T
    out["column_H_nnz"] = int(sum(np.count_nonzero(m.H.data) for m in matches))
    out["column_H_nnz_per_superobservation"] = out["column_H_nnz"] / max(
        sum(m.H.shape[0] for m in matches), 1
    )
    out["column_T_elements"] = int(sum(T.size for m in matches for _, T in m.blocks))
    # the rows T H formed densely (as before; not formed here): each row of an overpass touches
    # the union of the state elements its superobservations touch
    out["column_TH_nnz_not_formed"] = int(
        sum(
            T.shape[0] * np.unique(m.H[idx].indices[m.H[idx].data != 0]).size
            for m in matches
            for idx, T in m.blocks
        )
    )
    t, c = time.perf_counter(), time.process_time()
    res = assimilate(system, [StationHourObservations(station_obs), *kinds], build_posterior=False)
    out["joint_solve_s"] = time.perf_counter() - t
    out["joint_solve_cpu_s"] = time.process_time() - c
    out["joint_solver"] = res.solver
    by_type = res.metrics.get("n_observations_by_type", {})
    out["superobservations"] = int(sum(v for k, v in by_type.items() if k.startswith("s5p_")))
    if (
        columns.no2_conversion_check
        or columns.truncation_check_km is not None
        or columns.lifetime_check_factor is not None
    ):
        # the operator checks against the files' innovations (a second operator build each)
        from gridcarbon.inversion.column_checks import operator_checks

        t, c = time.perf_counter(), time.process_time()
        out["operator_checks"] = operator_checks(system, kinds)
        out["operator_checks_s"] = time.perf_counter() - t
        out["operator_checks_cpu_s"] = time.process_time() - c
    out["station_only_solve_s"] = station_solve_s
    out["added_s"] = (
        out["column_operator_build_s"] + out["joint_solve_s"] - station_solve_s + read_s
    )
    # CPU seconds of all threads: less sensitive than wall seconds to other jobs on the machine
    out["station_only_solve_cpu_s"] = station_solve_cpu_s
    out["read_and_pixels_cpu_s"] = read_cpu
    out["added_cpu_s"] = (
        out["column_operator_build_cpu_s"]
        + out["joint_solve_cpu_s"]
        - station_solve_cpu_s
        + read_cpu
    )
    out["peak_rss_gb_after"] = rss_gb()
    out["added_peak_rss_gb"] = out["peak_rss_gb_after"] - out["peak_rss_gb_before"]
    out["load_average_1_5_15_at_end"] = os.getloadavg()
    print(
        f"columns: added {out['added_s']:.1f} s wall, {out['added_cpu_s']:.1f} s CPU "
        f"(target <= 60 s), added peak RSS "
        f"{out['added_peak_rss_gb']:.2f} GB (target <= 1.5 GB); operators "
        f"{out['column_operator_build_s']:.1f} s, joint solve {out['joint_solve_s']:.1f} s vs "
        f"station-only {station_solve_s:.1f} s, load average {os.getloadavg()}",
        flush=True,
    )
    if "operator_checks" in out:
        checks = out["operator_checks"]
        found = (
            [("NO2/NOx conversion", checks["no2_conversion"])] if "no2_conversion" in checks else []
        )
        found += [(f"truncation, {q}", v) for q, v in checks.get("truncation", {}).items()]
        if "lifetime" in checks:
            found.append((f"lifetime x {checks['lifetime']['factor']:g}", checks["lifetime"]))
        print(
            f"operator checks: {out['operator_checks_s']:.1f} s wall, "
            f"{out['operator_checks_cpu_s']:.1f} s CPU (not in the added seconds)",
            flush=True,
        )
        for what, v in found:
            print(
                f"  {what}: a = {v['a']:+.3f} ± {v['a_se']:.3f}, b = {v['b']:+.3f} "
                f"[{v['b_low']:+.3f}, {v['b_high']:+.3f}]; after the planes the difference "
                f"{v['rms_difference']:.2f} σ, the enhancement {v['rms_enhancement']:.2f} σ; "
                f"{v['n_overpasses']} overpasses, {v['n_rows']} rows; verdict {v['verdict']!r}"
                + (f"; share beyond {v['share_beyond']:.1%}" if "share_beyond" in v else "")
                + (
                    f"; first-order reading of the decay length (wind x lifetime) "
                    f"{v['implied_factor']:.2f} x the operator's "
                    f"[{v['implied_low']:.2f}, {v['implied_high']:.2f}]"
                    if "implied_factor" in v
                    else ""
                ),
                flush=True,
            )
    return out


def dense_vs_cg() -> dict:
    """The check of the issue: a few thousand unknowns, dense vs Lanczos-CG."""
    from gridcarbon.config.inversion import InversionConfig
    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.osse import make_truth, synthetic_observations
    from gridcarbon.inversion.system import ObservationSystem
    from tests.inversion.cases import small_case

    c = small_case(days=4, seed=7)
    cfg = InversionConfig(
        state={"block_cells": 1, "window_hours": 24, "n_point_unknowns": 4},
        errors={"aggregation": "hourly"},
        solver={"method": "dense"},
    )
    prior = c.prior.isel(time=slice(0, 48))[
        ["CO2", "NOx", "CO2_point", "NOx_point", "crs", "time_bnds", "region_fraction"]
    ]
    s = ObservationSystem(prior, c.scenario, cfg)
    rng = np.random.default_rng(3)
    obs = synthetic_observations(s, make_truth(s, rng, "identical", cfg), rng, cfg)
    res = {}
    for vecs in (300, 600):
        cg = cfg.solver.model_copy(
            update={"method": "cg", "lanczos_max_vectors": vecs, "lanczos_min_vectors": vecs}
        )
        d = assimilate(s, obs, build_posterior=False)
        g = assimilate(s, obs, solver=cg, build_posterior=False)
        rel = np.linalg.norm(g.x_post - d.x_post) / np.linalg.norm(d.x_post - d.x_prior)
        m = (1 - d.post_std / d.prior_std) >= 0.05
        err = np.abs(g.post_std[m] - d.post_std[m]) / d.post_std[m]
        res[f"lanczos_vectors_{vecs}"] = {
            "n": s.layout.n,
            "m": d.metrics["n_observations"],
            "iterations": g.solver["iterations"],
            "rel_mean_error": float(rel),
            "sigma_median_rel_error": float(np.median(err)),
            "sigma_p95_rel_error": float(np.percentile(err, 95)),
            "n_elements_ur_ge_5pct": int(m.sum()),
            "dense_s": d.solver["seconds"],
            "cg_s": g.solver["seconds"],
            "dofs_dense": d.dofs,
            "dofs_cg": g.dofs,
        }
    return res


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
