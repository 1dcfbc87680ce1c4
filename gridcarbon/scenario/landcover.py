"""Land-cover fractions on the grid from MODIS MCD12C1 2019 (IGBP classes, 0.05 degrees)."""

from __future__ import annotations

import numpy as np
from rasterio.warp import Resampling, reproject

from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.io.geodata import ClassRaster, package_data_path, read_class_raster

__all__ = [
    "landcover_fractions",
    "read_landcover",
    "LANDCOVER_FILE",
    "ZHEJIANG_WINDOW",
    "IGBP_GROUPS",
]

#: The shipped extract: mainland China with Hainan, 73.0–135.5°E, 17.5–54.0°N, 0.05 degrees.
LANDCOVER_FILE = "china_igbp_mcd12c1_2019.tif"

#: The window the Zhejiang default reads (lon_min, lat_min, lon_max, lat_max in degrees): its
#: grid, buffer and the neighbours' edges.  Reading this window rather than the whole extract
#: keeps the default's land-cover fractions and unit polygons those of the Zhejiang extract it
#: was built on (the same pixels; polygons traced over a larger raster would be segmented
#: differently).
ZHEJIANG_WINDOW = (116.5, 25.5, 124.5, 32.5)

#: Weights of each IGBP class in each proxy group.  Class 14 (cropland/natural vegetation mosaic)
#: is split half cropland, half forest; woody savannas (8) count as forest, as they are wooded
#: hills in Zhejiang.
IGBP_GROUPS: dict[str, dict[int, float]] = {
    "urban": {13: 1.0},
    "cropland": {12: 1.0, 14: 0.5},
    "forest": {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0, 8: 1.0, 14: 0.5},
    "water": {0: 1.0, 11: 1.0},
    "other": {6: 1.0, 7: 1.0, 9: 1.0, 10: 1.0, 15: 1.0, 16: 1.0},
}


def read_landcover(
    bounds: tuple[float, float, float, float] | None = ZHEJIANG_WINDOW,
) -> ClassRaster:
    """The shipped MODIS MCD12C1 2019 IGBP classes in ``bounds`` (lon_min, lat_min, lon_max,
    lat_max in degrees, on the 0.05-degree pixel edges; the default's window by default,
    ``None``: all of the extract)."""
    return read_class_raster(package_data_path(LANDCOVER_FILE), bounds)


def landcover_fractions(grid: GridSpec, raster: ClassRaster | None = None) -> dict[str, np.ndarray]:
    """Fraction of each grid cell in each land-cover group.

    The 0.05-degree IGBP majority classes are turned into per-group indicators and averaged onto
    the grid by area (GDAL ``average`` resampling).  Cells outside the raster get 0.

    ``raster`` (from :func:`read_landcover` or :func:`gridcarbon.io.geodata.read_class_raster`)
    defaults to the shipped MCD12C1 extract in the Zhejiang default's window.

    Returns
    -------
    dict of str → ndarray
        ``urban``, ``cropland``, ``forest``, ``water``, ``other``; each ``(ny, nx)`` float64 in
        [0, 1]; the groups sum to 1 where the raster has data.
    """
    raster = read_landcover() if raster is None else raster
    classes, src_transform, src_crs, nodata = (
        raster.classes,
        raster.transform,
        raster.crs_wkt,
        raster.nodata,
    )
    out: dict[str, np.ndarray] = {}
    for group, weights in IGBP_GROUPS.items():
        indicator = np.zeros(classes.shape, np.float32)
        for cls, w in weights.items():
            indicator[classes == cls] = w
        indicator[classes == nodata] = np.nan
        dst = np.full(grid.shape, np.nan, np.float32)
        reproject(
            indicator,
            dst,
            src_transform=src_transform,
            src_crs=src_crs,
            src_nodata=np.nan,
            dst_transform=grid.transform,
            dst_crs=grid.crs_wkt,
            dst_nodata=np.nan,
            resampling=Resampling.average,
        )
        out[group] = np.nan_to_num(dst.astype(np.float64), nan=0.0)
    return out
