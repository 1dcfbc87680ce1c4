"""The grid: square equal-area cells aligned to whole multiples of the cell size."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyproj
import shapely
from affine import Affine

from gridcarbon.errors import ConfigError, CRSError, OutsideGridError

__all__ = ["GridSpec", "default_crs", "parse_crs", "to_projected", "DEFAULT_CRS_NAME"]

DEFAULT_CRS_NAME = "CGCS2000 / Zhejiang Albers equal-area (27.5N, 30.5N; 29N 120.5E)"


def default_crs(
    lat_1: float = 27.5, lat_2: float = 30.5, lat_0: float = 29.0, lon_0: float = 120.5
) -> pyproj.CRS:
    """Albers equal-area conic on the CGCS2000 datum (GRS80 ellipsoid), in metres.

    Parameters
    ----------
    lat_1, lat_2 : float
        Standard parallels, degrees north.
    lat_0, lon_0 : float
        Latitude and longitude of the projection origin, degrees.
    """
    from pyproj.crs import ProjectedCRS
    from pyproj.crs.coordinate_operation import AlbersEqualAreaConversion

    conversion = AlbersEqualAreaConversion(
        latitude_first_parallel=lat_1,
        latitude_second_parallel=lat_2,
        latitude_false_origin=lat_0,
        longitude_false_origin=lon_0,
    )
    return ProjectedCRS(
        conversion=conversion, geodetic_crs=pyproj.CRS.from_epsg(4490), name=DEFAULT_CRS_NAME
    )


def parse_crs(crs: Any) -> pyproj.CRS:
    """Parse a projected CRS in metres, raising :class:`CRSError` with a fix otherwise."""
    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(
            f"unknown CRS {crs!r}: give an EPSG code ('EPSG:...'), a PROJ string or WKT ({exc})"
        ) from None
    if not parsed.is_projected:
        raise CRSError(
            f"grid CRS {parsed.name!r} is not projected: the grid needs an equal-area projection "
            "in metres (the default is an Albers equal-area conic on CGCS2000)"
        )
    if parsed.axis_info[0].unit_name not in ("metre", "meter"):
        raise CRSError(f"grid CRS {parsed.name!r} is not in metres")
    return parsed


@dataclass(frozen=True)
class GridSpec:
    """A north-up grid of square cells in a projected (equal-area) CRS.

    Row 0 is the northern edge, as in GeoTIFF; cell ``(row, col)`` spans
    ``x_min + col*cell_size .. +cell_size`` and ``y_max - (row+1)*cell_size .. y_max - row*cell_size``.
    Flat cell indices are C-ordered: ``row * nx + col``.

    Parameters
    ----------
    crs_wkt : str
        The projected CRS as WKT (or anything :func:`pyproj.CRS.from_user_input` takes).
    x_min, y_max : float
        Western and northern edges, metres.
    cell_size : float
        Cell edge length, metres (3000 by default).
    nx, ny : int
        Number of columns and rows.
    """

    crs_wkt: str
    x_min: float
    y_max: float
    cell_size: float
    nx: int
    ny: int

    def __post_init__(self) -> None:
        if not np.isfinite(self.cell_size) or self.cell_size <= 0:
            raise ConfigError(
                f"cell_size must be a positive number of metres, got {self.cell_size!r}"
            )
        if int(self.nx) < 1 or int(self.ny) < 1:
            raise ConfigError(f"grid must have at least one cell, got nx={self.nx}, ny={self.ny}")
        crs = parse_crs(self.crs_wkt)
        object.__setattr__(self, "crs_wkt", crs.to_wkt())
        object.__setattr__(self, "nx", int(self.nx))
        object.__setattr__(self, "ny", int(self.ny))

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_bounds(
        cls, bounds: tuple[float, float, float, float], cell_size: float = 3000.0, crs: Any = None
    ) -> GridSpec:
        """Smallest grid aligned to whole multiples of ``cell_size`` that covers ``bounds``.

        Parameters
        ----------
        bounds : (x_min, y_min, x_max, y_max)
            Projected bounds, metres.
        cell_size : float
            Cell edge, metres.
        crs : optional
            The projected CRS; default :func:`default_crs`.
        """
        if not np.isfinite(cell_size) or cell_size <= 0:
            raise ConfigError(f"cell_size must be a positive number of metres, got {cell_size!r}")
        crs = default_crs() if crs is None else parse_crs(crs)
        x0, y0, x1, y1 = bounds
        if not (x1 > x0 and y1 > y0):
            raise ConfigError(f"empty bounds {bounds!r}")
        x_min = np.floor(x0 / cell_size) * cell_size
        y_min = np.floor(y0 / cell_size) * cell_size
        x_max = np.ceil(x1 / cell_size) * cell_size
        y_max = np.ceil(y1 / cell_size) * cell_size
        nx = int(round((x_max - x_min) / cell_size))
        ny = int(round((y_max - y_min) / cell_size))
        return cls(crs.to_wkt(), float(x_min), float(y_max), float(cell_size), nx, ny)

    @classmethod
    def from_region(
        cls,
        region_lonlat: shapely.Geometry,
        cell_size: float = 3000.0,
        buffer_m: float = 0.0,
        crs: Any = None,
    ) -> GridSpec:
        """Grid covering a region polygon (given in lon/lat degrees) plus a buffer.

        Parameters
        ----------
        region_lonlat : shapely geometry
            Region in WGS84/CGCS2000 longitude, latitude (degrees).
        cell_size : float
            Cell edge, metres.
        buffer_m : float
            Extra margin around the region's bounds, metres.
        crs : optional
            The projected CRS; default :func:`default_crs`.

        Returns
        -------
        GridSpec
            The smallest grid aligned to whole multiples of ``cell_size`` that covers the
            projected region and buffer.

        Examples
        --------
        A grid of 3 km cells around Hangzhou, and the cells of two points (lon, lat):

        >>> import shapely
        >>> import gridcarbon
        >>> grid = gridcarbon.GridSpec.from_region(shapely.box(120.0, 30.0, 120.5, 30.4))
        >>> grid.nx, grid.ny, grid.cell_size
        (17, 16, 3000.0)
        >>> rows, cols = grid.index([120.16, 120.30], [30.27, 30.10])
        >>> rows.tolist(), cols.tolist()
        ([5, 11], [6, 10])
        """
        if buffer_m < 0:
            raise ConfigError(f"buffer_m must be >= 0 metres, got {buffer_m!r}")
        crs = default_crs() if crs is None else parse_crs(crs)
        projected = to_projected(region_lonlat, crs)
        x0, y0, x1, y1 = projected.bounds
        return cls.from_bounds(
            (x0 - buffer_m, y0 - buffer_m, x1 + buffer_m, y1 + buffer_m), cell_size, crs
        )

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (for YAML configs and dataset attributes)."""
        return {
            "crs_wkt": self.crs_wkt,
            "x_min": self.x_min,
            "y_max": self.y_max,
            "cell_size": self.cell_size,
            "nx": self.nx,
            "ny": self.ny,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GridSpec:
        """Inverse of :meth:`to_dict`."""
        missing = {"crs_wkt", "x_min", "y_max", "cell_size", "nx", "ny"} - set(d)
        if missing:
            raise ConfigError(f"grid description lacks {sorted(missing)}")
        return cls(**{k: d[k] for k in ("crs_wkt", "x_min", "y_max", "cell_size", "nx", "ny")})

    @classmethod
    def from_dataset(cls, ds: Any) -> GridSpec:
        """Recover the grid of a gridcarbon Dataset (its ``x``/``y`` centres and ``crs`` variable)."""
        x = np.asarray(ds["x"].values, dtype=float)
        y = np.asarray(ds["y"].values, dtype=float)
        cell = float(ds.attrs.get("cell_size_m", abs(x[1] - x[0]) if x.size > 1 else np.nan))
        return cls(
            ds["crs"].attrs["crs_wkt"],
            float(x[0] - cell / 2),
            float(y[0] + cell / 2),
            cell,
            x.size,
            y.size,
        )

    # -- geometry ------------------------------------------------------------------------------
    @cached_property
    def crs(self) -> pyproj.CRS:
        """The grid's projected CRS."""
        return pyproj.CRS.from_wkt(self.crs_wkt)

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``."""
        return (self.ny, self.nx)

    @property
    def size(self) -> int:
        """Number of cells."""
        return self.nx * self.ny

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` in metres."""
        return (
            self.x_min,
            self.y_max - self.ny * self.cell_size,
            self.x_min + self.nx * self.cell_size,
            self.y_max,
        )

    @property
    def transform(self) -> Affine:
        """Affine transform from (col, row) to (x, y) of the cell's upper-left corner."""
        return Affine(self.cell_size, 0.0, self.x_min, 0.0, -self.cell_size, self.y_max)

    @property
    def x(self) -> np.ndarray:
        """Cell-centre x, metres, west to east."""
        return self.x_min + (np.arange(self.nx) + 0.5) * self.cell_size

    @property
    def y(self) -> np.ndarray:
        """Cell-centre y, metres, north to south."""
        return self.y_max - (np.arange(self.ny) + 0.5) * self.cell_size

    @property
    def cell_area(self) -> float:
        """Area of one cell, m² (exact on the ellipsoid in an equal-area projection)."""
        return self.cell_size**2

    @cached_property
    def _to_lonlat(self) -> pyproj.Transformer:
        return pyproj.Transformer.from_crs(self.crs, self.crs.geodetic_crs, always_xy=True)

    @cached_property
    def _from_lonlat(self) -> pyproj.Transformer:
        return pyproj.Transformer.from_crs(self.crs.geodetic_crs, self.crs, always_xy=True)

    def lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre longitude and latitude (degrees), each of shape ``(ny, nx)``."""
        xx, yy = np.meshgrid(self.x, self.y)
        lon, lat = self._to_lonlat.transform(xx, yy)
        return np.asarray(lon), np.asarray(lat)

    def project(self, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        """Longitude/latitude (degrees, CGCS2000 ≈ WGS84) to grid x/y (metres)."""
        x, y = self._from_lonlat.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.asarray(x), np.asarray(y)

    def unproject(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Grid x/y (metres) to longitude/latitude (degrees)."""
        lon, lat = self._to_lonlat.transform(np.asarray(x, float), np.asarray(y, float))
        return np.asarray(lon), np.asarray(lat)

    def xy_to_index(self, x: Any, y: Any, strict: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Grid x/y (metres) to ``(row, col)`` integer arrays.

        With ``strict`` a point outside the grid raises :class:`OutsideGridError`; otherwise its
        row and column are -1.
        """
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        col = np.floor((x - self.x_min) / self.cell_size)
        row = np.floor((self.y_max - y) / self.cell_size)
        inside = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        if strict and not np.all(inside):
            bad = np.flatnonzero(~np.atleast_1d(inside))
            raise OutsideGridError(
                f"{bad.size} location(s) outside the grid (first at index {int(bad[0])}: "
                f"x={np.atleast_1d(x)[bad[0]]:.0f} m, y={np.atleast_1d(y)[bad[0]]:.0f} m); "
                f"grid bounds are {tuple(round(b) for b in self.bounds)}"
            )
        row = np.where(inside, row, -1).astype(np.int64)
        col = np.where(inside, col, -1).astype(np.int64)
        return row, col

    def index(self, lon: Any, lat: Any, strict: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Longitude/latitude (degrees) to ``(row, col)``; see :meth:`xy_to_index`."""
        x, y = self.project(lon, lat)
        return self.xy_to_index(x, y, strict=strict)

    def cell_center_lonlat(self, row: Any, col: Any) -> tuple[np.ndarray, np.ndarray]:
        """Longitude/latitude (degrees) of the centres of cells ``(row, col)``."""
        x = self.x_min + (np.asarray(col) + 0.5) * self.cell_size
        y = self.y_max - (np.asarray(row) + 0.5) * self.cell_size
        return self.unproject(x, y)

    def cell_polygons(self) -> np.ndarray:
        """All cells as shapely boxes in grid coordinates, flat C order (``row * nx + col``)."""
        x0 = self.x_min + np.arange(self.nx) * self.cell_size
        y1 = self.y_max - np.arange(self.ny) * self.cell_size
        xx, yy = np.meshgrid(x0, y1)
        return shapely.box(xx, yy - self.cell_size, xx + self.cell_size, yy).ravel()


def to_projected(geometry_lonlat: Any, crs: pyproj.CRS) -> Any:
    """Transform shapely geometry (or an array of them) from lon/lat degrees to ``crs``."""
    tr = pyproj.Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    return shapely.transform(geometry_lonlat, lambda xy: np.column_stack(tr.transform(*xy.T)))
