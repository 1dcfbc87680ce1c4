"""What the city totals' posterior errors of a randomised-error OSSE depend on — SYNTHETIC.

Reads the replicate rows of one ``bench_osse.py`` cache (month, mode ``randomised``) and
regresses, per city, the posterior error of the focus species' city total (relative to the
truth) on what each replicate drew:

    post_err = a + b·prior_err + c·mh_bias + d·(dir_err − 25°)/10° + e·(speed_err − 0.225)/0.1

with ``prior_err`` the prior's error of the same total, ``mh_bias`` the truth's mixing-height
bias, ``dir_err`` and ``speed_err`` the 1σ of the truth's wind-direction and speed errors (the
randomised OSSE draws them from U(−0.3, 0.3), U(15°, 35°) and U(0.10, 0.35)).  The intercept
``a`` is the city's error at no prior error, no mixing-height bias and the middle of the drawn
wind errors: a part of the error that none of the drawn quantities explains, i.e. a difference
of the truth's and the model's physics that every replicate shares.  Coefficients carry a
percentile-bootstrap 95 % interval over the replicates (10,000 resamples, fixed seed); the
script also prints the correlation of the error with each draw and the mean posterior σ of
the total next to the RMS error.  Nothing here is tuned on: it reads the OSSE's truth to
explain its scores.

Usage:
    python benchmarks/osse_city_errors.py CACHE_DIR [--month 1] [--species CO2] [--hash H]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from osse_paired import N_RESAMPLES, load_rows  # noqa: E402

from gridcarbon.inversion.scores import percentile_bootstrap  # noqa: E402

#: The draws of the randomised OSSE in a replicate row, with the centre and unit of each
#: regressor.
DRAWS = (
    ("mh_bias", "truth_mixing_height_bias", 0.0, 1.0),
    ("dir_err per 10°", "truth_wind_direction_error_deg", 25.0, 10.0),
    ("speed_err per 0.1", "truth_wind_speed_error", 0.225, 0.1),
)


def city_regression(
    rows: dict[int, dict[str, dict]], species: str, code: str, seed: int = 0
) -> dict[str, object]:
    """The regression of one city's posterior error on its prior error and the draws.

    Parameters
    ----------
    rows : ``{seed: {species: row}}`` of :func:`osse_paired.load_rows`.
    species : the species of the city totals.
    code : the city's code (``city_<code>_post_err`` in the rows).
    seed : seed of the bootstrap's generator.

    Returns
    -------
    dict with ``n``, ``names``, ``coef`` and ``low``/``high`` (95 % intervals), ``r2``,
    ``correlations`` (of the error with each regressor), ``rms_error`` and
    ``mean_post_std_rel``.
    """
    recs = [r[species] for _, r in sorted(rows.items()) if species in r]
    y = np.array([r[f"city_{code}_post_err"] for r in recs], float)
    columns = [np.array([r[f"city_{code}_prior_err"] for r in recs], float)]
    names = ["intercept", "prior_err"]
    for name, key, centre, unit in DRAWS:
        columns.append((np.array([r[key] for r in recs], float) - centre) / unit)
        names.append(name)
    X = np.column_stack([np.ones(y.size), *columns])
    ok = np.isfinite(X).all(axis=1) & np.isfinite(y)
    X, y = X[ok], y[ok]
    coef = np.linalg.lstsq(X, y, rcond=None)[0]
    data = np.column_stack([y, X])

    def fit(batch: np.ndarray) -> np.ndarray:  # (B, n, 1 + k) → coefficients (B, k)
        return np.stack([np.linalg.lstsq(b[:, 1:], b[:, 0], rcond=None)[0] for b in batch])

    rng = np.random.default_rng(seed)
    boot = fit(data[rng.integers(0, y.size, size=(N_RESAMPLES, y.size))])
    low, high = np.percentile(boot, [2.5, 97.5], axis=0)
    resid = y - X @ coef
    std_rel = np.array([r[f"city_{code}_post_std_rel"] for r in recs], float)[ok]
    return {
        "n": int(y.size),
        "names": names,
        "coef": coef,
        "low": low,
        "high": high,
        "r2": float(1.0 - (resid**2).sum() / ((y - y.mean()) ** 2).sum()),
        "correlations": {n: float(np.corrcoef(X[:, i], y)[0, 1]) for i, n in enumerate(names) if i},
        "mean_error": percentile_bootstrap(y, n_resamples=N_RESAMPLES, seed=seed),
        "rms_error": float(np.sqrt((y**2).mean())),
        "mean_post_std_rel": float(std_rel.mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cache", help="a bench_osse.py --out folder or its osse_replicates.jsonl")
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--species", default="CO2", help="species of the city totals")
    ap.add_argument("--hash", default=None, help="configuration hash, if the cache holds several")
    args = ap.parse_args()
    rows = load_rows(args.cache, args.month, "randomised", args.hash)
    if not rows:
        raise SystemExit(f"{args.cache}: no randomised replicates of month {args.month}")
    first = next(iter(rows.values())).get(args.species, {})
    codes = sorted(k[5:-9] for k in first if k.startswith("city_") and k.endswith("_post_err"))
    print(f"2023-{args.month:02d}, {len(rows)} replicates, {args.species} city totals (SYNTHETIC)")
    for code in codes:
        r = city_regression(rows, args.species, code)
        e, lo, hi = r["mean_error"]
        print(
            f"-- city {code}: mean error {e:+.3f} [{lo:+.3f}, {hi:+.3f}], RMS error "
            f"{r['rms_error']:.3f}, mean posterior σ {r['mean_post_std_rel']:.3f}, "
            f"R² {r['r2']:.2f} (n = {r['n']})"
        )
        for name, c, a, b in zip(r["names"], r["coef"], r["low"], r["high"], strict=True):
            corr = r["correlations"].get(name)
            extra = "" if corr is None else f" | corr {corr:+.2f}"
            print(f"{name} | {c:+.3f} [{a:+.3f}, {b:+.3f}]{extra}")


if __name__ == "__main__":
    main()
