"""Station and observation files: CSV, Excel and Parquet tables read as written, with where each
row came from.

Cells are read as text (CSV) or as the cell values (Excel, Parquet) without any interpretation:
no missing-value markers, no dates, no numbers.  The validation in
:mod:`gridcarbon.inversion.observations` decides what a cell means, and names the cell a user
can open when it does not make sense: ``obs.csv, line 17`` (the physical line, 1-based, header
counted, as an editor shows it), ``obs.xlsx, Sheet1!C17`` or ``DataFrame, row 3`` (position + 1).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from gridcarbon.errors import GridcarbonError, InputDataError, InputFileError

__all__ = ["EXCEL_SUFFIXES", "TEXT_SUFFIXES", "RowSources", "SourceFile", "read_table_file"]

#: Suffixes read as comma-separated text (UTF-8, with or without BOM, or GB18030/GBK).
TEXT_SUFFIXES = (".csv", ".txt")
#: Suffixes read as Excel workbooks (the first worksheet).
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_ENCODINGS = ("utf-8-sig", "gb18030")


@dataclass(frozen=True)
class SourceFile:
    """One input as the user knows it.

    Attributes
    ----------
    name : str
        The path as given (or ``"DataFrame"``).
    style : {"line", "sheet", "row"}
        How its rows are numbered: physical text lines, worksheet rows, or 1-based positions.
    sheet : str, optional
        The worksheet read (Excel).
    letters : mapping
        Column header as written -> Excel column letter.
    header_line : int
        Line (text) or worksheet row (Excel) of the header; 0 when there is none to point at.
    """

    name: str
    style: Literal["line", "sheet", "row"] = "line"
    sheet: str | None = None
    letters: Mapping[str, str] = field(default_factory=dict)
    header_line: int = 0

    def header_place(self) -> str:
        """Where the header is, e.g. ``line 1`` or ``sheet 'Sheet1', row 1``."""
        if self.style == "line":
            return f"line {self.header_line}"
        if self.style == "sheet":
            return f"sheet {self.sheet!r}, row {self.header_line}"
        return "columns"


@dataclass(frozen=True)
class RowSources:
    """Where each row of a table came from.

    Attributes
    ----------
    files : tuple of SourceFile
    file_index : int array
        Per row, its file in ``files``.
    number : int array
        Per row, its line (text), worksheet row (Excel) or 1-based position.
    column : object array, optional
        Per row, the header of the cell that holds its value (wide files, one column per
        station); None when the value has a column of its own.
    stamp : object array, optional
        Per row, its time stamp as written, when that is not one cell (e.g. CNEMC date + hour).
    """

    files: tuple[SourceFile, ...]
    file_index: np.ndarray
    number: np.ndarray
    column: np.ndarray | None = None
    stamp: np.ndarray | None = None

    @classmethod
    def of_frame(cls, n_rows: int, name: str = "DataFrame") -> RowSources:
        """Rows of a table given in memory: numbered by position + 1."""
        return cls.of_file(SourceFile(name, "row"), np.arange(1, n_rows + 1))

    @classmethod
    def of_file(cls, source: SourceFile, numbers: Sequence[int] | np.ndarray) -> RowSources:
        """Rows of one file with the given line / row numbers."""
        numbers = np.asarray(numbers, dtype=np.int64)
        return cls((source,), np.zeros(len(numbers), dtype=np.int64), numbers)

    def __len__(self) -> int:
        return len(self.number)

    def take(self, index: np.ndarray | Sequence[int]) -> RowSources:
        """The sources of a subset (or reordering) of the rows (positions or a boolean mask)."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return RowSources(
            self.files,
            self.file_index[idx],
            self.number[idx],
            None if self.column is None else self.column[idx],
            None if self.stamp is None else self.stamp[idx],
        )

    @classmethod
    def concat(cls, parts: Iterable[RowSources]) -> RowSources:
        """The sources of tables stacked in order."""
        parts = list(parts)
        files: list[SourceFile] = []
        index, number, column, stamp = [], [], [], []
        for p in parts:
            index.append(p.file_index + len(files))
            files.extend(p.files)
            number.append(p.number)
            column.append(p.column if p.column is not None else np.full(len(p), None, object))
            stamp.append(p.stamp if p.stamp is not None else np.full(len(p), None, object))
        has_column = any(p.column is not None for p in parts)
        has_stamp = any(p.stamp is not None for p in parts)
        empty = np.zeros(0, dtype=np.int64)
        return cls(
            tuple(files),
            np.concatenate(index) if index else empty,
            np.concatenate(number) if number else empty,
            np.concatenate(column) if has_column else None,
            np.concatenate(stamp) if has_stamp else None,
        )

    def source(self, i: int) -> SourceFile:
        """The file of row ``i``."""
        return self.files[int(self.file_index[i])]

    def locate(self, i: int, header: str | None = None) -> str:
        """Where row ``i`` (and the cell under ``header``) is in its file, e.g. ``line 17``."""
        src = self.source(i)
        n = int(self.number[i])
        if self.column is not None and header is not None and self.column[i] is not None:
            header = str(self.column[i])
        if src.style == "sheet":
            letter = src.letters.get(header) if header is not None else None
            return f"{src.sheet}!{letter}{n}" if letter else f"sheet {src.sheet!r}, row {n}"
        text = f"line {n}" if src.style == "line" else f"row {n}"
        return text if header is None else f"{text}, column {header!r}"

    def where(self, i: int, header: str | None = None) -> str:
        """File and place of row ``i``, e.g. ``obs.csv, line 17``."""
        return f"{self.source(i).name}, {self.locate(i, header)}"

    def pair(self, i: int, j: int) -> str:
        """Two rows, e.g. ``obs.csv, lines 3 and 7``."""
        a, b = self.source(i), self.source(j)
        if a is b and a.style != "sheet":
            kind = "lines" if a.style == "line" else "rows"
            return f"{a.name}, {kind} {int(self.number[i])} and {int(self.number[j])}"
        if a is b:
            return f"{a.name}, {self.locate(i)} and {self.locate(j)}"
        return f"{self.where(i)} and {self.where(j)}"


