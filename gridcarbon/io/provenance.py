"""Provenance: versions, configuration and input checksums recorded in every output."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

__all__ = [
    "sha256_file",
    "file_sha256",
    "input_checksums",
    "gridcarbon_version",
]


@lru_cache(maxsize=64)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    st = Path(path).stat()
    return _sha256_cached(str(path), st.st_mtime_ns, st.st_size)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, or of every file (sorted by path) of a folder such as a Zarr store."""
    path = Path(path)
    if not path.is_dir():
        return sha256_file(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def gridcarbon_version() -> str:
    """The installed gridcarbon version (``"unknown"`` if not installed as a distribution)."""
    try:
        from importlib.metadata import version

        return version("gridcarbon")
    except Exception:  # not installed (source checkout on sys.path)
        return "unknown"


def input_checksums(files: Mapping[str, str | Path]) -> dict[str, str]:
    """sha256 of each input file, by the label it is recorded under.

    Parameters
    ----------
    files : mapping label → path
        The files a run reads (a scenario's package data and the user's files), labelled as
        the outputs should name them (e.g. ``gridcarbon/data/zhejiang_cities.geojson``).

    Returns
    -------
    dict label → hex sha256, in the order of ``files``.
    """
    return {label: sha256_file(path) for label, path in files.items()}
