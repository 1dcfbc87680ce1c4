"""Two OSSE caches compared seed for seed, with paired bootstrap intervals — SYNTHETIC.

Reads the replicate rows (``osse_replicates.jsonl``) of two ``bench_osse.py`` runs of the
same month and mode — "off" (e.g. the default) and "on" (e.g. with ``--set
state.mixing_height_unknowns=true``) — keeps the seeds both have, and prints per score the
mean over those seeds off and on, the paired mean difference (on − off) and its percentile
bootstrap 95 % interval (the seeds resampled with replacement, 10,000 resamples, fixed seed):
the city CO2 errors and RMS(error/σ), the 1σ coverage of the constrained cells, χ² per
species and per station class, the RMSE gain near the species' own stations per distance band
and within 30 km, the far field, and the correlation of the city errors and of the posterior
mean mixing-height scale δ (``mixing_height_post_mean``, only with the unknowns on) with the
replicate's drawn mixing-height bias.

Usage:
    python benchmarks/osse_paired.py OFF_DIR ON_DIR [--month 1] [--mode randomised]
        [--seeds 40000-40009] [--observations joint_no2] [--json out.json]

``OFF_DIR``/``ON_DIR``: the ``--out`` folders of the runs (the cache in them or in their
``osse`` subfolder) or the cache files.  When a cache holds rows of more than one configuration hash for
the month and mode, ``--off-hash``/``--on-hash`` pick one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from gridcarbon.inversion.scores import percentile_bootstrap

#: Station classes whose χ² the OSSE rows carry (``innovation_chi2_class_<class>``).
CLASSES = ("background", "regional", "urban", "sink", "micro", "demonstration")
#: The default distance bands (km) of ``osse.distance_bands_km``.
BANDS = ("0-5km", "5-10km", "10-20km", "20-30km")
#: Resamples of the paired bootstrap.
N_RESAMPLES = 10_000


def load_rows(
    where: str | Path,
    month: int,
    mode: str,
    config_hash: str | None = None,
    observations: str | None = None,
) -> dict[int, dict[str, dict]]:
    """The default-label rows of one cache: ``{seed: {species: row}}``, the drawn transport
    errors included in each row.  A run with satellites has a row per inversion
    (``observations``: surface, column, joint_no2, joint); one of them must be picked.

    Parameters
    ----------
    where : str or Path
        A ``bench_osse.py`` ``--out`` folder or its ``osse_replicates.jsonl``.
    month, mode : the month of 2023 and the OSSE mode to keep.
    config_hash : optional
        The configuration hash to keep; required when the cache holds more than one for the
        month and mode.
    observations : optional
        The inversion whose rows are kept (a satellite run's ``observations``); required
        when the rows have more than one.
    """
    path = Path(where)
    if path.is_dir():
        direct = path / "osse_replicates.jsonl"
        path = direct if direct.exists() else path / "osse" / "osse_replicates.jsonl"
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    recs = [r for r in recs if r["month"] == month and r["mode"] == mode]
    hashes = sorted({r["config_hash"] for r in recs})
    if config_hash is not None:
        recs = [r for r in recs if r["config_hash"] == config_hash]
    elif len(hashes) > 1:
        raise SystemExit(f"{path}: configuration hashes {hashes}; pick one with --off/--on-hash")
    out: dict[int, dict[str, dict]] = {}
    for r in recs:
        cost = {k: r.get(k, np.nan) for k in ("wall_s", "cpu_s", "peak_rss_gb")}
        rows = [row for row in r["rows"] if row.get("label") == "default"]
        kinds = {row.get("observations") for row in rows}
        if observations is not None:
            rows = [row for row in rows if row.get("observations") == observations]
            if not rows:
                raise SystemExit(f"{path}: no rows of observations {observations!r} in {kinds}")
        elif len(kinds) > 1:
            raise SystemExit(
                f"{path}: rows of observations {sorted(kinds)}; pick one with --observations"
            )
        out[int(r["seed"])] = {row["species"]: {**row, **cost} for row in rows}
    return out


def paired(off: np.ndarray, on: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Means off and on and the paired mean difference ``on − off`` with its percentile
    bootstrap 95 % interval (pairs with a NaN dropped).

    Parameters
    ----------
    off, on : ndarray ``(n,)``
        One score per seed, the same seeds in the same order.
    seed : int
        Seed of the bootstrap's generator.
    """
    off = np.asarray(off, float)
    on = np.asarray(on, float)
    ok = np.isfinite(off) & np.isfinite(on)
    est, lo, hi = percentile_bootstrap(on[ok] - off[ok], n_resamples=N_RESAMPLES, seed=seed)
    return {
        "off": float(off[ok].mean()) if ok.any() else np.nan,
        "on": float(on[ok].mean()) if ok.any() else np.nan,
        "diff": est,
        "low": lo,
        "high": hi,
        "n": int(ok.sum()),
    }


def paired_rms(off: np.ndarray, on: np.ndarray, seed: int = 0) -> dict[str, float]:
    """RMS over the seeds off and on (of e.g. error/σ) and the paired bootstrap interval of
    the difference of the two RMS (the same resampled seeds for both).  ``off``/``on`` may be
    ``(n, k)`` (k values per seed, pooled)."""
    off = np.asarray(off, float).reshape(len(off), -1)
    on = np.asarray(on, float).reshape(len(on), -1)
    x = np.concatenate([off, on], axis=1)
    k = off.shape[1]

    def stat(b: np.ndarray) -> np.ndarray:
        return np.sqrt((b[..., k:] ** 2).mean(axis=(1, 2))) - np.sqrt(
            (b[..., :k] ** 2).mean(axis=(1, 2))
        )

    est, lo, hi = percentile_bootstrap(x, stat, n_resamples=N_RESAMPLES, seed=seed)
    keep = np.isfinite(x).all(axis=1)
    return {
        "off": float(np.sqrt(np.mean(off[keep] ** 2))),
        "on": float(np.sqrt(np.mean(on[keep] ** 2))),
        "diff": est,
        "low": lo,
        "high": hi,
        "n": int(keep.sum()),
    }


def _col(rows: dict[int, dict[str, dict]], seeds: list[int], species: str, key: str) -> np.ndarray:
    return np.array([rows[s].get(species, {}).get(key, np.nan) for s in seeds], float)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 2 else np.nan


def compare(
    off: dict[int, dict[str, dict]],
    on: dict[int, dict[str, dict]],
    seeds: list[int],
    focus: str = "CO2",
    cities: tuple[str, ...] = ("330100", "330200"),
) -> dict[str, dict]:
    """The paired scores of two caches' rows (:func:`load_rows`) over ``seeds``: name ->
    :func:`paired` / :func:`paired_rms` record; ``cost:`` holds the replicates' median wall and
    CPU seconds and peak RSS of each side; ``corr:`` entries hold correlations over the
    seeds (``{"off": r, "on": r}``)."""
    out: dict[str, dict] = {}
    species = [s for s in off[seeds[0]] if s in on[seeds[0]]]
    zs_off, zs_on = [], []
    for code in cities:
        e_off = _col(off, seeds, focus, f"city_{code}_post_err")
        e_on = _col(on, seeds, focus, f"city_{code}_post_err")
        z_off = _col(off, seeds, focus, f"city_{code}_post_z")
        z_on = _col(on, seeds, focus, f"city_{code}_post_z")
        zs_off.append(z_off)
        zs_on.append(z_on)
        out[f"city {code} error"] = paired(e_off, e_on)
        out[f"city {code} |error|"] = paired(np.abs(e_off), np.abs(e_on))
        out[f"city {code} RMS error"] = paired_rms(e_off, e_on)
        out[f"city {code} RMS(error/σ)"] = paired_rms(z_off, z_on)
        bias = _col(off, seeds, focus, "truth_mixing_height_bias")
        out[f"corr: city {code} error vs drawn mixing-height bias"] = {
            "off": _corr(e_off, bias),
            "on": _corr(e_on, bias),
        }
    Zoff, Zon = np.column_stack(zs_off), np.column_stack(zs_on)
    out["cities mean (error/σ)²"] = paired((Zoff**2).mean(axis=1), (Zon**2).mean(axis=1))
    out["cities RMS(error/σ)"] = paired_rms(Zoff, Zon)
    for sp in species:

        def pair(key: str, sp: str = sp) -> dict:
            return paired(_col(off, seeds, sp, key), _col(on, seeds, sp, key))

        hits_off = _col(off, seeds, sp, "cov1_cells_ur20_hits")
        n_off = _col(off, seeds, sp, "n_cells_ur20")
        hits_on = _col(on, seeds, sp, "cov1_cells_ur20_hits")
        n_on = _col(on, seeds, sp, "n_cells_ur20")
        out[f"{sp} 1σ coverage, constrained cells"] = paired(hits_off / n_off, hits_on / n_on)
        out[f"{sp} 1σ coverage, constrained cells"]["pooled_off"] = float(
            np.nansum(hits_off) / np.nansum(n_off)
        )
        out[f"{sp} 1σ coverage, constrained cells"]["pooled_on"] = float(
            np.nansum(hits_on) / np.nansum(n_on)
        )
        out[f"{sp} constrained cells"] = paired(n_off, n_on)
        out[f"{sp} χ²"] = pair("innovation_chi2")
        out[f"{sp} RMSE gain within 30 km"] = pair("own_rmse_reduction_near")
        for band in BANDS:
            out[f"{sp} RMSE gain {band}"] = pair(f"own_rmse_reduction_{band}")
        out[f"{sp} far field change"] = pair("own_rmse_change_far")
        for key, name in (
            ("own_rmse_reduction_far", "far field RMSE gain, cells"),
            ("own_far_block_rmse_reduction_81km", "far field RMSE gain, 81 km blocks"),
            ("own_far_total_rel_error", "far field total, relative error"),
        ):
            if np.isfinite(_col(off, seeds, sp, key)).any():
                out[f"{sp} {name}"] = pair(key)
        out[f"{sp} reduced χ²"] = pair("reduced_chi2")
    for c in CLASSES:
        out[f"χ² class {c}"] = paired(
            _col(off, seeds, focus, f"innovation_chi2_class_{c}"),
            _col(on, seeds, focus, f"innovation_chi2_class_{c}"),
        )
    for name, key, bound, drawn in (
        (
            "θ",
            "estimated_wind_direction_deg",
            "estimated_wind_direction_at_bound",
            "truth_wind_direction_error_deg",
        ),
        (
            "r",
            "estimated_model_error_rel",
            "estimated_model_error_rel_at_bound",
            "truth_mixing_height_bias",
        ),
    ):
        est = _col(on, seeds, focus, key)
        if np.isfinite(est).any():  # errors.transport_error_estimate on the "on" side
            out[f"corr: estimated {name} vs {drawn}"] = {
                "on": _corr(est, _col(on, seeds, focus, drawn)),
                "mean": float(np.nanmean(est)),
                "min": float(np.nanmin(est)),
                "max": float(np.nanmax(est)),
                "at_bound": float(np.nansum(_col(on, seeds, focus, bound))),
            }
    out["cost: a replicate, median (peak RSS: max)"] = {
        f"{name}_{side}": float(agg(_col(rows, seeds, focus, name)))
        for name, agg in (
            ("wall_s", np.nanmedian),
            ("cpu_s", np.nanmedian),
            ("peak_rss_gb", np.nanmax),
        )
        for side, rows in (("off", off), ("on", on))
    }
    delta = _col(on, seeds, focus, "mixing_height_post_mean")
    bias = _col(on, seeds, focus, "truth_mixing_height_bias")
    if np.isfinite(delta).any():
        out["corr: posterior mean δ vs drawn mixing-height bias"] = {
            "on": _corr(delta, bias),
            "mean_delta": float(np.nanmean(delta)),
            "mean_bias": float(np.nanmean(bias)),
            "rms_delta_minus_bias": float(np.sqrt(np.nanmean((delta - bias) ** 2))),
            "rms_bias": float(np.sqrt(np.nanmean(bias**2))),
            "mean_posterior_std": float(
                np.nanmean(_col(on, seeds, focus, "mixing_height_post_std_mean"))
            ),
            "per_seed": [
                {"seed": s, "bias": float(b), "delta": float(d)}
                for s, b, d in zip(seeds, bias, delta, strict=True)
            ],
        }
    return out


def _fmt(name: str, rec: dict) -> str:
    if name.startswith(("corr:", "cost:")):
        return f"{name}: " + ", ".join(
            f"{k} {v:+.3f}" for k, v in rec.items() if isinstance(v, float)
        )
    extra = ""
    if "pooled_off" in rec:
        extra = f"  (pooled {rec['pooled_off']:.3f} -> {rec['pooled_on']:.3f})"
    return (
        f"{name:50s} off {rec['off']:+9.4f}  on {rec['on']:+9.4f}  "
        f"on-off {rec['diff']:+8.4f} [{rec['low']:+.4f}, {rec['high']:+.4f}]  n={rec['n']}{extra}"
    )


def _seeds(text: str | None, off: dict, on: dict) -> list[int]:
    common = sorted(set(off) & set(on))
    if text is None:
        return common
    lo, _, hi = text.partition("-")
    want = range(int(lo), int(hi or lo) + 1)
    return [s for s in want if s in off and s in on]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("off")
    ap.add_argument("on")
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--mode", default="randomised")
    ap.add_argument("--seeds", default=None, help="first-last seed, e.g. 40000-40009")
    ap.add_argument("--off-hash", default=None)
    ap.add_argument("--on-hash", default=None)
    ap.add_argument(
        "--observations",
        default=None,
        help="a satellite run's inversion to compare: surface, column, joint_no2 or joint",
    )
    ap.add_argument("--json", default=None, help="also write the records to this file")
    args = ap.parse_args()
    off = load_rows(args.off, args.month, args.mode, args.off_hash, args.observations)
    on = load_rows(args.on, args.month, args.mode, args.on_hash, args.observations)
    seeds = _seeds(args.seeds, off, on)
    if not seeds:
        raise SystemExit("no seed in both caches")
    print(f"SYNTHETIC: paired over {len(seeds)} seeds {seeds[0]}–{seeds[-1]} (on − off)")
    res = compare(off, on, seeds)
    for name, rec in res.items():
        print(_fmt(name, rec))
    corr = res.get("corr: posterior mean δ vs drawn mixing-height bias")
    if corr:
        for p in corr["per_seed"]:
            print(f"  seed {p['seed']}: drawn bias {p['bias']:+.3f}, posterior δ {p['delta']:+.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=float))


if __name__ == "__main__":
    main()
