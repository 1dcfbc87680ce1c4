"""Gi* z-scores and Benjamini–Hochberg bins computed in spatial tiles, after a global first pass.

Gi* standardises every cell by its field's region mean and variance, and BH ranks the p-values
of a whole field: a tile with a halo of the disc radius alone would standardise by its own
mean and rank its own cells, and give other answers.  Tiles are therefore computed only after
a first pass over whole fields (:func:`global_pass`: each field's region mean and standard
deviation, the neighbour counts of the region, and where each tile's row prefix sums start),
and binned only after the BH thresholds of whole fields are known (:func:`tiled_hotspots`:
the candidate p-values of every tile are ranked together, field by field).  The z-scores and
bins equal those of :func:`gridcarbon.zoning.gistar.gi_star` and
:func:`~gridcarbon.zoning.gistar.fdr_bins` to the last bit
(``tests/zoning/test_tiles.py``, 64 × 64 tiles on the default grid).

This is the layout a grid too large for one worker's memory would need (each tile's slab read
on its own); the zoning stage itself works on time chunks that cover the whole region.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.kernels.gistar import all_finite_in_mask
from gridcarbon.kernels.gistar_tiles import (
    bh_candidates,
    bh_thresholds,
    bins_from_thresholds,
    gi_star_z_tile,
    moments_and_carries,
)
from gridcarbon.zoning.gistar import disc_halfwidths, neighbour_counts

__all__ = ["GlobalPass", "global_pass", "tile_bounds", "tile_z", "tiled_hotspots"]

#: Cells a side of a tile by default.
TILE = 64


@dataclass(frozen=True)
class GlobalPass:
    """What every tile needs of the whole fields.

    Attributes
    ----------
    mean, sd : ndarray ``(nt,)`` float64
        Region mean and standard deviation of each field (units of the fields).
    carry : ndarray ``(nt, ny + 2R, ntx)`` float64
        Row-prefix carries where each column of tiles starts.
    W, inv_base : ndarray ``(ny, nx)`` float64
        Region cells in each cell's disc; ``1 / sqrt((n W - W²) / (n - 1))`` (0 outside).
    hw : ndarray ``(2R + 1,)`` int64
        Disc half-widths, cells.
    mask : ndarray ``(ny, nx)`` bool
        Region cells.
    tile : int
        Cells a side of a tile.
    """

    mean: np.ndarray
    sd: np.ndarray
    carry: np.ndarray
    W: np.ndarray
    inv_base: np.ndarray
    hw: np.ndarray
    mask: np.ndarray
    tile: int

    @property
    def radius_cells(self) -> int:
        """Rows of the disc above and below the focal row."""
        return (self.hw.size - 1) // 2


def tile_bounds(shape: tuple[int, int], tile: int) -> Iterator[tuple[int, int, int, int, int]]:
    """``(y0, y1, x0, x1, k)`` of each tile of a ``shape`` grid, ``k`` its column of tiles."""
    ny, nx = shape
    for y0 in range(0, ny, tile):
        for k, x0 in enumerate(range(0, nx, tile)):
            yield y0, min(y0 + tile, ny), x0, min(x0 + tile, nx), k


def global_pass(
    fields: np.ndarray, mask: np.ndarray, radius_m: float, cell_size: float, tile: int = TILE
) -> GlobalPass:
    """The first pass over whole fields that tiles need (see the module docstring).

    Parameters
    ----------
    fields : ndarray ``(nt, ny, nx)`` float32 or float64
        Emission per cell and time step (any unit).
    mask : ndarray ``(ny, nx)`` bool
        Region cells.
    radius_m, cell_size : float
        Distance band and cell size, metres.
    tile : int
        Cells a side of a tile.

    Raises
    ------
    ConfigError
        A tile smaller than one cell.
    InputDataError
        Fields and mask of different shapes, fewer than 3 region cells, or non-finite values
        in the region.
    """
    if tile < 1:
        raise ConfigError(f"tile must be 1 cell or more, got {tile}")
    fields = np.ascontiguousarray(fields)
    if fields.ndim != 3 or fields.shape[1:] != mask.shape:
        raise InputDataError(f"fields {fields.shape} and mask {mask.shape} differ in shape")
    mask = np.ascontiguousarray(mask, dtype=np.bool_)
    n = int(mask.sum())
    if n < 3:
        raise InputDataError(f"only {n} region cells: Gi* needs at least 3")
    if not all_finite_in_mask(fields, mask):
        raise InputDataError("emission fields hold NaN or infinite values inside the region")
    hw = disc_halfwidths(radius_m, cell_size)
    R = (hw.size - 1) // 2
    W = neighbour_counts(mask, radius_m, cell_size)
    base = (n * W - W * W) / (n - 1)
    inv_base = np.where(mask & (base > 0), 1.0 / np.sqrt(np.where(base > 0, base, 1.0)), 0.0)
    nt, ny, nx = fields.shape
    tile_x = np.arange(0, nx, tile, dtype=np.int64)
    mean, sd = np.empty(nt), np.empty(nt)
    carry = np.empty((nt, ny + 2 * R, tile_x.size))
    moments_and_carries(fields, mask.astype(np.float64), float(n), R, tile_x, mean, sd, carry)
    return GlobalPass(mean, sd, carry, W, inv_base, hw, mask, tile)


def _slab(a: np.ndarray, y0: int, y1: int, x0: int, x1: int, R: int) -> np.ndarray:
    """``a[..., y0-R:y1+R, x0-R:x1+R]``, zero beyond the grid."""
    ny, nx = a.shape[-2:]
    out = np.zeros((*a.shape[:-2], y1 - y0 + 2 * R, x1 - x0 + 2 * R), a.dtype)
    ys, ye = max(y0 - R, 0), min(y1 + R, ny)
    xs, xe = max(x0 - R, 0), min(x1 + R, nx)
    out[..., ys - (y0 - R) : ye - (y0 - R), xs - (x0 - R) : xe - (x0 - R)] = a[..., ys:ye, xs:xe]
    return out


def tile_z(
    fields: np.ndarray, gp: GlobalPass, bounds: tuple[int, int, int, int, int]
) -> np.ndarray:
    """Gi* z (float32, NaN outside the region) of one tile ``(y0, y1, x0, x1, k)``: reads only
    the tile and a halo of the disc radius of ``fields`` ``(nt, ny, nx)``."""
    y0, y1, x0, x1, k = bounds
    R = gp.radius_cells
    slab = np.ascontiguousarray(_slab(fields, y0, y1, x0, x1, R))
    mslab = _slab(gp.mask.astype(np.float64), y0, y1, x0, x1, R)
    carry = np.ascontiguousarray(gp.carry[:, y0 : y0 + (y1 - y0) + 2 * R, k])
    z = np.empty((fields.shape[0], y1 - y0, x1 - x0), np.float32)
    gi_star_z_tile(
        slab,
        mslab,
        carry,
        gp.mean,
        gp.sd,
        gp.hw,
        np.ascontiguousarray(gp.W[y0:y1, x0:x1]),
        np.ascontiguousarray(gp.inv_base[y0:y1, x0:x1]),
        z,
    )
    return z


def tiled_hotspots(
    fields: np.ndarray,
    mask: np.ndarray,
    radius_m: float,
    cell_size: float,
    levels: tuple[float, ...] = (0.01, 0.05, 0.10),
    tile: int = TILE,
) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z-scores and BH confidence bins of ``fields``, tile by tile after a global pass.

    Parameters
    ----------
    fields : ndarray ``(nt, ny, nx)`` float32 or float64
        Emission per cell and time step (any unit).
    mask : ndarray ``(ny, nx)`` bool
        Region cells.
    radius_m, cell_size : float
        Distance band and cell size, metres.
    levels : increasing q levels (``zoning.fdr_levels``)
    tile : int
        Cells a side of a tile (64 by default).

    Returns
    -------
    z : ndarray ``(nt, ny, nx)`` float32
        As :func:`gridcarbon.zoning.hotspots` takes them from
        :func:`~gridcarbon.zoning.gistar.gi_star` (NaN outside the region).
    bins : ndarray ``(nt, ny, nx)`` int8
        As :func:`~gridcarbon.zoning.gistar.fdr_bins` gives them (±3/±2/±1, 0).
    """
    from scipy.stats import norm

    lv = np.asarray(levels, np.float64)
    if not np.all(np.diff(lv) > 0):
        raise ConfigError(f"fdr levels must increase, got {levels}")
    gp = global_pass(fields, mask, radius_m, cell_size, tile)
    nt = fields.shape[0]
    m = int(gp.mask.sum())
    zcrit = float(norm.isf(lv[-1] / 2.0)) * (1.0 - 1e-9)
    qmax = float(lv[-1])
    tiles = list(tile_bounds(gp.mask.shape, tile))
    z = np.empty(fields.shape, np.float32)
    candidates: list[list[np.ndarray]] = [[] for _ in range(nt)]
    for b in tiles:  # pass 2: z of each tile, and its candidates for the BH ranks
        y0, y1, x0, x1, _ = b
        zt = tile_z(fields, gp, b)
        z[:, y0:y1, x0:x1] = zt
        counts, p = bh_candidates(zt, np.ascontiguousarray(gp.mask[y0:y1, x0:x1]), zcrit, qmax)
        for t, part in enumerate(np.split(p, np.cumsum(counts)[:-1])):
            candidates[t].append(part)
    thr = np.stack([bh_thresholds(np.sort(np.concatenate(c)), m, lv) for c in candidates])
    bins = np.empty(fields.shape, np.int8)
    for y0, y1, x0, x1, _ in tiles:  # pass 3: each tile binned against whole-field thresholds
        out = np.empty((nt, y1 - y0, x1 - x0), np.int8)
        zt = np.ascontiguousarray(z[:, y0:y1, x0:x1])
        maskt = np.ascontiguousarray(gp.mask[y0:y1, x0:x1])
        bins_from_thresholds(zt, maskt, thr, zcrit, qmax, out)
        bins[:, y0:y1, x0:x1] = out
    return z, bins
