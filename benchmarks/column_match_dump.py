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
    from gridcarbon.config import RunConfig
    from gridcarbon.inversion.osse import replicate_truth
    from gridcarbon.inversion.system import ObservationSystem
    from gridcarbon.pipeline import build_prior, inversion_inputs, osse_column_simulator

    config = RunConfig.validate_dict(
        {
            "period": {"start": "2023-01-01", "end": "2023-01-02"},
            "inversion": {
                "osse": {"satellite": "tropomi_no2+co2m_xco2", "satellite_imager_every_days": 1},
                "state": {"mixing_height_unknowns": True},
                "errors": {
                    "column_wind_direction_error": True,
                    "column_mixing_height_error": True,
                    "column_auxiliary_sampling": "coarse",
                },
            },
        }
    )
    prior = build_prior(config)
    scenario, _ = inversion_inputs(config, prior, with_observations=False)
    ic = config.inversion
    system = ObservationSystem(prior, scenario, ic)
    truth, _, _ = replicate_truth(system, ic, "randomised", 40000, None)
    sim = osse_column_simulator(scenario, ic)(system, truth, 40000)
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
