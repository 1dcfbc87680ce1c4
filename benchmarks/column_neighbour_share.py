"""How much of the columns' prior modelled enhancement comes from the neighbouring regions'
inflow (the state's ``neighbours`` segment at its prior factors), per simulated overpass of a
randomised OSSE replicate (SYNTHETIC), issue 14's frozen column settings, no inversion: the
part of the columns' world that the simulated satellite files missed before 2026-12-06 (they
were written from the inventory's sources alone, while the stations' truth holds the
neighbours' inflow; :meth:`gridcarbon.inversion.osse.Truth.emissions_at`).

Usage::

    python benchmarks/column_neighbour_share.py [--month 1] [--days 3] [--seed 40002]
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--days", type=int, default=3, help="days of the month from its first")
    ap.add_argument("--seed", type=int, default=40002)
    args = ap.parse_args()
    from column_stage import column_stage

    from gridcarbon.inversion.columns import ColumnObservations
    from gridcarbon.inversion.osse import replicate_truth

    ic, system, simulate = column_stage(
        args.month, args.days, {"satellite": "tropomi_no2+co2m_xco2"}
    )
    truth, _, _ = replicate_truth(system, ic, "randomised", args.seed, None)
    L = system.layout
    sl = L.segments["neighbours"]
    n = len(system.neighbour_used)
    names = [system.neighbour_names[p] for p in system.neighbour_used]
    print(f"neighbouring regions in the state: {names}")
    for si, species in enumerate(system.species):
        factors = truth.x[sl][si * len(L.neighbours) : si * len(L.neighbours) + n]
        print(f"  the truth's factors, {species}: {np.round(factors, 2).tolist()}")
    xb = L.xb()
    only = np.zeros(L.n)
    only[sl] = xb[sl]
    for k in simulate(system, truth, args.seed).kinds:
        if not isinstance(k, ColumnObservations) or not k.match(system).blocks:
            continue
        m = k.match(system)
        total, part = m.H @ xb, m.H @ only
        share = part / np.where(np.abs(total) > 0, total, np.nan)
        print(
            f"{k.name} ({k.unit}): {total.size} superobservations; prior modelled enhancement "
            f"mean {total.mean():.3g}, of it the neighbours' {part.mean():.3g} "
            f"({part.sum() / total.sum():.0%}); above half the enhancement at "
            f"{np.mean(share > 0.5):.0%} of the superobservations"
        )


if __name__ == "__main__":
    main()
