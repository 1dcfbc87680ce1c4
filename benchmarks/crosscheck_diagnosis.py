"""Why the cross-check's prior-as-reported test raises false alarms with the CG/Lanczos posterior.

The test ``z = (x̂ − x_b)/√(σ_b² − σ_post²)`` (the prior is the reported figure) assumes the
exact posterior σ: under the linear-Gaussian inversion the increment ``x̂ − x_b`` then has
variance ``σ_b² − σ_post²``.  The default problem's solver approximates σ_post from a truncated
Lanczos basis, which captures only part of the variance reduction: σ_post comes out too large,
``σ_b² − σ_post²`` too small and z too wide.

This script runs an identical-twin OSSE in which **every** stack reports honestly (the truth is
drawn from the prior; no misreport is planted), so every flag is a false alarm, and inverts each
replicate's observations twice, with the exact (dense) solver and with CG + Lanczos truncated at
``--lanczos-vectors``.  For the stacks with their own unknowns it prints, per solver and per
combination of the estimate x̂ and the σ_post used in z:

* the standard deviation of z over honest stack-replicates (1 for a calibrated test);
* the share with |z| > 1.96 (nominal 5 %) and the Benjamini–Hochberg false-alarm rate at q 0.05;
* the median ratio of the increment variance ``σ_b² − σ_post²`` from the Lanczos σ to the exact
  one (< 1: the Lanczos σ_post misses variance reduction);
* the same for the conservative test ``z = (x̂ − x_b)/σ_b`` that the cross-check uses when the
  posterior σ is approximate.

Nothing here is tuned on the synthetic truth: the truth only provides honest reports to count
false alarms on.

Usage: python benchmarks/crosscheck_diagnosis.py [--config coarse|default] [--replicates 20]
       [--lanczos-vectors 20 100]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd
from scipy import stats


def _config(name: str):
    from gridcarbon.config import RunConfig

    if name == "default":
        return RunConfig()
    return RunConfig.validate_dict(
        {
            "grid": {"cell_size_m": 30000.0},
            "period": {"start": dt.date(2023, 1, 10), "end": dt.date(2023, 1, 16)},
        }
    )


def _z(post, post_std, prior, prior_std):
    with np.errstate(invalid="ignore", divide="ignore"):
        return (post - prior) / np.sqrt(prior_std**2 - post_std**2)


def _summary(z: np.ndarray, replicate: np.ndarray) -> dict[str, float]:
    from gridcarbon.synergy.cocontrol import benjamini_hochberg

    ok = np.isfinite(z)
    p = 2.0 * stats.norm.sf(np.abs(z))
    flags = 0
    for r in np.unique(replicate):  # BH across the stacks of one cross-check, as the CLI does
        sel = (replicate == r) & ok
        flags += int((benjamini_hochberg(p[sel]) <= 0.05).sum())
    return {
        "n": int(ok.sum()),
        "sd_z": float(np.std(z[ok])),
        "share_|z|>1.96": float((np.abs(z[ok]) > 1.96).mean()),
        "BH_false_alarms": flags / max(int(ok.sum()), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=["coarse", "default"], default="coarse")
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--lanczos-vectors", type=int, nargs="+", default=[20, 100])
    ap.add_argument("--seed", type=int, default=20251)
    args = ap.parse_args()

    from gridcarbon.config.inversion import SolverConfig
    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.osse import make_truth, synthetic_observations
    from gridcarbon.inversion.system import ObservationSystem
    from gridcarbon.pipeline import build_prior, inversion_inputs
    from gridcarbon.species import CO2

    config = _config(args.config)
    ic = config.inversion
    t0 = time.perf_counter()
    prior = build_prior(config)
    scenario, _ = inversion_inputs(config, prior, with_observations=False)
    system = ObservationSystem(prior, scenario, ic)
    n_state = system.layout.n
    print(
        f"{args.config} problem: {n_state} unknowns, "
        f"{system.layout.point_index.size} stacks with their own unknowns; setup "
        f"{time.perf_counter() - t0:.0f} s"
    )
    solvers = {"dense (exact)": SolverConfig(method="dense")}
    for k in args.lanczos_vectors:
        solvers[f"cg, {k} Lanczos vectors"] = SolverConfig(
            method="cg", lanczos_max_vectors=k, lanczos_min_vectors=k
        )
    rng = np.random.default_rng(args.seed)
    rows = []
    for rep in range(args.replicates):
        truth = make_truth(system, rng, "identical", ic)
        obs = synthetic_observations(system, truth, rng, ic)
        for name, solver in solvers.items():
            res = assimilate(system, obs, solver=solver, build_posterior=False)
            ex = res.extras[
                (res.extras["segment"] == "points") & (res.extras["species"] == CO2.name)
            ]
            rows.append(
                ex[["key", "prior", "prior_std", "posterior", "posterior_std"]].assign(
                    replicate=rep, solver=name
                )
            )
        print(f"  replicate {rep + 1}/{args.replicates}", flush=True)
    df = pd.concat(rows, ignore_index=True)
    exact = df[df["solver"] == "dense (exact)"].set_index(["replicate", "key"])
    out = []
    for name, g in df.groupby("solver", sort=False):
        g = g.set_index(["replicate", "key"]).loc[exact.index]
        rep = g.index.get_level_values("replicate").to_numpy()
        x, sp = g["posterior"].to_numpy(), g["posterior_std"].to_numpy()
        xb, sb = g["prior"].to_numpy(), g["prior_std"].to_numpy()
        xe, se = exact["posterior"].to_numpy(), exact["posterior_std"].to_numpy()
        ratio = (sb**2 - sp**2) / (sb**2 - se**2)
        for label, z in (
            ("x̂ and σ_post of this solver", _z(x, sp, xb, sb)),
            ("x̂ of this solver, exact σ_post", _z(x, se, xb, sb)),
            ("exact x̂, σ_post of this solver", _z(xe, sp, xb, sb)),
            ("conservative z = (x̂ − x_b)/σ_b", (x - xb) / sb),
        ):
            out.append(
                {
                    "solver": name,
                    "z from": label,
                    **_summary(z, rep),
                    "median var ratio": float(np.median(ratio)),
                    "max UR": float(np.nanmax(1 - sp / sb)),
                }
            )
    table = pd.DataFrame(out)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
