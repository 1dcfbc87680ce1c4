"""Diagnose a perturbed-transport OSSE replicate by replicate — SYNTHETIC.

Prints, per replicate, one JSON line: reduced χ², the RMSE reduction near stations and the change
far from them per species (and the RMSE reduction of the area-source cells by distance to the
nearest station: 0-5, 5-10, 10-20, 20-30 km), the big-point factor RMSE (prior, posterior), and the Hangzhou and
Ningbo CO2 errors (prior, posterior) for the totals and for their area sources alone.  Used for
the diagnosis and the ablations in docs/inversion.md ("The change of 2026-11-30").

Usage:
    python benchmarks/osse_diagnosis.py [--replicates 3] [--month 1] [--mode perturbed] [--set JSON]

``--set`` updates the inversion config, e.g. ``'{"transport": {"point_plume_direction_sd_deg": 0}}'`` (narrow
point plumes, the earlier default) or ``'{"osse": {"mixing_height_bias": 0.0}}'``.  Replicate i
uses seed ``osse.seed + i`` as in ``bench_osse.py``, so the first replicates are the same.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import json

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=3)
    ap.add_argument("--month", type=int, default=1, help="month of 2023")
    ap.add_argument("--set", default="{}", help="JSON updates of the inversion config")
    ap.add_argument(
        "--mode",
        choices=["perturbed", "randomised", "identical"],
        default="perturbed",
        help="perturbed transport (default), the randomised-error OSSE or the identical twin",
    )
    args = ap.parse_args()

    from gridcarbon.config import RunConfig
    from gridcarbon.config.inversion import InversionConfig
    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.osse import (
        area_sector_shares,
        city_matrix,
        replicate_truth,
        score_replicate,
        station_distance_km,
    )
    from gridcarbon.inversion.posterior import cell_period_stats
    from gridcarbon.inversion.system import ObservationSystem
    from gridcarbon.pipeline import build_prior, inversion_inputs

    last = calendar.monthrange(2023, args.month)[1]
    config = RunConfig.validate_dict(
        {
            **RunConfig().model_dump(),
            "period": {
                "start": dt.date(2023, args.month, 1),
                "end": dt.date(2023, args.month, last),
            },
        }
    )
    ic = InversionConfig.model_validate(
        _merged(config.inversion.model_dump(), json.loads(args.set))
    )

    prior = build_prior(config)
    scenario, _ = inversion_inputs(config, prior, with_observations=False)
    system = ObservationSystem(prior, scenario, ic)
    shares = area_sector_shares(scenario.inventory, system)
    dist = station_distance_km(system)
    near = dist <= ic.osse.station_radius_km
    codes = list(scenario.cities) if ic.osse.cities is None else ic.osse.cities
    cities = city_matrix(system, scenario.boundaries["city"], codes)
    si = system.species.index("CO2")
    print(
        json.dumps(
            {
                "note": "SYNTHETIC OSSE diagnosis",
                "month": args.month,
                "mode": args.mode,
                "set": json.loads(args.set),
                "point_dominated_pairs": int((system.pairs["point_share"] > 0.5).sum()),
            }
        ),
        flush=True,
    )
    for i in range(args.replicates):
        truth, obs, drawn = replicate_truth(system, ic, args.mode, ic.osse.seed + i, shares)
        res = assimilate(system, obs, build_posterior=False)
        line: dict = {"replicate": i, "seed": ic.osse.seed + i, "reduced_chi2": res.reduced_chi2}
        line.update(drawn)
        for r in score_replicate(system, truth, res, ic, near, cities, codes, "", dist):
            s = r["species"]
            line[f"{s}_rmse_reduction_near"] = r["rmse_reduction_near"]
            line[f"{s}_expected_rmse_reduction_near"] = r["expected_rmse_reduction_near"]
            line[f"{s}_rmse_reduction_by_distance"] = {
                k[len("rmse_reduction_") :]: v
                for k, v in r.items()
                if k.startswith("rmse_reduction_") and k.endswith("km")
            }
            line[f"{s}_rmse_change_far"] = r["rmse_change_far"]
            line[f"{s}_point_factor_rmse"] = [
                r["point_factor_rmse_prior"],
                r["point_factor_rmse_post"],
            ]
            if s == "CO2":
                for c in codes:
                    line[f"city_{c}_err"] = [r[f"city_{c}_prior_err"], r[f"city_{c}_post_err"]]
        st = cell_period_stats(system, res.covariance, res.x_post, si, include_points=False)
        tt = truth.cell_totals(system, si, include_points=False)
        for k, c in enumerate(codes):
            w = np.asarray(cities[k].todense()).ravel()
            line[f"city_{c}_area_err"] = [
                float(w @ st["prior"]) / float(w @ tt) - 1,
                float(w @ st["posterior"]) / float(w @ tt) - 1,
            ]
        tsl = system.layout.segments["transport"]
        if tsl.stop > tsl.start:  # posterior mixing-height scale (truth: osse.mixing_height_bias)
            line["mixing_height_scale_mean"] = float(res.x_post[tsl].mean())
        print(json.dumps(line, default=float), flush=True)


def _merged(base: dict, updates: dict) -> dict:
    """``base`` with ``updates`` applied section by section."""
    out = dict(base)
    for key, value in updates.items():
        out[key] = (
            _merged(base[key], value)
            if isinstance(value, dict) and isinstance(base.get(key), dict)
            else value
        )
    return out


if __name__ == "__main__":
    main()
