"""diag(H B Hᵀ) of the default month's station rows (``PriorCovariance.aggregate_var``): the
compiled double sum over each row's non-zeros against the Kronecker form row by row (the only
form before), on the same rows, with their largest relative difference.  SYNTHETIC default.

It is the prior variance of every assimilated observation, needed by the innovation statistics
(``errors.innovation_statistics``), the B tuning (``errors.prior_error_tuning``), the transport
error estimate (``errors.transport_error_estimate``), the cross-validation and the OSSE's honest
scores.

With ``--columns``: the same for the whitened column contrasts of the first ``--days`` days'
simulated TROPOMI NO2 overpasses (an OSSE replicate's, seed 40000; SYNTHETIC): the rows of one
overpass share one support, and one dense block of B over it
(``PriorCovariance.SHARED_MIN_NNZ``) replaces the double sum per row; both against
``‖Sᵀ a‖²`` by ``sqrt_apply``.

Usage::

    python benchmarks/bench_aggregate_var.py [--columns [--days 4]]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time

import numpy as np
import scipy.sparse as sp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--columns", action="store_true", help="the overpasses' column rows instead")
    ap.add_argument("--days", type=int, default=4, help="with --columns: days of January")
    args = ap.parse_args()
    if args.columns:
        columns(args.days)
        return
    from gridcarbon.config import RunConfig
    from gridcarbon.inversion.system import ObservationSystem
    from gridcarbon.pipeline import build_prior, inversion_inputs

    config = RunConfig()
    prior = build_prior(config)
    scenario, _ = inversion_inputs(config, prior, with_observations=False)
    system = ObservationSystem(prior, scenario, config.inversion)
    J = sp.csr_matrix(system.J)
    B = system.B
    B.aggregate_var(J[:10])  # compile (cached on disk after the first run)
    t = time.perf_counter()
    pairwise = B.aggregate_var(J)
    t_pairwise = time.perf_counter() - t
    B.PAIRWISE_MAX_NNZ = -1  # every row the Kronecker way
    t = time.perf_counter()
    kronecker = B.aggregate_var(J)
    t_kronecker = time.perf_counter() - t
    per_row = np.diff(J.indptr)
    print(
        json.dumps(
            {
                "rows": J.shape[0],
                "state_size": J.shape[1],
                "nonzeros_per_row_mean": float(per_row.mean()),
                "nonzeros_per_row_max": int(per_row.max()),
                "pairwise_s": round(t_pairwise, 3),
                "kronecker_s": round(t_kronecker, 2),
                "speed_up": round(t_kronecker / t_pairwise, 1),
                "max_relative_difference": float(np.max(np.abs(pairwise / kronecker - 1))),
                "load_average_1_5_15": os.getloadavg(),
            },
            indent=2,
        )
    )


def simulated_overpasses(days: int, errors: dict | None = None):
    """The first ``days`` days of January 2023 and the simulated TROPOMI NO2 overpasses of the
    randomised-error OSSE replicate of seed 40000 (SYNTHETIC), with the ``inversion.errors``
    settings ``errors``: ``(scenario, system, simulation)``."""
    from gridcarbon.config import RunConfig
    from gridcarbon.inversion.osse import replicate_truth
    from gridcarbon.inversion.system import ObservationSystem
    from gridcarbon.pipeline import build_prior, inversion_inputs, osse_column_simulator

    config = RunConfig.validate_dict(
        {
            "period": {"start": "2023-01-01", "end": str(dt.date(2023, 1, days))},
            "inversion": {"osse": {"satellite": "tropomi_no2"}, "errors": errors or {}},
        }
    )
    prior = build_prior(config)
    scenario, _ = inversion_inputs(config, prior, with_observations=False)
    ic = config.inversion
    system = ObservationSystem(prior, scenario, ic)
    truth, _, _ = replicate_truth(system, ic, "randomised", 40000, None)
    return scenario, system, osse_column_simulator(scenario, ic)(system, truth, 40000)


def columns(days: int) -> None:
    """The shared-support block against the double sum on each overpass's column rows."""
    _, system, sim = simulated_overpasses(days)
    B = system.B
    B.aggregate_var(sp.csr_matrix(sim.kinds[0].jacobian_block(system))[:4])  # compile
    rows = []
    for kind in sim.kinds:
        A = sp.csr_matrix(kind.jacobian_block(system))
        if not A.shape[0]:
            continue
        t = time.perf_counter()
        shared = B.aggregate_var(A)
        t_shared = time.perf_counter() - t
        B.SHARED_MAX_NNZ = 0  # the double sum per row
        t = time.perf_counter()
        pairwise = B.aggregate_var(A)
        t_pairwise = time.perf_counter() - t
        B.SHARED_MAX_NNZ = type(B).SHARED_MAX_NNZ
        W = B.sqrt_apply(A.T.toarray(), transpose=True)
        exact = (W**2).sum(axis=0)
        per_row = np.diff(A.indptr)
        rows.append(
            {
                "overpass": kind.name,
                "rows": A.shape[0],
                "nonzeros_per_row": int(np.median(per_row)),
                "shared_s": round(t_shared, 3),
                "pairwise_s": round(t_pairwise, 2),
                "speed_up": round(t_pairwise / t_shared, 1),
                "max_relative_difference": float(
                    max(np.max(np.abs(shared / exact - 1)), np.max(np.abs(pairwise / exact - 1)))
                ),
            }
        )
    print(json.dumps({"overpasses": rows, "load_average_1_5_15": os.getloadavg()}, indent=2))


if __name__ == "__main__":
    main()
