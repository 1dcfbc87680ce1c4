"""Diagnostic for issue 14's shape-term cost: would coarser column operators do for the
plume-shape nodes?  For each of the first ``--days`` days' simulated TROPOMI NO2 overpasses (an
OSSE replicate's, seed 40000; SYNTHETIC) the column match is built three ways — the default
sampling with the plume-shape term (``errors.column_wind_direction_error``), every operator at
``sample_cells=1, source_subcells=1`` with the term, and the default without it — and the CPU
seconds and the plume-shape σ of the used superobservations are compared.

Usage::

    python benchmarks/column_auxiliary_sampling.py [--days 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=4)
    args = ap.parse_args()
    from gridcarbon.config import RunConfig
    from gridcarbon.inversion.columns import ColumnObservations
    from gridcarbon.inversion.osse import replicate_truth
    from gridcarbon.inversion.system import ObservationSystem
    from gridcarbon.pipeline import build_prior, inversion_inputs, osse_column_simulator

    config = RunConfig.validate_dict(
        {
            "period": {"start": "2023-01-01", "end": str(dt.date(2023, 1, args.days))},
            "inversion": {
                "osse": {"satellite": "tropomi_no2"},
                "errors": {"column_wind_direction_error": True},
            },
        }
    )
    prior = build_prior(config)
    scenario, _ = inversion_inputs(config, prior, with_observations=False)
    ic = config.inversion
    system = ObservationSystem(prior, scenario, ic)
    truth, _, _ = replicate_truth(system, ic, "randomised", 40000, None)
    sim = osse_column_simulator(scenario, ic)(system, truth, 40000)
    variants = {
        "full": {},
        "coarse": {"sample_cells": 1, "source_subcells": 1},
        "no_shape_term": {"wind_direction_error_deg": 0.0},
    }
    for kind in sim.kinds:
        cpu, table = {}, {}
        for name, update in variants.items():
            settings = dataclasses.replace(kind.settings, **update)
            k = ColumnObservations(
                kind.pixels, kind.species, kind.quantity, scenario.meteorology, settings,
                name=kind.name,
            )  # fmt: skip
            c = time.process_time()
            table[name] = k.match(system).superobs
            cpu[name] = time.process_time() - c
        used = table["full"]["used"].to_numpy()
        full = table["full"]["sigma_shape"].to_numpy()[used]
        coarse = table["coarse"]["sigma_shape"].to_numpy()[used]
        print(
            f"{kind.name}: CPU s full {cpu['full']:.1f}, coarse {cpu['coarse']:.1f}, without "
            f"the shape term {cpu['no_shape_term']:.1f}; shape σ coarse / full median "
            f"{np.median(coarse / full):.3f}, correlation {np.corrcoef(full, coarse)[0, 1]:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
