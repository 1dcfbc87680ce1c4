"""What the columns' two wind-speed scales take up in the column twin with transport errors
(``osse.satellite_columns: operator_perturbed``, ``errors.column_wind_speed_error``) —
SYNTHETIC, a diagnostic.

The scales are integrated out of each overpass's R; their posterior per overpass is
``ŝ = σ² Mᵀ Π (y − H x̂)`` (:func:`gridcarbon.inversion.column_fit.transport_scales`), linear in
the residual.  In the twin the residual splits exactly into

* **transport**: the operator's model of the truth's emissions with the replicate's perturbed
  met less the same with the model's own met (what the scales are there for);
* **emissions**: the model of the truth's emissions less the posterior's, ``H x̂`` (what the
  inversion left of the emission error — the scales take it up as well when it looks like an
  overpass-wide urban or rural scale);
* **noise**: a draw of the retrieval, representativeness and air-mass-factor errors,

(the background plane is annihilated by ``Π``), so ``ŝ`` splits into the same three parts.  For
each replicate: the inversion of the stations and the NO2 columns (``joint_no2``; ``--joint``
adds the imager; the frozen configuration's column errors and R tuning), then per product and
scale the RMS over the overpasses of ``ŝ`` and of each part, the correlation of ``ŝ`` with
each part and of the transport part with the emission part (negative where the emissions took
up transport error), and the same split of the prior's emission error (``H x_true − H x_b``:
what the scales would have taken from the prior alone).  The truth enters only through the
split, never into the inversion.

Usage::

    python benchmarks/column_speed_scales.py [--month 1] [--days 15] [--seeds 40000] [--joint]
        [--no-tuning]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

#: The frozen configuration's R tuning: the columns' R scaled by one Desroziers factor per
#: product, the stations' left alone.
FROZEN_TUNING = {
    "innovation_tuning": "desroziers",
    "innovation_column_groups": "product",
    "innovation_tuning_scope": "columns",
}
#: Parts of the residual, in print order.
PARTS = ("transport", "emissions", "noise")


def split_scales(so, residual_parts: dict, covariance: dict, sigma: float) -> dict:
    """Per overpass of one column match: ``ŝ`` of each part of the residual (urban, rural).

    Parameters
    ----------
    so : DataFrame
        The match's superobservations (``overpass``, ``x``, ``y``, ``prior_urban``,
        ``prior_rural``).
    residual_parts : dict
        Part name → ndarray ``(n,)`` over the superobservations.
    covariance : dict
        Overpass label → its C (with the scales' term).
    sigma : float
        The scales' prior 1-σ.

    Returns
    -------
    dict
        Part name → ndarray ``(n_overpasses, 2)``.
    """
    from gridcarbon.inversion.column_fit import TRANSPORT_SCALE_COLUMNS, transport_scales

    labels = so["overpass"].astype(str).to_numpy()
    x, y = so["x"].to_numpy(float), so["y"].to_numpy(float)
    M = so[list(TRANSPORT_SCALE_COLUMNS)].to_numpy(float).T
    out: dict[str, list] = {p: [] for p in residual_parts}
    for label, C in covariance.items():
        idx = np.flatnonzero(labels == label)
        for part, r in residual_parts.items():
            out[part].append(transport_scales(x[idx], y[idx], r[idx], C, M[:, idx], sigma)[0])
    return {p: np.array(v).reshape(-1, 2) for p, v in out.items()}


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if a.size > 2 and a.std() and b.std() else float("nan")


def report(name: str, split: dict, prior_split: dict, fitted: np.ndarray) -> None:
    """Print, per scale, the RMS of ``ŝ`` and of each part, and their correlations; and from
    ``fitted`` (per overpass: ``ŝ``, its posterior σ and the R factor f of each scale, as
    ``overpass_stats.csv`` has them) the data-only consistency ratio ``mean ŝ² / mean(f σ_w² −
    σ²)`` (1 when the scales' prior σ_w fits the data: the spread of the posterior means is the
    prior variance less the posterior's)."""
    total = sum(split[p] for p in PARTS)
    for j, scale in enumerate(("urban", "rural")):
        s_fit, sd_fit, f, prior_var = fitted[:, j], fitted[:, 2 + j], fitted[:, 4], fitted[:, 5]
        ratio = np.mean(s_fit**2) / np.mean(f * prior_var - sd_fit**2)
        print(
            f"    {name} {scale:5s}: from overpass_stats ŝ = the split's to "
            f"{np.abs(s_fit - total[:, j]).max():.1e}; posterior σ {np.sqrt(np.mean(sd_fit**2)):.3f} "
            f"(R factor {f.mean():.2f}); consistency mean ŝ² / mean(f σ_w² − σ²) {ratio:.2f}"
        )
        s = total[:, j]
        parts = "; ".join(
            f"{p} {np.sqrt(np.mean(split[p][:, j] ** 2)):.3f} (r {_corr(s, split[p][:, j]):+.2f})"
            for p in PARTS
        )
        prior = prior_split["emissions"][:, j]
        print(
            f"    {name} {scale:5s} ({s.size} overpasses): RMS ŝ {np.sqrt(np.mean(s**2)):.3f}, "
            f"mean {s.mean():+.3f} = {parts}; r(transport, emissions) "
            f"{_corr(split['transport'][:, j], split['emissions'][:, j]):+.2f}; the prior's "
            f"emission error alone {np.sqrt(np.mean(prior**2)):.3f} (mean {prior.mean():+.3f})"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--days", type=int, default=15, help="days of the month from its first")
    ap.add_argument("--seeds", type=int, nargs="+", default=[40000])
    ap.add_argument(
        "--joint", action="store_true", help="the imager's columns in the inversion too"
    )
    ap.add_argument(
        "--no-tuning", action="store_true", help="without the Desroziers factor on the columns' R"
    )
    args = ap.parse_args()
    import column_stage as stage

    from gridcarbon.inversion import assimilate
    from gridcarbon.inversion.columns import ColumnObservations
    from gridcarbon.inversion.observation_types import StationHourObservations
    from gridcarbon.inversion.osse import replicate_truth
    from gridcarbon.inversion.stage import overpass_r_factors

    ic, system, simulate = stage.column_stage(
        args.month,
        args.days,
        stage.PERTURBED_TWIN,
        {"column_wind_speed_error": True, **({} if args.no_tuning else FROZEN_TUNING)},
    )
    sigma = ic.errors.model_error_wind_speed_rel
    quiet = stage.quiet_errors(ic)
    xb = system.layout.xb()
    pooled: dict[str, dict[str, list]] = {}
    for seed in args.seeds:
        t0 = time.perf_counter()
        truth, obs, _ = replicate_truth(system, ic, "randomised", seed, None)
        sim = simulate(system, truth, seed)
        columns = [k for k in sim.kinds if isinstance(k, ColumnObservations)]
        if not args.joint:
            columns = [k for k in columns if k.quantity == "vertical_column"]
        # the noise's covariance: retrieval, representativeness and air-mass factor only
        parts, _ = stage.twin_error_parts(
            system, ic, truth, stage.with_column_settings(columns, quiet), seed
        )
        assimilated = [
            k.with_observed(system, sum(parts[k.name])) for k in columns if k.name in parts
        ]
        res = assimilate(
            system, [StationHourObservations(obs), *assimilated], build_posterior=False
        )
        print(
            f"seed {seed}: {len(assimilated)} overpasses with columns "
            f"({time.perf_counter() - t0:.0f} s)"
        )
        by_product: dict[str, tuple[dict, dict]] = {}
        for k in assimilated:
            m = k.match(system)
            so = m.superobs
            model, transport, noise = parts[k.name]
            post = so["prior"].to_numpy(float) + m.H @ (res.x_post - xb)
            split = split_scales(
                so,
                {"transport": transport, "emissions": model - post, "noise": noise},
                m.covariance,
                sigma,
            )
            prior_split = split_scales(
                so, {"emissions": model - so["prior"].to_numpy(float)}, m.covariance, sigma
            )
            # the same scales as the inversion's outputs report them, with their σ
            factors = overpass_r_factors(res.obs, k.name)
            _, stats = k.overpass_fit(system, res.x_post - xb, res.covariance, factors)
            fitted = np.column_stack(
                [
                    stats[c].to_numpy(float)
                    for c in (
                        "urban_transport_scale",
                        "rural_transport_scale",
                        "urban_transport_scale_std",
                        "rural_transport_scale_std",
                    )
                ]
                + [
                    np.array([factors.get(str(o), 1.0) for o in stats["overpass"]]),
                    np.full(len(stats), sigma**2),
                ]
            )
            name = k.species.observed_as
            acc, prior_acc = by_product.setdefault(name, ({}, {}))
            for p, v in split.items():
                acc.setdefault(p, []).append(v)
            acc.setdefault("fitted", []).append(fitted)
            prior_acc.setdefault("emissions", []).append(prior_split["emissions"])
        for name, (acc, prior_acc) in sorted(by_product.items()):
            split = {p: np.concatenate(v) for p, v in acc.items()}
            prior_split = {p: np.concatenate(v) for p, v in prior_acc.items()}
            fitted = split.pop("fitted")
            report(name, split, prior_split, fitted)
            into = pooled.setdefault(name, {})
            for p, v in {**split, "prior": prior_split["emissions"], "fitted": fitted}.items():
                into.setdefault(p, []).append(v)
    if len(args.seeds) > 1:
        print(f"pooled over seeds {args.seeds}:")
        for name, acc in sorted(pooled.items()):
            split = {p: np.concatenate(v) for p, v in acc.items()}
            report(name, split, {"emissions": split.pop("prior")}, split.pop("fitted"))


if __name__ == "__main__":
    main()
