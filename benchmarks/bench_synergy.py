"""Synergy analytics: speed of the index and the co-control analysis, and the cross-check OSSE.

1. The synergy index for 100 regions × 24 indicators × 20 periods (target ≤ 2 s).
2. The co-control analysis (distribution, Hamed–Rao trend on monthly series, Spearman
   correlation of the relative departures with BH) for 2,082 units over a year of days
   (target ≤ 2 s); the daily-series trend is timed separately for information.
3. The top-down cross-check in an identical-twin OSSE on the default network (January 2023):
   each replicate draws a truth from the prior, plants a +50 % misreport (reported = 1.5 ×
   truth, the prior being the reported figure) at ``--planted`` of the stacks with their own
   unknowns, makes observations, inverts, and tests every stack's CO2 figure as the CLI does
   (with the CG solver's approximate posterior σ the prior-as-reported test is not made; see
   ``benchmarks/crosscheck_diagnosis.py`` for why). Reported: how
   many are tested at the 20 % uncertainty-reduction threshold, the false-alarm rate among
   honest stacks and the detection rate among misreported ones — at 20 % and with no threshold.
   Everything in 3 is SYNTHETIC. ``--osse-config coarse`` runs it on 30 km cells over a week,
   where the dense solver gives the exact posterior covariance (the default problem uses
   conjugate gradients with Lanczos variances).

Usage: python benchmarks/bench_synergy.py [--osse-replicates 10] [--planted 5]
       [--osse-config default coarse] [--skip-speed] [--skip-osse]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import time

import numpy as np
import pandas as pd


def _best_of(fn, repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_index() -> None:
    from gridcarbon.synergy.index import load_indicator_system, synergy_index

    system = load_indicator_system()
    t = system.table.set_index("level3_no")
    rng = np.random.default_rng(1)
    regions = [f"{330000 + r:06d}" for r in range(100)]
    periods = [f"{2018 + p // 4}Q{p % 4 + 1}" for p in range(20)]
    rows = []
    for code in regions:
        for period in periods:
            for n in system.numbers:
                lo, hi = t.loc[n, "plausible_min"], t.loc[n, "plausible_max"]
                v = "weak_decoupling" if n == 8 else lo + (hi - lo) * rng.uniform()
                rows.append((code, period, n, v))
    values = pd.DataFrame(rows, columns=["region_code", "period", "level3_no", "value"])
    synergy_index(values, system)  # warm-up
    s = _best_of(lambda: synergy_index(values, system))
    print(f"index: 100 regions x 24 indicators x 20 periods ({len(values):,} values): {s:.2f} s")


def bench_cocontrol() -> None:
    from gridcarbon.synergy.cocontrol import trend_table
    from gridcarbon.synergy.sections import cocontrol_analysis

    rng = np.random.default_rng(2)
    n_units, n_days = 2082, 365
    days = pd.date_range("2023-01-01", periods=n_days, freq="D")
    units = pd.DataFrame(
        {
            "unit_code": [f"U{i:05d}" for i in range(n_units)],
            "county_code": [f"33{i % 90:04d}" for i in range(n_units)],
            "city_code": [f"33{i % 11:02d}00" for i in range(n_units)],
        }
    )
    profile = 1 + 0.3 * np.sin(np.arange(n_days) / 58.0)
    prior = {
        sp: rng.lognormal(10, 1, (n_units, 1)) * s * profile
        for sp, s in (("CO2", 1000.0), ("NOx", 1.0), ("VOC", 2.0))
    }
    shock = rng.normal(0, 0.05, (n_units, n_days))
    posterior = {
        "CO2": prior["CO2"] * (1 + shock),
        "NOx": prior["NOx"] * (1 + 0.5 * shock + rng.normal(0, 0.05, (n_units, n_days))),
        "VOC": prior["VOC"] * (1 + rng.normal(0, 0.05, (n_units, n_days))),
    }
    cocontrol_analysis(units, days, prior, posterior)  # warm-up (numba compile)
    s = _best_of(lambda: cocontrol_analysis(units, days, prior, posterior))
    print(
        f"co-control: {n_units:,} units x {n_days} days (monthly trend, daily correlation, "
        f"distribution): {s:.2f} s"
    )
    index = pd.RangeIndex(n_units)
    s = _best_of(lambda: trend_table(posterior["CO2"], index), repeat=1)
    print(f"  for information: Hamed-Rao trend on daily series, 1 species: {s:.2f} s")


def bench_osse(replicates: int, planted: int, seed: int = 20250, config=None) -> None:
    from gridcarbon.config import RunConfig
    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.osse import make_truth, synthetic_observations
    from gridcarbon.inversion.system import ObservationSystem
    from gridcarbon.pipeline import build_prior, inversion_inputs
    from gridcarbon.synergy.crosscheck import crosscheck

    config = RunConfig() if config is None else config
    ic = config.inversion
    t0 = time.perf_counter()
    prior = build_prior(config)
    scenario, _ = inversion_inputs(config, prior, with_observations=False)
    system = ObservationSystem(prior, scenario, ic)
    layout = system.layout
    n_own = layout.point_index.size
    si = system.species.index("CO2")
    print(f"OSSE setup {time.perf_counter() - t0:.1f} s; {n_own} stacks with own unknowns")
    rng = np.random.default_rng(seed)
    rows = []
    for rep in range(replicates):
        t = time.perf_counter()
        truth = make_truth(system, rng, "identical", ic)
        bad = rng.choice(n_own, size=min(planted, n_own), replace=False)
        start = layout.segments["points"].start + si * n_own
        for k in bad:
            truth.x[start + k] /= 1.5  # reported (the prior) = 1.5 × truth
            truth.points[si][:, layout.point_index[k]] /= 1.5
        obs = synthetic_observations(system, truth, rng, ic)
        res = assimilate(system, obs, build_posterior=False)
        solver = res.solver.get("solver", "?")
        ex = res.extras[(res.extras["segment"] == "points") & (res.extras["species"] == "CO2")]
        table = ex[["prior", "prior_std", "posterior", "posterior_std"]].reset_index(drop=True)
        planted_mask = np.zeros(len(table), bool)
        planted_mask[bad] = True
        for threshold in (0.2, 0.0):
            # as the CLI does: no prior-as-reported test on an approximate posterior σ
            out = crosscheck(table, min_ur=threshold, exact_posterior=solver == "dense")
            tested = ~out["test"].str.startswith("not tested")
            rows.append(
                {
                    "replicate": rep,
                    "min_ur": threshold,
                    "tested_honest": int((tested & ~planted_mask).sum()),
                    "tested_planted": int((tested & planted_mask).sum()),
                    "false_alarms": int((out["flag"] & ~planted_mask).sum()),
                    "detections": int((out["flag"] & planted_mask).sum()),
                    "n_planted": int(planted_mask.sum()),
                    "max_ur": float(out["uncertainty_reduction"].max()),
                }
            )
        print(
            f"  replicate {rep + 1}/{replicates} ({solver} solver): "
            f"{time.perf_counter() - t:.0f} s",
            flush=True,
        )
    df = pd.DataFrame(rows)
    for threshold, g in df.groupby("min_ur"):
        honest, planted_n = g["tested_honest"].sum(), g["n_planted"].sum()
        fa = g["false_alarms"].sum() / honest if honest else float("nan")
        det = g["detections"].sum() / planted_n if planted_n else float("nan")
        print(
            f"cross-check OSSE (SYNTHETIC), UR >= {threshold:.0%}: tested {honest} honest and "
            f"{g['tested_planted'].sum()} misreported stack-replicates; false alarms "
            f"{g['false_alarms'].sum()}/{honest} = {fa:.3f} (nominal q 0.05); detection of the "
            f"+50 % misreport {g['detections'].sum()}/{planted_n} = {det:.3f}; largest UR "
            f"{g['max_ur'].max():.1%}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--osse-replicates", type=int, default=10)
    ap.add_argument("--planted", type=int, default=5)
    ap.add_argument("--osse-config", nargs="+", default=["default"], choices=["default", "coarse"])
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-osse", action="store_true")
    args = ap.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    if not args.skip_speed:
        bench_index()
        bench_cocontrol()
    if args.skip_osse:
        return
    from gridcarbon.config import RunConfig

    for name in args.osse_config:
        config = None
        if name == "coarse":
            config = RunConfig.validate_dict(
                {
                    "grid": {"cell_size_m": 30000.0},
                    "period": {"start": dt.date(2023, 1, 10), "end": dt.date(2023, 1, 16)},
                }
            )
        print(f"cross-check OSSE on the {name} problem")
        bench_osse(args.osse_replicates, args.planted, config=config)


if __name__ == "__main__":
    main()
