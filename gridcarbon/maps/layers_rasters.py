"""Raster layers: period-mean prior and posterior, their difference and the uncertainty
reduction, per species, classed and warped to Web Mercator."""

from __future__ import annotations

from dataclasses import dataclass

import folium
import numpy as np
import pandas as pd
import xarray as xr
from folium.map import CustomPane

from gridcarbon.config.maps import MapConfig
from gridcarbon.errors import InputDataError
from gridcarbon.grids.dataset import point_variable
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.maps.elements import LayerLegend, in_group
from gridcarbon.maps.raster import png_data_url, warp_to_mercator
from gridcarbon.maps.scales import (
    NODATA,
    ClassScale,
    diverging_scale,
    fixed_scale,
    legend_section,
    sequential_scale,
)
from gridcarbon.species import Species

__all__ = [
    "VARIANT_LABEL",
    "RasterField",
    "raster_layer_name",
    "period_mean",
    "uncertainty_reduction",
    "raster_fields",
    "initial_raster",
    "add_rasters",
]

#: Labels of the raster variants (``MapConfig.raster_variants``) in layer names.
VARIANT_LABEL = {
    "prior": "prior",
    "posterior": "posterior",
    "difference": "posterior − prior",
    "uncertainty_reduction": "uncertainty reduction",
}


def raster_layer_name(variant: str, species: str) -> str:
    """Layer-control name of a raster layer: ``"<species> posterior − prior"`` and the like.

    ``species`` is the species' name (``Species.name``), which is also how
    ``MapConfig.raster_initial`` and ``raster_species`` refer to it.
    """
    return f"{species} {VARIANT_LABEL[variant]}"


# -- values per cell ------------------------------------------------------------------------------
def period_mean(ds: xr.Dataset, species: str) -> np.ndarray:
    """Period-mean emission per cell (area + point sources), ``(ny, nx)`` float64, kg h-1.

    Equivalent to ``total_grid(ds, species).mean("time")`` without materialising the
    ``(time, y, x)`` total: the point sources' means are added into their cells.
    """
    if species not in ds:
        raise InputDataError(f"emission Dataset has no {species!r} variable")
    field = ds[species]
    if "sector" in field.dims:
        field = field.sum("sector")
    mean = np.asarray(field.mean("time", dtype=np.float64).values, dtype=np.float64)
    pvar = point_variable(species)
    if pvar in ds and ds.sizes.get("point", 0):
        pmean = np.asarray(ds[pvar].mean("time", dtype=np.float64).values, dtype=np.float64)
        ny, nx = mean.shape
        idx = ds["point_row"].values.astype(np.int64) * nx + ds["point_col"].values.astype(np.int64)
        ok = (idx >= 0) & (idx < ny * nx) & np.isfinite(pmean)
        mean = mean + np.bincount(idx[ok], weights=pmean[ok], minlength=ny * nx).reshape(ny, nx)
    return mean


def uncertainty_reduction(
    posterior: xr.Dataset, species: str, prior: xr.Dataset | None = None
) -> np.ndarray | None:
    """Uncertainty reduction ``1 − σ_post/σ_prior`` per cell, ``(ny, nx)``, or None if unknown.

    The inversion's ``<sp>_uncertainty_reduction`` of the posterior when present (averaged
    over time if time-resolved); else from ``<sp>_std`` (σ_post) and ``<sp>_prior_std``
    (σ_prior, of the posterior Dataset, else ``<sp>_prior_std`` or ``<sp>_std`` of the prior
    Dataset).  Time-resolved σ are averaged as the RMS.  Cells with σ_prior = 0 (nothing to
    correct) are NaN.
    """
    direct = f"{species}_uncertainty_reduction"
    if direct in posterior:
        v = posterior[direct]
        if "time" in v.dims:
            v = v.mean("time")
        return np.asarray(v.values, dtype=float)
    post_name, prior_name = f"{species}_std", f"{species}_prior_std"
    s_post = posterior[post_name] if post_name in posterior else None
    s_prior = posterior[prior_name] if prior_name in posterior else None
    if s_prior is None and prior is not None:
        # a prior Dataset's own σ is its "<sp>_std"
        s_prior = next((prior[n] for n in (prior_name, post_name) if n in prior), None)
    if s_post is None or s_prior is None:
        return None

    def rms(v: xr.DataArray) -> np.ndarray:
        if "time" in v.dims:
            return np.sqrt((v.astype(np.float64) ** 2).mean("time").values)
        return np.asarray(v.values, dtype=float)

    sp, sq = rms(s_post), rms(s_prior)
    with np.errstate(divide="ignore", invalid="ignore"):
        ur = 1.0 - sp / sq
    return np.where(sq > 0, ur, np.nan)


