"""``gridcarbon invert`` and ``gridcarbon osse`` (registered by :mod:`gridcarbon.cli`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from gridcarbon.cli.options import config_option, out_option, output_folder, overwrite_option

__all__ = ["invert_command", "osse_command"]


def _prior(config, prior_path: str | None):
    """The prior grids and the scenario they were built from (None when read from
    ``prior_path``), after the checks that need no work (input files, the inversion's period
    limit, the memory the stage will need)."""
    from gridcarbon.io.runfolder import deferred_signals
    from gridcarbon.pipeline import build_prior, check_memory, plan_run

    stages = ("inversion",)
    if prior_path is None:
        plan = plan_run(config, stages=stages)
        return build_prior(config, plan.scenario), plan.scenario
    from gridcarbon.io import open_grids
    from gridcarbon.io.inputs import check_input_file

    check_input_file(prior_path, "prior grids (--prior)", allow_folder=True)
    ds = open_grids(prior_path)
    check_memory(config, ds.sizes["y"] * ds.sizes["x"], ds.sizes["time"], 0, stages)
    with deferred_signals():  # an interrupted NetCDF read can dead-lock like a write
        return ds.load(), None


def _stage_options(f):
    """--config, --prior, -o/--out and --overwrite, shared by ``invert`` and ``osse``."""
    for opt in reversed(
        (
            config_option,
            click.option(
                "--prior",
                "prior_path",
                type=click.Path(path_type=Path),
                default=None,
                help="Prior grids (NetCDF/Zarr from `gridcarbon grid`); default: build them.",
            ),
            out_option(),
            overwrite_option,
        )
    ):
        f = opt(f)
    return f


@click.command("invert")
@_stage_options
def invert_command(config_path, prior_path, out, overwrite):
    """Invert station observations into posterior emission grids.

    Without `inversion.observations` in the config, the observations are SYNTHETIC (one
    perturbed-transport OSSE replicate of the default network), and the outputs say so.
    """
    from gridcarbon.config import load_config
    from gridcarbon.inversion.outputs import inversion_documents, inversion_file_names
    from gridcarbon.inversion.stage import check_period, run_inversion
    from gridcarbon.io.outputs import write_documents
    from gridcarbon.io.runfolder import output_set
    from gridcarbon.pipeline import grid_formats, inversion_inputs

    config = load_config(config_path)
    check_period(config.period.start, config.period.end, config.inversion)
    names = inversion_file_names(
        grid_formats(config),
        config.inversion.observations is None,
        columns=config.inversion.columns.active,
        cross_validation=config.inversion.cross_validation.enabled,
        innovation_statistics=config.inversion.errors.innovation_statistics
        or config.inversion.errors.innovation_tuning != "off",
    )
    inputs = [p for p in (config_path, prior_path) if p]
    with output_set(output_folder(out, config), names, overwrite, inputs=inputs) as tmp:
        t0 = time.perf_counter()
        prior, scenario = _prior(config, prior_path)
        scenario, observations = inversion_inputs(config, prior, scenario=scenario)
        res = run_inversion(prior, scenario, config.inversion, observations, progress=True)
        write_documents(inversion_documents(res, grid_formats(config)), tmp)
        seconds = time.perf_counter() - t0
    m = res.metrics
    click.echo(
        json.dumps(
            {
                "synthetic": m.get("synthetic"),
                "n_observations": m["n_observations"],
                "state_size": m["state_size"],
                "dofs": round(m["dofs"], 2),
                "reduced_chi2": round(m["reduced_chi2"], 3),
                "n_negative_factors": m["n_negative_factors"],
                "seconds": round(seconds, 1),
            },
            indent=2,
        )
    )


@click.command("osse")
@_stage_options
@click.option(
    "--mode",
    type=click.Choice(["perturbed", "randomised", "identical", "perfect"]),
    default=None,
    help="perturbed transport with fixed errors (default; a stress test), randomised "
    "transport errors drawn per replicate (inversion.osse.randomised), identical twin, or the "
    "perfect-transport twin (R without the transport term: the network's ceiling)",
)
@click.option(
    "--replicates", type=click.IntRange(1, 1000), default=None, help="number of seeded replicates"
)
def osse_command(config_path, prior_path, out, overwrite, mode, replicates):
    """Run seeded SYNTHETIC observing-system simulation experiments and score the inversion
    against the synthetic truth (RMSE near/far and by band of distance to the stations that
    measure each species, in kg and as per-cell factors; city totals and their calibration;
    innovation chi2 per species and station class; 1- and 2-sigma coverage on constrained
    cells, blocks, counties and cities), every score with its 95 % interval over replicates.
    With inversion.osse.satellite: tropomi_no2 in the config, each replicate also gets simulated
    TROPOMI NO2 columns of its own truth and is inverted three times (surface only, column
    only, joint; the table's observations column)."""
    from gridcarbon.config import load_config
    from gridcarbon.inversion.osse import run_osse
    from gridcarbon.inversion.outputs import osse_documents, osse_file_names
    from gridcarbon.io.outputs import write_documents
    from gridcarbon.io.runfolder import output_set
    from gridcarbon.pipeline import inversion_inputs, osse_column_simulator

    config = load_config(config_path)
    names = osse_file_names(mode or config.inversion.osse.mode)
    inputs = [p for p in (config_path, prior_path) if p]
    with output_set(output_folder(out, config), names, overwrite, inputs=inputs) as tmp:
        prior, scenario = _prior(config, prior_path)
        scenario, _ = inversion_inputs(config, prior, with_observations=False, scenario=scenario)
        simulator = None
        if config.inversion.osse.satellite != "none":
            simulator = osse_column_simulator(scenario, config.inversion)
        res = run_osse(
            prior,
            scenario,
            config.inversion,
            mode=mode,
            replicates=replicates,
            progress=True,
            column_simulator=simulator,
        )
        write_documents(osse_documents(res), tmp)
    click.echo(json.dumps(res.summary, indent=2, default=str))
