"""The zoning stage: units → overlay → tallies → hotspots → per-unit figures → report files."""

from __future__ import annotations

import json
import logging
import time as _time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.contracts import PosteriorCovariance
from gridcarbon.errors import InputDataError
from gridcarbon.io.provenance import file_sha256, gridcarbon_version
from gridcarbon.io.runfolder import (
    atomic_write,
    check_output_set,
    output_set,
    write_gpkg_atomic,
)
from gridcarbon.io.tables import write_csv, write_excel
from gridcarbon.zoning.control_units import control_units
from gridcarbon.zoning.emerging import MIN_BINS
from gridcarbon.zoning.hotspots import hotspot_level, unit_hotspot_table
from gridcarbon.zoning.overlay import Overlay, overlay_units
from gridcarbon.zoning.qa import UnitsQA
from gridcarbon.zoning.report import (
    _svg_bars,
    _svg_lines,
    _table,
    provenance_text,
    render_html,
    write_netcdf,
)
from gridcarbon.zoning.tally import (
    diurnal_profile,
    period_table,
    rollup,
    tally_at,
    zone_tally,
)

__all__ = [
    "ZoningResult",
    "run_zoning",
    "run_zoning_stage",
    "OUTPUT_FILES",
    "output_names",
    "read_stage_units",
]

log = logging.getLogger(__name__)

#: Files written by the stage into ``out_dir`` (key → file name).
OUTPUT_FILES: dict[str, str] = {
    "gpkg": "zone_units.gpkg",
    "units_csv": "zone_units.csv",
    "rollup_category_csv": "zone_rollup_category.csv",
    "rollup_subtype_csv": "zone_rollup_subtype.csv",
    "rollup_county_csv": "zone_rollup_county.csv",
    "rollup_city_csv": "zone_rollup_city.csv",
    "daily_csv": "zone_units_daily.csv",
    "monthly_csv": "zone_units_monthly.csv",
    "colocation_csv": "zone_colocation.csv",
    "excel": "zone_report.xlsx",
    "html": "zone_report.html",
    "tally_hourly_nc": "zone_tally_hourly.nc",
    "tally_daily_nc": "zone_tally_daily.nc",
    "diurnal_nc": "zone_diurnal.nc",
    "hotspots_hour_nc": "hotspots_hour.nc",
    "hotspots_day_nc": "hotspots_day.nc",
    "hotspots_month_nc": "hotspots_month.nc",
    "qa_json": "zone_units_qa.json",
}


@dataclass
class ZoningResult:
    """Everything the zoning stage computed (see ``docs/zoning.md`` for each field).

    Attributes
    ----------
    units : GeoDataFrame (EPSG:4490) — one row per unit with every per-unit figure
    qa : UnitsQA
    overlay : Overlay (coverage matrix F, point assignment)
    tally : hourly per-unit Dataset (unit, time), kg h-1
    tally_day, tally_month : per-unit sums over Beijing days / months, kg
    table : per-unit period table (totals, intensity, share, rank, hotspot figures)
    rollups : by category / subtype / county / city
    diurnal : DataArray (unit, hour, species): mean kg h-1 by Beijing hour
    hotspots : level ("hour"/"day"/"month") → hotspot Dataset
    colocation : DataFrame, co-location vs chance per level and species set
    files : key → path of each written file
    timings : step → seconds
    """

    units: gpd.GeoDataFrame
    qa: UnitsQA
    overlay: Overlay
    tally: xr.Dataset
    tally_day: xr.Dataset
    tally_month: xr.Dataset
    table: pd.DataFrame
    rollups: dict[str, pd.DataFrame]
    diurnal: xr.DataArray
    hotspots: dict[str, xr.Dataset]
    colocation: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def read_stage_units(cfg: ZoningConfig, grid: Any) -> tuple[gpd.GeoDataFrame, UnitsQA]:
    """The control units the zoning stage tallies on ``grid`` (a GridSpec), read and checked.

    ``zoning.units_path``, else the embedded synthetic units (then the region gap check runs
    against the Zhejiang region, and the offset check, meant for users' files, does not).
    Cheap next to the stage: read it first, so a bad unit file is refused before any work.
    """
    from gridcarbon.scenario.geography import load_boundaries, region_polygon

    region = region_polygon(grid.crs) if cfg.qa_region == "zhejiang" else None
    counties, cities = load_boundaries("county"), load_boundaries("city")
    if cfg.units_path is None:
        from gridcarbon.scenario.units import default_units

        source = default_units(grid)
        name = "embedded synthetic units (gridcarbon.scenario.units)"
        cfg = cfg.model_copy(update={"check_offset": False})
    else:
        source, name = cfg.units_path, None
    return control_units(
        source, cfg, grid, counties=counties, cities=cities, region=region, source_name=name
    )


