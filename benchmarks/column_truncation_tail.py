"""What an approximation of the column operator leaves out, per simulated overpass of the
default scenario (SYNTHETIC pixels and clouds of a randomised OSSE replicate; issue 14's frozen
column settings) — the operator's own model at the prior, no truth's emissions and no
inversion.  Two approximations (``--against``):

* ``truncation`` (the default): the 150 km truncation — the prior modelled column enhancement
  from sources 150–``--long-km`` km upwind (``columns.truncation_km`` 150 against 300, both
  with a 150 km upwind fetch);
* ``instant-conversion``: the NO2/NOx ramp of the plumes' first hour — the chemistry's ramp
  from the primary fraction (0.1) to the photostationary one (0.75) with an e-folding time of
  ``chemistry.no2_conversion_time_h`` (0.5 h), against the photostationary fraction from
  the source on (NO titrated by ozone within minutes, the constant NOx/NO2 of the TROPOMI
  source studies: Beirle et al. 2019 use 1.32).  NO2 only;
* ``lifetime``: the NOx lifetime by day (``chemistry.nox_lifetime_day_h``, 4 h) against
  ``--lifetime-factor`` times it.  NO2 only.

``--no2-conversion`` sets ``inversion.columns.no2_conversion`` of both operators.

For each used overpass the script builds the column operator twice on the same pixels, the
default and the alternative, and prints per product, calling "the tail" the alternative's
prior modelled enhancement less the default's (``H₃₀₀`` and ``H₁₅₀`` below)

* the tail's share of the prior modelled enhancement, ``Σ (H₃₀₀ − H₁₅₀) x_b / Σ H₃₀₀ x_b``;
* what of it the overpass's plane does not take up, in units of the columns' own errors: the
  RMS over superobservations of ``T (H₃₀₀ − H₁₅₀) x_b`` (``T`` the overpass's whitening and
  plane projection, so 1 is one σ of R), beside the same of the enhancement the 150 km operator
  does model, ``T H₁₅₀ x_b``;
* the least-squares scale β of the modelled enhancement that best fits the tail after the
  plane, ``⟨T tail, T H₁₅₀ x_b⟩ / ⟨T H₁₅₀ x_b, T H₁₅₀ x_b⟩``: above 0, the 150 km operator
  takes the missing tail up as emissions raised by about that fraction (what is left over
  lands anywhere the state lets it);
* what the simulated files ask for, from their innovations alone (``d = y − H₁₅₀ x_b``, no
  truth): the least-squares fit of ``T d`` by ``a T H x_b + b T tail``: ``b`` near 1 says
  the files hold the difference, near 0 that they do not (``a`` is the emissions' scale,
  which the truth's factors set) — the fit of the run's own checks
  (``inversion.columns.no2_conversion_check``, ``truncation_check_km``;
  ``gridcarbon.inversion.column_fit.innovation_evidence``), with its interval and verdict.

Usage::

    python benchmarks/column_truncation_tail.py [--month 1] [--days 6] [--seed 40002]
        [--against truncation|instant-conversion|lifetime] [--long-km 300]
        [--lifetime-factor 0.5] [--no2-conversion ramp|photostationary]
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
    ap.add_argument(
        "--against",
        choices=("truncation", "instant-conversion", "lifetime"),
        default="truncation",
        help="the approximation to measure (see the module docstring)",
    )
    ap.add_argument(
        "--lifetime-factor",
        type=float,
        default=0.5,
        help="--against lifetime: the other lifetime, a factor of the chemistry's by day",
    )
    ap.add_argument(
        "--no2-conversion",
        choices=("ramp", "photostationary"),
        default="ramp",
        help="inversion.columns.no2_conversion of both operators",
    )
    args = ap.parse_args()
    import dataclasses

    from column_stage import column_stage, with_column_settings, with_settings

    from gridcarbon.inversion.column_fit import innovation_evidence
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
    ic = ic.model_copy(
        update={"columns": ic.columns.model_copy(update={"no2_conversion": args.no2_conversion})}
    )
    default_kinds = with_column_settings(kinds, ic)

    def replaced(**settings):
        return [
            with_settings(k, dataclasses.replace(k.settings, **settings)) for k in default_kinds
        ]

    if args.against == "truncation":
        longer = ic.model_copy(
            update={"columns": ic.columns.model_copy(update={"truncation_km": args.long_km})}
        )
        alternative_kinds = with_column_settings(kinds, longer)
        what = f"truncation 150 km against {args.long_km:g} km, upwind fetch 150 km"
    elif args.against == "instant-conversion":
        equilibrium = ic.chemistry.no2_equilibrium_fraction
        default_kinds = [k for k in default_kinds if k.quantity == "vertical_column"]
        alternative_kinds = replaced(no2_ratio=equilibrium)
        what = (
            f"the NO2/NOx ramp ({ic.chemistry.no2_primary_fraction:g} -> {equilibrium:g}, "
            f"{ic.chemistry.no2_conversion_time_h:g} h) against {equilibrium:g} from the source"
        )
    else:
        tau = ic.chemistry.nox_lifetime_day_h
        default_kinds = [k for k in default_kinds if k.quantity == "vertical_column"]
        alternative_kinds = replaced(lifetime_h=tau * args.lifetime_factor)
        what = (
            f"the NOx lifetime {tau:g} h against {tau * args.lifetime_factor:g} h, "
            f"NO2/NOx {args.no2_conversion}"
        )
    xb = system.layout.xb()
    rows: dict[str, list] = {}
    for short, long in zip(default_kinds, alternative_kinds, strict=True):
        ms, ml = short.match(system), long.match(system)
        if not ms.blocks:
            continue
        assert np.array_equal(ms.superobs["observed"], ml.superobs["observed"])
        near, full = ms.H @ xb, ml.H @ xb
        tail = full - near
        innovation = ms.superobs["observed"].to_numpy(float) - ms.superobs["prior"].to_numpy(float)
        for (idx, T), (idx_l, _) in zip(ms.blocks, ml.blocks, strict=True):
            assert np.array_equal(idx, idx_l)
            rows.setdefault(short.quantity, []).append(
                (
                    near[idx].sum(),
                    full[idx].sum(),
                    T @ tail[idx],
                    T @ near[idx],
                    T @ innovation[idx],
                )
            )
    print(f"2023-{args.month:02d}, first {args.days} days, seed {args.seed}'s pixels; {what}")
    for quantity, got in rows.items():
        near_sum = sum(g[0] for g in got)
        full_sum = sum(g[1] for g in got)
        tw = np.concatenate([g[2] for g in got])
        nw = np.concatenate([g[3] for g in got])
        beta = float(tw @ nw / (nw @ nw))
        dw = np.concatenate([g[4] for g in got])
        overpass = np.concatenate([np.full(g[2].size, i) for i, g in enumerate(got)])
        fit = innovation_evidence(nw, tw, dw, overpass)
        files = (
            "not defined"
            if fit is None
            else f"a = {fit['a']:+.2f} ± {fit['a_se']:.2f}, b = {fit['b']:+.2f} "
            f"[{fit['b_low']:+.2f}, {fit['b_high']:+.2f}], verdict {fit['verdict']}"
        )
        print(
            f"  {quantity}: {len(got)} overpasses, {tw.size} rows after the planes; the tail's "
            f"share of the prior enhancement {1 - near_sum / full_sum:.1%}; after the plane, "
            f"RMS of the tail {np.sqrt(np.mean(tw**2)):.2f} σ against {np.sqrt(np.mean(nw**2)):.2f} "
            f"σ of the modelled enhancement; the scale of the enhancement that best fits it "
            f"β = {beta:+.2f}; the files' innovations fitted as a·enhancement + b·difference "
            f"(standard errors robust by overpass, 95 % interval of b): {files}"
        )
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
