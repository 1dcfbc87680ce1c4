"""What the inversion hands on as documents: the posterior emission Dataset (prior × factors,
with σ and per-cell period statistics) and the files of an inversion and of an OSSE, by their
names in :data:`gridcarbon.contracts.RUN_FILES` (written by
:func:`gridcarbon.io.outputs.write_documents`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.contracts import Document, InversionResult, run_file_name
from gridcarbon.inversion.posterior import cell_period_stats

if TYPE_CHECKING:  # pragma: no cover
    from gridcarbon.inversion.assimilation import AssimilationResult
    from gridcarbon.inversion.osse import OSSEResult
    from gridcarbon.inversion.system import ObservationSystem

__all__ = [
    "posterior_dataset",
    "inversion_documents",
    "osse_documents",
    "inversion_file_names",
    "osse_file_names",
    "SYNTHETIC_NOTE",
]

#: The note of the metrics of an inversion with synthetic inputs.
SYNTHETIC_NOTE = "SYNTHETIC (OSSE / synthetic inputs) - not real measurements"
#: The note of an OSSE's summary.
OSSE_NOTE = "SYNTHETIC OSSE - scores against a synthetic truth"


def posterior_dataset(
    system: ObservationSystem, result: AssimilationResult, cfg: InversionConfig
) -> xr.Dataset:
    """Posterior emission Dataset (prior × factors) with per-cell posterior std."""
    from gridcarbon.grids.dataset import emission_dataset, point_variable

    L = result.layout
    g = L.segments["grid"]
    xa = result.x_post
    fmean = xa[g].reshape(L.grid_shape)
    fstd = result.post_std[g].reshape(L.grid_shape)
    cb = L.cell_block()
    hw = L.hour_window()
    by, bx = np.divmod(cb, L.nbx)
    area, extra = {}, {}
    point_em = {}
    gs = system.grid
    for si, s in enumerate(L.species):
        f = fmean[si][hw][:, by, bx]  # (nt, ncell)
        fs = fstd[si][hw][:, by, bx]
        fpos = np.clip(f, 0, None) if cfg.solver.negative_factors == "clip" else f
        area[s] = (system.E[si] * fpos).reshape(system.nt, *gs.shape).astype(np.float32)
        extra[f"{s}_std"] = (system.E[si] * fs).reshape(system.nt, *gs.shape).astype(np.float32)
        if len(system.points):
            pcell = system.point_cells
            pf = fmean[si][hw][:, by[pcell], bx[pcell]]
            pfs = fstd[si][hw][:, by[pcell], bx[pcell]]
            if len(L.point_index):
                ps = (
                    L.segments["points"].start
                    + si * L.point_index.size
                    + np.arange(L.point_index.size)
                )
                pf[:, L.point_index] = xa[ps][None, :]
                pfs[:, L.point_index] = result.post_std[ps][None, :]
            pfp = np.clip(pf, 0, None) if cfg.solver.negative_factors == "clip" else pf
            point_em[s] = (system.Ep[si] * pfp).astype(np.float32)
            extra[f"{s}_point_std"] = (system.Ep[si] * pfs).astype(np.float32)
    pts = None
    if len(system.points) and system._prior_points is not None:
        pts = system._prior_points
    attrs = dict(system.prior_attrs)
    attrs.update(
        {
            "title": "gridcarbon posterior emission grids (prior x inversion scaling factors)",
            "inversion": json.dumps(
                {
                    "dofs": result.dofs,
                    "reduced_chi2": result.reduced_chi2,
                    "n_observations": result.metrics["n_observations"],
                    "state_size": L.n,
                    "n_negative_factors": result.n_negative,
                    "negative_factors": cfg.solver.negative_factors,
                }
            ),
            "inversion_config": json.dumps(cfg.model_dump(mode="json")),
        }
    )
    base = emission_dataset(
        gs,
        system.times,
        {},
        points=pts,
        region_fraction=system.region_fraction.reshape(gs.shape),
        attrs=attrs,
    )
    # the species variables keep the prior's attributes: the grids know each species' metadata
    data_vars = {"crs": base["crs"], "time_bnds": base["time_bnds"]}
    dims = ("time", "y", "x")
    for s, values in area.items():
        data_vars[s] = (dims, values, system.variable_attrs.get(s, {}))
    if pts is not None:
        for s, values in point_em.items():
            name = point_variable(s)
            data_vars[name] = (("time", "point"), values, system.variable_attrs[name])
    data_vars["region_fraction"] = base["region_fraction"]
    ds = xr.Dataset(data_vars, coords=base.coords, attrs=base.attrs)
    for k, v in extra.items():
        dims = ("time", "y", "x") if v.ndim == 3 else ("time", "point")
        if dims[1] == "point" and "point" not in ds.dims:
            continue
        ds[k] = (
            dims,
            v,
            {
                "long_name": f"posterior 1-sigma of {k[:-4]}",
                "units": "kg h-1",
                "grid_mapping": "crs",
            }
            if dims[1] == "y"
            else {"long_name": f"posterior 1-sigma of {k[:-4]}", "units": "kg h-1"},
        )
    # per-cell period statistics
    for si, s in enumerate(L.species):
        st = cell_period_stats(system, result.covariance, xa, si)
        with np.errstate(invalid="ignore", divide="ignore"):
            ur = np.where(st["prior_std"] > 0, 1 - st["posterior_std"] / st["prior_std"], np.nan)
            fac = np.where(st["prior"] > 0, st["posterior"] / st["prior"], np.nan)
        ds[f"{s}_uncertainty_reduction"] = (
            ("y", "x"),
            ur.reshape(gs.shape).astype(np.float32),
            {
                "long_name": f"uncertainty reduction 1 - sigma_post/sigma_prior of the period total of {s}",
                "units": "1",
                "grid_mapping": "crs",
            },
        )
        ds[f"{s}_factor"] = (
            ("y", "x"),
            fac.reshape(gs.shape).astype(np.float32),
            {
                "long_name": f"posterior / prior period total of {s} (area + point sources)",
                "units": "1",
                "grid_mapping": "crs",
            },
        )
    return ds


def inversion_file_names(
    formats: Iterable[str] = ("netcdf",),
    synthetic_observations: bool = True,
    columns: bool = False,
    cross_validation: bool = False,
    innovation_statistics: bool = False,
) -> list[str]:
    """The files of :func:`inversion_documents`: ``posterior.nc`` (and ``posterior.zarr`` when
    ``formats`` has ``zarr``), the station tables, the extras, the metrics, with
    ``synthetic_observations`` ``observations.csv`` and with ``columns`` (satellite columns
    among the observations) ``column_observations.csv`` and ``overpass_stats.csv``, with
    ``cross_validation`` ``cross_validation.csv``, with ``innovation_statistics``
    ``innovation_statistics.csv``."""
    roles = ["posterior_netcdf"]
    if "zarr" in formats:
        roles.append("posterior_zarr")
    roles += ["station_stats", "station_series", "inversion_extras"]
    if synthetic_observations:
        roles.append("observations")
    if columns:
        roles += ["column_observations", "overpass_stats"]
    if cross_validation:
        roles.append("cross_validation")
    if innovation_statistics:
        roles.append("innovation_statistics")
    roles += ["inversion_metrics_json", "inversion_metrics_csv"]
    return [run_file_name(r) for r in roles]


def inversion_documents(
    result: InversionResult, formats: Iterable[str] = ("netcdf",)
) -> dict[str, Document]:
    """The files of an inversion, by name: the posterior grids (NetCDF, and Zarr when
    ``formats`` has ``zarr``), ``station_stats.csv``, ``station_series.csv``,
    ``inversion_extras.csv``, ``observations.csv`` (only when the inverted observations were
    synthetic), ``column_observations.csv`` and ``overpass_stats.csv`` (only with satellite
    columns), ``cross_validation.csv`` and ``innovation_statistics.csv`` (only when asked
    for), ``inversion_metrics.json`` and
    ``.csv``.  With synthetic inputs every table gets
    a ``synthetic`` column and the metrics a note saying so."""
    synthetic = bool(result.metrics.get("synthetic", False))

    def table(df: pd.DataFrame) -> Document:
        df = df.copy()
        if synthetic:
            df["synthetic"] = True
        return Document("csv", df)

    docs = {run_file_name("posterior_netcdf"): Document("grids", result.posterior)}
    if "zarr" in formats:
        docs[run_file_name("posterior_zarr")] = Document("grids", result.posterior)
    docs[run_file_name("station_stats")] = table(result.station_stats)
    docs[run_file_name("station_series")] = table(result.station_series)
    if result.extras is not None:
        docs[run_file_name("inversion_extras")] = table(result.extras)
    if result.observations is not None:
        docs[run_file_name("observations")] = table(result.observations)
    if result.column_observations is not None:
        docs[run_file_name("column_observations")] = table(result.column_observations)
    if result.overpass_stats is not None:
        docs[run_file_name("overpass_stats")] = table(result.overpass_stats)
    if result.cross_validation is not None:
        docs[run_file_name("cross_validation")] = table(result.cross_validation)
    if result.innovation_statistics is not None:
        docs[run_file_name("innovation_statistics")] = table(result.innovation_statistics)
    metrics = dict(result.metrics)
    metrics["note"] = SYNTHETIC_NOTE if synthetic else ""
    layout = getattr(result.details, "layout", None)
    if layout is not None:
        metrics["layout"] = layout.to_dict()
    docs[run_file_name("inversion_metrics_json")] = Document("json", metrics)
    flat = _flatten(metrics)
    docs[run_file_name("inversion_metrics_csv")] = table(
        pd.DataFrame({"metric": list(flat), "value": [str(v) for v in flat.values()]})
    )
    return docs


def osse_file_names(mode: str) -> list[str]:
    """The files of :func:`osse_documents` for ``mode`` (perturbed, randomised, identical or
    perfect)."""
    return [run_file_name(f"osse_{mode}"), run_file_name(f"osse_{mode}_summary")]


def osse_documents(result: OSSEResult) -> dict[str, Document]:
    """The scores of every replicate (``osse_<mode>.csv``) and the summary against the targets
    (``osse_<mode>_summary.json``, with the timings); synthetic by construction."""
    table_name, summary_name = osse_file_names(result.summary["mode"])
    summary = {"note": OSSE_NOTE, **result.summary, "timings": result.timings}
    return {
        table_name: Document("csv", result.table.assign(synthetic=True)),
        summary_name: Document("json", summary),
    }


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
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
