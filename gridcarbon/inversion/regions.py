"""The regions of the mixing-height scales (``state.mixing_height_regions: city``).

Each city of the scenario's ``boundaries["city"]`` gets its own daily mixing-height scale δ.
An observation takes the city its station (or superobservation centre) lies in; outside every
city (the sea, a neighbouring province) the city with the nearest centroid. The same day's
scales of two cities correlate as ``exp(-d / L)``, d between their centroids: an exponential
kernel, so the correlation is positive definite for any set of centroids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from gridcarbon.errors import ConfigError
from gridcarbon.grids.gridspec import GridSpec, to_projected

__all__ = ["MixingHeightRegions", "city_codes", "mixing_height_regions"]


@dataclass(frozen=True)
class MixingHeightRegions:
    """Cities with their own mixing-height scales.

    Attributes
    ----------
    names : tuple of str
        City codes (``adcode``), in state order.
    geometries : list of shapely geometries
        The cities in the grid's projected CRS (metres).
    centroids : ndarray ``(n, 2)``
        Their centroids, grid x/y (metres).
    correlation : ndarray ``(n, n)``
        Correlation of one day's scales between the cities (dimensionless).
    """

    names: tuple[str, ...]
    geometries: list
    centroids: np.ndarray
    correlation: np.ndarray

    def region_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index (into :attr:`names`) of the city holding each grid point ``x, y`` (metres),
        or of the nearest centroid for a point outside every city."""
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        out = np.full(x.shape, -1, np.int64)
        for r, geom in enumerate(self.geometries):
            out[shapely.contains_xy(geom, x, y) & (out < 0)] = r
        rest = out < 0
        if rest.any():
            d2 = (x[rest, None] - self.centroids[None, :, 0]) ** 2 + (
                y[rest, None] - self.centroids[None, :, 1]
            ) ** 2
            out[rest] = np.argmin(d2, axis=1)
        return out


def city_codes(cities: Any) -> np.ndarray:
    """The code of each city of a boundary GeoDataFrame: its ``adcode`` column as text, else
    its index."""
    if "adcode" in cities:
        return cities["adcode"].astype(str).to_numpy()
    return cities.index.astype(str).to_numpy()


def mixing_height_regions(
    cities: Any,
    grid: GridSpec,
    length_km: float,
    needed_by: str = "state.mixing_height_regions 'city' (or set mixing_height_regions: province)",
) -> MixingHeightRegions:
    """The cities of ``cities`` (a lon/lat GeoDataFrame with an ``adcode`` column, else its
    index as the code) as regions of the mixing-height scales on ``grid``, with the day's
    correlation ``exp(-d / length_km)`` between centroids.

    Raises
    ------
    ConfigError
        Without city boundaries (the message names ``needed_by``, the setting that wants them).
    """
    if cities is None or len(cities) == 0:
        raise ConfigError(
            "the scenario has no city boundaries (boundaries['city']), which "
            f"{needed_by} needs: add them to the scenario"
        )
    codes = city_codes(cities)
    geometries = [to_projected(geom, grid.crs) for geom in cities.geometry]
    centroids = np.array([[g.centroid.x, g.centroid.y] for g in geometries], dtype=np.float64)
    d_km = np.hypot(*(centroids[:, None, :] - centroids[None, :, :]).transpose(2, 0, 1)) / 1000.0
    return MixingHeightRegions(
        tuple(codes), geometries, centroids, np.exp(-d_km / float(length_km))
    )
