"""Units on the grid: the exact coverage matrix F (cached on disk) and point-in-polygon assignment.

``F[u, c] = area(unit_u ∩ cell_c) / cell_area`` (dimensionless) comes from
:func:`gridcarbon.grids.coverage.coverage_matrix`; area-source unit totals are ``F @ field``.
Point sources are **not** spread by area: each goes to the unit that contains it.
"""

from __future__ import annotations

import contextlib
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
        F = _read_cached(path, (len(geoms_m), grid.size))
        if F is not None:
            return F
    # coverage_matrix checks every set of clipped pieces against the area it must add up to and
    # falls back to the general overlay on degenerate input (tests/grids/test_coverage.py).
    F = coverage_matrix(grid, geoms_m).tocsr()
    F.sort_indices()
    if use_cache:
        _write_cache(path, F)
    return F


def _read_cached(path: Path, shape: tuple[int, int]) -> sp.csr_matrix | None:
    """The cached matrix at ``path``; None (after a warning naming the file, which is removed so
    that it is rebuilt) when it cannot be read or does not fit."""
    try:
        with np.load(path, allow_pickle=False) as z:
            F = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
        if F.shape != shape:
            raise ValueError(f"shape {F.shape}, expected {shape}")
        F.check_format(full_check=True)
    except Exception as exc:  # zip, npy and sparse-format errors all mean: rebuild it
        log.warning(
            "the coverage cache %s is unreadable or corrupt (%s: %s); rebuilding it",
            path,
            type(exc).__name__,
            exc,
        )
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    log.info("coverage matrix read from cache %s", path)
    return F


def _write_cache(path: Path, F: sp.csr_matrix) -> None:
    """Write the cache file atomically; a cache that cannot be written only costs time."""
    from gridcarbon.io.runfolder import atomic_write

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, data=F.data, indices=F.indices, indptr=F.indptr, shape=np.asarray(F.shape))

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, save, overwrite=True)
    except OSError as exc:
        log.warning("cannot write the coverage cache %s (%s); continuing without it", path, exc)


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
