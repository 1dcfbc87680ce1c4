"""What the column operator's 150 km truncation leaves out: the prior modelled column
enhancement from sources 150–300 km upwind, per simulated overpass of the default scenario
(SYNTHETIC pixels and clouds of a randomised OSSE replicate; issue 14's frozen column settings)
— the operator's own model at the prior, no truth's emissions and no inversion.

For each used overpass the script builds the column operator twice on the same pixels, with
``columns.truncation_km`` 150 (the default) and 300, both with a 150 km upwind fetch, and
prints per product

* the tail's share of the prior modelled enhancement, ``Σ (H₃₀₀ − H₁₅₀) x_b / Σ H₃₀₀ x_b``;
* what of it the overpass's plane does not take up, in units of the columns' own errors: the
  RMS over superobservations of ``T (H₃₀₀ − H₁₅₀) x_b`` (``T`` the overpass's whitening and
  plane projection, so 1 is one σ of R), beside the same of the enhancement the 150 km operator
  does model, ``T H₁₅₀ x_b``;
* the least-squares scale β of the modelled enhancement that best fits the tail after the
  plane, ``⟨T tail, T H₁₅₀ x_b⟩ / ⟨T H₁₅₀ x_b, T H₁₅₀ x_b⟩``: above 0, the 150 km operator
  takes the missing tail up as emissions raised by about that fraction (what is left over
  lands anywhere the state lets it).

Usage::

    python benchmarks/column_truncation_tail.py [--month 1] [--days 6] [--seed 40002]
        [--long-km 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--days", type=int, default=6, help="days of the month from its first")
    ap.add_argument("--seed", type=int, default=40002, help="the replicate whose pixels are used")
    ap.add_argument("--long-km", type=float, default=300.0, help="the longer truncation, km")
    args = ap.parse_args()
    from column_stage import column_stage, with_column_settings

    from gridcarbon.inversion.columns import ColumnObservations
    from gridcarbon.inversion.osse import replicate_truth

    t0 = time.perf_counter()
    ic, system, simulate = column_stage(
        args.month,
        args.days,
        {
            "satellite": "tropomi_no2+co2m_xco2",
            "satellite_imager_every_days": 1,
            "satellite_min_upwind_fetch_km": 150.0,
        },
    )
    truth, _, _ = replicate_truth(system, ic, "randomised", args.seed, None)
    kinds = [
        k for k in simulate(system, truth, args.seed).kinds if isinstance(k, ColumnObservations)
    ]
    longer = ic.model_copy(
        update={"columns": ic.columns.model_copy(update={"truncation_km": args.long_km})}
    )
    xb = system.layout.xb()
    rows: dict[str, list] = {}
    for short, long in zip(
        with_column_settings(kinds, ic), with_column_settings(kinds, longer), strict=True
    ):
        ms, ml = short.match(system), long.match(system)
        if not ms.blocks:
            continue
        assert np.array_equal(ms.superobs["observed"], ml.superobs["observed"])
        near, full = ms.H @ xb, ml.H @ xb
        tail = full - near
        for (idx, T), (idx_l, _) in zip(ms.blocks, ml.blocks, strict=True):
            assert np.array_equal(idx, idx_l)
            rows.setdefault(short.quantity, []).append(
                (near[idx].sum(), full[idx].sum(), T @ tail[idx], T @ near[idx])
            )
    print(
        f"2023-{args.month:02d}, first {args.days} days, seed {args.seed}'s pixels; "
        f"truncation 150 km against {args.long_km:g} km, upwind fetch 150 km"
    )
    for quantity, got in rows.items():
        near_sum = sum(g[0] for g in got)
        full_sum = sum(g[1] for g in got)
        tw = np.concatenate([g[2] for g in got])
        nw = np.concatenate([g[3] for g in got])
        beta = float(tw @ nw / (nw @ nw))
        print(
            f"  {quantity}: {len(got)} overpasses, {tw.size} rows after the planes; the tail's "
            f"share of the prior enhancement {1 - near_sum / full_sum:.1%}; after the plane, "
            f"RMS of the tail {np.sqrt(np.mean(tw**2)):.2f} σ against {np.sqrt(np.mean(nw**2)):.2f} "
            f"σ of the modelled enhancement; the scale of the enhancement that best fits it "
            f"β = {beta:+.2f}"
        )
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
