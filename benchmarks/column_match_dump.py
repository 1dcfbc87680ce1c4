"""Check that a code change leaves the column matches bitwise unchanged: dump the matches (every
numeric superobservation column, H and each overpass's error covariance C) of the first two days
of the randomised OSSE replicate of seed 40000 (SYNTHETIC), both products, with issue 14's frozen
column settings, to an ``.npz``; with ``--compare`` also report the arrays that differ from another
dump (run the script in a checkout of each commit).

Usage::

    python benchmarks/column_match_dump.py OUT.npz [--compare OTHER.npz]
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--compare", help="another dump to compare with, array by array")
    args = ap.parse_args()
    from column_stage import column_stage

    from gridcarbon.inversion.osse import replicate_truth

    ic, system, simulate = column_stage(
        1, 2, {"satellite": "tropomi_no2+co2m_xco2", "satellite_imager_every_days": 1}
    )
    truth, _, _ = replicate_truth(system, ic, "randomised", 40000, None)
    sim = simulate(system, truth, 40000)
    out: dict[str, np.ndarray] = {}
    for kind in sim.kinds:
        m = kind.match(system)
        for c in m.superobs.columns:
            v = m.superobs[c].to_numpy()
            if v.dtype.kind in "fiub":
                out[f"{kind.name}/{c}"] = v
        out[f"{kind.name}/H"] = m.H.toarray()
        for label, C in m.covariance.items():
            out[f"{kind.name}/C/{label}"] = C
    np.savez(args.out, **out)
    print(f"{len(out)} arrays written to {args.out}")
    if args.compare:
        other = np.load(args.compare)
        missing = sorted(set(out) ^ set(other.files))
        differ = [
            k
            for k in out
            if k in other.files and not np.array_equal(out[k], other[k], equal_nan=True)
        ]
        print(
            f"compared with {args.compare}: {len(missing)} arrays in one dump only, {len(differ)} differ: {differ[:10]}"
        )


if __name__ == "__main__":
    main()
