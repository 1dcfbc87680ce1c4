"""The full OSSE on the default: the default network and grid, CO2 + NOx + VOC, default B and
R, seeded replicates of the perturbed-transport experiment, the identical twin and the
perfect-transport twin (R without the transport term: the network's ceiling), for one or more
months of 2023.  Everything is SYNTHETIC.

Resumable: each replicate's scores are appended, one JSON line per replicate, to a cache keyed
by month, mode, seed and a hash of the inversion settings that differ from the defaults; a replicate already in the cache
is skipped, and no new replicate is started after ``--budget-minutes`` (a run ends after that
plus one replicate), so a long experiment is done in chunks by running the same command again.
At the end (and with ``--summary-only``) it prints every score of the cached replicates with
its 95 % interval (percentile bootstrap over replicates; proportions with Wilson intervals)
and writes the summaries to ``<out>/osse_intervals.json``; when no cached replicate matches
the months, modes, seeds and ``--set`` list it says so and leaves that file as it was.  A
summary of only some of the cache's seeds (``--replicates`` fewer than it holds) goes to
``<out>/osse_intervals.seeds-<first>-<last>.json`` instead, so the summary of every seed is
never replaced by one of a subset.

With ``--satellite tropomi_no2`` (the setting ``osse.satellite``): each replicate also gets one
simulated TROPOMI NO2 overpass a day made from its own truth (written in the S5P layout, read
back; ``gridcarbon.pipeline.osse_column_simulator``) and is inverted three times on the same
truth — surface only, column only, joint.  The summary then prints the three side by side, the
satellite targets of issue 14 (``osse_scores.satellite_target_rows``) and the usable overpasses
per city and month.  ``--satellite co2m_xco2`` adds a simulated CO2M-like XCO2 imager swath every
``osse.satellite_imager_every_days`` (OCO Lite layout) instead, ``tropomi_no2+co2m_xco2`` both;
with the imager the city targets of the imager (``osse_scores.imager_target_rows``) are judged
too.

Usage::

    python benchmarks/bench_osse.py --months 1 4 7 --replicates 50 --seed 40000
    python benchmarks/bench_osse.py --months 1 --replicates 3 --modes perturbed identical perfect
    python benchmarks/bench_osse.py --months 1 --replicates 2 --modes perturbed \
        --satellite tropomi_no2
    python benchmarks/bench_osse.py --months 1 --replicates 3 --modes perturbed \
        --set osse.truth_nox_lifetime_factor_range=[0.5,2] --set errors.model_error_nox_lifetime_rel=0.5
    python benchmarks/bench_osse.py --months 1 --replicates 10 --modes perturbed \
        --set errors.transport_error_model=quadrature \
        --set errors.point_dominated_pairs=elevated_plume

The randomised-error OSSE (``--modes randomised``, issue 13 point 6): the perturbed case with
its wind-direction, wind-speed, mixing-height and correlation-time errors drawn per replicate
in the ranges of ``osse.randomised`` (change them with ``--set osse.randomised={...}``); the
summary prints each replicate's draws.  The fixed +20 % perturbed case stays as the stress
test.  ``--truth PIECE ...`` switches on pieces of the truth's sub-state structure at the
issue's values (``TRUTH_PIECES``; ``all`` = every one), e.g.::

    python benchmarks/bench_osse.py --months 1 --replicates 2 --seed 40000 \
        --modes randomised --truth rise displaced

Besides the surface targets it judges the targets of the point-dominated hours
(``osse_scores.STACK_TARGETS``: the big-point factor RMSE of the focus species over the prior's,
``point_factor_rmse_ratio``, and the innovation χ² of the readmitted observations,
``innovation_chi2_readmitted``, measured only with ``errors.point_dominated_pairs:
elevated_plume``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gridcarbon.species import CO2, NOX

#: ``--truth`` pieces: the truth structure (``osse.truth_structure``) and the truth's NOx
#: lifetime at the values of issue 13 (points 5 and 6), as ``--set`` items.
TRUTH_PIECES: dict[str, tuple[str, str]] = {
    "cell": ("osse.truth_structure", "{cell_lognormal_sigma: 0.3}"),
    "rush": ("osse.truth_structure", "{rush_hour_shift_h: 1}"),
    "weekend": ("osse.truth_structure", "{weekend_ratio_range: [0.5, 1.0]}"),
    "stack_daily": ("osse.truth_structure", "{stack_daily_sigma: 0.2}"),
    "rise": ("osse.truth_structure", "{stack_rise_factor_range: [0.6, 1.4]}"),
    "displaced": (
        "osse.truth_structure",
        "{stack_displaced_fraction: 0.05, stack_displacement_km: [1.0, 3.0]}",
    ),
    "lifetime": ("osse.truth_nox_lifetime_factor_range", "[0.5, 2.0]"),
}


def _key(month: int, mode: str, seed: int, config_hash: str) -> str:
    return f"2023-{month:02d}|{mode}|{seed}|{config_hash}"


def _read_cache(path: Path) -> dict[str, dict]:
    """The cached replicates by key (a line cut short by an interrupted write is skipped)."""
    out: dict[str, dict] = {}
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        out[rec["key"]] = rec
    return out


def _append(path: Path, rec: dict) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(rec, default=_default) + "\n")
        f.flush()


def _default(o):
    if isinstance(o, np.integer | np.floating | np.bool_):
        return o.item()
    return str(o)


def perturbed_replicate(month: int, settings: list[str], seed: int):
    """One perturbed-transport replicate of the default ``month`` with ``settings`` (the
    truth and observations of ``bench_osse``'s replicate of ``seed``): the config, scenario,
    observation system, truth and synthetic observations, and the system's build time, s."""
    from gridcarbon.inversion.osse import area_sector_shares, replicate_truth
    from gridcarbon.inversion.system import ObservationSystem
    from gridcarbon.pipeline import build_prior, inversion_inputs

    config = run_config(month, settings)
    cfg = config.inversion
    t0 = time.perf_counter()
    prior = build_prior(config)
    scenario, _ = inversion_inputs(config, prior, with_observations=False)
    system = ObservationSystem(prior, scenario, cfg)
    seconds = time.perf_counter() - t0
    shares = area_sector_shares(scenario.inventory, system)
    truth, obs, _ = replicate_truth(system, cfg, "perturbed", seed, shares)
    return config, scenario, system, truth, obs, seconds


def run_config(month: int, settings: list[str] = ()):
    """The default run's config for ``month`` of 2023, with ``settings`` (``group.name=value``
    of the ``inversion`` section, the value in YAML) applied."""
    import yaml

    from gridcarbon.config import RunConfig

    start = dt.date(2023, month, 1)
    end = (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
    inversion: dict = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise SystemExit(f"--set {item!r}: give group.name=value, e.g. errors.x=0.5")
        group, name = key.split(".", 1)
        parsed = yaml.safe_load(value)
        section = inversion.setdefault(group, {})
        if isinstance(parsed, dict) and isinstance(section.get(name), dict):
            section[name] = {**section[name], **parsed}  # e.g. several truth-structure pieces
        else:
            section[name] = parsed
    return RunConfig.validate_dict(
        {"period": {"start": str(start), "end": str(end)}, "inversion": inversion}
    )


def _config_hash(config) -> str:
    """Hash of the inversion settings that differ from the defaults (a new setting whose
    default keeps the old behaviour keeps the cache valid; after changing a default in the
    code, start a new cache with another ``--out``)."""
    changed = config.inversion.model_dump_json(exclude_defaults=True)
    return hashlib.sha1(changed.encode()).hexdigest()[:12]


def _code_version() -> str:
    """The commit the replicates ran on (``+changes`` when the package differs from it), kept
    with each cached replicate so that a cache built over several sessions can be checked for
    a change of code between its replicates; empty outside a git checkout."""
    here = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--", "gridcarbon"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head + ("+changes" if dirty else "")


def run_missing(args, cache_path: Path) -> bool:
    """Run the replicates missing from the cache within the time budget; True when all done."""
    from gridcarbon.inversion.osse import perfect_transport_config, run_osse
    from gridcarbon.inversion.system import ObservationSystem
    from gridcarbon.pipeline import build_prior, inversion_inputs, osse_column_simulator

    t_start = time.perf_counter()
    budget = args.budget_minutes * 60.0
    cached = _read_cache(cache_path)
    code = _code_version()
    for month in args.months:
        config = run_config(month, args.set)
        chash = _config_hash(config)
        todo = {
            mode: [
                s
                for s in range(args.seed, args.seed + args.replicates)
                if _key(month, mode, s, chash) not in cached
            ]
            for mode in args.modes
        }
        if not any(todo.values()):
            continue
        if time.perf_counter() - t_start > budget:
            return False
        t0 = time.perf_counter()
        prior = build_prior(config)
        scenario, _ = inversion_inputs(config, prior, with_observations=False)
        print(f"2023-{month:02d}: prior and scenario {time.perf_counter() - t0:.1f} s", flush=True)
        for mode, seeds in todo.items():
            if not seeds:
                continue
            if time.perf_counter() - t_start > budget:
                return False
            ic = (
                perfect_transport_config(config.inversion)
                if mode == "perfect"
                else config.inversion
            )
            simulator = osse_column_simulator(scenario, ic) if ic.osse.satellite != "none" else None
            t1 = time.perf_counter()
            system = ObservationSystem(prior, scenario, ic)
            t_system = time.perf_counter() - t1
            print(f"  {mode}: system {t_system:.1f} s; {system.info()}", flush=True)
            for s in seeds:
                if time.perf_counter() - t_start > budget:
                    return False
                t2 = time.perf_counter()
                c2 = time.process_time()
                res = run_osse(
                    prior,
                    scenario,
                    config.inversion,
                    mode=mode,
                    replicates=1,
                    seed=s,
                    system=system,
                    cross_species_zero=(mode in ("perturbed", "randomised")),
                    column_simulator=simulator,
                )
                wall = time.perf_counter() - t2
                cpu = time.process_time() - c2
                rec = {
                    "key": _key(month, mode, s, chash),
                    "month": month,
                    "mode": mode,
                    "seed": s,
                    "config_hash": chash,
                    "code": code,
                    "wall_s": wall,
                    "cpu_s": cpu,
                    "system_s": t_system,
                    "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                    "timings": res.timings,
                    "rows": res.table.assign(replicate=s).to_dict(orient="records"),
                }
                _append(cache_path, rec)
                print(f"    seed {s}: {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
            del system
            gc.collect()
    return True


def _fmt(v: dict | float) -> str:
    if not isinstance(v, dict):  # a plain figure (e.g. the mean number of cells)
        return "–" if v is None or not np.isfinite(v) else f"{v:.1f}"
    e, lo, hi = v.get("estimate"), v.get("low"), v.get("high")
    if e is None or not np.isfinite(e):
        return "–"
    text = f"{e:+.3f}" if lo is None else f"{e:+.3f} [{lo:+.3f}, {hi:+.3f}]"
    if "wilson_low" in v:
        text += f" W[{v['wilson_low']:.3f}, {v['wilson_high']:.3f}]"
    return text


#: The floors of issue 13 for the outer distance bands: 3 points below the means of the
#: randomised run on the day the issue was written (CO2 +12.5 / +5.5 %, NOx +16.2 / +9.0 % at
#: 10–20 / 20–30 km).
OUTER_BAND_FLOORS: dict[str, dict[str, float]] = {
    CO2.name: {"10-20km": 0.125 - 0.03, "20-30km": 0.055 - 0.03},
    NOX.name: {"10-20km": 0.162 - 0.03, "20-30km": 0.090 - 0.03},
}


def _replicate_table(recs: list[dict]) -> pd.DataFrame:
    """The score rows of cached replicates as one table."""
    return pd.DataFrame([row for r in recs for row in r["rows"]]).astype({"replicate": int})


def _print_verdicts(verdicts: pd.DataFrame) -> None:
    """One line per judged target: estimate, 95 % interval, band and verdict."""
    for r in verdicts.itertuples():
        if r.passes is None:
            band = (r.band_low, r.band_high)
            mark = "reference" if not np.isfinite(band).any() else "not measured"
        else:
            mark = "PASS" if r.passes else "FAIL"
        print(
            f"{r.target} | {r._2} | {r.estimate:+.3f} [{r.low:+.3f}, {r.high:+.3f}] "
            f"| band [{r.band_low:g}, {r.band_high:g}] | {mark}"
        )


def summary_file_name(args, cached: dict) -> str:
    """``osse_intervals.json`` when the summary covers every seed the cache holds for these
    months, modes and ``--set`` list, else ``osse_intervals.seeds-<first>-<last>.json``: a
    summary of some seeds never replaces the summary of all of them."""
    hashes = {_config_hash(run_config(m, args.set)) for m in args.months}
    last = args.seed + args.replicates - 1
    outside = any(
        not args.seed <= r["seed"] <= last
        for r in cached.values()
        if r["month"] in args.months and r["mode"] in args.modes and r["config_hash"] in hashes
    )
    return f"osse_intervals.seeds-{args.seed}-{last}.json" if outside else "osse_intervals.json"


def summarise_cache(args, cache_path: Path, out: Path) -> None:
    """Print every score of the cached replicates with its 95 % interval; write them as JSON."""
    from gridcarbon.inversion.osse_scores import (
        STACK_TARGETS,
        interval_summary,
        judge_targets,
        near_band_target_rows,
    )

    cached = _read_cache(cache_path)
    results: dict = {}
    for month in args.months:
        chash = _config_hash(run_config(month, args.set))

        def records(mode: str, month: int = month, chash: str = chash) -> list[dict]:
            return [
                r
                for r in cached.values()
                if r["month"] == month
                and r["mode"] == mode
                and r["config_hash"] == chash
                and args.seed <= r["seed"] < args.seed + args.replicates
            ]

        for mode in args.modes:
            recs = records(mode)
            if not recs:
                continue
            table = _replicate_table(recs)
            full = table
            if "observations" in table:
                table = table[table["observations"] == "surface"]
            summary = interval_summary(table, args.focus_species)
            wall = np.array([r["wall_s"] for r in recs])
            cpu = np.array([r.get("cpu_s", np.nan) for r in recs])
            name = f"2023-{month:02d} {mode}"
            results[name] = {
                "replicates": len(recs),
                "code": sorted({r.get("code") or "unrecorded" for r in recs}),
                "seconds_per_replicate_mean": float(wall.mean()),
                "cpu_seconds_per_replicate_mean": float(np.nanmean(cpu))
                if np.isfinite(cpu).any()
                else None,
                "intervals": summary,
            }
            print(
                f"\n=== {name}: {len(recs)} replicates, {wall.mean():.1f} s wall per replicate "
                f"(min {wall.min():.1f}, max {wall.max():.1f}), CPU {np.nanmean(cpu):.1f} s; "
                f"code {', '.join(results[name]['code'])} ===",
                flush=True,
            )
            if mode == "randomised":
                from gridcarbon.inversion.osse import RANDOMISED_COLUMNS

                draws = (
                    table[table["label"] == "default"]
                    .groupby("replicate")[list(RANDOMISED_COLUMNS)]
                    .first()
                )
                results[name]["randomised_draws"] = draws.reset_index().to_dict(orient="records")
                print(
                    "-- randomised transport errors per replicate (seed | "
                    + " | ".join(RANDOMISED_COLUMNS)
                    + ")"
                )
                for seed, row in draws.iterrows():
                    print(f"{seed} | " + " | ".join(f"{v:.3f}" for v in row.to_numpy(float)))
            for label, by_species in summary.items():
                species = [s for s in by_species if s != "cities"]
                names = sorted({k for s in species for k in by_species[s]})
                print(f"-- {label}: score | " + " | ".join(species))
                for k in names:
                    cells = [_fmt(by_species[s][k]) if k in by_species[s] else "–" for s in species]
                    print(f"{k} | " + " | ".join(cells))
                for code, rec in by_species.get("cities", {}).items():
                    if code == "all_cities_calibration_rms":
                        print(f"cities, RMS(error/σ) over all | {_fmt(rec)}")
                        continue
                    for k, v in rec.items():
                        print(f"city {code} {k} | {_fmt(v)}")
            if "default" in summary:
                for key, title, targets in (
                    ("targets", "targets", None),
                    ("stack_targets", "stacks back in: point-dominated hours", STACK_TARGETS),
                ):
                    kw = {} if targets is None else {"targets": targets}
                    verdicts = judge_targets(
                        summary["default"], focus_species=args.focus_species, **kw
                    )
                    results[name][key] = verdicts.to_dict(orient="records")
                    print(
                        f"-- {title} (default; pass = estimate in band and 95 % interval "
                        "overlapping)"
                    )
                    _print_verdicts(verdicts)
                if mode != "perfect":
                    twin = records("perfect")
                    reactive = run_config(month, args.set).inversion.chemistry.reactive_species
                    near = near_band_target_rows(
                        table,
                        _replicate_table(twin) if twin else None,
                        species=(args.focus_species, reactive),
                        outer_floors=OUTER_BAND_FLOORS,
                    )
                    results[name]["near_band_targets"] = near.to_dict(orient="records")
                    print(
                        "-- near-station gains (default; the perfect-transport twin of the same "
                        f"cache: {len(twin)} replicates)"
                    )
                    _print_verdicts(near)
            if "observations" in full:
                reactive = run_config(month, args.set).inversion.chemistry.reactive_species
                results[name]["satellite"] = satellite_summary(
                    full, args.focus_species, reactive, recs, "co2m_xco2" in args.satellite
                )
    if not results:
        # never overwrite a cache's summary with nothing: a --set list other than the one the
        # cache was run with matches no replicate
        wanted = sorted({_config_hash(run_config(m, args.set)) for m in args.months})
        held = sorted({r["config_hash"] for r in cached.values()})
        print(
            f"no replicate of {cache_path} matches these months, modes and seeds with the "
            f"configuration hash {', '.join(wanted)} (the cache holds {', '.join(held) or 'none'}"
            "): give the --set options the cache was run with; "
            f"{out / 'osse_intervals.json'} left as it was",
            file=sys.stderr,
        )
        return
    name = summary_file_name(args, cached)
    if name != "osse_intervals.json":
        print(
            f"the cache holds seeds outside {args.seed}–{args.seed + args.replicates - 1}: this "
            f"summary goes to {out / name}, and {out / 'osse_intervals.json'} (the summary of "
            "every seed) is left as it was",
            file=sys.stderr,
        )
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f"{name}.tmp"
    tmp.write_text(json.dumps(results, indent=1, default=_default), encoding="utf-8")
    tmp.replace(out / name)


#: The scores printed side by side for surface only, column only and joint.
_SIDE_BY_SIDE = (
    "own_rmse_reduction_0-5km",
    "own_rmse_reduction_5-10km",
    "own_rmse_reduction_10-20km",
    "own_rmse_reduction_20-30km",
    "own_rmse_reduction_near",
    "own_rmse_reduction_far",
    "own_factor_reduction_near",
    "own_factor_reduction_far",
    "innovation_chi2",
    "coverage_1sigma_cells_ur20_pooled",
)


def satellite_summary(
    table: pd.DataFrame, focus: str, reactive: str, recs: list[dict], with_imager: bool = False
) -> dict:
    """Print surface only, column only and joint side by side, the satellite targets (with
    ``with_imager`` also the imager's city targets) and the usable overpasses per city and
    month; return them."""
    from gridcarbon.inversion.osse_scores import (
        OBSERVATION_SETS,
        far_field_scale_rows,
        imager_target_rows,
        interval_summary,
        mixing_height_target_rows,
        satellite_targets,
    )

    sets = [o for o in OBSERVATION_SETS if (table["observations"] == o).any()]
    by = {o: interval_summary(table[table["observations"] == o], focus)["default"] for o in sets}
    species = [s for s in by[sets[0]] if s != "cities"]
    print(f"-- satellites: {' | '.join(sets)} (95 % intervals over replicates)")
    print("score | species | " + " | ".join(sets))
    for s in species:
        for k in _SIDE_BY_SIDE:
            cells = [_fmt(by[o].get(s, {}).get(k, {})) for o in sets]
            print(f"{k} | {s} | " + " | ".join(cells))
    for code in by[sets[0]].get("cities", {}):
        if code == "all_cities_calibration_rms":
            continue
        for k in ("rms_error_ratio", "posterior_bias", "calibration_rms"):
            cells = [_fmt(by[o].get("cities", {}).get(code, {}).get(k, {})) for o in sets]
            print(f"city {code} {k} (vs prior) | {focus} | " + " | ".join(cells))
    counts: dict = {}
    joint = table[(table["observations"] == "joint") & (table["label"] == "default")]
    for c in [c for c in joint.columns if c.startswith("city_") and c.endswith("_overpasses")]:
        v = joint.groupby("replicate")[c].first().to_numpy(float)
        counts[c[len("city_") : -len("_overpasses")]] = {
            "min": float(v.min()),
            "mean": float(v.mean()),
            "max": float(v.max()),
        }
    per_rep = joint.groupby("replicate").first()
    for k in ("n_files", "n_overpasses_used", "n_superobservations", "satellite_lifetime_factor"):
        if k in per_rep:
            counts[k] = [float(v) for v in per_rep[k]]
    print(f"-- usable overpasses per city-month (min/mean/max over replicates), draws: {counts}")
    terms = [c for c in table.columns if c.startswith("column_") and c.endswith("_post")]
    if terms:  # state.column_transport_unknowns: the posterior of each term, per replicate
        print("-- column transport unknowns (posterior ± σ per replicate; relative changes)")
        print("observations | replicate | " + " | ".join(t[len("column_") : -5] for t in terms))
        rows = table[table["label"] == "default"].groupby(["observations", "replicate"]).first()
        for (obs, rep), r in rows.iterrows():
            cells = [f"{r[t]:+.3f} ± {r[t + '_std']:.3f}" for t in terms]
            print(f"{obs} | {rep} | " + " | ".join(cells))
    verdicts = satellite_targets(table, focus, reactive)
    for joint, part in verdicts.groupby("observations", sort=False) if len(verdicts) else ():
        print(f"-- satellite targets ({joint} vs surface only; paired replicates)")
        _print_verdicts(part)
    scales = {}
    for joint in [j for j in ("joint_no2", "joint") if j in sets]:
        for s in dict.fromkeys((reactive, focus)):
            rows = far_field_scale_rows(table, s, joint=joint)
            if not len(rows):
                continue
            scales[f"{joint} {s}"] = rows.to_dict(orient="records")
            print(f"-- {s} far-field gain by scale, {joint} vs surface only (a diagnostic)")
            for r in rows.to_dict(orient="records"):
                if "gain" in r and np.isfinite(r["gain"]):
                    print(
                        f"{r['scale']} | {r['gain']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}]"
                        f" | {r['replicates']} replicates"
                    )
                elif np.isfinite(r.get("prior", np.nan)):
                    print(
                        f"{r['scale']} | prior {r['prior']:+.3f} | surface {r['surface']:+.3f}"
                        f" | {joint} {r['joint']:+.3f}"
                    )
    imager = imager_target_rows(table, focus) if with_imager else pd.DataFrame()
    if len(imager):
        print("-- CO2M-like imager targets (joint; city totals, paired replicates)")
        _print_verdicts(imager)
    mixing = mixing_height_target_rows(table)
    if len(mixing):
        print("-- mixing-height targets (a truth δ per city and day; overpass days, pooled)")
        _print_verdicts(mixing)
    timing = [r.get("timings", {}) for r in recs]
    cols = [t.get("column_simulation_seconds", np.nan) for t in timing]
    solve = [t.get("solve_seconds", np.nan) for t in timing]
    print(
        f"-- per replicate: column simulation (write + read + match, the column operators "
        f"included) {np.nanmean(cols):.1f} s, "
        f"the solves of every inversion {np.nanmean(solve):.1f} s"
    )
    return {
        "side_by_side": by,
        "overpasses": counts,
        "targets": verdicts.to_dict(orient="records"),
        "imager_targets": imager.to_dict(orient="records"),
        "mixing_height_targets": mixing.to_dict(orient="records"),
        "far_field_scales": scales,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--months", type=int, nargs="+", default=[1, 4, 7])
    ap.add_argument(
        "--modes",
        nargs="+",
        choices=["perturbed", "randomised", "identical", "perfect"],
        default=["perturbed", "identical", "perfect"],
    )
    ap.add_argument(
        "--truth",
        nargs="+",
        choices=[*TRUTH_PIECES, "all"],
        default=[],
        metavar="PIECE",
        help="pieces of the perturbed truth's structure at the issue's values: "
        + ", ".join(f"{k} ({v[0].split('.')[1]}={v[1]})" for k, v in TRUTH_PIECES.items())
        + "; all = every one (cached apart from the defaults)",
    )
    ap.add_argument("--replicates", type=int, default=50)
    ap.add_argument("--seed", type=int, default=40000, help="seed of the first replicate")
    ap.add_argument("--out", default="osse-results", help="folder of the cache and summaries")
    ap.add_argument("--budget-minutes", type=float, default=9.0)
    ap.add_argument("--summary-only", action="store_true")
    ap.add_argument("--focus-species", default="CO2")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="GROUP.NAME=VALUE",
        help="an inversion setting, e.g. osse.truth_nox_lifetime_factor_range=[0.5,2] or "
        "errors.model_error_nox_lifetime_rel=0.5 (repeatable; cached apart from the defaults)",
    )
    ap.add_argument(
        "--satellite",
        choices=["none", "tropomi_no2", "co2m_xco2", "tropomi_no2+co2m_xco2"],
        default="none",
        help="satellite columns in the OSSE (osse.satellite): three inversions per replicate",
    )
    args = ap.parse_args()
    if args.satellite != "none":
        args.set = [*args.set, f"osse.satellite={args.satellite}"]
    pieces = list(TRUTH_PIECES) if "all" in args.truth else args.truth
    args.set = [*(f"{TRUTH_PIECES[p][0]}={TRUTH_PIECES[p][1]}" for p in pieces), *args.set]
    for m in args.months:
        if not 1 <= m <= 12:
            ap.error(f"--months: {m} is not a month (1-12)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache_path = out / "osse_replicates.jsonl"
    if not args.summary_only:
        done = run_missing(args, cache_path)
        if not done:
            print(
                f"\ntime budget ({args.budget_minutes} min) reached: run the same command again "
                f"to continue (cache {cache_path})",
                flush=True,
            )
    summarise_cache(args, cache_path, out)


if __name__ == "__main__":
    main()
