"""The prior inventory: annual sector totals on spatial proxies, plus a point-source table.

Generic: the species are whatever the inventory's tables carry (one column per species name);
a scenario (e.g. :mod:`gridcarbon.scenario.zhejiang_inventory`) builds one for its region.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridcarbon.errors import InputDataError
from gridcarbon.grids.gridspec import GridSpec

__all__ = [
    "Inventory",
    "POINT_ATTRIBUTES",
    "point_columns",
    "validate_points",
    "locate_points",
]

log = logging.getLogger(__name__)

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


def point_columns(species: Sequence[str]) -> tuple[str, ...]:
    """Columns of a point-source table: :data:`POINT_ATTRIBUTES`, then the annual emission of
    each species (kg per year, as the species' ``mass_as``), named by the species names."""
    return (*POINT_ATTRIBUTES, *species)


def validate_points(
    points: pd.DataFrame,
    species: Sequence[str],
    sectors: Sequence[str] | None = None,
    source: str = "point-source table",
) -> pd.DataFrame:
    """Check a point-source table and return a clean copy with the right dtypes.

    Parameters
    ----------
    points : DataFrame
        Columns :func:`point_columns` of ``species`` (others are dropped).
    species : sequence of str
        Names of the species whose annual emissions (kg per year) the table must hold.
    sectors : sequence of str, optional
        The known sectors; a row of another sector is refused.
    source : str
        What the table is, for the messages (e.g. the file name).

    Raises :class:`InputDataError` naming the first bad row and column: by its place in its
    file when the table says it (``points.attrs["row_places"]``, one text per row, e.g.
    ``"line 7"``, as :func:`gridcarbon.io.tables.read_point_sources` sets it), else by its
    1-based row number.
    """
    places = points.attrs.get("row_places")
    if places is None or len(places) != len(points):
        places = [f"row {i + 1}" for i in range(len(points))]

    def where(i: int) -> str:
        return f"{source} {places[i]}"

    columns = point_columns(species)
    missing = [c for c in columns if c not in points.columns]
    if missing:
        raise InputDataError(
            f"{source} lacks column(s) {missing}; required columns are {list(columns)}"
        )
    pts = points.loc[:, list(columns)].copy().reset_index(drop=True)
    for c in ("point_id", "name", "sector", "park"):
        pts[c] = pts[c].astype(str)
    dup = pts["point_id"].duplicated()
    if dup.any():
        raise InputDataError(f"{source}: duplicate point_id {pts['point_id'][dup].iloc[0]!r}")
    if sectors is not None:
        sectors = list(sectors)
        bad = ~pts["sector"].isin(sectors)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputDataError(
                f"{where(i)} ({pts['point_id'][i]}): unknown sector {pts['sector'][i]!r}; "
                f"known sectors are {sectors}"
            )
    numeric = [
        "lon",
        "lat",
        "stack_height_m",
        "stack_diameter_m",
        "exit_velocity_m_s",
        "exit_temperature_K",
        *species,
    ]
    for c in numeric:
        values = pd.to_numeric(pts[c], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if c in species or c.startswith(("stack", "exit")):
            bad |= values < 0
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            value = pts[c][i]
            value = value.item() if isinstance(value, np.generic) else value
            raise InputDataError(
                f"{where(i)} ({pts['point_id'][i]}): {c} = {value!r} is not a "
                f"finite{' non-negative' if c not in ('lon', 'lat') else ''} number"
            )
        pts[c] = values
    if ((pts["lon"].abs() > 180) | (pts["lat"].abs() > 90)).any():
        i = int(np.flatnonzero((pts["lon"].abs() > 180) | (pts["lat"].abs() > 90))[0])
        raise InputDataError(
            f"{where(i)}: lon/lat ({pts['lon'][i]}, {pts['lat'][i]}) are not degrees"
        )
    return pts


def locate_points(
    points: pd.DataFrame,
    grid: GridSpec,
    drop_outside: bool = False,
    species: Sequence[str] = (),
) -> pd.DataFrame:
    """Add each point's cell (``row``, ``col``); points outside the grid raise or are dropped.

    A point outside the grid raises :class:`OutsideGridError` naming it, unless ``drop_outside``,
    in which case it is dropped and the drop is logged with the emissions of ``species`` (column
    names) it carried.
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
        dropped = points.loc[outside, list(species)].sum()
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


@dataclass(frozen=True, eq=False)
class Inventory:
    """Annual emissions: area sources by sector on spatial proxies, and point sources.

    A frozen value (its arrays and tables are not copied: do not change them in place).

    Parameters
    ----------
    grid : GridSpec
    sectors : sequence of str
        Stored as a tuple.
    area_totals : DataFrame
        Index ``sectors``, one column per species (its name); kg per year of the
        **area-source** part.
    proxies : ndarray ``(n_sectors, ny, nx)``
        Spatial distribution of each sector's area sources; each sector's map sums to 1 (or is
        all zero when the sector has no area part).
    points : DataFrame
        :func:`point_columns` of the species plus ``row``/``col``; annual kg per year.
    synthetic : bool
        Whether any part is synthetic.
    description : mapping
        Provenance notes written into output metadata.
    region_fraction : ndarray ``(ny, nx)``, optional
        Fraction of each cell inside the region.
    synthetic_components : tuple of str
        What of the inventory is synthetic or assumed, for the outputs' metadata.
    hour_shift_h : ndarray ``(ny, nx)`` of int, optional
        Per cell, the hours from Beijing time of the clock its temporal profiles follow (local
        solar time; :func:`gridcarbon.grids.temporal.solar_hour_shift`); a point source follows
        its cell's.  None: Beijing time everywhere.
    """

    grid: GridSpec
    sectors: tuple[str, ...]
    area_totals: pd.DataFrame
    proxies: np.ndarray
    points: pd.DataFrame
    synthetic: bool = True
    description: Mapping[str, str] = field(default_factory=dict)
    region_fraction: np.ndarray | None = None
    synthetic_components: tuple[str, ...] = ()
    hour_shift_h: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sectors", tuple(self.sectors))
        object.__setattr__(self, "synthetic_components", tuple(self.synthetic_components))
        if self.proxies.shape != (len(self.sectors), *self.grid.shape):
            raise InputDataError(
                f"proxies have shape {self.proxies.shape}, expected "
                f"{(len(self.sectors), *self.grid.shape)}"
            )
        if self.hour_shift_h is not None and self.hour_shift_h.shape != self.grid.shape:
            raise InputDataError(
                f"hour_shift_h has shape {self.hour_shift_h.shape}, expected {self.grid.shape}"
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
        missing = [sp for sp in self.species if sp not in self.points.columns]
        if missing:
            raise InputDataError(
                f"the point-source table lacks the annual emissions of species {missing}"
            )
        sums = self.proxies.reshape(len(self.sectors), -1).sum(axis=1)
        for s, total in zip(self.sectors, sums, strict=True):
            if self.area_totals.loc[s].sum() > 0 and not np.isclose(total, 1.0, rtol=1e-9):
                raise InputDataError(f"proxy of sector {s!r} sums to {total}, not 1")

    @property
    def species(self) -> list[str]:
        """Names of the species the inventory holds (the columns of ``area_totals``)."""
        return [str(c) for c in self.area_totals.columns]

    def annual_totals(self) -> pd.DataFrame:
        """Sector × species annual totals (area + point), kg per year."""
        pt = self.points.groupby("sector")[self.species].sum()
        return self.area_totals.add(pt.reindex(self.area_totals.index).fillna(0.0))

    def area_maps(self, species: str) -> np.ndarray:
        """Annual area-source emission of ``species`` per sector and cell, ``(S, ny, nx)`` kg/yr."""
        return self.proxies * self.area_totals[species].to_numpy()[:, None, None]
