"""The coverage cache on disk: a corrupt file is named in a warning and rebuilt, never a traceback;
without a cache the matrix is computed and nothing is written."""

from __future__ import annotations

import logging

import numpy as np
import shapely

from gridcarbon.grids.gridspec import GridSpec, default_crs
from gridcarbon.io.coverage_cache import CoverageCacheDir
from gridcarbon.zoning.overlay import unit_coverage


def _case():
    grid = GridSpec(default_crs().to_wkt(), 0.0, 9000.0, 3000.0, 3, 3)
    geoms = np.array(
        [shapely.box(0, 0, 4500, 9000), shapely.box(4500, 0, 9000, 4500)], dtype=object
    )
    return grid, geoms, np.array(["A", "B"])


def test_a_corrupt_cache_file_is_named_and_rebuilt(tmp_path, caplog):
    grid, geoms, codes = _case()
    fresh = unit_coverage(grid, geoms, codes, CoverageCacheDir(tmp_path))
    (cached,) = tmp_path.glob("coverage_*.npz")
    good = cached.read_bytes()
    for garbage in (b"PK\x03\x04 not a zip", good[: len(good) // 2], b""):
        cached.write_bytes(garbage)
        with caplog.at_level(logging.WARNING, logger="gridcarbon.io.coverage_cache"):
            caplog.clear()
            again = unit_coverage(grid, geoms, codes, CoverageCacheDir(tmp_path))
        assert (again != fresh).nnz == 0
        (record,) = caplog.records
        assert str(cached) in record.getMessage() and "rebuilding it" in record.getMessage()
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="gridcarbon.io.coverage_cache"):
            reread = unit_coverage(grid, geoms, codes, CoverageCacheDir(tmp_path))
        assert [r.getMessage() for r in caplog.records] == [
            f"coverage matrix read from cache {cached}"  # rewritten whole
        ]
        assert (reread != fresh).nnz == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [cached.name]


def test_without_a_cache_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDCARBON_CACHE", str(tmp_path))
    grid, geoms, codes = _case()
    F = unit_coverage(grid, geoms, codes)
    np.testing.assert_allclose(F.sum(axis=1).A.ravel(), [4500 * 9000 / 9e6, 4500 * 4500 / 9e6])
    assert list(tmp_path.iterdir()) == []
    assert CoverageCacheDir().folder == tmp_path / "coverage"
