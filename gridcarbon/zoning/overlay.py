"""Units on the grid: the exact coverage matrix F (cached on disk) and point-in-polygon assignment.

``F[u, c] = area(unit_u ∩ cell_c) / cell_area`` (dimensionless) comes from
:func:`gridcarbon.grids.coverage.coverage_matrix`; area-source unit totals are ``F @ field``.
Point sources are **not** spread by area: each goes to the unit that contains it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import shapely

from gridcarbon.errors import InputDataError
from gridcarbon.grids.coverage import coverage_matrix
from gridcarbon.grids.gridspec import GridSpec

__all__ = ["Overlay", "unit_coverage", "assign_points", "default_cache_dir", "coverage_cache_key"]

log = logging.getLogger(__name__)
_CACHE_VERSION = "2"


def default_cache_dir() -> Path:
    """``$GRIDCARBON_CACHE/coverage`` or ``~/.cache/gridcarbon/coverage``."""
    root = os.environ.get("GRIDCARBON_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "gridcarbon"
    return base / "coverage"


def coverage_cache_key(grid: GridSpec, geoms_m: np.ndarray, codes: np.ndarray) -> str:
    """SHA-256 of the grid description, the unit codes and the projected geometries (WKB)."""
    h = hashlib.sha256()
    h.update(json.dumps(grid.to_dict(), sort_keys=True).encode())
    h.update(_CACHE_VERSION.encode())
    for code, wkb in zip(codes, shapely.to_wkb(geoms_m, hex=False), strict=True):
        h.update(str(code).encode())
        h.update(b"\0")
        h.update(wkb)
    return h.hexdigest()[:32]


def _exact_by_boxes(geom: shapely.Geometry, grid: GridSpec) -> tuple[np.ndarray, np.ndarray]:
    """Exact coverage of one polygon by intersecting it with each candidate cell box.

    Used only where :func:`coverage_matrix` fails on a geometry (GEOS ``clip_by_rect`` rejects
    some near-degenerate slivers; reported to the grids owner).
    """
    cs = grid.cell_size
    gx0, gy0, gx1, gy1 = grid.bounds
    bx0, by0, bx1, by1 = shapely.bounds(geom)
    c0 = max(int(np.floor((bx0 - gx0) / cs)), 0)
    c1 = min(int(np.ceil((bx1 - gx0) / cs)), grid.nx)
    r0 = max(int(np.floor((gy1 - by1) / cs)), 0)
    r1 = min(int(np.ceil((gy1 - by0) / cs)), grid.ny)
    if c0 >= c1 or r0 >= r1:
        return np.empty(0, np.int64), np.empty(0)
    rr, cc = np.meshgrid(np.arange(r0, r1), np.arange(c0, c1), indexing="ij")
    rr, cc = rr.ravel(), cc.ravel()
    boxes = shapely.box(gx0 + cc * cs, gy1 - (rr + 1) * cs, gx0 + (cc + 1) * cs, gy1 - rr * cs)
    frac = shapely.area(shapely.intersection(geom, boxes)) / (cs * cs)
    nz = frac > 0
    return (rr[nz] * grid.nx + cc[nz]).astype(np.int64), frac[nz]


def _coverage_robust(grid: GridSpec, geoms_m: np.ndarray) -> tuple[sp.csr_matrix, list[int]]:
    """:func:`coverage_matrix`, with every row checked against the polygon's area in the grid.

    Rows where GEOS fails, or whose sum differs from the polygon area (inside the grid) by more
    than 1e-9 relative + 1e-6 m², are recomputed by exact box intersection.  Both happen on
    near-degenerate input (slivers; holes touching the shell), reproduced in
    ``tests/zoning/test_coverage_bugs.py`` for the grids owner.
    """
    fallback: list[int] = []
    try:
        F = coverage_matrix(grid, geoms_m).tocsr()
    except shapely.errors.GEOSException:
        rows = []
        for i, g in enumerate(geoms_m):
            try:
                rows.append(coverage_matrix(grid, [g]).tocsr())
            except shapely.errors.GEOSException:
                rows.append(sp.csr_matrix((1, grid.size)))
                fallback.append(i)
        F = sp.vstack(rows, format="csr")
    box = shapely.box(*grid.bounds)
    inside = shapely.within(geoms_m, box)
    true = shapely.area(geoms_m)
    if not inside.all():
        true = np.where(inside, true, shapely.area(shapely.intersection(geoms_m, box)))
    got = np.asarray(F.sum(axis=1)).ravel() * grid.cell_area
    bad = np.abs(got - true) > 1e-9 * true + 1e-6
    fallback = sorted(set(fallback) | set(np.flatnonzero(bad).tolist()))
    if not fallback:
        return F, []
    F = F.tolil()
    for i in fallback:
        idx, frac = _exact_by_boxes(geoms_m[i], grid)
        F.rows[i] = idx.tolist()
        F.data[i] = frac.tolist()
    return F.tocsr(), fallback


def unit_coverage(
    grid: GridSpec,
    geoms_m: np.ndarray,
    codes: np.ndarray,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> sp.csr_matrix:
    """The (units × cells) exact coverage matrix, computed once per (grid, units) and cached.

    Parameters
    ----------
    grid : GridSpec
    geoms_m : array of shapely polygons in the grid CRS (metres), valid
    codes : array of unit codes (part of the cache key)
    cache_dir : folder of ``coverage_<key>.npz`` files; default :func:`default_cache_dir`
    use_cache : read and write the cache

    Returns
    -------
    csr_matrix, float64, shape ``(n_units, grid.size)``; ``F[u, row*nx+col]`` in [0, 1].
    """
    geoms_m = np.asarray(geoms_m, dtype=object)
    if geoms_m.ndim != 1 or len(geoms_m) != len(codes):
        raise InputDataError(f"{len(geoms_m)} geometries for {len(codes)} unit codes")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = coverage_cache_key(grid, geoms_m, np.asarray(codes))
    path = cache / f"coverage_{key}.npz"
    if use_cache and path.exists():
        try:
            with np.load(path) as z:
                F = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
            if F.shape == (len(geoms_m), grid.size):
                log.info("coverage matrix read from cache %s", path)
                return F
        except (OSError, KeyError, ValueError) as exc:  # a corrupt cache file is rebuilt
            log.warning("ignoring unreadable coverage cache %s (%s)", path, exc)
    F, fallback = _coverage_robust(grid, geoms_m)
    if fallback:
        log.warning("coverage_matrix failed or lost area on %d unit geometries; their rows were "
                    "recomputed by exact box intersection: %s", len(fallback),
                    [str(codes[i]) for i in fallback[:10]])
    F.sort_indices()
    if use_cache:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
        np.savez(tmp, data=F.data, indices=F.indices, indptr=F.indptr,
                 shape=np.asarray(F.shape))
        os.replace(tmp, path)
    return F


def assign_points(geoms_m: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Index of the unit containing each point (-1 if none).

    A point on a boundary shared by two units, or inside overlapping units, goes to the unit
    listed first (the lowest index), so every point is counted exactly once.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    out = np.full(x.size, -1, np.int64)
    if x.size == 0 or len(geoms_m) == 0:
        return out
    tree = shapely.STRtree(np.asarray(geoms_m, dtype=object))
    pi, ui = tree.query(shapely.points(x, y), predicate="intersects")
    order = np.lexsort((ui, pi))
    pi, ui = pi[order], ui[order]
    first = np.ones(pi.size, bool)
    first[1:] = pi[1:] != pi[:-1]
    out[pi[first]] = ui[first]
    return out


@dataclass
class Overlay:
    """Units placed on a grid.

    Attributes
    ----------
    grid : GridSpec
    F : csr_matrix (units × cells) of coverage fractions
    geoms_m : unit polygons in the grid CRS
    codes : unit codes
    point_unit : unit index of each point source of the grids (-1 outside every unit), or None
    """

    grid: GridSpec
    F: sp.csr_matrix
    geoms_m: np.ndarray
    codes: np.ndarray
    point_unit: np.ndarray | None = None

    @property
    def n_units(self) -> int:
        return self.F.shape[0]

    @property
    def unit_area_m2(self) -> np.ndarray:
        """Area of each unit inside the grid, m² (``F`` row sums × cell area)."""
        return np.asarray(self.F.sum(axis=1)).ravel() * self.grid.cell_area

    def outside_weight(self) -> np.ndarray:
        """Per cell, the fraction not covered by any unit (``1 − Σ_u F``, clipped at 0)."""
        return np.clip(1.0 - np.asarray(self.F.sum(axis=0)).ravel(), 0.0, None)
