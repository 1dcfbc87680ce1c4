"""Tables at the edge: the user point-source CSV, and every CSV and Excel file gridcarbon writes.

Names in these tables come from users' files (units, stations, facilities) and are hostile until
proven otherwise.  The two writers here are the only ones in the package:

- :func:`write_csv` applies the OWASP CSV-injection rule: a text cell that starts with ``=``,
  ``+``, ``-``, ``@``, TAB, CR or NUL gets a leading ``'`` so that no spreadsheet reads it as a
  formula (a text that already starts with ``'`` gets one too, so that :func:`csv_text_value`
  gives back the original exactly).  Numeric columns, and text that is a negative decimal number
  (``-1.5``), are left alone: a negative number stays a number.  Quoting follows RFC 4180.
- :func:`write_excel` writes every text value as a string cell (openpyxl would make any text
  starting with ``=`` a live formula) and removes the control characters XML cannot hold.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from gridcarbon.io.observations_file import read_table_file
from gridcarbon.io.runfolder import atomic_path, deferred_signals
from gridcarbon.names import clean_text_values

__all__ = [
    "read_point_sources",
    "read_csv_table",
    "write_csv",
    "write_excel",
    "csv_safe_text",
    "csv_text_value",
    "excel_safe_text",
    "is_code_column",
]

#: First characters that make a spreadsheet read a CSV cell as a formula (OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
_GUARD = "'"
# a negative decimal number written as text (e.g. a metric's value) stays a number: it cannot
# hold a formula; "+1" is guarded (a spreadsheet would show it as 1, not as the text "+1")
_NEGATIVE_NUMBER = re.compile(r"-(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# characters XML 1.0 cannot hold (openpyxl refuses them with IllegalCharacterError)
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def read_point_sources(path: str | Path) -> pd.DataFrame:
    """Read a user point-source table as it is (one row per source).

    The file is read by :func:`gridcarbon.io.observations_file.read_table_file` (CSV in UTF-8
    or GBK, Excel, Parquet).  The identity columns ``point_id`` (a code), ``name`` and ``park``
    (names) stay text and pass :func:`gridcarbon.names.clean_text_values`: a code holding a
    control character and any name or code over 200 characters are refused, names with control
    characters cleaned with a :class:`~gridcarbon.names.NameCleanedWarning`, each located by
    the file's line.  Every other column whose cells are all numbers (or empty) becomes numeric.

    The caller checks the content (:func:`gridcarbon.grids.inventory.validate_points`: the
    columns, emissions in kg per year, lon/lat in degrees WGS84/CGCS2000).

    Raises
    ------
    InputFileError
        A missing or unreadable file.
    InputDataError
        A file without rows, or a refused code or name (the message names the file and line).
    """
    table, rows = read_table_file(path, "point-source CSV")
    source = rows.files[0].name
    for column, kind in _POINT_TEXT_COLUMNS.items():
        if column in table.columns:
            table[column] = clean_text_values(
                [v.strip() if isinstance(v, str) else v for v in table[column]],
                field=column,
                kind=kind,
                source=source,
                location=rows.locate,
            )
    for column in table.columns:
        if column not in _POINT_TEXT_COLUMNS:
            table[column] = _numbers_if_all_numeric(table[column])
    # where each row is in the file, for the content checks' messages
    table.attrs["row_places"] = [rows.locate(i) for i in range(len(table))]
    return table


#: Text columns of a point-source table and how :func:`clean_text_values` treats them.
_POINT_TEXT_COLUMNS: dict[str, Literal["name", "code"]] = {
    "point_id": "code",
    "name": "name",
    "park": "name",
}


def _numbers_if_all_numeric(column: pd.Series) -> pd.Series:
    """The column as numbers when every non-empty cell is one (empty cells NaN), else as is."""
    blank = column.map(lambda v: v is None or (isinstance(v, str) and not v.strip()))
    numbers = pd.to_numeric(column.where(~blank), errors="coerce")
    return numbers if numbers[~blank].notna().all() else column


# -- CSV ------------------------------------------------------------------------------------------
def csv_safe_text(text: str) -> str:
    """``text`` as a CSV cell that no spreadsheet evaluates (a ``'`` before a formula start).

    >>> [csv_safe_text(t) for t in ("=1+2", "-1.5", "-1+2", "+1", "ok")]
    ["'=1+2", '-1.5', "'-1+2", "'+1", 'ok']
    """
    if not text:
        return text
    if text[0] == _GUARD or (text[0] in FORMULA_TRIGGERS and not _NEGATIVE_NUMBER.fullmatch(text)):
        return _GUARD + text
    return text


def csv_text_value(cell: Any) -> Any:
    """The original text of a cell written by :func:`write_csv` (its guard ``'`` removed).

    Non-strings pass through.  The inverse of :func:`csv_safe_text`.
    """
    if (
        isinstance(cell, str)
        and len(cell) > 1
        and cell[0] == _GUARD
        and (cell[1] == _GUARD or cell[1] in FORMULA_TRIGGERS)
    ):
        return cell[1:]
    return cell


def _is_text_column(s: pd.Series) -> bool:
    return (
        s.dtype == object
        or pd.api.types.is_string_dtype(s.dtype)
        or isinstance(s.dtype, pd.CategoricalDtype)
    )


def _guard_values(s: pd.Series) -> pd.Series:
    values = s.to_numpy(dtype=object)
    guarded = [csv_safe_text(v) if isinstance(v, str) else v for v in values]
    if all(g is v for g, v in zip(guarded, values, strict=True)):
        return s
    return pd.Series(guarded, index=s.index, dtype=object, name=s.name)


def csv_safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell and text column header passed through :func:`csv_safe_text`.

    Numeric, boolean and time columns are returned untouched (the same objects).
    """
    out = df
    for i in range(df.shape[1]):
        s = df.iloc[:, i]
        if _is_text_column(s):
            guarded = _guard_values(s)
            if guarded is not s:
                if out is df:
                    out = df.copy(deep=False)
                out.isetitem(i, guarded)
    headers = [csv_safe_text(c) if isinstance(c, str) else c for c in df.columns]
    if headers != list(df.columns):
        out = out.copy(deep=False) if out is df else out
        out.columns = headers
    return out


def write_csv(
    df: pd.DataFrame,
    path: str | Path,
    overwrite: bool = False,
    *,
    bom: bool = True,
    index: bool = False,
) -> Path:
    """Write ``df`` as CSV, atomically, with text cells guarded against formula injection.

    Parameters
    ----------
    df : DataFrame
        The table; numbers are written as pandas writes them (full precision).
    path : path
        The file; written to a temporary name beside it and renamed into place.
    overwrite : bool
        Replace an existing file (else :class:`~gridcarbon.errors.OutputExistsError`).
    bom : bool
        Start with a UTF-8 byte-order mark, so that Excel shows Chinese names correctly.
    index : bool
        Write the index as the first column(s).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    table = df.reset_index() if index else df
    table = csv_safe_frame(table)
    with atomic_path(path, overwrite=overwrite) as tmp:
        table.to_csv(
            tmp,
            index=False,
            encoding="utf-8-sig" if bom else "utf-8",
            quoting=csv.QUOTE_MINIMAL,
            doublequote=True,
        )
    return path


def read_csv_table(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """Read a CSV written by :func:`write_csv`, giving back the original text of each cell.

    ``kwargs`` go to :func:`pandas.read_csv`.  A byte-order mark is skipped.
    """
    df = pd.read_csv(path, encoding="utf-8-sig", **kwargs)
    for i in range(df.shape[1]):
        s = df.iloc[:, i]
        if _is_text_column(s):
            df.isetitem(i, s.map(csv_text_value))
    df.columns = [csv_text_value(c) for c in df.columns]
    return df


# -- Excel ----------------------------------------------------------------------------------------
def excel_safe_text(text: str) -> str:
    """``text`` without the control characters an Excel (XML) file cannot hold."""
    return _XML_ILLEGAL.sub("", text)


#: Column-name endings that state a unit, and how a header note writes the unit.
_UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_t_per_km2", "t km-2"),
    ("_share_pct", "%"),
    ("_pct", "%"),
    ("_km2_days", "km2 x days"),
    ("_cell_days", "cell-days"),
    ("_cell_hours", "cell-hours"),
    ("_km2", "km2"),
    ("_kg_per_h", "kg h-1"),
    ("_kg", "kg"),
    ("_t", "t"),
    ("_hours", "hours"),
    ("_m", "m"),
)
#: Widest column (characters) a sheet gets from its content.
_MAX_WIDTH = 60


def column_unit(name: str) -> str:
    """The unit a column name states by its ending (``total_kg`` → ``kg``), or ``""``."""
    for suffix, unit in _UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    return ""


def is_code_column(name: str) -> bool:
    """Whether a column holds codes (``code``, ``*_code``, ``*_id``): text, never a number."""
    return name == "code" or name.endswith(("_code", "_id"))


def _number_format(values: np.ndarray, integer: bool) -> str:
    """Thousands separators, and for floats about three significant figures at the column's
    typical magnitude (the stored value keeps its full precision)."""
    if integer:
        return "#,##0"
    finite = np.abs(values[np.isfinite(values) & (values != 0)])
    if finite.size == 0:
        return "#,##0"
    decimals = int(np.clip(2 - np.floor(np.log10(np.median(finite))), 0, 6))
    return "#,##0" + ("." + "0" * decimals if decimals else "")


def _column_formats(df: pd.DataFrame) -> list[str | None]:
    """The number format of each column: text ``@`` for codes, numbers by magnitude."""
    out: list[str | None] = []
    for name, s in df.items():
        if is_code_column(str(name)):
            out.append("@")
        elif pd.api.types.is_bool_dtype(s):
            out.append(None)
        elif pd.api.types.is_integer_dtype(s):
            out.append("#,##0")
        elif pd.api.types.is_float_dtype(s):
            out.append(_number_format(s.to_numpy(dtype=float), False))
        else:
            out.append(None)
    return out


def _column_widths(df: pd.DataFrame) -> list[float]:
    """Widths (characters) from the header and the longest shown value, at most 60."""
    widths = []
    for name, s in df.items():
        if pd.api.types.is_float_dtype(s):
            finite = s.to_numpy(dtype=float)
            finite = np.abs(finite[np.isfinite(finite)])
            digits = len(f"{finite.max():,.0f}") + 4 if finite.size else 4
        else:
            # pandas 3 keeps missing values missing through astype(str): they count as empty
            digits = int(s.astype(str).str.len().fillna(0).max()) if len(s) else 0
        widths.append(min(max(len(str(name)), digits) + 2, _MAX_WIDTH))
    return widths


def write_excel(
    sheets: Mapping[str, pd.DataFrame],
    path: str | Path,
    overwrite: bool = False,
    labels: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Write one sheet per table to an ``.xlsx`` file, atomically; every text a string cell.

    Parameters
    ----------
    sheets : mapping of str to DataFrame
        Sheet name (cut to Excel's 31 characters) to table; headers are the column names.
    path : path
        The file (temporary name beside it, then renamed).
    overwrite : bool
        Replace an existing file (else :class:`~gridcarbon.errors.OutputExistsError`).
    labels : mapping of str to sequence of str, optional
        By sheet name, a label for each column (e.g. the display name and unit of a species' ``_kg`` column),
        written as a second header row under the machine column names.  The filter sits on the
        label row and both header rows are frozen; read the table back with
        ``pd.read_excel(path, sheet_name=..., skiprows=[1])``.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    Text is never a formula: openpyxl turns any string starting with ``=`` into one, so each
    text cell is typed as a string after its value is set; nothing is added to the text.
    Missing and non-finite numbers become empty cells.

    Laid out for analysts: the header row frozen and filtered, column widths from the content,
    numbers with thousands separators and about three significant figures (a display format:
    the cells keep full precision), codes (``*_code``, ``*_id``) as text cells formatted as
    text, and each header that names a unit by its ending (``_kg``, ``_t_per_km2``, ``_pct``)
    noted with that unit (a comment on the machine name; the label row shows it).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    def w(tmp: Path) -> None:
        wb = Workbook(write_only=True)  # streaming writer: fast for large sheets

        def cell(ws: Any, v: Any, number_format: str | None = None) -> Any:
            if v is None or v is pd.NA or v is pd.NaT:
                return None
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and not np.isfinite(v):
                return None
            if isinstance(v, pd.Timestamp):
                return v.to_pydatetime()
            if isinstance(v, dict | list | tuple):  # e.g. a JSON-like setting in a provenance sheet
                v = str(v)
            if number_format == "@" and not isinstance(v, bool):
                v = str(v)  # a code is text, whatever type the table held it in
            if isinstance(v, str):
                text = WriteOnlyCell(ws, value=excel_safe_text(v))
                text.data_type = "s"
                if number_format == "@":
                    text.number_format = "@"
                return text
            if number_format is not None and isinstance(v, int | float) and not isinstance(v, bool):
                number = WriteOnlyCell(ws, value=v)
                number.number_format = number_format
                return number
            return v

        def label_cell(ws: Any, text: str) -> Any:
            c = cell(ws, text)
            c.font = Font(bold=True)
            c.alignment = Alignment(wrap_text=True, vertical="top")
            return c

        def header(ws: Any, name: str) -> Any:
            c = cell(ws, name)
            unit = column_unit(name)
            if unit:
                c.comment = Comment(f"unit: {unit}", "gridcarbon")
            return c

        for name, df in sheets.items():
            ws = wb.create_sheet(title=excel_safe_text(name)[:31])
            formats = _column_formats(df)
            label_row = list((labels or {}).get(name, ()))
            if label_row and len(label_row) != len(df.columns):
                raise ValueError(
                    f"sheet {name!r}: {len(label_row)} labels for {len(df.columns)} columns"
                )
            widths = _column_widths(df)
            for i, width in enumerate(widths, start=1):
                if label_row:  # a label wraps on about two lines of its column
                    width = min(max(width, len(label_row[i - 1]) / 2 + 2), _MAX_WIDTH)
                ws.column_dimensions[get_column_letter(i)].width = width
            top = 2 if label_row else 1  # the header row the filter and the panes sit under
            if len(df.columns):
                ws.freeze_panes = f"A{top + 1}"
                last = get_column_letter(len(df.columns))
                ws.auto_filter.ref = f"A{top}:{last}{len(df) + top}"
            ws.append([header(ws, str(c)) for c in df.columns])
            if label_row:
                ws.append([label_cell(ws, text) for text in label_row])
            for row in df.itertuples(index=False, name=None):
                ws.append([cell(ws, v, f) for v, f in zip(row, formats, strict=True)])
        wb.save(tmp)

    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        with deferred_signals():  # openpyxl's streaming writer prints a traceback when interrupted
            w(tmp)
    return path
