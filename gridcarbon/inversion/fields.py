"""Auxiliary emission fields of the inverse model: the coarse neighbouring-region inflow prior
and the biogenic fields (net ecosystem exchange, isoprene), from the scenario's boundaries and
land cover."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.inversion.dispersion import sun_elevation

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

__all__ = [
    "neighbour_fractions",
    "neighbour_fields",
    "biogenic_fields",
    "BIOGENIC_MODELS",
    "kg_h_per_umol_m2_s",
]


def kg_h_per_umol_m2_s(molar_mass_g_mol: float) -> float:
    """kg per hour per m² for a flux of 1 µmol m-2 s-1 of a gas of the given molar mass."""
    return molar_mass_g_mol * 1e-6 * 3600 / 1000.0


def neighbour_fractions(
    grid: GridSpec, neighbours: gpd.GeoDataFrame | None
) -> tuple[list[str], np.ndarray]:
    """Names of the neighbouring regions and their coverage fraction per cell ``(n, ncell)``.

    ``neighbours`` holds their polygons in lon/lat and a ``name_en`` (or ``name``) column;
    None or empty: no neighbours.
    """
    if neighbours is None or len(neighbours) == 0:
        return [], np.zeros((0, grid.size))
    from gridcarbon.grids.coverage import coverage_matrix
    from gridcarbon.grids.gridspec import to_projected

    column = "name_en" if "name_en" in neighbours.columns else "name"
    names = [str(n) for n in neighbours[column]]
    geoms = [to_projected(geom, grid.crs) for geom in neighbours.geometry]
    return names, coverage_matrix(grid, geoms).toarray()


def neighbour_fields(
    grid: GridSpec,
    prior_total_per_hour: dict[str, np.ndarray],
    region_area_m2: float,
    scales: dict[str, float],
    neighbours: gpd.GeoDataFrame | None,
) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """Coarse inflow prior: each neighbouring region emits like the region's mean density (per
    hour, from the prior) times a scale (by name; 1 when not given), spread evenly over its
    part of the grid.

    The field of region ``p`` and species ``s`` is ``density[s][t] * W[p, cell]`` kg/h.

    Returns
    -------
    names : list of str
    W : ndarray ``(n_regions, ncell)``
        ``scale_p * coverage_p(cell) * cell_area`` (m²).
    density : dict species → ``(nt,)``
        The region's mean emission density per hour, kg h-1 m-2.
    """
    names, F = neighbour_fractions(grid, neighbours)
    W = np.asarray(F, float) * grid.cell_area
    W = W * np.array([scales.get(nm, 1.0) for nm in names])[:, None] if len(names) else W
    dens = {
        sp: np.asarray(tot, float) / max(region_area_m2, 1.0)
        for sp, tot in prior_total_per_hour.items()
    }
    return list(names), W, dens


def _net_ecosystem_exchange(
    forest: np.ndarray,
    crop: np.ndarray,
    light: np.ndarray,
    T: np.ndarray,
    cell_area: float,
    molar_mass_g_mol: float | None,
) -> np.ndarray:
    resp = 2.0 ** ((T - 288.15) / 10.0)
    ptemp = np.clip((T - 273.15) / 20.0, 0.1, 1.0)
    nee = forest[None] * (2.0 * resp - 12.0 * light * ptemp) + crop[None] * (
        1.2 * resp - 8.0 * light * ptemp
    )
    return (nee * kg_h_per_umol_m2_s(molar_mass_g_mol) * cell_area).astype(np.float32)


def _isoprene(
    forest: np.ndarray,
    crop: np.ndarray,
    light: np.ndarray,
    T: np.ndarray,
    cell_area: float,
    molar_mass_g_mol: float | None,
) -> np.ndarray:
    # a mass flux already: the molar mass is not needed
    iso = forest[None] * 4.0e-6 * light * np.exp(0.09 * (T - 303.15)) * cell_area
    return iso.astype(np.float32)


#: The biogenic flux models, by the names ``state.biogenic_models`` gives them.
BIOGENIC_MODELS = {
    "net_ecosystem_exchange": _net_ecosystem_exchange,
    "isoprene": _isoprene,
}


def biogenic_fields(
    grid: GridSpec,
    times: pd.DatetimeIndex,
    t2m_K: np.ndarray,
    landcover: Mapping[str, Any],
    models: Mapping[str, str],
    molar_mass_g_mol: Mapping[str, float | None],
) -> dict[str, np.ndarray]:
    """Biogenic fluxes per cell and hour, kg/h, ``(nt, ncell)`` float32, of each species of
    ``models`` (species name → model name):

    * ``net_ecosystem_exchange`` (positive = source) over forest and cropland: respiration
      ``R0 * 2**((T - 288.15)/10)`` (R0 = 2.0 forest, 1.2 cropland µmol m-2 s-1) minus
      photosynthesis ``Pmax * max(sin(sun elevation), 0) * clip((T - 273.15)/20, 0.1, 1)``
      (Pmax = 12 forest, 8 cropland µmol m-2 s-1): a diurnal cycle, uptake by day, release at
      night; converted to kg with the species' ``molar_mass_g_mol``;
    * ``isoprene`` over forest, ``eps * gamma_L * gamma_T`` with eps = 4 mg m-2 h-1,
      gamma_L = max(sin elevation, 0), gamma_T = exp(0.09 (T - 303.15)).

    Simple shapes standing for a biosphere model; synthetic.  ``t2m_K`` is ``(nt,)``, one
    temperature per hour for the whole grid; ``landcover`` holds ``forest`` and ``cropland``
    fractions ``(ny, nx)`` (absent classes count as 0).
    """
    if not models:
        return {}
    zeros = np.zeros(grid.size)
    forest = np.asarray(landcover.get("forest", zeros)).ravel()
    crop = np.asarray(landcover.get("cropland", zeros)).ravel()
    lon, lat = grid.lonlat()
    el = sun_elevation(
        pd.DatetimeIndex(times).values[:, None], lon.ravel()[None], lat.ravel()[None]
    )
    light = np.clip(np.sin(np.radians(el)), 0, None)
    T = np.asarray(t2m_K, float)[:, None]
    return {
        name: BIOGENIC_MODELS[model](
            forest, crop, light, T, grid.cell_area, molar_mass_g_mol.get(name)
        )
        for name, model in models.items()
    }
