"""Readers of the geographic data gridcarbon ships or is given: boundaries (GeoJSON),
class rasters (GeoTIFF) and place tables (CSV).

Callers (the scenario builders) decide *which* file; these functions only read it, and turn a
dependency's failure into an :class:`~gridcarbon.errors.InputFileError` naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from gridcarbon.errors import InputDataError, InputFileError

__all__ = [
    "read_population_table",
    "package_data_path",
    "read_boundaries",
    "read_class_raster",
    "read_places",
    "ClassRaster",
]


def package_data_path(name: str) -> Path:
    """Path of a file shipped in ``gridcarbon/data``."""
    return Path(str(files("gridcarbon") / "data" / name))


def _missing(path: Path, what: str) -> None:
    if not path.is_file():
        raise InputFileError(f"{what} {str(path)!r} does not exist")


def read_boundaries(path: str | Path, crs: str = "EPSG:4326") -> Any:
    """Administrative boundaries as a GeoDataFrame in lon/lat.

    ``adcode`` (the 6-digit administrative code) is read as text; files without a CRS are
    taken as ``crs`` (the shipped boundaries are WGS84).
    """
    import geopandas as gpd

    path = Path(path)
    _missing(path, "boundary file")
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several kinds for an unreadable file
        raise InputFileError(f"cannot read boundary file {str(path)!r}: {exc}") from None
    gdf = gdf.set_crs(crs, allow_override=gdf.crs is None) if gdf.crs is None else gdf
    if "adcode" in gdf.columns:
        gdf["adcode"] = gdf["adcode"].astype(str)
    return gdf


@dataclass(frozen=True)
class ClassRaster:
    """A single-band class raster: values, affine transform, CRS (WKT) and nodata value."""

    classes: Any
    transform: Any
    crs_wkt: str
    nodata: float | None


def read_class_raster(
    path: str | Path, bounds: tuple[float, float, float, float] | None = None
) -> ClassRaster:
    """The first band of a GeoTIFF of classes (e.g. IGBP land cover) with its georeferencing.

    ``bounds`` (left, bottom, right, top in the raster's CRS): read only the pixels of that
    window, which must lie on the raster's pixel edges and inside it (the window's transform is
    returned, so the result is the same as a file cut to it).
    """
    import rasterio
    import rasterio.windows
    from rasterio.transform import Affine

    path = Path(path)
    _missing(path, "raster")
    try:
        with rasterio.open(path) as src:
            if bounds is None:
                return ClassRaster(src.read(1), src.transform, src.crs.to_wkt(), src.nodata)
            # pixel offsets of the window, for a north-up raster (rotation terms are zero)
            t, (left, bottom, right, top) = src.transform, bounds
            edges = np.array(
                [(left - t.c) / t.a, (top - t.f) / t.e, (right - left) / t.a, (bottom - top) / t.e]
            )
            snapped = np.round(edges)
            if (
                t.b != 0
                or t.d != 0
                or np.abs(edges - snapped).max() > 1e-6
                or min(snapped) < 0
                or snapped[0] + snapped[2] > src.width
                or snapped[1] + snapped[3] > src.height
            ):
                raise InputDataError(
                    f"the window {bounds} is not on the pixel edges of raster {str(path)!r} "
                    f"or not inside its bounds {tuple(src.bounds)}"
                )
            col, row, width, height = (int(v) for v in snapped)
            classes = src.read(1, window=rasterio.windows.Window(col, row, width, height))
            transform = t @ Affine.translation(col, row)
            return ClassRaster(classes, transform, src.crs.to_wkt(), src.nodata)
    except rasterio.errors.RasterioError as exc:
        raise InputFileError(f"cannot read raster {str(path)!r}: {exc}") from None


def read_places(path: str | Path) -> Any:
    """A table of places (name, lon, lat, population, note) as a DataFrame."""
    import pandas as pd

    path = Path(path)
    _missing(path, "place table")
    try:
        return pd.read_csv(path, dtype={"note": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read place table {str(path)!r}: {exc}") from None


def read_population_table(path: str | Path) -> Any:
    """A table of population by administrative unit (``adcode``, names, ``population_2020``
    in persons) as a DataFrame; ``#`` lines are comments.  ``adcode`` is read as text."""
    import pandas as pd

    path = Path(path)
    _missing(path, "population table")
    try:
        table = pd.read_csv(path, comment="#", dtype={"adcode": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read population table {str(path)!r}: {exc}") from None
    for column in ("adcode", "population_2020"):
        if column not in table.columns:
            raise InputFileError(
                f"population table {str(path)!r} has no column {column!r} "
                f"(it has {list(table.columns)})"
            )
    return table
