"""How well the wind turn fitted per overpass (``errors.column_wind_direction_fit``) finds the
turn of the truth's winds, in the column twin with transport errors
(``osse.satellite_columns: operator_perturbed``): the column stage of randomised OSSE replicates
(SYNTHETIC), issue 14's frozen column settings plus the columns' wind-speed term and the fit,
no inversion.  For each replicate and product it prints, over the used overpasses, the RMS of
the truth's turn averaged over each overpass's pixels, the RMS of the fitted turn, the RMS of
their difference and their correlation, and the RMS of the truth's turn about each overpass's
mean (what one turn per overpass cannot represent), and over all pixels the RMS of the truth's
turn and of the fitted turn there minus the truth's, also weighted by where the turn changes the
modelled column (``--tile-km``: a turn per tile, the field of
``errors.column_wind_direction_fit_tile_km``).  The truth only scores the fit here.

Usage::

    python benchmarks/column_turn_fit.py [--month 1] [--days 31] [--seeds 40000 40001]
        [--fit-prior pointwise|overpass_mean] [--tile-km 150]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--days", type=int, default=31, help="days of the month from its first")
    ap.add_argument("--seeds", type=int, nargs="+", default=[40000, 40001])
    ap.add_argument(
        "--fit-prior",
        choices=("pointwise", "overpass_mean"),
        default="pointwise",
        help="errors.column_wind_direction_fit_prior",
    )
    ap.add_argument(
        "--tile-km",
        type=float,
        default=None,
        help="errors.column_wind_direction_fit_tile_km (one turn per tile of this side; "
        "default one per overpass)",
    )
    args = ap.parse_args()
    from column_stage import PERTURBED_TWIN, column_stage

    from gridcarbon.inversion.osse import (
        operator_columns,
        replicate_transport_settings,
        replicate_truth,
        turn_fit_summary,
    )

    ic, system, simulate = column_stage(
        args.month,
        args.days,
        PERTURBED_TWIN,
        {
            "column_wind_direction_fit": True,
            "column_wind_direction_fit_prior": args.fit_prior,
            "column_wind_direction_fit_tile_km": args.tile_km,
            "column_wind_speed_error": True,
        },
    )
    for seed in args.seeds:
        t0 = time.perf_counter()
        truth, _, drawn = replicate_truth(system, ic, "randomised", seed, None)
        sim = simulate(system, truth, seed)
        errors = replicate_transport_settings(ic, "randomised", seed)[0]
        tables: dict = {}
        operator_columns(
            system,
            truth,
            sim.kinds,
            np.random.default_rng([seed, 2_000_003]),
            errors,
            np.random.default_rng([seed, 2_000_004]),
            turn_fit=tables,
        )
        print(
            f"seed {seed} (truth's direction error σ {errors.wind_direction_error_deg:.1f}°, "
            f"{time.perf_counter() - t0:.0f} s):"
        )
        figures = turn_fit_summary(tables)
        for name, tab in tables.items():
            key = f"column_turn_fit_{name}"
            print(
                f"  {name} columns: {len(tab)} overpasses; truth's mean turn RMS "
                f"{figures[f'{key}_rms_truth_deg']:.1f}°, fitted RMS "
                f"{figures[f'{key}_rms_fitted_deg']:.1f}°, fitted − truth RMS "
                f"{figures[f'{key}_rms_error_deg']:.1f}°, correlation "
                f"{figures[f'{key}_correlation']:+.2f}; the truth's turn about each "
                f"overpass's mean RMS {figures[f'{key}_within_rms_deg']:.1f}°; over pixels, "
                f"the truth's turn RMS {figures[f'{key}_pixel_rms_truth_deg']:.1f}°, fitted − "
                f"truth RMS {figures[f'{key}_pixel_rms_error_deg']:.1f}°; weighted by "
                f"where the turn matters, {figures[f'{key}_weighted_rms_truth_deg']:.1f}° "
                f"and {figures[f'{key}_weighted_rms_error_deg']:.1f}°"
            )


if __name__ == "__main__":
    main()
