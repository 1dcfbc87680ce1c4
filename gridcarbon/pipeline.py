"""The whole pipeline: prior → inversion → zoning → map, written to one output folder."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from gridcarbon.config import RunConfig
from gridcarbon.grids.dataset import species_in
from gridcarbon.io import (
    atomic_directory,
    write_geotiff,
    write_netcdf,
    write_zarr,
    write_zarr_stream,
)

__all__ = ["RunResult", "run", "write_prior", "prior_summary"]

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What :func:`run` produced.

    Attributes
    ----------
    out_dir : Path
        The output folder.
    prior : xr.Dataset
        The prior grids of the period (in memory).
    files : dict of str → Path
        Every file written, by role.
    stages : dict of str → object
        Each later stage's result (``inversion``, ``zoning``, ``map``) when it ran.
    timings : dict of str → float
        Wall-clock seconds per stage.
    """

    out_dir: Path
    prior: xr.Dataset
    files: dict[str, Path] = field(default_factory=dict)
    stages: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def prior_summary(ds: xr.Dataset) -> dict[str, Any]:
    """Period totals (area + point, t), grid size and period of an emission Dataset."""
    totals = {}
    for sp in species_in(ds):
        area = float(ds[sp].sum(dtype=np.float64))
        point = float(ds[f"{sp}_point"].sum(dtype=np.float64)) if f"{sp}_point" in ds else 0.0
        totals[sp] = {"area_t": area / 1e3, "point_t": point / 1e3, "total_t": (area + point) / 1e3}
    t = ds["time"].values
    return {
        "grid": {
            "ny": ds.sizes["y"],
            "nx": ds.sizes["x"],
            "cell_size_m": ds.attrs.get("cell_size_m"),
        },
        "period_utc": [
            np.datetime_as_string(t[0], unit="m"),
            np.datetime_as_string(t[-1] + np.timedelta64(1, "h"), unit="m"),
        ],
        "hours": int(t.size),
        "point_sources": int(ds.sizes.get("point", 0)),
        "totals": totals,
        "synthetic": ds.attrs.get("synthetic", "unknown"),
    }


def write_prior(
    config: RunConfig, ds: xr.Dataset, out_dir: Path, stem: str = "prior"
) -> dict[str, Path]:
    """Write grids in the configured formats (NetCDF, Zarr, GeoTIFF of period totals) plus the
    point-source table; returns the paths by role."""
    files: dict[str, Path] = {}
    if "netcdf" in config.output.formats:
        files[f"{stem}_netcdf"] = write_netcdf(ds, out_dir / f"{stem}.nc")
    if "zarr" in config.output.formats:
        files[f"{stem}_zarr"] = write_zarr(ds, out_dir / f"{stem}.zarr")
    if "geotiff" in config.output.formats:
        files[f"{stem}_geotiff"] = write_geotiff(ds, out_dir / f"{stem}_totals.tif")
    if "point" in ds.dims:
        pts = ds[[v for v in ds.data_vars if v.endswith("_point")]].sum("time").to_dataframe()
        pts.columns = [f"{c.removesuffix('_point')}_kg_period" for c in pts.columns]
        csv = out_dir / f"{stem}_point_sources.csv"
        pts.reset_index().to_csv(csv, index=False)
        files[f"{stem}_points"] = csv
    return files


def run(
    config: RunConfig | None = None,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> RunResult:
    """Run every stage of the pipeline and write its results to one folder.

    The folder is built under a temporary name and renamed into place when every stage has
    succeeded, so a failed run leaves nothing half-written; an existing folder is replaced only
    with ``overwrite=True``.

    Parameters
    ----------
    config : RunConfig, optional
        Default: the embedded Zhejiang default.
    out_dir : path, optional
        Default: ``config.output.directory``.
    overwrite : bool
        Replace an existing output folder.
    progress : bool
        Show progress bars.
    """
    from gridcarbon.grids.prior import build_prior

    config = RunConfig() if config is None else config
    out_dir = Path(config.output.directory if out_dir is None else out_dir)
    timings: dict[str, float] = {}
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        t0 = time.perf_counter()
        prior = build_prior(config, progress=progress)
        files = write_prior(config, prior, tmp)
        (tmp / "config.yaml").write_text(config.to_yaml(), encoding="utf-8")
        timings["prior"] = time.perf_counter() - t0
        result = RunResult(out_dir=out_dir, prior=prior, files=files, timings=timings)
        for name, stage in _later_stages():
            if not _stage_available(name):
                log.warning("stage %s is not available in this build; skipped", name)
                continue
            if not getattr(config, name).enabled:
                log.info("stage %s disabled in the configuration", name)
                continue
            t0 = time.perf_counter()
            result.stages[name] = stage(config, result, tmp)
            timings[name] = time.perf_counter() - t0
        summary = {
            "prior": prior_summary(prior),
            "timings_s": timings,
            "stages": sorted(result.stages),
        }
        (tmp / "summary.json").write_text(
            json.dumps(summary, indent=2, default=str), encoding="utf-8"
        )
    result.files = {
        k: out_dir / Path(v).relative_to(tmp) if Path(v).is_relative_to(tmp) else v
        for k, v in result.files.items()
    }
    result.files["summary"] = out_dir / "summary.json"
    return result


def _inversion_stage(config: RunConfig, result: RunResult, out_dir: Path) -> Any:
    from gridcarbon.inversion.pipeline import run_inversion_stage

    return run_inversion_stage(config, result.prior, out_dir)


def _zoning_stage(config: RunConfig, result: RunResult, out_dir: Path) -> Any:
    from gridcarbon.zoning.pipeline import run_zoning_stage

    inv = result.stages.get("inversion")
    grids = inv.posterior if inv is not None else result.prior
    return run_zoning_stage(config, grids, out_dir, inversion_result=inv)


def _map_stage(config: RunConfig, result: RunResult, out_dir: Path) -> Any:
    from gridcarbon.maps.pipeline import run_map_stage

    inv = result.stages.get("inversion")
    return run_map_stage(
        config,
        result.prior,
        out_dir / "map.html",
        posterior=inv.posterior if inv is not None else None,
        zoning_result=result.stages.get("zoning"),
        inversion_result=inv,
    )


def _stage_available(name: str) -> bool:
    import importlib.util

    module = {"inversion": "inversion", "zoning": "zoning", "maps": "maps"}[name]
    return importlib.util.find_spec(f"gridcarbon.{module}.pipeline") is not None


def _later_stages() -> list[tuple[str, Any]]:
    return [("inversion", _inversion_stage), ("zoning", _zoning_stage), ("maps", _map_stage)]


def stream_prior_to_zarr(
    config: RunConfig, path: Path, overwrite: bool = False, progress: bool = False
) -> Path:
    """Stream the prior month by month to a Zarr store (bounded memory, for a year or more)."""
    from gridcarbon.grids.prior import iter_prior

    return write_zarr_stream(iter_prior(config, progress=progress), path, overwrite=overwrite)
