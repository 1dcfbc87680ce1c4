"""diag(H B Hᵀ) of the default month's station rows (``PriorCovariance.aggregate_var``): the
compiled double sum over each row's non-zeros against the Kronecker form row by row (the only
form before), on the same rows, with their largest relative difference.  SYNTHETIC default.

It is the prior variance of every assimilated observation, needed by the innovation statistics
(``errors.innovation_statistics``), the B tuning (``errors.prior_error_tuning``), the transport
error estimate (``errors.transport_error_estimate``), the cross-validation and the OSSE's honest
scores.

Usage::

    python benchmarks/bench_aggregate_var.py
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import scipy.sparse as sp


def main() -> None:
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


if __name__ == "__main__":
    main()
