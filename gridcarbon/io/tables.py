"""Tables at the edge: the user point-source CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gridcarbon.errors import InputDataError, InputFileError

__all__ = ["read_point_sources"]


def read_point_sources(path: str | Path, sectors: list[str] | None = None) -> pd.DataFrame:
    """Read a user point-source CSV (columns :data:`gridcarbon.grids.inventory.POINT_COLUMNS`).

    Emissions in kg per year; lon/lat in degrees (WGS84/CGCS2000).
    """
    from gridcarbon.grids.inventory import validate_points

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"point-source CSV {str(path)!r} does not exist")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read point-source CSV {str(path)!r}: {exc}") from None
    if table.empty:
        raise InputDataError(f"point-source CSV {str(path)!r} has no rows")
    return validate_points(table, sectors, source=f"point-source CSV {path.name!r}")
