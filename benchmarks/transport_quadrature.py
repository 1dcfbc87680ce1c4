"""The 'quadrature' transport-error model against the default 'stencil' on the default January
(116 stations, CO2 + NOx + VOC; everything SYNTHETIC): time to build the observation system with
each, the distribution of E[H]/H (the expected signal over the transport error / the central
plume's) per observed quantity, and the ratio of the two models' transport terms of R.

Usage (from the repository root)::

    python benchmarks/transport_quadrature.py [--month 1] [--nodes 3] [--solve]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import time

import numpy as np
import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument(
        "--solve",
        action="store_true",
        help="also invert one perturbed-transport observation set with each error model",
    )
    args = ap.parse_args()

    from gridcarbon.config import RunConfig
    from gridcarbon.inversion.system import ObservationSystem, transport_quadrature
    from gridcarbon.pipeline import build_prior, inversion_inputs

    start = dt.date(2023, args.month, 1)
    end = (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
    config = RunConfig.validate_dict({"period": {"start": str(start), "end": str(end)}})
    prior = build_prior(config)
    scenario, _ = inversion_inputs(config, prior, with_observations=False)
    systems = {}
    for model in ("stencil", "quadrature"):
        cfg = config.inversion.model_copy(deep=True)
        cfg.errors.transport_error_model = model
        cfg.errors.quadrature_nodes = args.nodes
        t0 = time.perf_counter()
        systems[model] = ObservationSystem(prior, scenario, cfg)
        print(f"{model}: observation system built in {time.perf_counter() - t0:.1f} s", flush=True)
    e = config.inversion.errors
    z, w = transport_quadrature(args.nodes)
    mixed = float((w * np.exp(-e.model_error_wind_speed_rel * z)).sum()) * float(
        (w * np.exp(-e.model_error_mixing_height_rel * z)).sum()
    )
    print(
        f"well-mixed limit (signal ~ 1/(u zi), log-sd {e.model_error_wind_speed_rel} and "
        f"{e.model_error_mixing_height_rel}): E[H]/H = {mixed:.4f} by the nodes, "
        f"{np.exp((e.model_error_wind_speed_rel**2 + e.model_error_mixing_height_rel**2) / 2):.4f}"
        " closed form"
    )
    quad, stencil = systems["quadrature"], systems["stencil"]
    pairs = quad.pairs.assign(
        ratio=quad.plume_mean_ratio,
        spread_ratio=np.where(
            stencil.direction_spread > 0,
            quad.direction_spread
            / np.where(stencil.direction_spread > 0, stencil.direction_spread, 1),
            np.nan,
        ),
    )
    signal = stencil.enhancement > 0
    print("E[H]/H per observed quantity (pairs with a signal): percentiles 5 / 25 / 50 / 75 / 95")
    for quantity, g in pairs[signal].groupby("obs_species"):
        p = np.percentile(g["ratio"], [5, 25, 50, 75, 95])
        s = np.nanpercentile(g["spread_ratio"], [25, 50, 75])
        print(
            f"  {quantity}: {' / '.join(f'{v:.3f}' for v in p)}; transport sigma quadrature / "
            f"stencil quartiles {' / '.join(f'{v:.2f}' for v in s)} ({len(g)} pairs)"
        )
    if args.solve:
        from gridcarbon.inversion.assimilation import assimilate
        from gridcarbon.inversion.observation_types import StationHourObservations
        from gridcarbon.inversion.osse import synthetic_observation_set

        observations, _ = synthetic_observation_set(stencil, scenario, config.inversion)
        for model, cfg_update in (
            ("stencil", {}),
            ("quadrature", {}),
            ("quadrature + same-day correlation", {"transport_error_correlation": "same_day"}),
        ):
            system = systems["stencil" if model == "stencil" else "quadrature"]
            if cfg_update:
                system.config.errors = system.config.errors.model_copy(update=cfg_update)
            # fresh observation kinds: a kind remembers its match with a system
            kinds = [StationHourObservations(k.table()) for k in observations.kinds]
            t0 = time.perf_counter()
            res = assimilate(system, kinds, build_posterior=False)
            print(
                f"solve with {model}: {time.perf_counter() - t0:.1f} s, reduced chi2 "
                f"{res.reduced_chi2:.3f}, {res.solver.get('iterations')} iterations",
                flush=True,
            )
    weighted = float(
        (pairs["ratio"] * stencil.enhancement)[signal].sum() / stencil.enhancement[signal].sum()
    )
    print(f"signal-weighted E[H]/H over all pairs: {weighted:.4f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


if __name__ == "__main__":
    main()