def output_names(cfg: ZoningConfig) -> list[str]:
    """File names the stage writes with ``cfg`` (from :data:`OUTPUT_FILES`)."""
    keys = dict(OUTPUT_FILES)
    if not cfg.keep_hourly:
        keys.pop("tally_hourly_nc")
    if not cfg.hourly_hotspots:
        keys.pop("hotspots_hour_nc")
    return list(keys.values())


def _species(grids: xr.Dataset) -> list[str]:
    from gridcarbon.grids.dataset import species_in

    sp = species_in(grids)
    if not sp:
        raise InputDataError(
            "the grids hold none of CO2, NOx, VOC; give an emission Dataset "
            "written by `gridcarbon grid` or the posterior"
        )
    return sp


def run_zoning(
    grids: xr.Dataset,
    config: ZoningConfig | None = None,
    units: gpd.GeoDataFrame | None = None,
    qa: UnitsQA | None = None,
    covariance: PosteriorCovariance | None = None,
) -> ZoningResult:
    """Compute every zoning result in memory (no files written).

    Parameters
    ----------
    grids : emission Dataset (prior or posterior)
    config : ZoningConfig
    units, qa : control units from :func:`control_units` (default: read per ``config``)
    covariance : PosteriorCovariance, optional — gives the posterior std of unit totals
    """
    from gridcarbon.grids.gridspec import GridSpec

    cfg = config or ZoningConfig()
    timings: dict[str, float] = {}
    t0 = _time.perf_counter()
    species = _species(grids)
    grid = GridSpec.from_dataset(grids)
    if units is None:
        units, qa = read_stage_units(cfg, grid)
    qa = qa or UnitsQA(source="given", n_units=len(units))
    timings["units"] = _time.perf_counter() - t0

    t = _time.perf_counter()
    from gridcarbon.io.coverage_cache import CoverageCacheDir

    ov = overlay_units(grids, units, CoverageCacheDir(cfg.cache_dir))
    timings["overlay"] = _time.perf_counter() - t

    t = _time.perf_counter()
    tally = zone_tally(grids, ov, units, species)
    tday = tally_at(tally, "day", species)
    tmonth = tally_at(tally, "month", species)
    table = period_table(tally, species, units)
    diurnal = diurnal_profile(tally, species)
    rollups = {
        by: rollup(table, units, by, species)
        for by in ("category", "subtype", "county_code", "city_code")
    }
    timings["tally"] = _time.perf_counter() - t
    if covariance is not None and cfg.posterior_std:
        t = _time.perf_counter()
        for s in species:
            std = np.asarray(
                covariance.total_std(ov.F, s, point_unit=ov.point_unit), dtype=np.float64
            )
            if std.shape != (ov.n_units,):
                raise InputDataError(
                    f"the posterior covariance gave σ of shape {std.shape} for {s}; one per "
                    f"unit is needed ({ov.n_units},)"
                )
            table[f"{s}_posterior_std_kg"] = std
            with np.errstate(divide="ignore", invalid="ignore"):
                table[f"{s}_posterior_cv"] = np.where(
                    table[f"{s}_kg"] > 0, std / table[f"{s}_kg"], np.nan
                )
        timings["posterior_std"] = _time.perf_counter() - t

    t = _time.perf_counter()
    hotspots: dict[str, xr.Dataset] = {}
    n_days = tday.sizes["day"]
    emerging = n_days >= MIN_BINS
    if not emerging:
        log.warning(
            "emerging-hotspot analysis skipped: the period has %d days, at least %d "
            "daily bins are needed",
            n_days,
            MIN_BINS,
        )
    from gridcarbon.grids.dataset import total_grid

    totals = {s: total_grid(grids, s).values for s in species}
    hotspots["day"] = hotspot_level(grids, "day", cfg, species, emerging=emerging, totals=totals)
    hotspots["month"] = hotspot_level(grids, "month", cfg, species, totals=totals)
    if cfg.hourly_hotspots:
        hotspots["hour"] = hotspot_level(
            grids, "hour", cfg, species, totals=totals, keep_z=cfg.hourly_z
        )
    del totals
    colocation = pd.DataFrame(
        [r for ds in hotspots.values() for r in json.loads(ds.attrs["colocation_json"])]
    )
    timings["hotspots"] = _time.perf_counter() - t

    t = _time.perf_counter()
    hot_table = unit_hotspot_table(
        grids,
        units,
        ov.F,
        ov.point_unit,
        hotspots["day"],
        hotspots.get("hour"),
        species,
        grid.cell_area,
    )
    table = table.merge(hot_table, on="unit_code")
    gdf = units.merge(table, on="unit_code")
    gdf = gpd.GeoDataFrame(gdf, geometry="geometry", crs=units.crs)
    timings["unit_hotspots"] = _time.perf_counter() - t
    return ZoningResult(
        units=gdf,
        qa=qa,
        overlay=ov,
        tally=tally,
        tally_day=tday,
        tally_month=tmonth,
        table=table,
        rollups=rollups,
        diurnal=diurnal,
        hotspots=hotspots,
        colocation=colocation,
        timings=timings,
    )


