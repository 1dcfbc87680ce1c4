"""Diagnosis of the point-dominated station-hours readmitted with the elevated-plume error
(``errors.point_dominated_pairs: elevated_plume``) on one perturbed-transport replicate of the
default January — everything SYNTHETIC.

For the replicate of ``--seed`` (the same truth and observations as ``bench_osse.py``'s replicate
of that seed) it prints: how many hourly pairs and assimilated observations the switch readmits;
for the readmitted CO2 observations the innovation χ², the mean normalised innovation (a bias),
and the transport error actually made (the observations of the same truth with the perturbed
transport minus those with the model's own central transport) against the transport part of R
(quadrature without the rise, and the elevated-plume term); and, per big point source, its
truth factor, prior and posterior factor and posterior σ, with the readmitted observations
within 15 km.

Usage::

    python benchmarks/stacks_in.py [--seed 40000] [--month 1] [--set errors.x=value ...]

Without ``--set`` it runs with ``errors.transport_error_model=quadrature`` and
``errors.point_dominated_pairs=elevated_plume``; ``--set`` settings are added to those.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=40000)
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], metavar="GROUP.NAME=VALUE")
    args = ap.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_osse import perturbed_replicate

    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.observation_types import StationHourObservations
    from gridcarbon.inversion.osse import synthetic_observations

    settings = [
        "errors.transport_error_model=quadrature",
        "errors.point_dominated_pairs=elevated_plume",
        *args.set,
    ]
    config, _, system, truth, obs, seconds = perturbed_replicate(args.month, settings, args.seed)
    cfg = config.inversion
    print(f"settings {settings}; system {seconds:.0f} s", flush=True)
    # the same truth seen through the model's own (central) transport: obs - same = the
    # transport error actually made (plus the difference of two measurement-noise draws)
    same = synthetic_observations(system, truth, np.random.default_rng(args.seed), cfg)
    kind = StationHourObservations(obs)
    match = kind.match(system)
    res = assimilate(system, kind, build_posterior=False)
    print(f"counts {match.counts}; n_observations {len(match.rows)}", flush=True)

    P = system.pairs
    dominated = P["point_share"].to_numpy() > cfg.errors.point_dominance_max
    A = match.aggregation
    rows = match.rows
    readmitted = rows["n_point_dominated"].to_numpy() > 0
    d = (rows["observed"] - rows["prior"]).to_numpy()
    H = kind.jacobian_block(system)
    hbh = system.B.aggregate_var(H)
    r_var = kind.error_variance(system)
    transport_made = A @ (obs["value"].to_numpy() - same["value"].to_numpy())
    # R's transport part of the afternoon means, without and with the elevated-plume term
    elev = A @ np.sqrt(system.elevated_plume_variance)
    spread = A @ system.direction_spread
    for q in rows["species"].unique():
        m = readmitted & (rows["species"] == q).to_numpy()
        if not m.any():
            continue
        s = hbh[m] + r_var[m]
        print(
            f"{q}: {int(m.sum())} readmitted observations ({int((dominated & match.used).sum())} "
            f"point-dominated hours of all quantities); innovation chi2 "
            f"{np.mean(d[m] ** 2 / s):.3f}, mean d/sqrt(HBH+R) {np.mean(d[m] / np.sqrt(s)):+.3f}; "
            f"RMS of: d {np.sqrt(np.mean(d[m] ** 2)):.2f}, sqrt(HBH) "
            f"{np.sqrt(np.mean(hbh[m])):.2f}, sqrt(R) {np.sqrt(np.mean(r_var[m])):.2f}, "
            f"transport error made {np.sqrt(np.mean(transport_made[m] ** 2)):.2f} (mean "
            f"{np.mean(transport_made[m]):+.2f}), R's transport sigma {np.sqrt(np.mean(spread[m] ** 2)):.2f} "
            f"of which elevated plume {np.sqrt(np.mean(elev[m] ** 2)):.2f}",
            flush=True,
        )
        rest = ~readmitted & (rows["species"] == q).to_numpy()
        s = hbh[rest] + r_var[rest]
        print(
            f"{q}: the other {int(rest.sum())} observations: chi2 {np.mean(d[rest] ** 2 / s):.3f}, "
            f"transport error made {np.sqrt(np.mean(transport_made[rest] ** 2)):.2f}, R's "
            f"transport sigma {np.sqrt(np.mean(spread[rest] ** 2)):.2f}",
            flush=True,
        )
    L = system.layout
    si = system.species.index(cfg.state.point_ranking_species)
    ps = L.segments["points"].start + si * L.point_index.size + np.arange(L.point_index.size)
    st = system.stations.set_index("station_id")
    sx = st.loc[rows["station_id"], "x"].to_numpy()
    sy = st.loc[rows["station_id"], "y"].to_numpy()
    print("big point | truth | posterior | posterior sigma (prior sigma) | readmitted obs <= 15 km")
    for j, p in enumerate(L.point_index):
        pt = system.points.iloc[p]
        near = readmitted & (np.hypot(sx - pt["x"], sy - pt["y"]) <= 15e3)
        print(
            f"{pt['point_id']} | {truth.x[ps[j]]:.3f} | {res.x_post[ps[j]]:.3f} | "
            f"{res.post_std[ps[j]]:.3f} ({res.prior_std[ps[j]]:.3f}) | {int(near.sum())}"
        )
    prior_rmse = np.sqrt(np.mean((1 - truth.x[ps]) ** 2))
    post_rmse = np.sqrt(np.mean((res.x_post[ps] - truth.x[ps]) ** 2))
    promised = np.sqrt(np.sum(res.post_std[ps] ** 2) / np.sum(res.prior_std[ps] ** 2))
    print(
        f"big-point factor RMSE prior {prior_rmse:.3f} -> posterior {post_rmse:.3f} "
        f"(ratio {post_rmse / prior_rmse:.3f}; promised by B and R {promised:.3f}); "
        f"reduced chi2 {res.reduced_chi2:.3f}"
    )


if __name__ == "__main__":
    main()
