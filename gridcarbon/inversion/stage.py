"""The inversion stage of ``gridcarbon run`` and the ``invert`` / ``osse`` commands.

Default (no observation file configured): SYNTHETIC observations — one perturbed-transport OSSE
replicate from the default network — are inverted, and the posterior is scored against the
synthetic truth.  Every output says it is synthetic.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.config import RunConfig
from gridcarbon.errors import ConfigError
from gridcarbon.inversion.assimilation import InversionResult, assimilate
from gridcarbon.inversion.meteorology import read_era5
from gridcarbon.inversion.observations import read_observations, read_stations, validate_stations
from gridcarbon.inversion.osse import (
    OSSEResult,
    area_sector_shares_from_config,
    city_matrix,
    make_truth,
    perturbed_footprints,
    run_osse,
    score_replicate,
    station_distance_km,
    synthetic_observations,
)
from gridcarbon.inversion.system import ObservationSystem
from gridcarbon.io.tables import write_csv

__all__ = [
    "run_inversion_stage",
    "stage_inputs",
    "run_osse_stage",
    "write_inversion_outputs",
    "inversion_output_names",
    "osse_output_names",
]

log = logging.getLogger(__name__)


def stage_inputs(config: RunConfig, prior: xr.Dataset) -> tuple[pd.DataFrame, xr.Dataset, bool]:
    """Stations and met for a run: configured files, else the synthetic defaults.

    Returns ``(stations, met, synthetic)``; ``synthetic`` is True when either is synthetic.
    """
    from gridcarbon.scenario.meteorology import synthetic_met
    from gridcarbon.scenario.stations import default_network

    ic = config.inversion
    synthetic = False
    if ic.stations is not None:
        stations = read_stations(ic.stations)
    else:
        stations = default_network(ic.n_micro_stations, ic.seed)
        synthetic = True
    if ic.meteorology is not None:
        met = read_era5(ic.meteorology)
        synthetic = synthetic or met.attrs.get("synthetic") == "true"
    else:
        met = synthetic_met(pd.DatetimeIndex(prior["time"].values), seed=ic.seed)
        synthetic = True
    return stations, met, synthetic


def _synthetic_observations(
    config: RunConfig, system: ObservationSystem
) -> tuple[pd.DataFrame, object]:
    ic = config.inversion
    rng = np.random.default_rng(ic.osse.seed)
    shares = area_sector_shares_from_config(config, system)
    truth = make_truth(system, rng, "perturbed", ic, shares)
    fp = perturbed_footprints(system, rng, ic)
    return synthetic_observations(system, truth, rng, ic, fp), truth


def inversion_output_names(config: RunConfig) -> list[str]:
    """File names :func:`write_inversion_outputs` writes with ``config`` (``observations.csv``
    only when the observations are synthetic, i.e. no observation file is configured)."""
    names = ["posterior.nc"]
    if "zarr" in config.output.formats:
        names.append("posterior.zarr")
    names += ["station_stats.csv", "station_series.csv", "inversion_extras.csv"]
    if config.inversion.observations is None:
        names.append("observations.csv")
    return [*names, "inversion_metrics.json", "inversion_metrics.csv"]


def osse_output_names(config: RunConfig, mode: str | None = None) -> list[str]:
    """File names :func:`run_osse_stage` writes (``mode`` default: ``inversion.osse.mode``)."""
    m = mode or config.inversion.osse.mode
    return [f"osse_{m}.csv", f"osse_{m}_summary.json"]


def check_period(config: RunConfig) -> None:
    """Refuse, before any work, a period longer than ``inversion.max_period_days``."""
    days = (config.period.end - config.period.start).days + 1
    limit = config.inversion.max_period_days
    if days > limit:
        raise ConfigError(
            f"the period {config.period.start} .. {config.period.end} has {days} days, but the "
            f"inversion handles at most inversion.max_period_days = {limit} days in one run "
            "(its memory grows by about 2.5 GB per month); invert month by month "
            "(--start/--end), or set inversion.enabled: false for the prior, zones and map of "
            "the whole period, or raise inversion.max_period_days on a larger machine"
        )


def run_inversion_stage(
    config: RunConfig, prior: xr.Dataset, out_dir: Path, overwrite: bool = False
) -> InversionResult:
    """Observations → inversion → posterior grids and metrics written to ``out_dir``.

    Parameters
    ----------
    config : RunConfig
        ``config.inversion`` holds every choice; without an observation file the observations
        are a synthetic perturbed-transport OSSE replicate (seed ``inversion.osse.seed``).
    prior : xr.Dataset
        The prior emission Dataset of the period.
    out_dir : Path
        Folder for ``posterior.nc`` (and ``posterior.zarr`` when configured),
        ``inversion_metrics.json/.csv``, ``station_stats.csv``, ``station_series.csv``,
        ``observations.csv``.

    Returns
    -------
    InversionResult
    """
    from gridcarbon.io.runfolder import check_output_set

    check_period(config)
    check_output_set(out_dir, inversion_output_names(config), overwrite)
    t0 = time.perf_counter()
    ic = config.inversion
    out_dir = Path(out_dir)
    stations, met, synthetic = stage_inputs(config, prior)
    system = ObservationSystem(prior, stations, met, ic)
    truth = None
    if ic.observations is not None:
        obs = read_observations(
            ic.observations,
            validate_stations(stations),
            ic.observation_time_zone,
            ic.chemistry.voc_molar_mass_per_carbon,
            magnitude_check=ic.observation_magnitude_check,
        )
        obs_synthetic = False
    else:
        obs, truth = _synthetic_observations(config, system)
        obs_synthetic = True
    result = assimilate(system, obs)
    if not obs_synthetic:  # what the readers counted: missing markers, matched headers, ...
        result.metrics["observation_qa"] = obs.attrs.get("observation_qa", {})
    result.metrics["synthetic_observations"] = obs_synthetic
    result.metrics["synthetic"] = bool(
        obs_synthetic or synthetic or prior.attrs.get("synthetic") == "true"
    )
    if truth is not None:
        dist = station_distance_km(system)
        try:
            cities = city_matrix(system, ic.osse.cities) if "CO2" in system.species else None
        except Exception:  # pragma: no cover - geography unavailable
            cities = None
        near = dist <= ic.osse.station_radius_km
        scores = score_replicate(
            system, truth, result, ic, near, cities, ic.osse.cities, "stage", dist
        )
        result.metrics["osse_scores_vs_synthetic_truth"] = scores
    result.metrics["stage_seconds"] = time.perf_counter() - t0
    _label(result, obs_synthetic, synthetic)
    write_inversion_outputs(config, result, out_dir, obs if obs_synthetic else None, overwrite)
    result.metrics["stage_seconds_with_writing"] = time.perf_counter() - t0
    return result


def _label(result: InversionResult, obs_synthetic: bool, inputs_synthetic: bool) -> None:
    ds = result.posterior
    parts = [p for p in str(ds.attrs.get("synthetic_components", "")).split(";") if p.strip()]
    if obs_synthetic:
        parts.append(" observations (synthetic OSSE: perturbed transport, synthetic truth)")
    if inputs_synthetic:
        parts.append(" station network and/or meteorology")
    if obs_synthetic or inputs_synthetic:
        ds.attrs["synthetic"] = "true"
    ds.attrs["synthetic_components"] = ";".join(p.strip() for p in parts)


def write_inversion_outputs(
    config: RunConfig,
    result: InversionResult,
    out_dir: Path,
    observations: pd.DataFrame | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write the posterior grids (NetCDF, and Zarr when configured) and the tables into
    ``out_dir``, all or none (:func:`gridcarbon.io.runfolder.output_set`); existing files are
    replaced only with ``overwrite``.  Returns the final paths by role."""
    from gridcarbon.io import write_netcdf, write_zarr
    from gridcarbon.io.runfolder import atomic_write, output_set

    out_dir = Path(out_dir)
    names = inversion_output_names(config)
    if observations is None and "observations.csv" in names:
        names.remove("observations.csv")
    files: dict[str, Path] = {}
    synth = result.metrics.get("synthetic", False)
    note = "SYNTHETIC (OSSE / synthetic inputs) - not real measurements" if synth else ""
    with output_set(out_dir, names, overwrite) as tmp:
        files["posterior_netcdf"] = write_netcdf(result.posterior, tmp / "posterior.nc")
        if "zarr" in config.output.formats:
            files["posterior_zarr"] = write_zarr(result.posterior, tmp / "posterior.zarr")

        def table(df: pd.DataFrame, name: str) -> None:
            df = df.copy()
            if synth:
                df["synthetic"] = True
            files[name] = write_csv(df, tmp / name, bom=False)

        table(result.station_stats, "station_stats.csv")
        table(result.station_series, "station_series.csv")
        table(result.extras, "inversion_extras.csv")
        if observations is not None:
            table(observations, "observations.csv")
        metrics = dict(result.metrics)
        metrics["note"] = note
        metrics["layout"] = result.layout.to_dict()
        text = json.dumps(metrics, indent=2, default=_json_default)
        files["inversion_metrics.json"] = atomic_write(
            tmp / "inversion_metrics.json", lambda p: p.write_text(text, encoding="utf-8")
        )
        flat = _flatten(metrics)
        table(
            pd.DataFrame({"metric": list(flat), "value": [str(v) for v in flat.values()]}),
            "inversion_metrics.csv",
        )
    return {role: out_dir / path.name for role, path in files.items()}


