"""Which form of the columns' wind-speed term describes the transport error of the column twin
(``osse.satellite_columns: operator_perturbed``) best — SYNTHETIC, a diagnostic.

For each randomised replicate (January by default) the column stage alone, no inversion:
the realised transport error of every superobservation, ``e`` = the operator's model of the
truth's emissions with the replicate's perturbed met (direction, speed, mixing height,
lifetime, as the twin draws them) − the same with the model's own met, plus a draw of the
retrieval, representativeness and air-mass-factor errors (fixed seed, the same for every
form); then, for each form of the speed term, the overpasses' error covariance C of issue
14's frozen column settings (direction and mixing-height terms in R, coarse auxiliary
operators) with that speed term, and over the used overpasses the Gaussian log-likelihood of
``e`` with the background plane integrated out (restricted likelihood: ``−½ (eᵀ Π e + log
det C + log det XᵀC⁻¹X + (n − 3) log 2π)``, ``Π`` the plane-projected precision) and its
χ² per degree of freedom ``eᵀ Π e / (n − 3)``.  A higher likelihood is the better description
of the error; the truth enters only through ``e``.

Forms: ``none`` (no speed term), ``scales`` (``errors.column_wind_speed_error``: two scales
per overpass, urban and rural), ``nodes_tapered`` and ``nodes_overpass``
(``errors.column_wind_speed_shape`` with ``column_wind_speed_shape_correlation``).

Usage::

    python benchmarks/column_speed_term.py [--month 1] [--days 31] [--seeds 40000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

#: The forms of the speed term, as ``inversion.errors`` updates.
FORMS = {
    "none": {"column_wind_speed_error": False},
    "scales": {"column_wind_speed_error": True},
    "nodes_tapered": {"column_wind_speed_error": True, "column_wind_speed_shape": True},
    "nodes_overpass": {
        "column_wind_speed_error": True,
        "column_wind_speed_shape": True,
        "column_wind_speed_shape_correlation": "overpass",
    },
}


def restricted_scores(e: np.ndarray, C: np.ndarray, X: np.ndarray) -> tuple[float, float, int]:
    """Log-likelihood of ``e`` under ``N(Xβ, C)`` with β integrated out (flat prior), its
    ``eᵀ Π e`` and degrees of freedom ``n − rank X``."""
    L = np.linalg.cholesky(C)
    Li_e = np.linalg.solve(L, e)
    Li_X = np.linalg.solve(L, X)
    Q, R = np.linalg.qr(Li_X)
    r = Li_e - Q @ (Q.T @ Li_e)
    quad = float(r @ r)
    dof = e.size - X.shape[1]
    logdet = 2.0 * np.log(np.diag(L)).sum() + 2.0 * np.log(np.abs(np.diag(R))).sum()
    return -0.5 * (quad + logdet + dof * np.log(2.0 * np.pi)), quad, dof


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--days", type=int, default=31, help="days of the month from its first")
    ap.add_argument("--seeds", type=int, nargs="+", default=[40000])
    args = ap.parse_args()
    import column_stage as stage

    from gridcarbon.inversion.columns import plane_design
    from gridcarbon.inversion.osse import replicate_truth

    ic, system, simulate = stage.column_stage(args.month, args.days, stage.PERTURBED_TWIN)
    quiet = stage.quiet_errors(ic)
    for seed in args.seeds:
        t0 = time.perf_counter()
        truth, _, _ = replicate_truth(system, ic, "randomised", seed, None)
        sim = simulate(system, truth, seed)
        base = stage.with_column_settings(sim.kinds, quiet)
        parts, errors = stage.twin_error_parts(system, ic, truth, base, seed)
        residual = {name: transport + noise for name, (_, transport, noise) in parts.items()}
        print(
            f"seed {seed} (truth's direction error σ {errors.wind_direction_error_deg:.1f}°, "
            f"speed {errors.wind_speed_error:.2f}, mixing-height bias "
            f"{errors.mixing_height_bias:+.2f}; {time.perf_counter() - t0:.0f} s)"
        )
        for form, update in FORMS.items():
            t1 = time.perf_counter()
            inversion = ic.model_copy(update={"errors": ic.errors.model_copy(update=update)})
            totals: dict[str, list[float]] = {}
            for k in stage.with_column_settings(sim.kinds, inversion):
                if k.name not in residual:
                    continue
                m = k.match(system)
                so = m.superobs
                part = totals.setdefault(k.species.observed_as, [0.0, 0.0, 0, 0])
                for (idx, _), C in zip(m.blocks, m.covariance.values(), strict=True):
                    X = plane_design(so["x"].to_numpy(float)[idx], so["y"].to_numpy(float)[idx])
                    ll, quad, dof = restricted_scores(residual[k.name][idx], C, X)
                    part[0] += ll
                    part[1] += quad
                    part[2] += dof
                    part[3] += 1
            text = "; ".join(
                f"{name} ({n} overpasses): log-likelihood {ll:,.1f}, χ²/dof {quad / dof:.3f}"
                for name, (ll, quad, dof, n) in sorted(totals.items())
            )
            print(f"  {form:15s} {text}  [{time.perf_counter() - t1:.0f} s]")


if __name__ == "__main__":
    main()
