"""The spatial correlation of the columns' prior innovations, binned by separation, against the
one their error model predicts, and the air-mass-factor correlation length the innovations
prefer — the method of Hollingsworth & Lönnberg (1986), with the prior's own covariance taken
out — on the simulated retrievals of randomised OSSE replicates (SYNTHETIC), issue 14's frozen
column settings, no inversion.

Per used overpass, the superobservations' innovations ``d = y − H x_b`` lose the overpass's
background plane (generalised least squares under the overpass's own error covariance C, as the
inversion marginalises it: ``r = P d``).  Their covariance, if the error model is right, is
``P (H B Hᵀ + C) Pᵀ`` (B the state's prior covariance, the same the inversion uses).  Pairs of
superobservations of one overpass are binned by separation; each bin's mean of ``r_i r_j``
(normalised by the model's standard deviations) is printed beside the model's.  C's
air-mass-factor term (σ_amf,i σ_amf,j ρ(d), ρ exponential of 50 km,
``columns.ColumnSettings.amf_correlation_km``) is then replaced by candidates — exponential
``exp(−d/L)`` and Gaussian ``exp(−d²/2L²)`` of several L, each with its variance scaled to fit
best — and the best is printed.  Only the innovations and the model's own B and R enter; the
truth makes the simulated retrievals and nothing else.  The prior's own errors are taken as B
says: where the truth's emissions differ from the prior in ways B does not allow, the excess is
read as observation error.

Usage::

    python benchmarks/column_innovation_correlation.py [--month 1] [--days 31]
        [--seeds 40002 40003] [--amf-sigma 0.15]

``--amf-sigma`` is the simulated retrievals' air-mass-factor error
(``osse.satellite_amf_error_sigma``; 0: none, the switch of the diagnostic runs).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

EDGES_KM = np.array([0.0, 15.0, 30.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0])
LENGTHS_KM = (10.0, 25.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0)
FAMILIES = {
    "exponential": lambda d, L: np.exp(-d / L),
    "gaussian": lambda d, L: np.exp(-0.5 * (d / L) ** 2),
}


def overpass_sums(kind, system, B, reference_km: float) -> dict[str, np.ndarray] | None:
    """The binned sums of one column type's used overpasses: the residuals' (``empirical``),
    the model's (``model``), the model's without its air-mass-factor term (``fixed``), the
    prior's part alone (``hbh``) and each candidate AMF term at unit scale
    (``<family>_<L>``); ``counts``."""
    from gridcarbon.inversion.columns import plane_design
    from gridcarbon.inversion.innovations import distance_binned_covariance

    m = kind.match(system)
    if not m.blocks:
        return None
    tab = m.superobs
    edges = EDGES_KM * 1000.0
    sums: dict[str, np.ndarray] = {}

    def add(key: str, Q: np.ndarray, x, y, s) -> np.ndarray:
        b, c = distance_binned_covariance(x, y, Q, s, edges)
        sums[key] = sums.get(key, 0.0) + b
        return c

    counts = 0
    for (idx, _), C in zip(m.blocks, m.covariance.values(), strict=True):
        x = tab["x"].to_numpy(float)[idx]
        y = tab["y"].to_numpy(float)[idx]
        d = (tab["observed"] - tab["prior"]).to_numpy(float)[idx]
        sig = tab["sigma_amf"].to_numpy(float)[idx]
        X = plane_design(x, y)
        Ci_X = np.linalg.solve(C, X)
        P = np.eye(idx.size) - X @ np.linalg.solve(X.T @ Ci_X, Ci_X.T)
        G = B.sqrt_apply(m.H[idx].T.toarray(), transpose=True)
        hbh = P @ (G.T @ G) @ P.T
        dist = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]) / 1000.0
        amf = np.outer(sig, sig) * np.exp(-dist / reference_km)
        model = hbh + P @ C @ P.T
        s = np.sqrt(np.diag(model))
        r = P @ d
        counts = counts + add("empirical", np.outer(r, r), x, y, s)
        add("model", model, x, y, s)
        add("hbh", hbh, x, y, s)
        add("fixed", model - P @ amf @ P.T, x, y, s)
        if np.any(sig > 0):
            for family, rho in FAMILIES.items():
                for L in LENGTHS_KM:
                    add(f"{family}_{L:g}", P @ (np.outer(sig, sig) * rho(dist, L)) @ P.T, x, y, s)
    sums["counts"] = counts
    return sums


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--days", type=int, default=31, help="days of the month from its first")
    ap.add_argument("--seeds", type=int, nargs="+", default=[40002, 40003])
    ap.add_argument("--amf-sigma", type=float, default=0.15)
    ap.add_argument("--json", default=None, help="also write the binned sums to this file")
    args = ap.parse_args()
    from column_stage import column_stage

    from gridcarbon.inversion.innovations import fit_correlation_length
    from gridcarbon.inversion.osse import replicate_truth

    osse = {"satellite": "tropomi_no2+co2m_xco2", "satellite_amf_error_sigma": args.amf_sigma}
    ic, system, simulate = column_stage(args.month, args.days, osse)
    reference_km = 50.0
    total: dict[str, dict[str, np.ndarray]] = {}
    for seed in args.seeds:
        t0 = time.perf_counter()
        truth, _, _ = replicate_truth(system, ic, "randomised", seed, None)
        sim = simulate(system, truth, seed)
        for kind in sim.kinds:
            reference_km = kind.settings.amf_correlation_km
            sums = overpass_sums(kind, system, system.B, reference_km)
            if sums is None:
                continue
            name = kind.pixels.product
            acc = total.setdefault(name, {})
            for key, v in sums.items():
                acc[key] = acc.get(key, 0) + v
        print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    labels = ["same point"] + [
        f"{a:g}–{b:g} km" for a, b in zip(EDGES_KM[:-1], EDGES_KM[1:], strict=True)
    ]
    out = {}
    for name, acc in total.items():
        c = acc["counts"]
        mean = {k: np.where(c > 0, v / np.maximum(c, 1), np.nan) for k, v in acc.items()}
        print(
            f"\n{name}, seeds {args.seeds}, AMF error of the retrievals σ {args.amf_sigma:g}: "
            "mean of r_i r_j / (s_i s_j) by separation (s: the model's σ after the plane)"
        )
        print(f"{'bin':>12} {'pairs':>8} {'innovations':>12} {'model':>8} {'of it H B Hᵀ':>13}")
        for b, lab in enumerate(labels):
            print(
                f"{lab:>12} {int(c[b]):>8} {mean['empirical'][b]:>12.3f} "
                f"{mean['model'][b]:>8.3f} {mean['hbh'][b]:>13.3f}"
            )
        fits = {}
        for family in FAMILIES:
            cands = {L: acc[f"{family}_{L:g}"] for L in LENGTHS_KM if f"{family}_{L:g}" in acc}
            if not cands:
                continue
            fits[family] = fit_correlation_length(acc["empirical"], acc["fixed"], cands, c)
            f = fits[family]
            row = ", ".join(
                f"{L:g} km {f[f'misfit_{L:g}']:.3g} (×{f[f'scale_{L:g}']:.2f})" for L in cands
            )
            ref = f[f"misfit_{reference_km:g}"] if f"misfit_{reference_km:g}" in f else np.nan
            print(
                f"  AMF term {family}: best L {f['length']:g} km, its variance × "
                f"{f['scale']:.2f}, misfit {f['misfit']:.3g} (the model's {reference_km:g} km "
                f"exponential at × 1: see 'model'; {family} {reference_km:g} km fitted: "
                f"{ref:.3g}); every L: {row}"
            )
        out[name] = {
            "bins": labels,
            "counts": c.tolist(),
            "mean": {k: v.tolist() for k, v in mean.items() if k != "counts"},
            "fits": fits,
        }
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"seeds": args.seeds, "amf_sigma": args.amf_sigma, **out}, fh, indent=1)


if __name__ == "__main__":
    main()