def _json_default(o):
    if isinstance(o, np.integer | np.floating | np.bool_):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for i, item in enumerate(v):
                out.update(_flatten(item, f"{key}[{i}]."))
        else:
            out[key] = v
    return out


def run_osse_stage(
    config: RunConfig,
    prior: xr.Dataset,
    out_dir: Path,
    mode: str | None = None,
    replicates: int | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> OSSEResult:
    """Run OSSE replicates on the configured prior/network/met and write their scores
    (``osse_<mode>.csv``, ``osse_<mode>_summary.json``)."""
    from gridcarbon.io.runfolder import atomic_write, check_output_set, output_set

    check_output_set(out_dir, osse_output_names(config, mode), overwrite)
    ic = config.inversion
    stations, met, _ = stage_inputs(config, prior)
    system = ObservationSystem(prior, stations, met, ic)
    shares = area_sector_shares_from_config(config, system)
    res = run_osse(
        prior,
        stations,
        met,
        ic,
        mode=mode,
        replicates=replicates,
        area_shares=shares,
        system=system,
        progress=progress,
    )
    m = res.summary["mode"]
    summary = json.dumps(
        {
            "note": "SYNTHETIC OSSE - scores against a synthetic truth",
            **res.summary,
            "timings": res.timings,
        },
        indent=2,
        default=_json_default,
    )
    csv, js = osse_output_names(config, m)
    with output_set(Path(out_dir), [csv, js], overwrite) as tmp:
        write_csv(res.table.assign(synthetic=True), tmp / csv, bom=False)
        atomic_write(tmp / js, lambda p: p.write_text(summary, encoding="utf-8"))
    return res