def _period_label(ds: xr.Dataset) -> str:
    t = pd.DatetimeIndex(ds["time"].values)
    if t.size == 0:
        return ""
    a = (t.min() + pd.Timedelta(hours=8)).strftime("%Y-%m-%d %H:00")
    b = (t.max() + pd.Timedelta(hours=9)).strftime("%Y-%m-%d %H:00")
    return f"mean of {t.size} hours, {a} – {b} Beijing time"


# -- layers ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RasterField:
    """One raster layer to draw: ``values`` ``(ny, nx)`` classed by ``scale`` where ``mask``."""

    variant: str
    species: str
    values: np.ndarray
    mask: np.ndarray
    scale: ClassScale
    subtitle: str

    @property
    def name(self) -> str:
        return raster_layer_name(self.variant, self.species)


def raster_fields(
    prior: xr.Dataset,
    posterior: xr.Dataset | None,
    species: tuple[Species, ...],
    cfg: MapConfig,
) -> list[RasterField]:
    """The raster layers of ``species`` (in order) and ``cfg.raster_variants``; variants whose
    data are missing (no posterior, no σ) are left out."""
    region = None
    if "region_fraction" in prior:
        region = np.asarray(prior["region_fraction"].values) > 0
    out = []
    period = _period_label(prior)
    units = "kg h⁻¹ per cell (area + point sources)"
    for sp in (s.name for s in species):
        prior_mean = period_mean(prior, sp)
        post_mean = (
            period_mean(posterior, sp) if posterior is not None and sp in posterior else None
        )
        # one scale for prior and posterior of a species, so the two compare directly
        both = (
            prior_mean
            if post_mean is None
            else np.concatenate([prior_mean.ravel(), post_mean.ravel()])
        )
        for variant in cfg.raster_variants:
            if variant == "prior":
                values = prior_mean
            elif variant == "posterior":
                values = post_mean
            elif variant == "difference":
                values = None if post_mean is None else post_mean - prior_mean
            else:
                values = None if posterior is None else uncertainty_reduction(posterior, sp, prior)
            if values is None:
                continue
            title = raster_layer_name(variant, sp)
            if variant in ("prior", "posterior"):
                scale = sequential_scale(
                    both,
                    title,
                    units,
                    cfg.colormap_sequential,
                    cfg.n_classes,
                    cfg.log_scale,
                    cfg.log_min_decades,
                )
                mask = values > 0
            elif variant == "difference":
                scale = diverging_scale(
                    values, title, units, cfg.colormap_diverging, cfg.log_scale, cfg.log_min_decades
                )
                mask = (prior_mean > 0) | (values != 0)
            else:
                scale = fixed_scale(
                    np.round(np.linspace(0, 1, 11), 2).tolist(),
                    title,
                    "1 − σ_posterior / σ_prior (0 = not constrained)",
                    cfg.colormap_reduction,
                    open_low=True,
                    open_high=False,
                )
                mask = np.isfinite(values)
            if region is not None:
                mask = mask & region
            out.append(RasterField(variant, sp, values, mask, scale, period))
    return out


def initial_raster(fields: list[RasterField], cfg: MapConfig, has_units: bool) -> str | None:
    """Name of the raster layer shown when the map opens.

    ``cfg.raster_initial`` (``"<variant> <species>"``); else none when a unit layer is drawn
    (it would hide the raster), otherwise the posterior (else prior) of the first species.
    """
    initial = cfg.raster_initial
    if initial is None:
        if has_units or not fields:
            return None
        first = next((f for f in fields if f.variant == "posterior"), fields[0])
        return first.name
    variant, _, sp = initial.partition(" ")
    if variant not in VARIANT_LABEL:
        raise InputDataError(
            f"raster_initial {initial!r}: variant must be one of {list(VARIANT_LABEL)}"
        )
    return raster_layer_name(variant, sp)


def add_rasters(
    m: folium.Map, grid: GridSpec, fields: list[RasterField], cfg: MapConfig, initial: str | None
) -> list[str]:
    """One image overlay with its legend per field; returns the layer names."""
    CustomPane("gc_rasters", z_index=350, pointer_events=False).add_to(m)
    names = []
    for f in fields:
        classes = f.scale.classify(f.values)
        classes[~f.mask] = NODATA
        img = warp_to_mercator(classes, grid, cfg.raster_pixels_per_cell)
        layer = folium.raster_layers.ImageOverlay(
            image=png_data_url(img, f.scale),
            bounds=img.bounds_latlon,
            name=f.name,
            opacity=cfg.raster_opacity,
            interactive=False,
            show=(f.name == initial),
            pane="gc_rasters",
            className="gc-raster",
        )
        in_group(layer, f"{f.species}: emission grids").add_to(m)
        key = f"raster:{f.variant}:{f.species}"
        LayerLegend(layer, [legend_section(f.scale, f.subtitle)], key).add_to(m)
        names.append(f.name)
    return names