def read_table_file(
    path: str | Path,
    what: str = "table",
    keep: Callable[[list[str]], Iterable[str]] | None = None,
) -> tuple[pd.DataFrame, RowSources]:
    """Read a CSV, Excel (first worksheet) or Parquet table as written.

    Parameters
    ----------
    path : path
        ``.csv``/``.txt`` (comma-separated; UTF-8 with or without BOM, else GB18030/GBK),
        ``.xlsx``/``.xlsm`` or ``.parquet``.
    what : str
        What the file is, for messages (e.g. ``"station table"``).
    keep : callable, optional
        Given the headers as written, the ones to keep (e.g. a CNEMC day's few stations of
        its ~2000 columns); default all.

    Returns
    -------
    table : DataFrame
        One column per header as written (object values: text for CSV, cell values for Excel,
        typed columns for Parquet); blank lines and rows are skipped.
    rows : RowSources
        Where each row came from (``rows.files[0].header_line``: the header's line).

    Raises
    ------
    InputFileError
        Missing, unreadable or unsupported file; a row with more or fewer cells than the
        header; a header repeated; no data rows.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputFileError(f"{what} {name!r} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix in TEXT_SUFFIXES:
            header, cells, numbers, header_line = _read_csv(path, name)
            source = SourceFile(name, "line", header_line=header_line)
        elif suffix in EXCEL_SUFFIXES:
            header, cells, numbers, header_line, sheet = _read_excel(path, name)
            source = SourceFile(name, "sheet", sheet, _letters(header), header_line)
        elif suffix in _PARQUET_SUFFIXES:
            table = pd.read_parquet(path).reset_index(drop=True)
            if table.empty:
                raise InputDataError(f"{what} {name!r} has no rows")
            table.columns = [str(c) for c in table.columns]
            if keep is not None:
                table = table[list(dict.fromkeys(keep(list(table.columns))))]
            return table, RowSources.of_file(SourceFile(name, "row"), np.arange(1, len(table) + 1))
        elif suffix == ".xls":
            raise InputFileError(
                f"{what} {name!r} is an old-format .xls workbook; save it as .xlsx or CSV"
            )
        else:
            raise InputFileError(
                f"{what} {name!r}: unsupported format {suffix!r}; use .csv, .xlsx or .parquet"
            )
    except GridcarbonError:
        raise
    except Exception as exc:  # pandas, pyarrow, openpyxl and zip errors at the edge
        raise InputFileError(f"cannot read {what} {name!r}: {type(exc).__name__}: {exc}") from None
    if not header:
        raise InputDataError(f"{what} {name!r} is empty: no header line")
    _check_header(header, source)
    if not cells:
        raise InputDataError(
            f"{what} {name!r} has no rows, only a header ({source.header_place()})"
        )
    if keep is not None:
        wanted = set(keep(list(header)))
        columns = [k for k, h in enumerate(header) if h in wanted]
        header = [header[k] for k in columns]
        cells = [[row[k] for k in columns] for row in cells]
    table = pd.DataFrame(cells, columns=header, dtype=object)
    return table, RowSources.of_file(source, numbers)


def _blank(cells: Sequence[object]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _read_csv(path: Path, name: str) -> tuple[list[str], list[list[str]], list[int], int]:
    data = path.read_bytes()
    for encoding in _ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return _parse_csv(text, name)
    raise InputFileError(f"{name!r} is neither UTF-8 nor GB18030/GBK text; save it as UTF-8 CSV")


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _records(text: str, name: str) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, cells) of each CSV record."""
    if '"' not in text:
        # nothing quoted: a record is a line (CNEMC days; ~5 times faster than the csv module)
        lines = text.split("\n") if "\r" not in text else _LINE_BREAK.split(text)
        if lines and lines[-1] == "":
            lines.pop()
        for n, line in enumerate(lines, start=1):
            yield n, line.split(",")
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    previous_end = 0
    try:
        for record in reader:
            yield previous_end + 1, record
            previous_end = reader.line_num
    except csv.Error as exc:
        raise InputFileError(f"{name}, line {reader.line_num}: not valid CSV ({exc})") from None


