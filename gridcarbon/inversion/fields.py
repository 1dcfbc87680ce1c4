"""Auxiliary emission fields of the inverse model: the coarse neighbouring-province inflow prior
and the biogenic (NEE, isoprene) fields, plus the urban mask used to choose dispersion curves."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.inversion.dispersion import sun_elevation

__all__ = [
    "NEIGHBOUR_ADCODES",
    "neighbour_fractions",
    "neighbour_fields",
    "biogenic_fields",
    "urban_fraction",
    "KG_H_PER_UMOL_M2_S_CO2",
]

NEIGHBOUR_ADCODES = {
    "310000": "Shanghai",
    "320000": "Jiangsu",
    "340000": "Anhui",
    "360000": "Jiangxi",
    "350000": "Fujian",
}

#: kg CO2 per hour per m² for a flux of 1 µmol m-2 s-1.
KG_H_PER_UMOL_M2_S_CO2 = 44.0095e-6 * 3600 / 1000.0


@lru_cache(maxsize=8)
def _neighbour_fractions_cached(grid: GridSpec) -> tuple[tuple[str, ...], np.ndarray]:
    from gridcarbon.grids.coverage import coverage_matrix
    from gridcarbon.grids.gridspec import to_projected
    from gridcarbon.scenario.geography import load_boundaries

    nb = load_boundaries("neighbours")
    names, geoms = [], []
    for code, geom in zip(nb["adcode"].astype(str), nb.geometry, strict=True):
        if code in NEIGHBOUR_ADCODES:
            names.append(NEIGHBOUR_ADCODES[code])
            geoms.append(to_projected(geom, grid.crs))
    F = coverage_matrix(grid, geoms).toarray() if geoms else np.zeros((0, grid.size))
    return tuple(names), F


def neighbour_fractions(grid: GridSpec) -> tuple[list[str], np.ndarray]:
    """Names of the neighbouring provinces and their coverage fraction per cell ``(5, ncell)``."""
    names, F = _neighbour_fractions_cached(grid)
    return list(names), F


def neighbour_fields(
    grid: GridSpec,
    prior_total_per_hour: dict[str, np.ndarray],
    region_area_m2: float,
    scales: dict[str, float],
    fractions: tuple[list[str], np.ndarray] | None = None,
) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """Coarse inflow prior: each neighbouring province emits like Zhejiang's mean density (per
    hour, from the prior) times a scale, spread evenly over its part of the grid.

    The field of province ``p`` and species ``s`` is ``density[s][t] * W[p, cell]`` kg/h.

    Returns
    -------
    names : list of str
    W : ndarray ``(n_prov, ncell)``
        ``scale_p * coverage_p(cell) * cell_area`` (m²).
    density : dict species → ``(nt,)``
        Zhejiang's mean emission density per hour, kg h-1 m-2.
    """
    names, F = neighbour_fractions(grid) if fractions is None else fractions
    W = np.asarray(F, float) * grid.cell_area
    W = W * np.array([scales.get(nm, 1.0) for nm in names])[:, None] if len(names) else W
    dens = {
        sp: np.asarray(tot, float) / max(region_area_m2, 1.0)
        for sp, tot in prior_total_per_hour.items()
    }
    return list(names), W, dens


def urban_fraction(grid: GridSpec) -> np.ndarray:
    """Urban fraction per cell (flat) from the MODIS land cover, zeros where unavailable."""
    lc = _landcover(grid)
    return lc["urban"].ravel()


@lru_cache(maxsize=8)
def _landcover(grid: GridSpec) -> dict[str, np.ndarray]:
    try:
        from gridcarbon.scenario.landcover import landcover_fractions

        return landcover_fractions(grid)
    except Exception:  # pragma: no cover - raster unavailable
        z = np.zeros(grid.shape)
        return {"urban": z, "cropland": z, "forest": z, "water": z, "other": z}


def biogenic_fields(
    grid: GridSpec,
    times: pd.DatetimeIndex,
    t2m_K: np.ndarray,
    landcover: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Biogenic fluxes per cell and hour, kg/h, ``(nt, ncell)`` float32.

    * ``CO2``: net ecosystem exchange (positive = source) over forest and cropland:
      respiration ``R0 * 2**((T - 288.15)/10)`` (R0 = 2.0 forest, 1.2 cropland µmol m-2 s-1) minus
      photosynthesis ``Pmax * max(sin(sun elevation), 0) * clip((T - 273.15)/20, 0.1, 1)``
      (Pmax = 12 forest, 8 cropland µmol m-2 s-1): a diurnal cycle, uptake by day, release at
      night;
    * ``VOC``: isoprene over forest, ``eps * gamma_L * gamma_T`` with eps = 4 mg m-2 h-1,
      gamma_L = max(sin elevation, 0), gamma_T = exp(0.09 (T - 303.15)).

    Simple shapes standing for a biosphere model; synthetic.  ``t2m_K`` is ``(nt,)``, one
    temperature per hour for the whole grid.
    """
    lc = _landcover(grid) if landcover is None else landcover
    forest = np.asarray(lc["forest"]).ravel()
    crop = np.asarray(lc["cropland"]).ravel()
    lon, lat = grid.lonlat()
    el = sun_elevation(
        pd.DatetimeIndex(times).values[:, None], lon.ravel()[None], lat.ravel()[None]
    )
    light = np.clip(np.sin(np.radians(el)), 0, None)
    T = np.asarray(t2m_K, float)[:, None]
    resp = 2.0 ** ((T - 288.15) / 10.0)
    ptemp = np.clip((T - 273.15) / 20.0, 0.1, 1.0)
    nee = forest[None] * (2.0 * resp - 12.0 * light * ptemp) + crop[None] * (
        1.2 * resp - 8.0 * light * ptemp
    )
    co2 = (nee * KG_H_PER_UMOL_M2_S_CO2 * grid.cell_area).astype(np.float32)
    iso = forest[None] * 4.0e-6 * light * np.exp(0.09 * (T - 303.15)) * grid.cell_area
    return {"CO2": co2, "VOC": iso.astype(np.float32)}
