"""Input files checked before any work: they exist, can be read, and are of the right kind.

The readers check the content; this only makes sure that a missing, unreadable or plainly wrong
file is named in the first second of a run rather than after its first stages.
"""

from __future__ import annotations

import os
from pathlib import Path

from gridcarbon.errors import InputFileError

__all__ = ["check_input_file", "config_input_files"]

#: Leading bytes of the binary formats gridcarbon reads, by suffix.
_MAGIC: dict[str, tuple[bytes, ...]] = {
    ".nc": (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n"),
    ".gpkg": (b"SQLite format 3\x00",),
    ".shp": (b"\x00\x00\x27\x0a",),
    ".parquet": (b"PAR1",),
    ".pq": (b"PAR1",),
    ".zip": (b"PK\x03\x04",),
    ".tif": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),
}
_TEXT = {".csv", ".txt", ".json", ".geojson", ".yaml", ".yml"}
_NAMES = {
    ".nc": "NetCDF",
    ".gpkg": "GeoPackage",
    ".shp": "Shapefile",
    ".parquet": "Parquet",
    ".pq": "Parquet",
    ".zip": "zip archive",
    ".tif": "GeoTIFF",
}


def check_input_file(path: str | Path, role: str, allow_folder: bool = False) -> Path:
    """Refuse a missing, unreadable, empty or wrong-kind input before any work.

    Parameters
    ----------
    path : the file
    role : what it is, for the message (``"control-unit file"``)
    allow_folder : a folder is accepted (a Zarr store)

    Returns
    -------
    Path

    Raises
    ------
    InputFileError
        Naming the file, the problem and the fix.
    """
    path = Path(path)
    if not path.exists():
        hint = " (a broken symlink)" if path.is_symlink() else ""
        raise InputFileError(f"{role} {str(path)!r} does not exist{hint}")
    if path.is_dir():
        if allow_folder:
            if not os.access(path, os.R_OK | os.X_OK):
                raise InputFileError(f"{role} {str(path)!r} cannot be read (permission denied)")
            return path
        raise InputFileError(f"{role} {str(path)!r} is a folder; give the file")
    if not path.is_file():
        raise InputFileError(f"{role} {str(path)!r} is not a regular file")
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
    except OSError as exc:
        raise InputFileError(f"{role} {str(path)!r} cannot be read ({exc.strerror})") from None
    if not head:
        raise InputFileError(f"{role} {str(path)!r} is empty")
    suffix = path.suffix.lower()
    magic = _MAGIC.get(suffix)
    if magic is not None and not head.startswith(magic):
        raise InputFileError(
            f"{role} {str(path)!r} is not a {_NAMES[suffix]} file (its first bytes do not match); "
            "check the file"
        )
    if suffix in _TEXT and b"\x00" in head:
        raise InputFileError(
            f"{role} {str(path)!r} holds NUL bytes: it is a binary file, not {suffix[1:]} text"
        )
    return path


def config_input_files(config) -> list[tuple[Path, str]]:
    """The input files a run configuration names, with their roles (for :func:`check_input_file`).

    Only the sections of enabled stages count.
    """
    files: list[tuple[Path, str]] = []
    if config.prior.point_sources_csv is not None:
        files.append((config.prior.point_sources_csv, "point-source CSV (prior.point_sources_csv)"))
    ic = config.inversion
    if ic.enabled:
        for name in ("stations", "observations", "meteorology"):
            value = getattr(ic, name)
            if value is not None:
                files.append((value, f"{name} file (inversion.{name})"))
    if config.zoning.enabled and config.zoning.units_path is not None:
        files.append((config.zoning.units_path, "control-unit file (zoning.units_path)"))
    zr = config.synergy.zone_report
    if config.zoning.enabled and zr.enabled:
        for name in ("facilities", "rating_thresholds"):
            value = getattr(zr, name)
            if value is not None:
                files.append((value, f"{name} table (synergy.zone_report.{name})"))
        if zr.allocation is not None:
            files.append((zr.allocation.table, "allocation table (synergy.zone_report.allocation)"))
    return files