def _long_series(t: xr.Dataset, dim: str, species: list[str], area_km2: np.ndarray) -> pd.DataFrame:
    """Unit × time-bin table: kg, t km-2, share of the grid total (%) and rank in the bin."""
    labels = pd.DatetimeIndex(t[dim].values).strftime("%Y-%m-%d" if dim == "day" else "%Y-%m")
    nu, nb_ = t.sizes["unit"], t.sizes[dim]
    out = pd.DataFrame(
        {"unit_code": np.repeat(t["unit"].values, nb_), dim: np.tile(np.asarray(labels), nu)}
    )
    area = np.repeat(np.asarray(area_km2, float), nb_)
    for s in species:
        v = t[s].values  # (unit, bin)
        total = t[f"{s}_grid_total"].values  # (bin,)
        out[f"{s}_kg"] = v.ravel()
        out[f"{s}_t_per_km2"] = np.where(
            area > 0, v.ravel() / 1000.0 / np.where(area > 0, area, 1), np.nan
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{s}_share_pct"] = (100.0 * v / np.where(total > 0, total, np.nan)).ravel()
        rank = pd.DataFrame(v).rank(axis=0, ascending=False, method="min").to_numpy()
        out[f"{s}_rank"] = rank.ravel().astype(int)
    return out


def _provenance(
    config: Any, grids: xr.Dataset, qa: UnitsQA, units_path: Path | None, grids_path: Path | None
) -> dict[str, str]:
    checksums = {}
    try:
        checksums.update(json.loads(grids.attrs.get("input_checksums", "{}")))
    except (TypeError, json.JSONDecodeError):
        pass
    if units_path is not None and Path(units_path).exists():
        checksums[f"units:{Path(units_path).name}"] = file_sha256(units_path)
    if grids_path is not None and Path(grids_path).exists():
        checksums[f"grids:{Path(grids_path).name}"] = file_sha256(grids_path)
    synthetic = grids.attrs.get("synthetic", "unknown")
    comps = grids.attrs.get("synthetic_components", "")
    if units_path is None:
        synthetic = "true"
        comps = (comps + "; " if comps else "") + "control units (gridcarbon.scenario.units)"
    cfg_text = (
        config.to_yaml()
        if hasattr(config, "to_yaml")
        else json.dumps(
            config.model_dump(mode="json") if hasattr(config, "model_dump") else {},
            ensure_ascii=False,
        )
    )
    return {
        "gridcarbon_version": gridcarbon_version(),
        "config": cfg_text,
        "input_checksums": json.dumps(checksums),
        "synthetic": str(synthetic).lower(),
        "synthetic_components": comps,
        "units_source": qa.source,
    }


def _html_context(
    res: ZoningResult, cfg: ZoningConfig, prov: dict[str, str], species: list[str]
) -> dict[str, Any]:
    gdf = res.units
    n_days = res.tally_day.sizes["day"]
    tot = {s: float(res.tally[f"{s}_grid_total"].values.sum()) for s in species}
    days = pd.DatetimeIndex(res.tally_day["day"].values)
    summary = [
        f"period: Beijing {days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d} ({n_days} days, "
        f"{res.tally.sizes['time']} hours)",
        f"{len(gdf)} control units ({res.qa.source}); "
        + ", ".join(f"{k}: {v}" for k, v in gdf["category"].value_counts().items()),
        "grid totals: " + ", ".join(f"{s} {tot[s] / 1000:,.0f} t" for s in species),
        "inside units: "
        + ", ".join(
            f"{s} {100 * gdf[f'{s}_kg'].sum() / tot[s]:.2f} %" for s in species if tot[s] > 0
        ),
    ]
    if "coloc_all_cell_days" in gdf:
        summary.append(
            f"co-located (CO2+NOx+VOC) hotspot cell-days inside units: "
            f"{gdf['coloc_all_cell_days'].sum():,.1f}; units with any: "
            f"{int((gdf['coloc_all_cell_days'] > 0).sum())}"
        )
    if "coloc_all_hours" in gdf:
        summary.append(
            f"mean co-located hotspot hours per unit (area-weighted): "
            f"{gdf['coloc_all_hours'].mean():.1f}"
        )
    key = "coloc_all_cell_days" if "coloc_all_cell_days" in gdf else f"{species[0]}_kg"
    top = gdf.sort_values([key, f"{species[0]}_kg"], ascending=False).head(cfg.top_n)
    pos = {c: i for i, c in enumerate(res.tally["unit"].values)}
    top_units = []
    for _, u in top.iterrows():
        i = pos[u["unit_code"]]
        di = {s: res.diurnal.sel(species=s).values[i] for s in species}
        da = {s: res.tally_day[s].values[i] for s in species}
        bars = {s: float(u[f"{s}_share_pct"]) for s in species}
        shares = (
            " / ".join(f"{100 * u.get(f'coloc_all_share_{s}', np.nan):.0f}%" for s in species)
            if "coloc_all_share_CO2" in u
            else ""
        )
        top_units.append(
            {
                "code": u["unit_code"],
                "name": u["unit_name"],
                "type": f"{u['category_zh']} / {u['subtype_zh']}",
                "cell_days": f"{u.get('coloc_all_cell_days', np.nan):.1f}",
                "obs_exp": f"{u.get('coloc_all_obs_exp', np.nan):.2f}",
                "shares": shares,
                "emerging": u.get("emerging_CO2", ""),
                "pathway": u["pathway"],
                "diurnal": _svg_lines(di, title="diurnal (Beijing h)"),
                "daily": _svg_lines(da, title="daily"),
                "bars": _svg_bars(bars, title="share of province"),
            }
        )

    def sp_cols(df: pd.DataFrame) -> list[str]:
        return [
            c
            for c in df.columns
            if c.endswith(("_kg", "_t_per_km2")) and not c.endswith(("area_kg", "point_kg"))
        ]

    def roll(name: str, n: int = 100) -> str:
        df = res.rollups[name]
        cols = [c for c in df.columns if not c.startswith(tuple(species))] + sp_cols(df)
        df = df[cols].copy()
        for c in [c for c in df.columns if c.endswith("_kg")]:
            df[c[:-3] + "_t"] = df.pop(c) / 1000.0  # tonnes read better than kg here
        order = [c for c in df.columns if not c.startswith(tuple(species))] + [
            c for s in species for c in (f"{s}_t", f"{s}_t_per_km2") if c in df
        ]
        return _table(df[order], n)

    method = (
        f"Area sources are allocated to units by exact polygon–cell coverage fractions "
        f"(F @ grid); point sources by point-in-polygon. Hotspots: Getis-Ord Gi* with binary "
        f"distance-band weights (radius {cfg.gi_radius_m:.0f} m, focal cell included, cells "
        f"outside the region excluded), two-sided p = 2·sf(|z|), Benjamini–Hochberg per species "
        f"and time step; bins ±3/±2/±1 at q = {cfg.fdr_levels}. A cell-time is hot at bin ≥ "
        f"{cfg.hotspot_min_bin}. Emerging-hotspot categories (ArcGIS definitions) come from a "
        f"Mann–Kendall trend (α = {cfg.emerging_alpha}) of each cell's daily Gi* z-scores: a "
        f"within-period trend. Per-unit figures come from daily aggregates; 'obs/exp' compares the "
        f"unit's co-located cell-days with those expected if the species' daily hot areas in the "
        f"unit were independent."
    )
    return {
        "title": "gridcarbon zone report — co-located CO2/NOx/VOC hotspots by control unit",
        "synthetic": ("This report depends on synthetic data: " + prov["synthetic_components"])
        if prov["synthetic"] == "true"
        else "",
        "summary": summary,
        "coloc_table": _table(res.colocation, 50),
        "by_category": roll("category"),
        "by_subtype": roll("subtype"),
        "by_city": roll("city_code"),
        "by_county": roll("county_code", cfg.top_n),
        "top_n": cfg.top_n,
        "top_units": top_units,
        "qa": res.qa.summary_lines(),
        "qa_warning": res.qa.offset_warning or "",
        "method": method,
        "provenance": provenance_text({k: v for k, v in prov.items() if k != "config"})
        + "\n\nconfig:\n"
        + prov["config"],
    }


def write_zoning_outputs(
    res: ZoningResult,
    out_dir: Path,
    config: Any,
    grids: xr.Dataset,
    overwrite: bool = False,
    units_path: Path | None = None,
    grids_path: Path | None = None,
) -> dict[str, Path]:
    """Write every output file of :data:`OUTPUT_FILES` into ``out_dir``, all or none.

    The files are written into a temporary folder and moved into ``out_dir`` together
    (:func:`gridcarbon.io.runfolder.output_set`); existing ones are replaced only with
    ``overwrite``.  Returns the final paths by key.
    """
    cfg: ZoningConfig = config.zoning if hasattr(config, "zoning") else config
    out_dir = Path(out_dir)
    names = {k: v for k, v in OUTPUT_FILES.items() if v in output_names(cfg)}
    if "hour" not in res.hotspots:
        names.pop("hotspots_hour_nc", None)
    inputs = [p for p in (units_path, grids_path) if p is not None]
    with output_set(out_dir, names.values(), overwrite, inputs=inputs) as tmp:
        _write_files(
            res, {k: tmp / v for k, v in names.items()}, config, cfg, grids, units_path, grids_path
        )
    res.files = {k: out_dir / v for k, v in names.items()}
    return res.files


def _write_files(
    res: ZoningResult,
    paths: dict[str, Path],
    config: Any,
    cfg: ZoningConfig,
    grids: xr.Dataset,
    units_path: Path | None,
    grids_path: Path | None,
) -> None:
    species = list(res.diurnal["species"].values)
    prov = _provenance(config, grids, res.qa, units_path, grids_path)
    ow = False  # a fresh folder: nothing to replace
    gdf = res.units.copy()
    for c in gdf.columns:
        if gdf[c].dtype == bool:
            gdf[c] = gdf[c].astype(int)
    write_gpkg_atomic(gdf, paths["gpkg"], "zone_units", ow, prov)
    table = pd.DataFrame(res.units.drop(columns="geometry"))
    write_csv(table, paths["units_csv"], ow)
    for by, key in (
        ("category", "rollup_category_csv"),
        ("subtype", "rollup_subtype_csv"),
        ("county_code", "rollup_county_csv"),
        ("city_code", "rollup_city_csv"),
    ):
        write_csv(res.rollups[by], paths[key], ow)
    area = res.units["area_km2"].to_numpy()
    daily = _long_series(res.tally_day, "day", species, area)
    monthly = _long_series(res.tally_month, "month", species, area)
    write_csv(daily, paths["daily_csv"], ow)
    write_csv(monthly, paths["monthly_csv"], ow)
    write_csv(res.colocation, paths["colocation_csv"], ow)
    prov_df = pd.DataFrame({"key": list(prov), "value": list(prov.values())})
    qa_df = pd.DataFrame({"finding": res.qa.summary_lines()})
    write_excel(
        {
            "units": table,
            "by_category": res.rollups["category"],
            "by_subtype": res.rollups["subtype"],
            "by_city": res.rollups["city_code"],
            "by_county": res.rollups["county_code"],
            "colocation": res.colocation,
            "monthly": monthly,
            "qa": qa_df,
            "provenance": prov_df,
        },
        paths["excel"],
        ow,
    )
    html_text = render_html(_html_context(res, cfg, prov, species))
    atomic_write(paths["html"], lambda tmp: tmp.write_text(html_text, encoding="utf-8"), ow)
    if "tally_hourly_nc" in paths:
        hourly = res.tally.copy()
        for v in hourly.data_vars:
            if hourly[v].ndim > 1:
                hourly[v] = hourly[v].astype(np.float32)
        write_netcdf(hourly, paths["tally_hourly_nc"], ow, prov)
    write_netcdf(
        xr.merge(
            [
                res.tally_day,
                res.tally_month.rename({v: f"{v}_monthly" for v in res.tally_month.data_vars}),
            ]
        ),
        paths["tally_daily_nc"],
        ow,
        prov,
    )
    write_netcdf(res.diurnal.to_dataset(), paths["diurnal_nc"], ow, prov)
    for level, ds in res.hotspots.items():
        write_netcdf(ds, paths[f"hotspots_{level}_nc"], ow, prov)
    atomic_write(
        paths["qa_json"],
        lambda tmp: tmp.write_text(
            json.dumps(res.qa.to_dict(), ensure_ascii=False, indent=1, default=str),
            encoding="utf-8",
        ),
        ow,
    )


def run_zoning_stage(
    config: Any,
    grids: xr.Dataset,
    out_dir: Path,
    covariance: PosteriorCovariance | None = None,
    overwrite: bool = False,
    grids_path: Path | None = None,
    units: gpd.GeoDataFrame | None = None,
    units_qa: UnitsQA | None = None,
) -> ZoningResult:
    """The zoning stage of ``gridcarbon run``: compute and write the zone report.

    Parameters
    ----------
    config : RunConfig (its ``zoning`` section is used) or a ZoningConfig
    grids : emission Dataset (prior or posterior)
    out_dir : folder for the outputs (:data:`OUTPUT_FILES`)
    covariance : PosteriorCovariance, optional (posterior std of unit totals)
    overwrite : replace existing outputs
    grids_path : file the grids came from (its checksum goes into the provenance)
    units, units_qa : the units from :func:`read_stage_units` when already read
    """
    cfg: ZoningConfig = config.zoning if hasattr(config, "zoning") else config
    inputs = [p for p in (cfg.units_path, grids_path) if p is not None]
    check_output_set(out_dir, output_names(cfg), overwrite, inputs)
    t = _time.perf_counter()
    res = run_zoning(grids, cfg, units=units, qa=units_qa, covariance=covariance)
    t1 = _time.perf_counter()
    write_zoning_outputs(res, Path(out_dir), config, grids, overwrite, cfg.units_path, grids_path)
    res.timings["write"] = _time.perf_counter() - t1
    res.timings["total"] = _time.perf_counter() - t
    log.info("zoning stage: %s", ", ".join(f"{k} {v:.1f} s" for k, v in res.timings.items()))
    return res
