"""The prior inventory: annual sector totals on spatial proxies, plus a point-source table."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridcarbon.errors import InputDataError
from gridcarbon.grids.gridspec import GridSpec

__all__ = [
    "Inventory",
    "POINT_ATTRIBUTES",
    "POINT_COLUMNS",
    "SPECIES_COLUMNS",
    "validate_points",
    "locate_points",
]

log = logging.getLogger(__name__)

SPECIES_COLUMNS = ("CO2", "NOx", "VOC")

#: Attributes of a point source: identity, location (lon/lat, degrees, WGS84/CGCS2000) and stack
#: parameters (m, m, m s-1, K).
POINT_ATTRIBUTES = (
    "point_id",
    "name",
    "sector",
    "park",
    "lon",
    "lat",
    "stack_height_m",
    "stack_diameter_m",
    "exit_velocity_m_s",
    "exit_temperature_K",
)

#: Columns of a point-source table: the attributes and annual emissions (kg per year; NOx as NO2,
#: VOC as NMVOC).
POINT_COLUMNS = (*POINT_ATTRIBUTES, *SPECIES_COLUMNS)


def validate_points(
    points: pd.DataFrame, sectors: list[str] | None = None, source: str = "point-source table"
) -> pd.DataFrame:
    """Check a point-source table and return a clean copy with the right dtypes.

    Raises :class:`InputDataError` naming the first bad row and column.
    """
    missing = [c for c in POINT_COLUMNS if c not in points.columns]
    if missing:
        raise InputDataError(
            f"{source} lacks column(s) {missing}; required columns are {list(POINT_COLUMNS)}"
        )
    pts = points.loc[:, list(POINT_COLUMNS)].copy().reset_index(drop=True)
    for c in ("point_id", "name", "sector", "park"):
        pts[c] = pts[c].astype(str)
    dup = pts["point_id"].duplicated()
    if dup.any():
        raise InputDataError(f"{source}: duplicate point_id {pts['point_id'][dup].iloc[0]!r}")
    if sectors is not None:
        bad = ~pts["sector"].isin(sectors)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputDataError(
                f"{source} row {i} ({pts['point_id'][i]}): unknown sector {pts['sector'][i]!r}; "
                f"known sectors are {sectors}"
            )
    numeric = [
        "lon",
        "lat",
        "stack_height_m",
        "stack_diameter_m",
        "exit_velocity_m_s",
        "exit_temperature_K",
        *SPECIES_COLUMNS,
    ]
    for c in numeric:
        values = pd.to_numeric(pts[c], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if c in SPECIES_COLUMNS or c.startswith(("stack", "exit")):
            bad |= values < 0
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputDataError(
                f"{source} row {i} ({pts['point_id'][i]}): {c} = {pts[c][i]!r} is not a "
                f"finite{' non-negative' if c not in ('lon', 'lat') else ''} number"
            )
        pts[c] = values
    if ((pts["lon"].abs() > 180) | (pts["lat"].abs() > 90)).any():
        i = int(np.flatnonzero((pts["lon"].abs() > 180) | (pts["lat"].abs() > 90))[0])
        raise InputDataError(
            f"{source} row {i}: lon/lat ({pts['lon'][i]}, {pts['lat'][i]}) are not degrees"
        )
    return pts


def locate_points(points: pd.DataFrame, grid: GridSpec, drop_outside: bool = False) -> pd.DataFrame:
    """Add each point's cell (``row``, ``col``); points outside the grid raise or are dropped.

    A point outside the grid raises :class:`OutsideGridError` naming it, unless ``drop_outside``,
    in which case it is dropped and the drop is logged with the emissions it carried.
    """
    from gridcarbon.errors import OutsideGridError

    row, col = grid.index(points["lon"].to_numpy(), points["lat"].to_numpy(), strict=False)
    outside = row < 0
    if outside.any():
        first = points.loc[outside].iloc[0]
        if not drop_outside:
            raise OutsideGridError(
                f"{int(outside.sum())} point source(s) lie outside the grid, first "
                f"{first['point_id']!r} at lon={first['lon']}, lat={first['lat']}; fix the "
                "location, enlarge the grid (grid.buffer_m) or set prior.drop_points_outside"
            )
        dropped = points.loc[outside, list(SPECIES_COLUMNS)].sum()
        log.warning(
            "dropped %d point source(s) outside the grid (%s), carrying %s kg/yr",
            int(outside.sum()),
            ", ".join(points.loc[outside, "point_id"].astype(str)[:5]),
            dropped.to_dict(),
        )
    out = points.loc[~outside].copy()
    out["row"] = row[~outside]
    out["col"] = col[~outside]
    return out.reset_index(drop=True)


@dataclass
class Inventory:
    """Annual emissions: area sources by sector on spatial proxies, and point sources.

    Parameters
    ----------
    grid : GridSpec
    sectors : list of str
    area_totals : DataFrame
        Index ``sectors``, columns species; kg per year of the **area-source** part.
    proxies : ndarray ``(n_sectors, ny, nx)``
        Spatial distribution of each sector's area sources; each sector's map sums to 1 (or is
        all zero when the sector has no area part).
    points : DataFrame
        :data:`POINT_COLUMNS` plus ``row``/``col``; annual kg per year.
    synthetic : bool
        Whether any part is synthetic.
    description : dict
        Provenance notes written into output metadata.
    region_fraction : ndarray ``(ny, nx)``, optional
        Fraction of each cell inside the region.
    """

    grid: GridSpec
    sectors: list[str]
    area_totals: pd.DataFrame
    proxies: np.ndarray
    points: pd.DataFrame
    synthetic: bool = True
    description: dict = field(default_factory=dict)
    region_fraction: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.proxies.shape != (len(self.sectors), *self.grid.shape):
            raise InputDataError(
                f"proxies have shape {self.proxies.shape}, expected "
                f"{(len(self.sectors), *self.grid.shape)}"
            )
        if not np.all(np.isfinite(self.proxies)) or (self.proxies < 0).any():
            raise InputDataError("spatial proxies must be finite and non-negative")
        totals = self.area_totals.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(totals)) or (totals < 0).any():
            bad = np.argwhere(~np.isfinite(totals) | (totals < 0))[0]
            raise InputDataError(
                f"area-source total of sector {self.area_totals.index[bad[0]]!r}, species "
                f"{self.area_totals.columns[bad[1]]!r} is {totals[tuple(bad)]!r}: "
                "emissions must be finite and non-negative"
            )
        sums = self.proxies.reshape(len(self.sectors), -1).sum(axis=1)
        for s, total in zip(self.sectors, sums, strict=True):
            if self.area_totals.loc[s].sum() > 0 and not np.isclose(total, 1.0, rtol=1e-9):
                raise InputDataError(f"proxy of sector {s!r} sums to {total}, not 1")

    @property
    def species(self) -> list[str]:
        return [str(c) for c in self.area_totals.columns]

    def annual_totals(self) -> pd.DataFrame:
        """Sector × species annual totals (area + point), kg per year."""
        pt = self.points.groupby("sector")[self.species].sum()
        return self.area_totals.add(pt.reindex(self.area_totals.index).fillna(0.0))

    def area_maps(self, species: str) -> np.ndarray:
        """Annual area-source emission of ``species`` per sector and cell, ``(S, ny, nx)`` kg/yr."""
        return self.proxies * self.area_totals[species].to_numpy()[:, None, None]
