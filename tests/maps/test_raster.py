"""Warping the equal-area grid to Web Mercator, and the PNG encoding."""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np
import pyproj
import pytest
from fixtures import small_grid

from gridcarbon.maps.raster import png_data_url, png_indexed, warp_to_mercator
from gridcarbon.maps.scales import NODATA, ClassScale
from gridcarbon.scenario.geography import default_grid

GEOD = pyproj.Geod(ellps="GRS80")
TO_LONLAT = pyproj.Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)


def _hot_pixel_lonlat(img) -> tuple[float, float]:
    rows, cols = np.nonzero(img.classes == 1)
    assert rows.size, "the hot cell vanished in the warp"
    x, y = img.transform @ (cols.mean() + 0.5, rows.mean() + 0.5)
    lon, lat = TO_LONLAT.transform(x, y)
    return float(lon), float(lat)


@pytest.mark.parametrize("where", ["nw", "ne", "sw", "se", "centre"])
def test_cell_lands_where_it_is_on_the_default_grid(where):
    """A cell at a known lon/lat appears there after warping, within a fraction of a cell.

    The corners of the 470 km grid are where an unwarped (bounding-box-stretched) image would be
    off by kilometres: Albers meridians converge, Mercator meridians do not.
    """
    grid = default_grid()
    r = {"nw": 2, "ne": 2, "sw": grid.ny - 3, "se": grid.ny - 3, "centre": grid.ny // 2}[where]
    c = {"nw": 2, "ne": grid.nx - 3, "sw": 2, "se": grid.nx - 3, "centre": grid.nx // 2}[where]
    classes = np.zeros(grid.shape, np.uint8)
    classes[r, c] = 1
    img = warp_to_mercator(classes, grid, pixels_per_cell=3)
    lon, lat = _hot_pixel_lonlat(img)
    clon, clat = grid.cell_center_lonlat(r, c)
    _, _, dist = GEOD.inv(lon, lat, float(clon), float(clat))
    assert dist < 0.35 * grid.cell_size, f"hot cell drawn {dist:.0f} m from its centre"
    # and a cell area's worth of pixels (3 x 3 ± resampling)
    assert 6 <= (img.classes == 1).sum() <= 14


def test_naive_stretch_would_be_wrong():
    """Guard for the test above: stretching the grid to its lon/lat box misplaces corners."""
    grid = default_grid()
    lon, lat = grid.lonlat()
    rr, cc = np.mgrid[0 : grid.ny, 0 : grid.nx]
    west, east = lon.min(), lon.max()
    north, south = lat.max(), lat.min()
    naive_lon = west + (cc + 0.5) / grid.nx * (east - west)
    naive_lat = north - (rr + 0.5) / grid.ny * (north - south)
    _, _, dist = GEOD.inv(naive_lon, naive_lat, lon, lat)
    assert dist.max() > 2 * grid.cell_size  # ~8.7 km at the south-east corner


def test_bounds_and_nodata_are_transparent():
    grid = small_grid()
    classes = np.full(grid.shape, NODATA, np.uint8)
    classes[0, 0] = 0
    img = warp_to_mercator(classes, grid, 2)
    (s, w), (n, e) = img.bounds_latlon
    lon, lat = grid.lonlat()
    assert s < lat.min() < lat.max() < n and w < lon.min() < lon.max() < e
    assert (img.classes == NODATA).mean() > 0.9


def _decode_png(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        tag = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])
        assert crc == zlib.crc32(tag + body)
        chunks[tag] = body
        pos += 12 + n
    w, h = struct.unpack(">II", chunks[b"IHDR"][:8])
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, w + 1)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:], chunks[b"PLTE"], chunks[b"tRNS"]


def test_png_roundtrip():
    scale = ClassScale((0, 1, 2, 3), ("#ff0000", "#00ff00", "#0000ff"), "t")
    idx = np.array([[0, 1, 2], [NODATA, 2, 0]], np.uint8)
    pix, plte, trns = _decode_png(png_indexed(idx, scale.rgba_table()))
    assert (pix == idx).all()
    assert plte[:9] == bytes([255, 0, 0, 0, 255, 0, 0, 0, 255])
    assert trns[0] == 255 and trns[NODATA] == 0
    url = png_data_url(
        warp_to_mercator(np.zeros(small_grid().shape, np.uint8), small_grid()), scale
    )
    assert url.startswith("data:image/png;base64,")
    _decode_png(base64.b64decode(url.split(",", 1)[1]))
