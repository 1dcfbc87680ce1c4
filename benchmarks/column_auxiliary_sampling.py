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
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=4)
    args = ap.parse_args()
    from bench_aggregate_var import simulated_overpasses

    from gridcarbon.inversion.columns import ColumnObservations

    scenario, system, sim = simulated_overpasses(args.days, {"column_wind_direction_error": True})
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