def _parse_csv(text: str, name: str) -> tuple[list[str], list[list[str]], list[int], int]:
    header: list[str] = []
    header_line = 0
    cells: list[list[str]] = []
    numbers: list[int] = []
    for start, record in _records(text, name):
        if _blank(record):
            continue
        if not header:
            header, header_line = list(record), start
            continue
        if len(record) != len(header):
            # trailing empty cells (spreadsheet exports) do not shift anything
            if len(record) > len(header) and _blank(record[len(header) :]):
                record = record[: len(header)]
            else:
                raise InputDataError(
                    f"{name}, line {start}: {len(record)} cells, but the header (line "
                    f"{header_line}) has {len(header)}; check for a missing or extra "
                    "separator (a comma inside a value needs quotes)"
                )
        cells.append(record)
        numbers.append(start)
    return header, cells, numbers, header_line


def _read_excel(path: Path, name: str) -> tuple[list[str], list[list[object]], list[int], int, str]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        header: list[str] = []
        header_line = 0
        cells: list[list[object]] = []
        numbers: list[int] = []
        for n, values in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
            if _blank(values):
                continue
            values = [_excel_value(v) for v in values]
            if not header:
                width = max(i + 1 for i, v in enumerate(values) if v != "")
                header, header_line = [str(v).strip() for v in values[:width]], n
                continue
            if len(values) > len(header) and not _blank(values[len(header) :]):
                from openpyxl.utils import get_column_letter

                k = next(i for i in range(len(header), len(values)) if values[i] != "")
                raise InputDataError(
                    f"{name}, {ws.title}!{get_column_letter(k + 1)}{n}: a value right of the "
                    f"last header ({ws.title}!{get_column_letter(len(header))}{header_line}); "
                    "give the column a header or delete the value"
                )
            values = (values + [""] * len(header))[: len(header)]
            cells.append(values)
            numbers.append(n)
        return header, cells, numbers, header_line, ws.title
    finally:
        wb.close()


def _excel_value(v: object) -> object:
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return pd.Timestamp(v)
    return v


def _letters(header: Sequence[str]) -> dict[str, str]:
    from openpyxl.utils import get_column_letter

    return {h: get_column_letter(i + 1) for i, h in enumerate(header)}


def _check_header(header: list[str], source: SourceFile) -> None:
    seen: dict[str, int] = {}
    for k, h in enumerate(header):
        if not h.strip():
            header[k] = f"(unnamed column {k + 1})"
            continue
        if h in seen:
            raise InputDataError(
                f"{source.name}, {source.header_place()}: the column {h!r} appears twice "
                f"(columns {seen[h] + 1} and {k + 1}); rename or delete one"
            )
        seen[h] = k
