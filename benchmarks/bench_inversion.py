"""Benchmark of the inversion on the full default: one month (January 2023) of hourly data, the
default network (116 stations) and grid (157 x 163), CO2 + NOx + VOC jointly.

Prints: observations, state size, H non-zeros, kernel evaluations per second, time to build H
(numba cache warm), time to solve including posterior sigma, peak RSS; then the dense-vs-CG
check on a problem of a few thousand unknowns, and the wall time of the whole stage
(`run_inversion`: synthetic perturbed-transport observations -> inversion -> posterior, and its
documents written).  Everything is SYNTHETIC.

Usage (from the repository root): python benchmarks/bench_inversion.py [--skip-stage]
[--skip-dense]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

# the small synthetic cases of the tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def warm() -> None:
    """Compile/load every numba kernel once on a tiny case (cache warm)."""
    from gridcarbon.config.inversion import InversionConfig
    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.osse import make_truth, synthetic_observations
    from gridcarbon.inversion.system import ObservationSystem
    from tests.inversion.cases import small_case

    c = small_case(lon=(120.0, 120.3), lat=(30.1, 30.35), days=2, n_points=2)
    cfg = InversionConfig(solver={"method": "cg"})
    s = ObservationSystem(c.prior, c.scenario, cfg)
    rng = np.random.default_rng(0)
    obs = synthetic_observations(s, make_truth(s, rng, "identical", cfg), rng, cfg)
    assimilate(s, obs, build_posterior=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-stage", action="store_true")
    ap.add_argument("--skip-dense", action="store_true")
    args = ap.parse_args()
    import numba

    from gridcarbon.config import RunConfig
    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.osse import make_truth, synthetic_observations
    from gridcarbon.inversion.system import ObservationSystem
    from gridcarbon.pipeline import build_prior, inversion_inputs

    out: dict = {"numba_threads": numba.get_num_threads()}
    t = time.perf_counter()
    warm()
    out["warmup_s"] = time.perf_counter() - t
    config = RunConfig()
    t = time.perf_counter()
    prior = build_prior(config)
    out["prior_s"] = time.perf_counter() - t
    scenario, _ = inversion_inputs(config, prior, with_observations=False)
    ic = config.inversion
    t = time.perf_counter()
    system = ObservationSystem(prior, scenario, ic)
    out["system_setup_s"] = time.perf_counter() - t
    info = system.info()
    out.update(
        {
            "H_build_s": info["H_build_seconds"],
            "receptor_hours": info["receptor_hours"],
            "hourly_pairs": info["pairs"],
            "state_size": info["state_size"],
            "H_nnz": info["H_nnz"],
            "J_nnz": info["J_nnz"],
            "kernel_evaluations": info["kernel_evaluations"],
            "kernel_evaluations_per_s": info["kernel_evaluations_per_second"],
        }
    )
    rng = np.random.default_rng(1)
    truth = make_truth(system, rng, "identical", ic)
    obs = synthetic_observations(system, truth, rng, ic)
    t = time.perf_counter()
    res = assimilate(system, obs, build_posterior=False)
    out["solve_with_posterior_sigma_s"] = time.perf_counter() - t
    out["n_observations"] = res.metrics["n_observations"]
    out["solver"] = res.solver
    out["dofs"] = res.dofs
    out["peak_rss_gb_after_solve"] = rss_gb()
    if not args.skip_stage:
        del res, truth, obs
        with tempfile.TemporaryDirectory() as d:
            from gridcarbon.inversion import inversion_documents, run_inversion
            from gridcarbon.io.outputs import write_documents

            t = time.perf_counter()
            r = run_inversion(prior, scenario, ic)
            write_documents(inversion_documents(r, config.output.formats), Path(d))
            out["stage_total_s"] = time.perf_counter() - t
            out["stage_reduced_chi2"] = r.metrics["reduced_chi2"]
        out["peak_rss_gb_after_stage"] = rss_gb()
    if not args.skip_dense:
        out["dense_vs_cg"] = dense_vs_cg()
    out["peak_rss_gb"] = rss_gb()
    print(json.dumps(out, indent=2, default=str))


def dense_vs_cg() -> dict:
    """The check of the issue: a few thousand unknowns, dense vs Lanczos-CG."""
    from gridcarbon.config.inversion import InversionConfig
    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.osse import make_truth, synthetic_observations
    from gridcarbon.inversion.system import ObservationSystem
    from tests.inversion.cases import small_case

    c = small_case(days=4, seed=7)
    cfg = InversionConfig(
        state={"block_cells": 1, "window_hours": 24, "n_point_unknowns": 4},
        errors={"aggregation": "hourly"},
        solver={"method": "dense"},
    )
    prior = c.prior.isel(time=slice(0, 48))[
        ["CO2", "NOx", "CO2_point", "NOx_point", "crs", "time_bnds", "region_fraction"]
    ]
    s = ObservationSystem(prior, c.scenario, cfg)
    rng = np.random.default_rng(3)
    obs = synthetic_observations(s, make_truth(s, rng, "identical", cfg), rng, cfg)
    res = {}
    for vecs in (300, 600):
        cg = cfg.solver.model_copy(
            update={"method": "cg", "lanczos_max_vectors": vecs, "lanczos_min_vectors": vecs}
        )
        d = assimilate(s, obs, build_posterior=False)
        g = assimilate(s, obs, solver=cg, build_posterior=False)
        rel = np.linalg.norm(g.x_post - d.x_post) / np.linalg.norm(d.x_post - d.x_prior)
        m = (1 - d.post_std / d.prior_std) >= 0.05
        err = np.abs(g.post_std[m] - d.post_std[m]) / d.post_std[m]
        res[f"lanczos_vectors_{vecs}"] = {
            "n": s.layout.n,
            "m": d.metrics["n_observations"],
            "iterations": g.solver["iterations"],
            "rel_mean_error": float(rel),
            "sigma_median_rel_error": float(np.median(err)),
            "sigma_p95_rel_error": float(np.percentile(err, 95)),
            "n_elements_ur_ge_5pct": int(m.sum()),
            "dense_s": d.solver["seconds"],
            "cg_s": g.solver["seconds"],
            "dofs_dense": d.dofs,
            "dofs_cg": g.dofs,
        }
    return res


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
