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
(``osse.satellite_amf_error_sigma``; 0: none, the switch of the diagnostic runs),
``--free-troposphere`` their free-tropospheric NO2 column
(``osse.satellite_no2_free_troposphere_mol_m2``).  The sums
and the fit are the inversion's own (``errors.column_amf_error_estimate``,
:mod:`gridcarbon.inversion.column_errors`), pooled over the seeds' overpasses.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--days", type=int, default=31, help="days of the month from its first")
    ap.add_argument("--seeds", type=int, nargs="+", default=[40002, 40003])
    ap.add_argument("--amf-sigma", type=float, default=0.15)
    ap.add_argument(
        "--free-troposphere",
        type=float,
        default=1.2e-5,
        help="the retrievals' free-tropospheric NO2, mol m-2 "
        "(osse.satellite_no2_free_troposphere_mol_m2; 0: none)",
    )
    ap.add_argument("--json", default=None, help="also write the estimates to this file")
    args = ap.parse_args()
    from column_stage import column_stage

    from gridcarbon.inversion.column_errors import estimate_column_amf_errors
    from gridcarbon.inversion.columns import ColumnObservations
    from gridcarbon.inversion.osse import replicate_truth

    osse = {
        "satellite": "tropomi_no2+co2m_xco2",
        "satellite_amf_error_sigma": args.amf_sigma,
        "satellite_no2_free_troposphere_mol_m2": args.free_troposphere,
    }
    ic, system, simulate = column_stage(args.month, args.days, osse)
    kinds: list = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        truth, _, _ = replicate_truth(system, ic, "randomised", seed, None)
        sim = simulate(system, truth, seed)
        for k in sim.kinds:
            if isinstance(k, ColumnObservations):
                k.match(system)
                kinds.append(k)
        print(f"seed {seed}: columns simulated and matched in {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    _, report = estimate_column_amf_errors(system, kinds, system.B)
    print(f"estimate: {time.perf_counter() - t0:.1f} s")
    for product, e in report.items():
        print(
            f"\n{product}, seeds {args.seeds}, the retrievals' AMF error σ {args.amf_sigma:g}, "
            f"free troposphere {args.free_troposphere:g} mol m-2: "
            f"{e['n_superobservations']} superobservations, {e['n_pairs']} pairs"
        )
        if not e["estimated"]:
            print("  too few pairs: not estimated")
            continue
        print(
            "  mean of r_i r_j / (s_i s_j) by separation (r: innovations after the overpass's "
            "plane; s: the configured model's σ)"
        )
        print(f"{'bin':>12} {'pairs':>8} {'innovations':>12} {'configured':>11} {'estimated':>10}")
        labels = ["same point"] + [f"{a:g}–{b:g} km" for a, b in e["bins_km"]]
        for b, lab in enumerate(labels):
            if e["n_in_bins"][b]:
                print(
                    f"{lab:>12} {e['n_in_bins'][b]:>8} {e['innovations'][b]:>12.3f} "
                    f"{e['model_configured'][b]:>11.3f} {e['model_estimated'][b]:>10.3f}"
                )
        print(
            f"  estimate: {e['amf_correlation_shape']} of {e['amf_correlation_km']:g} km, σ "
            f"{e['amf_error_rel']:.3f} of the column{' (at its bound)' if e['amf_error_rel_at_bound'] else ''}; "
            f"configured {e['amf_correlation_shape_configured']} of "
            f"{e['amf_correlation_km_configured']:g} km, σ {e['amf_error_rel_configured']:g}; "
            f"misfit {e['misfit']:.3g} against {e['misfit_configured']:.3g}"
        )
        print(
            "  misfit of each candidate (its σ fitted): "
            + ", ".join(f"{k} {v:.3g}" for k, v in e["misfit_by_candidate"].items())
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"seeds": args.seeds, "amf_sigma": args.amf_sigma, **report}, fh, indent=1)


if __name__ == "__main__":
    main()
