"""Raster layers: from the equal-area grid to a Web-Mercator image overlay.

Leaflet's ``L.imageOverlay`` stretches an image linearly between two corner lat/lons *in Web
Mercator*, so a grid in another projection must be resampled to Web Mercator first.  We classify
the cells on their own grid (so the legend's classes are exact), warp the class indices with
nearest-neighbour resampling (rasterio/GDAL) onto a Web-Mercator raster of
``pixels_per_cell`` pixels per cell, and encode it as an indexed PNG (palette + transparency),
which keeps a 500 × 500 image of a few colours to a few tens of kilobytes.
"""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np
import pyproj
import rasterio.warp
from rasterio.crs import CRS as RioCRS
from rasterio.enums import Resampling

from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.maps.scales import NODATA, ClassScale

__all__ = ["warp_to_mercator", "png_indexed", "png_data_url", "MercatorImage"]

WEB_MERCATOR = "EPSG:3857"


class MercatorImage:
    """A class-index image in Web Mercator with its Leaflet bounds.

    Attributes
    ----------
    classes : ndarray (height, width) uint8
        Class index per pixel, :data:`~gridcarbon.maps.scales.NODATA` where empty; row 0 north.
    transform : affine.Affine
        Pixel → EPSG:3857 metres.
    bounds_latlon : [[south, west], [north, east]]
        Corners for ``L.imageOverlay``.
    """

    def __init__(self, classes: np.ndarray, transform, bounds_latlon):
        self.classes = classes
        self.transform = transform
        self.bounds_latlon = bounds_latlon

    def pixel_of(self, lon: float, lat: float) -> tuple[int, int]:
        """(row, col) of the pixel containing lon/lat."""
        tr = pyproj.Transformer.from_crs("EPSG:4326", WEB_MERCATOR, always_xy=True)
        x, y = tr.transform(lon, lat)
        col, row = ~self.transform @ (x, y)
        return int(np.floor(row)), int(np.floor(col))


def warp_to_mercator(
    classes: np.ndarray, grid: GridSpec, pixels_per_cell: int = 3
) -> MercatorImage:
    """Warp a ``(ny, nx)`` uint8 class grid to Web Mercator (nearest neighbour).

    The Mercator pixel is ``cell_size / pixels_per_cell`` ground metres at the grid's central
    latitude (Mercator metres are ground metres divided by cos(latitude)).
    """
    classes = np.ascontiguousarray(classes, dtype=np.uint8)
    if classes.shape != grid.shape:
        raise ValueError(f"class grid has shape {classes.shape}, grid is {grid.shape}")
    src_crs = RioCRS.from_wkt(grid.crs_wkt)
    x0, y0, x1, y1 = grid.bounds
    _, lat_c = grid.unproject((x0 + x1) / 2, (y0 + y1) / 2)
    res = grid.cell_size / pixels_per_cell / np.cos(np.radians(float(lat_c)))
    dst_transform, width, height = rasterio.warp.calculate_default_transform(
        src_crs,
        WEB_MERCATOR,
        grid.nx,
        grid.ny,
        left=x0,
        bottom=y0,
        right=x1,
        top=y1,
        resolution=res,
    )
    out = np.full((height, width), NODATA, dtype=np.uint8)
    rasterio.warp.reproject(
        classes,
        out,
        src_transform=grid.transform,
        src_crs=src_crs,
        src_nodata=NODATA,
        dst_transform=dst_transform,
        dst_crs=WEB_MERCATOR,
        dst_nodata=NODATA,
        resampling=Resampling.nearest,
    )
    tr = pyproj.Transformer.from_crs(WEB_MERCATOR, "EPSG:4326", always_xy=True)
    west, north = dst_transform @ (0, 0)
    east, south = dst_transform @ (width, height)
    lon0, lat0 = tr.transform(west, south)
    lon1, lat1 = tr.transform(east, north)
    return MercatorImage(
        out, dst_transform, [[float(lat0), float(lon0)], [float(lat1), float(lon1)]]
    )


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_indexed(classes: np.ndarray, lut: np.ndarray) -> bytes:
    """Encode a uint8 index image as an 8-bit palette PNG.

    ``lut`` is the ``(256, 4)`` RGBA table of :meth:`ClassScale.rgba_table`; only the entries up
    to the highest index used are written, and the transparency (tRNS) of each entry with them.
    """
    classes = np.ascontiguousarray(classes, dtype=np.uint8)
    h, w = classes.shape
    n = int(classes.max()) + 1 if classes.size else 1
    pal = lut[:n]
    raw = np.zeros((h, w + 1), dtype=np.uint8)  # filter byte 0 per row
    raw[:, 1:] = classes
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"PLTE", pal[:, :3].tobytes())
        + _chunk(b"tRNS", pal[:, 3].tobytes())
        + _chunk(b"IDAT", zlib.compress(raw.tobytes(), 9))
        + _chunk(b"IEND", b"")
    )


def png_data_url(img: MercatorImage, scale: ClassScale) -> str:
    """``data:image/png;base64,...`` of a warped class image coloured by ``scale``."""
    png = png_indexed(img.classes, scale.rgba_table())
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
