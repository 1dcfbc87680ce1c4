"""The on-disk cache of coverage matrices (units × cells), one ``.npz`` file per (grid, units).

The zoning stage computes a coverage matrix once per grid and set of units and asks a cache for
it by key (:func:`gridcarbon.zoning.overlay.coverage_cache_key`); this is the cache that keeps
them in a folder, so that a second run on the same units starts at once.  A file that cannot be
read, or does not fit, is named in a warning, removed and rebuilt; a cache that cannot be written
only costs time.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

__all__ = ["CoverageCacheDir", "default_coverage_cache_dir"]

log = logging.getLogger(__name__)


def default_coverage_cache_dir() -> Path:
    """``$GRIDCARBON_CACHE/coverage`` or ``~/.cache/gridcarbon/coverage``."""
    root = os.environ.get("GRIDCARBON_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "gridcarbon"
    return base / "coverage"


class CoverageCacheDir:
    """Coverage matrices kept as ``coverage_<key>.npz`` files in ``folder``.

    Parameters
    ----------
    folder : path, optional
        Default :func:`default_coverage_cache_dir`.
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_coverage_cache_dir()

    def __repr__(self) -> str:
        return f"CoverageCacheDir({str(self.folder)!r})"

    def path(self, key: str) -> Path:
        """The file of ``key``."""
        return self.folder / f"coverage_{key}.npz"

    def load(self, key: str, shape: tuple[int, int]) -> Any:
        """The cached ``scipy.sparse.csr_matrix`` of ``key``, or None (not cached, or unreadable:
        then the file is named in a warning and removed, so that it is rebuilt)."""
        import numpy as np
        import scipy.sparse as sp

        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                F = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
            if F.shape != tuple(shape):
                raise ValueError(f"shape {F.shape}, expected {tuple(shape)}")
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

    def save(self, key: str, F: Any) -> None:
        """Write ``F`` (csr) under ``key``, atomically; a failure is logged, not raised."""
        import numpy as np

        from gridcarbon.io.runfolder import atomic_write

        path = self.path(key)

        def save(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(
                    f, data=F.data, indices=F.indices, indptr=F.indptr, shape=np.asarray(F.shape)
                )

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, save, overwrite=True)
        except OSError as exc:
            log.warning("cannot write the coverage cache %s (%s); continuing without it", path, exc)
