"""Stations and observations: validation, time zones, units and plausibility checks.

Station table (DESIGN §3): ``station_id``, ``name``, ``lon``, ``lat`` (degrees), ``height``
(inlet height above ground, m), ``kind`` (background / demonstration / regional / urban / sink /
micro), ``species`` (comma-separated observed quantities: the ``observed_as`` of the built-in
species — CO2, NO2, VOC — or of the species given as ``known_species``).

Observation table (long): ``time``, ``station_id``, ``species`` (an observed quantity), ``value`` and
optionally ``uncertainty`` in ``unit`` (ppm, ppb, ppbC, µg/m³, mg/m³).  Normalised, ``time`` is
tz-aware UTC (hour-beginning) and ``value``/``uncertainty`` are in the canonical unit of the
species (ppm, ppb, ppbC; see :mod:`gridcarbon.inversion.conversion`).

Everything here works on DataFrames; the files are opened by
:mod:`gridcarbon.io.observations_file`, which also says where each row came from, so every
message names the file, the line (or ``Sheet!B17``) and the value as written.  A DataFrame given
in Python is named ``DataFrame`` and its rows by position + 1.

What is refused, warned about or counted:

- time stamps without a UTC offset unless a time zone is declared; stamps mixing both kinds;
- missing-value markers (empty, ``NA``, ``—``, -99, -999, ...) are read as missing and counted
  per file in the QA record (the normalised table's ``attrs["observation_qa"]``);
- a station's median far outside the plausible range of its species that another unit explains,
  e.g. NO2 in mg/m³ read as µg/m³ (:func:`check_magnitude`): refused with the factor found and
  the fix; other medians outside the range: warned;
- negative values below :data:`NEGATIVE_FLOOR`: refused (small ones are sensor noise, kept);
- a mean daily cycle whose minimum is not in the afternoon (:func:`diurnal_minimum_hour`):
  warned, naming the likely offset of the stamps;
- station codes matched only after removing spaces, full-width forms or case: listed in a
  warning; codes with control characters and names over 200 characters: refused.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from gridcarbon.config.inversion import (
    CNEMC_QUANTITIES,
    DIURNAL_CHECK_QUANTITIES,
    NEGATIVE_FLOOR,
    OBSERVED_ALIASES,
    PLAUSIBLE_MEDIAN,
    STATION_KINDS,
)
from gridcarbon.errors import InputDataError, OutsideGridError
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.inversion.conversion import (
    REFERENCE_STATE_CHANGE,
    Quantity,
    normalise_unit,
    observed_quantities,
    resolve_quantity,
    to_canonical,
)
from gridcarbon.io.observations_file import RowSources, read_table_file
from gridcarbon.names import clean_text_values
from gridcarbon.species import Species

__all__ = [
    "validate_stations",
    "read_stations",
    "normalise_observations",
    "read_observations",
    "read_cnemc_sites",
    "read_cnemc",
    "cnemc_long_table",
    "station_species",
    "match_station_codes",
    "parse_values",
    "check_magnitude",
    "MagnitudeVerdict",
    "PLAUSIBLE_MEDIAN",
    "NEGATIVE_FLOOR",
    "diurnal_minimum_hour",
    "ObservationQA",
    "ObservationWarning",
    "OBS_COLUMNS",
    "MISSING_TEXT",
    "MISSING_NUMBERS",
    "BEIJING_TIME",
]

OBS_COLUMNS = ("time", "station_id", "species", "value", "unit", "uncertainty")

#: Cell texts read as a missing value (compared stripped and case-folded; "" is an empty cell).
MISSING_TEXT: frozenset[str] = frozenset(
    {"", "na", "n/a", "nan", "null", "none", "-", "--", "—", "——", "–", "#n/a"}
)
#: Numbers read as a missing value (data-logger and CNEMC-mirror conventions).
MISSING_NUMBERS: tuple[float, ...] = (-99.0, -999.0, -9999.0)

#: Beijing time, UTC+8 all year (CNEMC stamps; the inventory's local time).
BEIJING_TIME = dt.timezone(dt.timedelta(hours=8), "UTC+08:00")

_MIN_VALUES_FOR_MEDIAN = 6

#: Local hours (hour-beginning) in which the mean daily minimum of the quantities of
#: :data:`~gridcarbon.config.inversion.DIURNAL_CHECK_QUANTITIES` falls at stations near sources,
#: its usual centre, and how many hours outside the window pass without a warning.
_AFTERNOON_MINIMUM = (12, 17)
_AFTERNOON_CENTRE = 14
_DIURNAL_TOLERANCE_H = 2
_DIURNAL_KINDS = ("urban", "micro", "demonstration", "regional")


class ObservationWarning(UserWarning):
    """Observations were read, but something in them looks off (units, time stamps, codes)."""


def _station_quantities(known_species: Iterable[Species]) -> dict[str, Quantity]:
    """What a station may measure: the quantities of the built-in and the given species."""
    return observed_quantities(known_species, extra=False)


def _spellings(quantities: Mapping[str, Quantity]) -> dict[str, str]:
    """Lower-case spelling → quantity name, with the other spellings of
    :data:`~gridcarbon.config.inversion.OBSERVED_ALIASES`."""
    out = {name.lower(): name for name in quantities}
    out.update({k: v for k, v in OBSERVED_ALIASES.items() if v in quantities})
    return out


def _or_list(names: Sequence[str]) -> str:
    """``A, B or C``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


@dataclass
class ObservationQA:
    """What reading observations found, for the inversion's outputs.

    Attributes
    ----------
    sources : dict
        Per file (or ``DataFrame``): ``values_read``, ``values_kept`` and ``missing`` (count per
        missing-value marker as written, ``empty`` for empty cells).
    matched_station_codes : dict
        Station id -> the codes as written that matched it only after removing spaces, case or
        full-width forms.
    time_zone : str
        How the time stamps were read.
    negative_values_kept : int
        Values below zero but above :data:`NEGATIVE_FLOOR` (noise near zero), kept.
    warnings : list of str
        The warnings issued.
    """

    sources: dict[str, dict[str, object]] = field(default_factory=dict)
    matched_station_codes: dict[str, list[str]] = field(default_factory=dict)
    time_zone: str = ""
    negative_values_kept: int = 0
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        """Issue an :class:`ObservationWarning` and record it."""
        warnings.warn(message, ObservationWarning, stacklevel=3)
        self.warnings.append(message)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready copy."""
        return {
            "sources": {k: dict(v) for k, v in self.sources.items()},
            "matched_station_codes": {k: list(v) for k, v in self.matched_station_codes.items()},
            "time_zone": self.time_zone,
            "negative_values_kept": self.negative_values_kept,
            "warnings": list(self.warnings),
        }


# -- station codes ------------------------------------------------------------------------------


def _code_key(code: object) -> str:
    return unicodedata.normalize("NFKC", str(code)).strip().casefold()


def match_station_codes(
    written: Iterable[str], station_ids: Iterable[str]
) -> tuple[dict[str, str], list[str]]:
    """Match codes as written in a file to the station table's ids.

    A code matches exactly, or else after removing surrounding white space, full-width forms
    (NFKC) and case (``"1223A "``, ``"1224a"``, ``"１２２５Ａ"``).

    Returns
    -------
    matched : dict
        Code as written -> station id.
    unmatched : list
        Codes as written that match no station.
    """
    ids = [str(s) for s in station_ids]
    exact = set(ids)
    by_key = {_code_key(s): s for s in ids}
    matched: dict[str, str] = {}
    unmatched: list[str] = []
    for code in written:
        if code in exact:
            matched[code] = code
        elif _code_key(code) in by_key:
            matched[code] = by_key[_code_key(code)]
        else:
            unmatched.append(code)
    return matched, unmatched


def _matched_text(pairs: Mapping[str, Iterable[str]]) -> str:
    return ", ".join(f"{sid} ← {w!r}" for sid, ws in pairs.items() for w in sorted(set(ws)))


def _column_map(table: pd.DataFrame, fields: Sequence[str]) -> dict[str, str]:
    """Field -> column header as written, matching headers regardless of spaces and case."""
    headers = [str(c) for c in table.columns]
    out: dict[str, str] = {}
    for f in fields:
        if f in headers:
            out[f] = f
            continue
        hit = [h for h in headers if _code_key(h) == f]
        if hit:
            out[f] = hit[0]
    return out


# -- stations ---------------------------------------------------------------------------------


def station_species(stations: pd.DataFrame) -> dict[str, list[str]]:
    """Species measured at each station (from the comma-separated ``species`` column)."""
    return {
        sid: [s.strip() for s in str(sp).split(",") if s.strip()]
        for sid, sp in zip(stations["station_id"], stations["species"], strict=True)
    }


def _numbers(raw: pd.Series, src: RowSources, header: str, what: str, fix: str) -> np.ndarray:
    vals = pd.to_numeric(pd.Series(raw).map(_strip), errors="coerce").to_numpy(float)
    bad = ~np.isfinite(vals)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"{src.where(i, header)}: {what} {_as_written(raw.iloc[i])!r} is not a number; {fix}"
        )
    return vals


def _strip(v: object) -> object:
    return v.strip() if isinstance(v, str) else v


def _as_written(v: object) -> str:
    if _is_blank(v):
        return ""
    if isinstance(v, pd.Timestamp):
        return v.isoformat(sep=" ")
    return str(v)


def validate_stations(
    stations: pd.DataFrame,
    grid: GridSpec | None = None,
    *,
    rows: RowSources | None = None,
    known_species: Iterable[Species] = (),
) -> pd.DataFrame:
    """Check a station table and add grid positions.

    Parameters
    ----------
    stations : DataFrame
        ``station_id``, ``lon``, ``lat`` (degrees), ``kind``, ``species`` and optionally
        ``name`` and ``height`` (inlet height above ground, m; default 10 m).  Headers match
        regardless of spaces and case.
    grid : GridSpec, optional
        Locate each station on it.
    rows : RowSources, optional
        Where the rows came from (:func:`read_stations`); default ``DataFrame``, row = position
        + 1.
    known_species : iterable of Species
        Species beyond the built-in ones whose observed quantities stations may list.

    Raises
    ------
    InputDataError
        Missing column, empty table, duplicate id, unknown class or species, bad coordinate,
        a code with control characters or a name over 200 characters; the message names the
        file and line.
    OutsideGridError
        A station lies outside ``grid``.

    Returns
    -------
    DataFrame
        A copy with ids and names cleaned, ``lon``, ``lat``, ``height`` as floats, ``kind`` and
        ``species`` in canonical spelling and ``x``, ``y`` (grid metres), ``row``, ``col`` when
        ``grid`` is given.
    """
    src = RowSources.of_frame(len(stations)) if rows is None else rows
    origin = src.files[0]
    need = ["station_id", "lon", "lat", "kind", "species"]
    cols = _column_map(stations, need + ["name", "height", "elevation"])
    missing = [c for c in need if c not in cols]
    if missing:
        raise InputDataError(
            f"{origin.name}, {origin.header_place()}: the station table lacks column(s) "
            f"{missing}; expected {need} (+ name, height); found {list(map(str, stations.columns))}"
        )
    if len(stations) == 0:
        raise InputDataError(f"{origin.name}: the station table is empty")
    df = stations.reset_index(drop=True).copy()
    df = df.rename(columns={v: k for k, v in cols.items() if k != v})
    ids = df["station_id"].map(lambda v: _as_written(v).strip())
    empty = (ids == "").to_numpy()
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise InputDataError(
            f"{src.where(i, cols['station_id'])}: empty station_id; give every station a code"
        )
    ids = pd.Series(_clean(ids.tolist(), cols["station_id"], "code", src), dtype=object)
    keys = ids.map(_code_key)
    dup = keys.duplicated(keep=False).to_numpy()
    if dup.any():
        j = int(np.flatnonzero(keys.duplicated().to_numpy())[0])
        i = int(np.flatnonzero((keys == keys[j]).to_numpy())[0])
        same = "" if ids[i] == ids[j] else f" and {ids[j]!r} (the same code up to case/spaces)"
        raise InputDataError(
            f"{src.pair(i, j)}: duplicate station_id {ids[i]!r}{same}; give each station one row"
        )
    df["station_id"] = ids.astype(str).to_numpy()
    if "name" in df:
        names = df["name"].map(lambda v: _as_written(v).strip())
        names = names.where(names != "", df["station_id"])
        df["name"] = _clean(names.tolist(), cols["name"], "name", src)
    else:
        df["name"] = df["station_id"]
    kinds = df["kind"].map(lambda v: _as_written(v).strip().lower())
    for i, k in enumerate(kinds):
        if k not in STATION_KINDS:
            raise InputDataError(
                f"{src.where(i, cols['kind'])} ({ids[i]}): unknown kind "
                f"{_as_written(df['kind'][i])!r}; use one of {list(STATION_KINDS)}"
            )
    df["kind"] = kinds.to_numpy()
    quantities = _station_quantities(known_species)
    spellings = _spellings(quantities)
    species = []
    for i, text in enumerate(df["species"]):
        parts = [p.strip() for p in re.split(r"[,，;；]", _as_written(text)) if p.strip()]
        canon = [spellings.get(p.lower()) for p in parts]
        bad = [p for p, c in zip(parts, canon, strict=True) if c is None]
        if bad or not parts:
            raise InputDataError(
                f"{src.where(i, cols['species'])} ({ids[i]}): unknown species "
                f"{(bad or [''])[0]!r}; list {', '.join(quantities)} separated by commas"
            )
        species.append(",".join(dict.fromkeys(canon)))
    df["species"] = species
    fix = "give decimal degrees (e.g. 120.16)"
    lon = _numbers(df["lon"], src, cols["lon"], "longitude", fix)
    lat = _numbers(df["lat"], src, cols["lat"], "latitude", fix)
    for arr, lim, name, header in ((lon, 180, "longitude", "lon"), (lat, 90, "latitude", "lat")):
        bad = np.abs(arr) > lim
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputDataError(
                f"{src.where(i, cols[header])} ({ids[i]}): {name} {arr[i]!r} is outside "
                f"-{lim}..{lim}; {fix}"
            )
    if "height" in df:
        height = _numbers(
            df["height"], src, cols["height"], "inlet height", "give metres above ground"
        )
        neg = height < 0
        if neg.any():
            i = int(np.flatnonzero(neg)[0])
            raise InputDataError(
                f"{src.where(i, cols['height'])} ({ids[i]}): inlet height {height[i]!r} must "
                "be >= 0 m"
            )
    else:
        height = np.full(len(df), 10.0)
    df["lon"], df["lat"], df["height"] = lon, lat, height
    if "elevation" in df:
        # optional: ground elevation (m above sea level), for the pressure at the inlet
        elevation = pd.to_numeric(df["elevation"].map(_strip), errors="coerce").to_numpy(float)
        given = ~df["elevation"].map(lambda v: _is_blank(v) or str(v).strip() == "").to_numpy(bool)
        bad = given & ~((elevation >= -500.0) & (elevation <= 9000.0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputDataError(
                f"{src.where(i, cols['elevation'])} ({ids[i]}): elevation "
                f"{_as_written(df['elevation'].iat[i])!r} is not a height in -500..9000 m above "
                "sea level; give metres, or leave the cell empty if unknown"
            )
        df["elevation"] = elevation
    if grid is not None:
        x, y = grid.project(lon, lat)
        r, c = grid.xy_to_index(x, y, strict=False)
        bad = (r < 0) | (c < 0) | (r >= grid.ny) | (c >= grid.nx)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise OutsideGridError(
                f"{src.where(i)}: station {ids[i]!r} (lon {lon[i]}, lat {lat[i]}) is outside "
                "the grid; remove it or enlarge the grid (grid.buffer_m)"
            )
        df["x"], df["y"], df["row"], df["col"] = x, y, r.astype(np.int64), c.astype(np.int64)
    return df


def _clean(
    values: list[object], header: str, kind: Literal["name", "code"], src: RowSources
) -> list[object]:
    """:func:`gridcarbon.names.clean_text_values`, file by file, located by line."""
    out = list(values)
    for fi, source in enumerate(src.files):
        idx = np.flatnonzero(src.file_index == fi)
        if len(idx) == 0:
            continue
        cleaned = clean_text_values(
            [values[i] for i in idx],
            field=header,
            kind=kind,
            source=source.name,
            location=lambda k, idx=idx: src.locate(int(idx[k])),
        )
        for k, i in enumerate(idx):
            out[i] = cleaned[k]
    return out


def read_stations(
    source: str | Path | pd.DataFrame,
    grid: GridSpec | None = None,
    *,
    known_species: Iterable[Species] = (),
    source_name: str = "DataFrame",
) -> pd.DataFrame:
    """Read (or take) and validate a station table (:func:`validate_stations`).

    Parameters
    ----------
    source : path or DataFrame
        A CSV (UTF-8 or GBK), Excel (first sheet) or Parquet file, or the table itself with the
        same columns: ``station_id``, ``lon``, ``lat`` (degrees WGS84/CGCS2000), ``kind``,
        ``species`` and optionally ``name`` and ``height`` (inlet height above ground, m).
    grid : GridSpec, optional
        Locate each station on it (``x``, ``y`` in metres, ``row``, ``col``).
    known_species : iterable of Species
        Species beyond the built-in ones whose observed quantities stations may list.
    source_name : str
        How messages name a table given in memory (its rows: position + 1).

    Returns
    -------
    DataFrame
        The validated table (:func:`validate_stations`).

    Raises
    ------
    InputFileError
        A missing or unreadable file.
    InputDataError
        Anything :func:`validate_stations` refuses, named by file and line (or row).

    Examples
    --------
    >>> import pandas as pd
    >>> import gridcarbon
    >>> table = pd.DataFrame(
    ...     {"station_id": ["HZ01"], "lon": [120.16], "lat": [30.27], "kind": ["Urban"],
    ...      "species": ["co2, no2"]}
    ... )
    >>> gridcarbon.read_stations(table)[["station_id", "name", "kind", "species", "height"]]
      station_id  name   kind  species  height
    0       HZ01  HZ01  urban  CO2,NO2    10.0
    >>> gridcarbon.read_stations(table.assign(kind=["rooftop"]))
    Traceback (most recent call last):
    ...
    gridcarbon.errors.InputDataError: DataFrame, row 1, column 'kind' (HZ01): unknown kind \
'rooftop'; use one of ['background', 'demonstration', 'regional', 'urban', 'sink', 'micro']
    """
    if isinstance(source, pd.DataFrame):
        rows = RowSources.of_frame(len(source), source_name)
        return validate_stations(source, grid, rows=rows, known_species=known_species)
    table, rows = read_table_file(source, "station table")
    return validate_stations(table, grid, rows=rows, known_species=known_species)


# -- values -----------------------------------------------------------------------------------


def parse_values(raw: pd.Series | Sequence[object]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read observed values as written.

    Parameters
    ----------
    raw : sequence
        Cells as written (text from CSV, numbers from Excel/Parquet/DataFrames).

    Returns
    -------
    values : float array
        The numbers (NaN where missing or not a number).
    missing : object array
        Per cell, the missing-value marker as written (``"-99"``, ``"NA"``, ``"—"``, ``"empty"``
        for an empty cell or NaN), or None for a value.  Markers: :data:`MISSING_TEXT` and
        :data:`MISSING_NUMBERS`.
    not_a_number : bool array
        Cells that are neither a number nor a missing-value marker.
    """
    s = raw if isinstance(raw, pd.Series) else pd.Series(list(raw), dtype=object)
    missing = np.full(len(s), None, dtype=object)
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        vals = s.to_numpy(dtype=float, na_value=np.nan, copy=True)
        missing[np.isnan(vals)] = "empty"
    else:
        text = np.array(
            ["" if _is_blank(v) else str(v).strip() for v in s.to_numpy(object)], dtype=object
        )
        is_marker = pd.Series(text, dtype=object).str.casefold().isin(MISSING_TEXT).to_numpy()
        numbers = pd.Series(np.where(is_marker, None, text), dtype=object)
        vals = pd.to_numeric(numbers, errors="coerce").to_numpy(float, copy=True)
        missing[is_marker] = np.where(text[is_marker] == "", "empty", text[is_marker])
    sentinel = np.isin(vals, MISSING_NUMBERS)
    missing[sentinel] = [f"{v:g}" for v in vals[sentinel]]
    vals[sentinel] = np.nan
    not_a_number = np.isnan(vals) & np.equal(missing, None)
    return vals, missing, not_a_number


def _is_blank(v: object) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


# -- time stamps ------------------------------------------------------------------------------

_STARTS_WITH_YEAR = re.compile(r"^\d{4}")
_YEARS = (1950, 2100)


def _parse_stamp(v: object) -> tuple[pd.Timestamp | None, str | None]:
    """One stamp as written -> (Timestamp, None) or (None, what is wrong)."""
    t, problem = _read_stamp(v)
    if t is not None and not _YEARS[0] <= t.year <= _YEARS[1]:
        return None, f"is outside the years {_YEARS[0]}–{_YEARS[1]}"
    return t, problem


def _read_stamp(v: object) -> tuple[pd.Timestamp | None, str | None]:
    if isinstance(v, pd.Timestamp | dt.datetime | np.datetime64):
        t = pd.Timestamp(v)
        return (None, "is empty") if t is pd.NaT else (t, None)
    if isinstance(v, dt.date):
        return pd.Timestamp(v), None
    if _is_blank(v):
        return None, "is empty"
    if not isinstance(v, str):
        return None, "is a number, not a date and time"
    text = v.strip()
    if not text:
        return None, "is empty"
    if not _STARTS_WITH_YEAR.match(text):
        return None, (
            "does not start with a four-digit year (day/month order cannot be told apart)"
        )
    try:
        t = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        return None, "is not a date and time"
    if t is pd.NaT:
        return None, "is not a date and time"
    return t, None


def _zone_label(time_zone: str | None) -> str:
    return "with the UTC offsets they carry" if time_zone is None else f"in {time_zone}"


def _utc_times(
    raw: pd.Series, time_zone: str | None, src: RowSources, header: str
) -> pd.DatetimeIndex:
    """Stamps as written -> tz-aware UTC, refusing what would be a guess."""

    def written(i: int) -> str:
        return _stamp_written(raw, src, i)

    codes, uniques = pd.factorize(raw.astype(object), use_na_sentinel=True)
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise InputDataError(f"{src.where(i, header)}: the time stamp is empty")
    parsed = [_parse_stamp(u) for u in uniques]
    problem = np.array([p[1] is not None for p in parsed], dtype=bool)
    if problem[codes].any():
        i = int(np.flatnonzero(problem[codes])[0])
        raise InputDataError(
            f"{src.where(i, header)}: time stamp {written(i)!r} {parsed[codes[i]][1]}; write "
            "it as 2023-01-02 13:00+08:00 (ISO 8601 with its UTC offset), or as 2023-01-02 "
            "13:00 with the time zone declared (observation_time_zone)"
        )
    stamps = [p[0] for p in parsed]
    aware_u = np.array([t.tzinfo is not None for t in stamps], dtype=bool)
    aware = aware_u[codes]
    if aware.any() and not aware.all():
        i, j = int(np.flatnonzero(aware)[0]), int(np.flatnonzero(~aware)[0])
        raise InputDataError(
            f"{src.source(i).name}: some time stamps carry a UTC offset and some do not — "
            f"first with one: {src.locate(i, header)}, {written(i)!r}; first without: "
            f"{src.locate(j, header)}, {written(j)!r}; write every stamp with its offset "
            "(2023-01-02 13:00+08:00), or none and declare the time zone (observation_time_zone)"
        )
    if aware_u.all():
        utc = pd.DatetimeIndex([t.tz_convert("UTC") for t in stamps]).as_unit("ns")
        return utc[codes]
    if time_zone is None:
        raise InputDataError(
            f"{src.where(0, header)}: time stamp {written(0)!r} carries no UTC offset, and no "
            "time zone is declared for such stamps; set observation_time_zone to 'UTC' or "
            "'Asia/Shanghai' (Beijing time) — time_zone= in Python — or write the offset into "
            "every stamp (2023-01-02 13:00+08:00)"
        )
    local = pd.DatetimeIndex(stamps).as_unit("ns")
    utc = local.tz_localize(_zone(time_zone), ambiguous="NaT", nonexistent="NaT")
    if utc.isna().any():
        i = int(np.flatnonzero(np.asarray(utc.isna())[codes])[0])
        raise InputDataError(
            f"{src.where(i, header)}: time stamp {written(i)!r} does not exist or is ambiguous "
            f"in {time_zone} (a daylight-saving change); write it with its UTC offset"
        )
    return utc.tz_convert("UTC")[codes]


def _zone(time_zone: str) -> str:
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputDataError(
            f"unknown time zone {time_zone!r}; use 'UTC' or 'Asia/Shanghai' (Beijing time)"
        ) from None
    return time_zone


# -- plausibility -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MagnitudeVerdict:
    """The verdict of :func:`check_magnitude` on one station's values of one species.

    Attributes
    ----------
    verdict : {"ok", "warn", "refuse", "too few"}
    median : float
        Median as given, in ``unit``.
    median_canonical : float
        The same in the canonical unit of the species.
    plausible : (float, float)
        The range of a station's median without a warning, canonical unit.
    alternatives : tuple of (unit, factor, median_canonical)
        Units in which the values would be plausible, and by what factor they would change.
    """

    verdict: Literal["ok", "warn", "refuse", "too few"]
    species: str
    unit: str
    canonical_unit: str
    n: int
    median: float
    median_canonical: float
    plausible: tuple[float, float]
    alternatives: tuple[tuple[str, float, float], ...]

    def describe(self) -> str:
        """One sentence on what is wrong and what the values would be in another unit."""
        canon = self.canonical_unit
        lo, hi = self.plausible
        text = (
            f"median {self.median:.3g} {self.unit} = {self.median_canonical:.3g} {canon}, where "
            f"a station's median is {lo:g}–{hi:g} {canon}"
        )
        if self.alternatives:
            alts = " or ".join(
                f"in {u} (×{f:.4g}: {m:.3g} {canon})" for u, f, m in self.alternatives
            )
            text += f"; the values would be plausible {alts}"
        return text


def check_magnitude(
    values: np.ndarray,
    species: str | Quantity,
    unit: str,
    dates: np.ndarray | Sequence[object] | None = None,
    voc_molar_mass_per_carbon: float = 14.0,
) -> MagnitudeVerdict:
    """Whether one station's values of one species are plausible in the declared unit.

    The median is compared with :data:`PLAUSIBLE_MEDIAN`.  Outside the warning band, each other
    unit the species may be given in is tried, to name the likely mix-up (µg/m³ vs mg/m³,
    ppb vs ppm, CO2 ppm vs mg/m³): a unit fits when the median would be inside the band and the
    90th percentile below 3 times its top (so a sensor's offset near zero, whose spread stays
    ppb-sized, is not taken for a unit slip).  Nothing is converted on a guess: the caller
    refuses or warns.

    Parameters
    ----------
    values : array
        Hourly values as given (missing values removed), in ``unit``.
    species : str or Quantity
        The observed quantity (its name, or the value); it needs a range in
        :data:`~gridcarbon.config.inversion.PLAUSIBLE_MEDIAN`.
    unit : str
        The declared unit (ppm, ppb, ppbC, ug/m3, mg/m3).
    dates : array of dates, optional
        Beijing dates of the values (reference state of mass units); default today's state.
    voc_molar_mass_per_carbon : float
        g/mol of carbon, for VOC mass concentrations.

    Returns
    -------
    MagnitudeVerdict
        ``"refuse"`` beyond the refusal limits when another unit fits (a unit slip, typically
        ×1000), ``"warn"`` elsewhere outside the warning band, ``"too few"`` with fewer than
        6 values.
    """
    q = resolve_quantity(species)
    if q.name not in PLAUSIBLE_MEDIAN:
        raise InputDataError(
            f"no plausible range is known for {q.name} (inversion PLAUSIBLE_MEDIAN); its "
            "magnitudes cannot be checked"
        )
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    u = normalise_unit(unit) or unit
    refuse_lo, lo, hi, refuse_hi = PLAUSIBLE_MEDIAN[q.name]

    def verdict_of(verdict, median, m, alternatives=()) -> MagnitudeVerdict:
        return MagnitudeVerdict(
            verdict, q.name, u, q.unit, len(v), median, m, (lo, hi), tuple(alternatives)
        )

    if len(v) < _MIN_VALUES_FOR_MEDIAN:
        return verdict_of("too few", np.nan, np.nan)
    when = pd.Timestamp(np.asarray(dates)[len(dates) // 2]) if dates is not None else None
    recent = when is None or when.date() >= REFERENCE_STATE_CHANGE
    median, p90 = float(np.median(v)), float(np.quantile(v, 0.9))

    def canonical(in_unit: str) -> np.ndarray:
        factor = _canonical_factor(in_unit, q, recent, voc_molar_mass_per_carbon)
        return np.array([median, p90]) * factor

    m = float(canonical(u)[0])
    if lo <= m <= hi:
        return verdict_of("ok", median, m)
    alternatives = []
    # the same kind of unit first: the classic slip is a factor 1000 (µg vs mg, ppb vs ppm)
    mass = u.endswith("/m3")
    for other in sorted(q.units(), key=lambda o: o.endswith("/m3") != mass):
        if other == u:
            continue
        alt_median, alt_p90 = canonical(other)
        if lo <= alt_median <= hi and alt_p90 <= 3 * hi and m > 0:
            alternatives.append((other, float(alt_median / m), float(alt_median)))
    off = m < refuse_lo or m > refuse_hi
    verdict = "refuse" if off and alternatives else "warn"
    return verdict_of(verdict, median, m, alternatives)


@lru_cache(maxsize=256)
def _canonical_factor(
    unit: str, species: Quantity, recent: bool, voc_molar_mass_per_carbon: float
) -> float:
    """Canonical units per ``unit`` (conversions are proportional); ``recent``: the 298.15 K
    reference state."""
    date = REFERENCE_STATE_CHANGE if recent else REFERENCE_STATE_CHANGE - dt.timedelta(days=1)
    return float(
        to_canonical(np.array([1.0]), unit, species, np.array([date]), voc_molar_mass_per_carbon)[0]
    )


def diurnal_minimum_hour(
    local_hour: np.ndarray,
    local_day: np.ndarray,
    values: np.ndarray,
    group: np.ndarray,
) -> tuple[int | None, int]:
    """Local hour of the minimum of the mean daily cycle of several stations.

    Each station's values become anomalies from their day's mean (days with at least 18
    hours), to which a daily cycle of two harmonics (24 h and 12 h) is fitted.  A station counts
    when it has at least 3 such days, at least 20 of the 24 hours, and a cycle that noise would
    not give: Wald statistic of the four coefficients above 25 (chance level below 1e-4), with
    the noise inflated by the lag-1 autocorrelation r of the residuals, (1 + r) / (1 - r), as
    hourly values persist (no false alarm in 900 simulated cycle-free stations with AR(1)
    coefficients 0, 0.8 and 0.95).  The fitted cycles are scaled to their depth and averaged.

    Parameters
    ----------
    local_hour : int array
        Local hour (0–23, hour-beginning) of each value.
    local_day : array
        Local calendar day of each value (any comparable labels).
    values : float array
    group : array
        Station of each value.

    Returns
    -------
    hour : int or None
        The hour of the mean minimum, None when no station has a clear cycle.
    n_stations : int
        Stations in the mean.
    """
    df = pd.DataFrame(
        {"h": np.asarray(local_hour), "d": np.asarray(local_day), "v": values, "g": group}
    )
    df = df[np.isfinite(df["v"])]
    df = df[df.groupby(["g", "d"])["h"].transform("nunique") >= 18].copy()
    if df.empty:
        return None, 0
    df["a"] = df["v"] - df.groupby(["g", "d"])["v"].transform("mean")
    phase = 2 * np.pi * np.arange(24) / 24
    basis = np.column_stack([np.cos(phase), np.sin(phase), np.cos(2 * phase), np.sin(2 * phase)])
    cycles = []
    for _, g in df.groupby("g"):
        if g["d"].nunique() < 3 or g["h"].nunique() < 20:
            continue
        g = g.sort_values(["d", "h"])
        x = basis[g["h"].to_numpy(int)]
        coef, *_ = np.linalg.lstsq(x, g["a"].to_numpy(float), rcond=None)
        resid = g["a"].to_numpy(float) - x @ coef
        dof = len(resid) - 4 - g["d"].nunique()
        if dof <= 0:
            continue
        noise = float(resid @ resid) / dof
        if noise <= 0:
            continue
        # hourly values persist: inflate the noise by the AR(1) factor of the residuals
        same_day = (g["d"].to_numpy()[1:] == g["d"].to_numpy()[:-1]) & (
            np.diff(g["h"].to_numpy(int)) == 1
        )
        if same_day.sum() > 2:
            rho = np.corrcoef(resid[:-1][same_day], resid[1:][same_day])[0, 1]
            rho = float(np.clip(np.nan_to_num(rho), 0.0, 0.95))
            noise *= (1 + rho) / (1 - rho)
        wald = float(coef @ (x.T @ x) @ coef) / noise
        if wald < 25.0:
            continue
        fitted = basis @ coef
        cycles.append(fitted / (fitted.max() - fitted.min()))
    if not cycles:
        return None, 0
    return int(np.argmin(np.mean(cycles, axis=0))), len(cycles)


# -- observation tables -----------------------------------------------------------------------


def normalise_observations(
    obs: pd.DataFrame,
    stations: pd.DataFrame,
    time_zone: str | None = None,
    voc_molar_mass_per_carbon: float = 14.0,
    *,
    magnitude_check: Literal["refuse", "warn"] = "refuse",
    rows: RowSources | None = None,
    known_species: Iterable[Species] = (),
) -> pd.DataFrame:
    """Validate a long observation table and convert it to UTC and canonical units.

    Parameters
    ----------
    obs : DataFrame
        Columns ``time``, ``station_id``, ``species``, ``value``, ``unit`` and optionally
        ``uncertainty`` (same unit as ``value``); headers match regardless of spaces and case.
    stations : DataFrame
        Validated station table (:func:`validate_stations`).
    time_zone : str, optional
        Zone of stamps without a UTC offset (``"UTC"`` or ``"Asia/Shanghai"`` for Beijing
        time); None: every stamp must carry its offset.  Stamps are hour-beginning.
    voc_molar_mass_per_carbon : float
        g/mol of carbon, for VOC given as mass concentration.
    magnitude_check : {"refuse", "warn"}
        What to do with a station's median far outside the plausible range of its species.
    rows : RowSources, optional
        Where the rows came from (the readers give it); default ``DataFrame``, row = position
        + 1.
    known_species : iterable of Species
        Species beyond the built-in ones whose observed quantities the table may hold.

    Returns
    -------
    DataFrame
        ``time`` (tz-aware UTC), ``station_id``, ``species``, ``value``, ``unit`` (canonical),
        ``uncertainty`` (NaN when not given), sorted; missing values dropped.  ``attrs
        ["observation_qa"]`` holds :class:`ObservationQA` as a dict.

    Raises
    ------
    InputDataError
        Empty table, missing column, unknown station, species or unit, bad or ambiguous time
        stamp, stamps without offset and no ``time_zone``, duplicate (station, time, species),
        a value that is not a number, negative or non-finite, a station median far outside
        the plausible range; the message names the file (``DataFrame``), the line (row) and
        the value as written.
    """
    return _normalise(
        obs,
        stations,
        time_zone,
        voc_molar_mass_per_carbon,
        magnitude_check,
        rows,
        None,
        known_species=known_species,
    )


def _normalise(
    obs: pd.DataFrame,
    stations: pd.DataFrame,
    time_zone: str | None,
    voc_molar_mass_per_carbon: float,
    magnitude_check: str,
    rows: RowSources | None,
    qa: ObservationQA | None,
    unit_declared_by: str = "in the unit column",
    known_species: Iterable[Species] = (),
) -> pd.DataFrame:
    quantities = observed_quantities(known_species)
    if magnitude_check not in ("refuse", "warn"):
        raise InputDataError(f"magnitude_check {magnitude_check!r} must be 'refuse' or 'warn'")
    if obs is None:
        raise InputDataError("no observation table given")
    src = RowSources.of_frame(len(obs)) if rows is None else rows
    origin = src.files[0]
    if len(obs) == 0:
        raise InputDataError(
            f"{origin.name}: the observation table is empty; give at least one observation"
        )
    cols = _column_map(obs, list(OBS_COLUMNS))
    missing = [c for c in OBS_COLUMNS if c not in cols and c != "uncertainty"]
    if missing:
        raise InputDataError(
            f"{origin.name}, {origin.header_place()}: the observation table lacks column(s) "
            f"{missing}; expected {list(OBS_COLUMNS)} (uncertainty optional); found "
            f"{list(map(str, obs.columns))}"
        )
    qa = ObservationQA() if qa is None else qa
    qa.time_zone = qa.time_zone or _zone_label(time_zone)
    df = obs.reset_index(drop=True)
    station = _match_stations(df[cols["station_id"]], stations, src, qa)
    species = _species(df[cols["species"]], src, quantities, known_species)
    vals, keep = _values(df[cols["value"]], src, qa)
    df, src = df.iloc[keep].reset_index(drop=True), src.take(keep)
    vals, station, species = vals[keep], station[keep], species[keep]
    units = _units(df[cols["unit"]], src)
    times = _utc_times(df[cols["time"]], time_zone, src, cols["time"])
    _refuse_off_hour(times, df[cols["time"]], src, cols["time"])
    unc = _uncertainty(df[cols["uncertainty"]], src) if "uncertainty" in cols else None
    _refuse_duplicates(station, times, species, df[cols["time"]], src)
    _refuse_unmeasured(station, species, stations, src, cols["species"])

    beijing = times.tz_convert(BEIJING_TIME).date
    value = np.empty(len(df))
    uncertainty = np.full(len(df), np.nan)
    for (s, u), grp in pd.DataFrame({"s": species, "u": units}).groupby(["s", "u"]).groups.items():
        gi = np.asarray(grp)
        try:
            q = quantities[s]
            value[gi] = to_canonical(vals[gi], u, q, beijing[gi], voc_molar_mass_per_carbon)
            if unc is not None:
                uncertainty[gi] = to_canonical(
                    unc[gi], u, q, beijing[gi], voc_molar_mass_per_carbon
                )
        except InputDataError as exc:
            raise InputDataError(f"{src.where(int(gi[0]), cols['unit'])}: {exc}") from None

    _refuse_negative(value, species, station, df[cols["value"]], src, qa, quantities)
    check = (vals, species, units, station, beijing, src, quantities)
    _check_magnitudes(*check, voc_molar_mass_per_carbon, magnitude_check, qa, unit_declared_by)
    _check_diurnal(times, value, station, species, stations, time_zone, qa, src)

    res = pd.DataFrame(
        {
            "time": times,
            "station_id": station.astype(str),
            "species": species.astype(str),
            "value": value,
            "unit": pd.Series(species)
            .map({k: q.unit for k, q in quantities.items()})
            .to_numpy(str),
            "uncertainty": uncertainty,
        }
    )
    res = res.sort_values(["species", "station_id", "time"]).reset_index(drop=True)
    res.attrs["observation_qa"] = qa.to_dict()
    return res


def _match_stations(
    raw: pd.Series, stations: pd.DataFrame, src: RowSources, qa: ObservationQA
) -> np.ndarray:
    """Station codes as written -> the station table's ids (exact, or up to spaces/case)."""
    written = raw.map(_as_written).astype(object)
    blank = (written.str.strip() == "").to_numpy(bool)
    if blank.any():
        i = int(np.flatnonzero(blank)[0])
        raise InputDataError(f"{src.where(i, str(raw.name))}: the station_id is empty")
    uniq, first = np.unique(written.to_numpy(str), return_index=True)
    _clean([written[i] for i in first], str(raw.name), "code", src.take(first))
    matched, unmatched = match_station_codes(uniq.tolist(), stations["station_id"].astype(str))
    if unmatched:
        i = int(np.flatnonzero(written.isin(unmatched).to_numpy())[0])
        known = ", ".join(map(str, stations["station_id"][:8]))
        raise InputDataError(
            f"{src.where(i, str(raw.name))}: station {written[i]!r} is not in the station "
            f"table ({known}{', ...' if len(stations) > 8 else ''}); add it there or remove "
            "its rows"
        )
    renamed = {w: sid for w, sid in matched.items() if w != sid}
    if renamed:
        for w, sid in renamed.items():
            qa.matched_station_codes.setdefault(sid, []).append(w)
        qa.warn(
            f"{src.files[0].name}: station codes matched after removing spaces/case: "
            f"matched {_matched_text(_invert(renamed))}"
        )
    return written.map(matched).to_numpy(object)


def _species(
    raw: pd.Series,
    src: RowSources,
    quantities: Mapping[str, Quantity],
    known_species: Iterable[Species],
) -> np.ndarray:
    written = raw.map(_as_written)
    species = written.str.strip().str.lower().map(_spellings(quantities))
    if species.isna().any():
        i = int(np.flatnonzero(species.isna().to_numpy())[0])
        names = list(_station_quantities(known_species))
        raise InputDataError(
            f"{src.where(i, str(raw.name))}: unknown species {written[i]!r}; use {_or_list(names)}"
        )
    return species.to_numpy(object)


def _values(raw: pd.Series, src: RowSources, qa: ObservationQA) -> tuple[np.ndarray, np.ndarray]:
    """The numbers, and the positions of the rows that hold one (missing values counted)."""
    header = str(raw.name)
    vals, marker, not_number = parse_values(raw)
    if not_number.any():
        i = int(np.flatnonzero(not_number)[0])
        raise InputDataError(
            f"{src.where(i, header)}: value {_as_written(raw[i])!r} is not a number; correct "
            "it, or leave the cell empty (or NA, —, -99) for a missing value"
        )
    _count_missing(qa, src, marker)
    keep = np.equal(marker, None)
    if not keep.any():
        raise InputDataError(
            f"{src.files[0].name}: all {len(raw)} values are missing "
            f"({_missing_summary(marker)}); nothing to invert"
        )
    bad = ~np.isfinite(vals) & keep
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"{src.where(i, header)}: value {_as_written(raw[i])!r} is not finite; correct it "
            "or leave the cell empty"
        )
    return vals, np.flatnonzero(keep)


def _units(raw: pd.Series, src: RowSources) -> np.ndarray:
    written = raw.map(_as_written)
    units = written.map(normalise_unit)
    if units.isna().any():
        i = int(np.flatnonzero(units.isna().to_numpy())[0])
        raise InputDataError(
            f"{src.where(i, str(raw.name))}: unknown unit {written[i]!r}; use ppm, ppb, ppbC, "
            "ug/m3 or mg/m3"
        )
    return units.to_numpy(object)


def _uncertainty(raw: pd.Series, src: RowSources) -> np.ndarray:
    unc, _, not_number = parse_values(raw)
    bad = not_number | (np.isfinite(unc) & (unc < 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"{src.where(i, str(raw.name))}: uncertainty {_as_written(raw[i])!r} must be a "
            "number >= 0 (or empty)"
        )
    return unc


def _refuse_duplicates(
    station: np.ndarray,
    times: pd.DatetimeIndex,
    species: np.ndarray,
    raw_times: pd.Series,
    src: RowSources,
) -> None:
    key = pd.DataFrame({"s": station, "t": times, "p": species})
    dup = key.duplicated(keep="first").to_numpy()
    if not dup.any():
        return
    j = int(np.flatnonzero(dup)[0])
    same = (key["s"] == key["s"][j]) & (key["t"] == key["t"][j]) & (key["p"] == key["p"][j])
    i = int(np.flatnonzero(same.to_numpy())[0])
    raise InputDataError(
        f"{src.pair(i, j)}: two {species[j]} values for station {station[j]!r} at "
        f"{_stamp_written(raw_times, src, i)!r} ({times[j]:%Y-%m-%d %H:%M} UTC); keep one value "
        "per station, species and hour (was a file given twice?)"
    )


def _refuse_off_hour(
    times: pd.DatetimeIndex, raw_times: pd.Series, src: RowSources, header: str
) -> None:
    """Refuse stamps that are not on a whole UTC hour: no station-hour would match them, and
    their values would be left out without a word."""
    off = np.asarray(times != times.floor("h"))
    if not off.any():
        return
    i = int(np.flatnonzero(off)[0])
    files = {int(f) for f in src.file_index[off]}
    spread = f" in {len(files)} files" if len(files) > 1 else ""
    raise InputDataError(
        f"{src.where(i, header)}: time stamp {_stamp_written(raw_times, src, i)!r} "
        f"({times[i]:%Y-%m-%d %H:%M} UTC) is not on a whole hour ({int(off.sum())} of the "
        f"{len(times)} stamps with a value are not{spread}); values are hourly means stamped "
        "at the beginning of their hour (13:00 for 13:00–14:00): average sub-hourly values "
        "into hourly means, or correct the stamps"
    )


def _refuse_negative(
    value: np.ndarray,
    species: np.ndarray,
    station: np.ndarray,
    raw: pd.Series,
    src: RowSources,
    qa: ObservationQA,
    quantities: Mapping[str, Quantity],
) -> None:
    """Small negative values are instrument noise near zero and kept; larger ones refused."""
    floor = np.array([NEGATIVE_FLOOR.get(s, 0.0) for s in species])
    bad = value < floor
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        unit = quantities[species[i]].unit
        raise InputDataError(
            f"{src.where(i, str(raw.name))} ({station[i]}, {species[i]}): value "
            f"{_as_written(raw[i])} is {value[i]:.3g} {unit}, below the {floor[i]:g} {unit} "
            "that instrument noise near zero can give (-99, -999 and -9999 are read as "
            "missing); correct it or leave the cell empty"
        )
    negative = value < 0
    if negative.any():
        qa.negative_values_kept += int(negative.sum())


def _refuse_unmeasured(
    station: np.ndarray, species: np.ndarray, stations: pd.DataFrame, src: RowSources, header: str
) -> None:
    measured = station_species(stations)
    pairs = pd.DataFrame({"s": station, "p": species}).drop_duplicates()
    for i, sid, s in zip(pairs.index, pairs["s"], pairs["p"], strict=True):
        if s not in measured.get(sid, []):
            raise InputDataError(
                f"{src.where(int(i), header)}: station {sid!r} does not list species {s} in "
                "the station table; add it to the station's species or remove the rows"
            )


def _invert(mapping: Mapping[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for written, sid in mapping.items():
        out.setdefault(sid, []).append(written)
    return out


def _stamp_written(raw: pd.Series, src: RowSources, i: int) -> str:
    return str(src.stamp[i]) if src.stamp is not None else _as_written(raw.iloc[i])


def _count_missing(qa: ObservationQA, src: RowSources, marker: np.ndarray) -> None:
    for fi, source in enumerate(src.files):
        sel = src.file_index == fi
        if not sel.any():
            continue
        entry = qa.sources.setdefault(
            source.name, {"values_read": 0, "values_kept": 0, "missing": {}}
        )
        m = marker[sel]
        counts = Counter(x for x in m if x is not None)
        entry["values_read"] = int(entry["values_read"]) + int(sel.sum())
        entry["values_kept"] = int(entry["values_kept"]) + int(np.equal(m, None).sum())
        missing = dict(entry["missing"])
        for k, n in counts.items():
            missing[k] = missing.get(k, 0) + n
        entry["missing"] = missing


def _missing_summary(marker: np.ndarray) -> str:
    counts = Counter(x for x in marker if x is not None)
    return ", ".join(f"{n} × {k!r}" for k, n in counts.most_common())


def _file_names(src: RowSources, rows: np.ndarray) -> str:
    """The files the ``rows`` (a mask) came from: ``obs.csv``, or ``d1.csv and 30 more files``."""
    files = sorted({int(f) for f in src.file_index[rows]})
    first = src.files[files[0]].name
    return first if len(files) == 1 else f"{first} and {len(files) - 1} more files"


def _span(src: RowSources, idx: np.ndarray) -> str:
    """``obs.csv, lines 2–49`` for the rows ``idx`` of one file."""
    first = int(idx[0])
    source = src.source(first)
    numbers = src.number[idx]
    if len(numbers) == 1:
        return src.where(first)
    unit = {"line": "lines", "sheet": f"sheet {source.sheet!r}, rows", "row": "rows"}[source.style]
    return f"{source.name}, {unit} {int(numbers.min())}–{int(numbers.max())}"


def _check_magnitudes(
    vals: np.ndarray,
    species: np.ndarray,
    units: np.ndarray,
    station: np.ndarray,
    beijing: np.ndarray,
    src: RowSources,
    quantities: Mapping[str, Quantity],
    voc_molar_mass_per_carbon: float,
    magnitude_check: str,
    qa: ObservationQA,
    unit_declared_by: str,
) -> None:
    """Each station's median per file, and over all files, in the declared unit (quantities
    with a plausible range only)."""
    frame = pd.DataFrame({"f": src.file_index, "s": station, "p": species, "u": units})
    groups = list(frame.groupby(["f", "s", "p", "u"]).indices.values())
    groups += list(frame.groupby(["s", "p", "u"]).indices.values())
    warned: dict[tuple[str, str, str], str] = {}
    for gi in groups:
        sp, u, sid = species[gi[0]], units[gi[0]], station[gi[0]]
        if sp not in PLAUSIBLE_MEDIAN:
            continue
        q = quantities[sp]
        verdict = check_magnitude(vals[gi], q, u, beijing[gi], voc_molar_mass_per_carbon)
        if verdict.verdict in ("ok", "too few"):
            continue
        one_file = len(np.unique(src.file_index[gi])) == 1
        where = _span(src, gi) if one_file else f"{len(gi)} values in {len(src.files)} files"
        text = f"{sp} at station {sid!r} ({where}): {verdict.describe()}"
        if verdict.verdict == "refuse" and magnitude_check == "refuse":
            if verdict.alternatives:
                likely = verdict.alternatives[0][0]
                declare = unit_declared_by.format(species=sp, unit=likely)
                fix = f"if they are in {likely}, declare that unit ({declare})"
            else:
                fix = "check the unit and the values"
            raise InputDataError(
                f"{text}. Refused: {fix}; if the values are right, set "
                "observation_magnitude_check: warn (magnitude_check='warn' in Python)"
            )
        warned.setdefault((sid, sp, u), text)
    if warned:
        texts = list(warned.values())
        more = f"; and {len(texts) - 5} more" if len(texts) > 5 else ""
        qa.warn(
            f"station medians outside the plausible range (check the units, and sensor offsets): {'; '.join(texts[:5])}{more}"
        )


def _check_diurnal(
    times: pd.DatetimeIndex,
    values: np.ndarray,
    station: np.ndarray,
    species: np.ndarray,
    stations: pd.DataFrame,
    time_zone: str | None,
    qa: ObservationQA,
    src: RowSources,
) -> None:
    """Warn when the mean daily minimum at stations near sources is not in the afternoon."""
    if not {"lon", "kind"} <= set(stations.columns):
        return
    ids = stations["station_id"].astype(str)
    lon = dict(zip(ids, stations["lon"].astype(float), strict=True))
    kind = dict(zip(ids, stations["kind"], strict=True))
    # local (solar) time zone of each station, whole hours: UTC+8 all over eastern China
    offset_h = np.array([round(lon[s] / 15.0) for s in station], dtype=np.int64)
    local = times.tz_localize(None).to_numpy().astype("datetime64[h]")
    local = local + offset_h.astype("timedelta64[h]")
    hour = (local.astype(np.int64) % 24).astype(int)
    day = local.astype("datetime64[D]")
    near = np.array([kind[s] in _DIURNAL_KINDS for s in station], dtype=bool)
    first, last = _AFTERNOON_MINIMUM
    for sp in DIURNAL_CHECK_QUANTITIES:
        sel = near & (species == sp)
        if not sel.any():
            continue
        h, n = diurnal_minimum_hour(hour[sel], day[sel], values[sel], station[sel])
        if h is None:
            continue
        outside = min((first - h) % 24, (h - last) % 24) if not first <= h <= last else 0
        if outside <= _DIURNAL_TOLERANCE_H:
            continue
        shift = (h - _AFTERNOON_CENTRE + 12) % 24 - 12
        zones = ", ".join(f"UTC{o:+d}" for o in sorted(set(offset_h[sel].tolist())))
        if 6 <= shift <= 10 and time_zone in ("UTC", "Etc/UTC"):
            hint = "if the file is in Beijing time, set observation_time_zone: Asia/Shanghai"
        elif -10 <= shift <= -6 and time_zone not in ("UTC", "Etc/UTC"):
            hint = "if the file is in UTC, set observation_time_zone: UTC"
        else:
            hint = "check the time zone and that the stamps mark the beginning of the hour"
        qa.warn(
            f"{_file_names(src, sel)}: {sp}: the mean daily minimum at {n} station(s) near "
            f"sources falls at {h:02d}:00 "
            f"local time ({zones}), but near sources it falls in the afternoon "
            f"({first:02d}:00–{last + 1:02d}:00); the time stamps look {abs(shift)} h "
            f"{'late' if shift > 0 else 'early'}. They were read {_zone_label(time_zone)}; "
            f"{hint}"
        )


def read_observations(
    source: str | Path | pd.DataFrame,
    stations: str | Path | pd.DataFrame,
    time_zone: str | None = None,
    voc_molar_mass_per_carbon: float = 14.0,
    *,
    magnitude_check: Literal["refuse", "warn"] = "refuse",
    known_species: Iterable[Species] = (),
    source_name: str = "DataFrame",
) -> pd.DataFrame:
    """Read (or take) a long observation table and normalise it: UTC, canonical units, checked.

    A file and a DataFrame go through the same checks (:func:`normalise_observations`); a
    message names the file and line (``obs.csv, line 17``, ``obs.xlsx, Sheet1!C17``) or, for a
    DataFrame, ``source_name`` and the row (position + 1).

    Parameters
    ----------
    source : path or DataFrame
        A CSV (UTF-8 or GBK), Excel (first sheet) or Parquet file, or the table itself:
        ``time``, ``station_id``, ``species`` (CO2, NO2, VOC or a known species' observed
        quantity), ``value``, ``unit`` (ppm, ppb, ppbC, ug/m3, mg/m3) and optionally
        ``uncertainty`` (same unit).  Values are hourly means stamped at the beginning of
        their hour.
    stations : path or DataFrame
        The station table (:func:`read_stations`; a validated table passes again unchanged).
    time_zone : str, optional
        Zone of stamps without a UTC offset (``"UTC"`` or ``"Asia/Shanghai"``); None: every
        stamp must carry its offset.
    voc_molar_mass_per_carbon : float
        g/mol of carbon, for VOC given as mass concentration.
    magnitude_check : {"refuse", "warn"}
        What to do with a station's median far outside the plausible range of its species.
    known_species : iterable of Species
        Species beyond the built-in ones whose observed quantities the table may hold.
    source_name : str
        How messages name a table given in memory.

    Returns
    -------
    DataFrame
        ``time`` (tz-aware UTC), ``station_id``, ``species``, ``value``, ``unit`` (canonical:
        ppm, ppb, ppbC), ``uncertainty``; ``attrs["observation_qa"]`` counts what was read,
        missing and matched.  It is what :func:`gridcarbon.inversion.run_inversion` takes.

    Raises
    ------
    InputFileError
        A missing or unreadable file.
    InputDataError
        Anything :func:`normalise_observations` refuses, named by file and line (or row).

    Examples
    --------
    >>> import pandas as pd
    >>> import gridcarbon
    >>> stations = pd.DataFrame(
    ...     {"station_id": ["HZ01"], "lon": [120.16], "lat": [30.27], "kind": ["urban"],
    ...      "species": ["CO2,NO2"]}
    ... )
    >>> obs = pd.DataFrame(
    ...     {"time": ["2023-01-02 13:00", "2023-01-02 14:00", "2023-01-02 14:00"],
    ...      "station_id": ["HZ01"] * 3, "species": ["NO2", "NO2", "CO2"],
    ...      "value": [40.0, "—", 431.5], "unit": ["µg/m³", "µg/m³", "ppm"]}
    ... )
    >>> table = gridcarbon.read_observations(obs, stations, time_zone="Asia/Shanghai")
    >>> table[["time", "station_id", "species", "unit"]]
                           time station_id species unit
    0 2023-01-02 06:00:00+00:00       HZ01     CO2  ppm
    1 2023-01-02 05:00:00+00:00       HZ01     NO2  ppb
    >>> table["value"].round(2).tolist()  # 40 µg/m³ of NO2 at 25 °C is 21.27 ppb
    [431.5, 21.27]
    >>> table.attrs["observation_qa"]["sources"]["DataFrame"]["missing"]
    {'—': 1}
    >>> late = obs.assign(time=["2023-01-02 13:30", "2023-01-02 14:00", "2023-01-02 14:00"])
    >>> gridcarbon.read_observations(late, stations, time_zone="Asia/Shanghai")
    Traceback (most recent call last):
    ...
    gridcarbon.errors.InputDataError: DataFrame, row 1, column 'time': time stamp \
'2023-01-02 13:30' (2023-01-02 05:30 UTC) is not on a whole hour (1 of the 2 stamps with a \
value are not); ...
    """
    stations = read_stations(stations, known_species=known_species, source_name="station table")
    if isinstance(source, pd.DataFrame):
        table, rows = source, RowSources.of_frame(len(source), source_name)
    else:
        table, rows = read_table_file(source, "observation table")
    return normalise_observations(
        table,
        stations,
        time_zone,
        voc_molar_mass_per_carbon,
        magnitude_check=magnitude_check,
        rows=rows,
        known_species=known_species,
    )


# -- CNEMC -------------------------------------------------------------------------------------

_CNEMC_SITE_COLUMNS = {
    "station_id": ["监测点编码", "code", "site_code", "station_id"],
    "name": ["监测点名称", "name", "site_name"],
    "city": ["城市", "city"],
    "lon": ["经度", "lon", "longitude"],
    "lat": ["纬度", "lat", "latitude"],
}
#: Units of CNEMC hourly files: gases in µg/m³ at the reference state of the date, CO in mg/m³.
CNEMC_UNITS: dict[str, str] = {"CO": "mg/m3"}
_CNEMC_DEFAULT_UNIT = "ug/m3"


def read_cnemc_sites(
    path: str | Path,
    kind: str = "urban",
    species: str = ",".join(CNEMC_QUANTITIES),
    height: float = 10.0,
) -> pd.DataFrame:
    """Read a CNEMC site list (监测点编码, 监测点名称, 城市, 经度, 纬度; or English headers).

    The regulatory sites measure NO2 (and CO); they get ``kind`` and ``species`` as given.
    Codes with control characters and names over 200 characters are refused, names with
    control characters cleaned (with a warning); coordinates are checked, by file line.
    """
    raw, rows = read_table_file(path, "CNEMC site list")
    cols = {_code_key(c): c for c in raw.columns}
    out = {}
    for std, cands in _CNEMC_SITE_COLUMNS.items():
        hit = next((cols[_code_key(c)] for c in cands if _code_key(c) in cols), None)
        if hit is None and std in ("station_id", "lon", "lat"):
            origin = rows.files[0]
            raise InputDataError(
                f"{origin.name}, {origin.header_place()}: the site list lacks a {std} column "
                f"(one of {cands}); found {list(map(str, raw.columns))}"
            )
        if hit is not None:
            out[std] = raw[hit]
            if std == "city":
                out[std] = _clean([_as_written(v).strip() for v in raw[hit]], hit, "name", rows)
    df = pd.DataFrame(out)
    df["kind"] = kind
    df["species"] = species
    df["height"] = height
    checked = validate_stations(df, rows=rows)
    return checked.drop(columns=[c for c in ("x", "y", "row", "col") if c in checked])


def cnemc_long_table(
    table: pd.DataFrame,
    rows: RowSources,
    station_ids: Sequence[str],
    species: Iterable[str] = CNEMC_QUANTITIES,
    units: Mapping[str, str] | None = None,
    hour_stamp: Literal["ending", "beginning"] = "ending",
) -> tuple[pd.DataFrame, RowSources, dict[str, str]]:
    """One CNEMC daily table (as read) -> long observations with UTC hour-beginning stamps.

    Parameters
    ----------
    table, rows : DataFrame, RowSources
        The file as read (:func:`gridcarbon.io.observations_file.read_table_file`).
    station_ids : sequence of str
        The station table's codes; headers match them exactly or after removing spaces, case
        and full-width forms.
    species : iterable of str
        The ``type`` values kept (e.g. NO2; NO2_24h is a 24-hour mean and not an hourly value).
    units : mapping, optional
        Unit per type; default µg/m³, CO mg/m³ (CNEMC's units).
    hour_stamp : {"ending", "beginning"}
        ``hour`` labels the end of the averaging hour (CNEMC: the value at hour 10 is the mean
        of 09:00–10:00 Beijing time) or its beginning.

    Returns
    -------
    long : DataFrame
        ``time`` (tz-aware UTC, hour-beginning), ``station_id``, ``species``, ``value`` (as
        written), ``unit``.
    rows : RowSources
        Line and station column of each value, and the stamp as written (date, hour).
    matched : dict
        Header as written -> station id, for the headers that matched.
    """
    if hour_stamp not in ("ending", "beginning"):
        raise InputDataError(f"hour_stamp {hour_stamp!r} must be 'ending' or 'beginning'")
    origin = rows.files[0]
    cols = _column_map(table, ["date", "hour", "type"])
    miss = [c for c in ("date", "hour", "type") if c not in cols]
    if miss:
        raise InputDataError(
            f"{origin.name}, {origin.header_place()}: no column(s) {miss}; a CNEMC daily file "
            "has date, hour, type and then one column per station code (found "
            f"{[str(c) for c in table.columns[:6]]}...)"
        )
    wanted = {str(s).strip().casefold(): str(s).strip() for s in species}
    types = table[cols["type"]].map(lambda v: _as_written(v).strip())
    sel = np.flatnonzero(types.str.casefold().isin(wanted).to_numpy())
    headers = [c for c in table.columns if c not in cols.values()]
    matched, _ = match_station_codes(headers, station_ids)
    by_station: dict[str, list[str]] = {}
    for h, sid in matched.items():
        by_station.setdefault(sid, []).append(h)
    twice = {sid: hs for sid, hs in by_station.items() if len(hs) > 1}
    if twice:
        sid, hs = next(iter(twice.items()))
        raise InputDataError(
            f"{origin.name}, {origin.header_place()}: columns {hs} are all station {sid!r}; "
            "keep one"
        )
    empty = pd.DataFrame(columns=["time", "station_id", "species", "value", "unit"])
    if len(sel) == 0 or not matched:
        return empty, rows.take(np.zeros(0, dtype=np.int64)), matched
    sub = table.iloc[sel]
    sub_rows = rows.take(sel)
    date_text = sub[cols["date"]].map(_date_text)
    hour_text = sub[cols["hour"]].map(lambda v: _as_written(v).strip())
    day = pd.Series(pd.NaT, index=date_text.index, dtype="datetime64[ns]")
    for pattern, fmt in ((r"\d{8}", "%Y%m%d"), (r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d")):
        ok = date_text.str.fullmatch(pattern).to_numpy(bool)
        day[ok] = pd.to_datetime(date_text[ok], format=fmt, errors="coerce")
    if day.isna().any():
        k = int(np.flatnonzero(day.isna().to_numpy())[0])
        raise InputDataError(
            f"{sub_rows.where(k, cols['date'])}: date {_as_written(sub[cols['date']].iloc[k])!r} "
            "is not a date; CNEMC dates are written 20230102 (Beijing)"
        )
    hour = pd.to_numeric(hour_text, errors="coerce")
    top = 24 if hour_stamp == "ending" else 23
    bad = hour.isna() | (hour % 1 != 0) | (hour < 0) | (hour > top)
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputDataError(
            f"{sub_rows.where(k, cols['hour'])}: hour {hour_text.iloc[k]!r} is not a whole hour "
            f"0–{top}"
        )
    begin = day + pd.to_timedelta(hour.astype(int), unit="h")
    if hour_stamp == "ending":
        begin = begin - pd.Timedelta(hours=1)
    utc = pd.DatetimeIndex(begin).tz_localize(BEIJING_TIME).tz_convert("UTC").as_unit("ns")
    stamp = ("date " + date_text.astype(str) + ", hour " + hour_text.astype(str)).to_numpy(object)
    kinds = types.iloc[sel].str.casefold().map(wanted).to_numpy(object)
    units = {k.strip().casefold(): v for k, v in (CNEMC_UNITS | dict(units or {})).items()}
    codes = list(matched)
    n = len(sel)
    long = pd.DataFrame(
        {
            "time": utc.take(np.tile(np.arange(n), len(codes))),
            "station_id": np.repeat([matched[c] for c in codes], n),
            "species": np.tile(kinds, len(codes)),
            "value": np.concatenate([sub[c].to_numpy(object) for c in codes]),
        }
    )
    long["unit"] = long["species"].map(lambda s: units.get(s.casefold(), _CNEMC_DEFAULT_UNIT))
    long_rows = RowSources(
        sub_rows.files,
        np.tile(sub_rows.file_index, len(codes)),
        np.tile(sub_rows.number, len(codes)),
        np.repeat(np.array(codes, dtype=object), n),
        np.tile(stamp, len(codes)),
    )
    return long, long_rows, matched


def _date_text(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, pd.Timestamp | dt.date):
        return pd.Timestamp(v).strftime("%Y%m%d")
    return _as_written(v).strip()


def read_cnemc(
    paths: str | Path | Iterable[str | Path],
    stations: pd.DataFrame,
    species: Iterable[str] = CNEMC_QUANTITIES,
    hour_stamp: Literal["ending", "beginning"] = "ending",
    voc_molar_mass_per_carbon: float = 14.0,
    *,
    units: Mapping[str, str] | None = None,
    magnitude_check: Literal["refuse", "warn"] = "refuse",
    known_species: Iterable[Species] = (),
) -> pd.DataFrame:
    """Read CNEMC-style wide hourly files (one per day) into the normalised observation table.

    Each file has columns ``date`` (YYYYMMDD, Beijing), ``hour`` (0–23, Beijing), ``type``
    (PM2.5, PM10, SO2, NO2, O3, CO, ... and their 24 h variants) and one column per station
    code.  The files are Beijing time (UTC+8) and stamped at the END of the hour-mean; this
    reader converts to UTC hour-beginning itself, so no time zone is needed.  Gas values are
    µg/m³ (CO mg/m³) at the reference state in force on the date.

    Parameters
    ----------
    paths : path or paths
        The daily files (CSV or Excel).
    stations : DataFrame
        Validated station table whose ``station_id`` are the CNEMC station codes; headers
        match them regardless of spaces, case and full-width forms (listed in a warning);
        columns of other codes are ignored.
    species : species to keep (``type`` values), default NO2.
    hour_stamp : {"ending", "beginning"}
        Whether ``hour`` labels the end of the averaging hour (CNEMC's convention: the value at
        hour 10 is the mean of 09:00–10:00) or its beginning.
    voc_molar_mass_per_carbon : float
        g/mol of carbon, for VOC mass concentrations.
    units : mapping, optional
        Unit per type when a file is not in CNEMC's units (e.g. ``{"NO2": "mg/m3"}``);
        units are never inferred.
    magnitude_check : {"refuse", "warn"}
        See :func:`normalise_observations`.
    known_species : iterable of Species
        Species beyond the built-in ones whose observed quantities the files may hold.

    Returns
    -------
    DataFrame
        The normalised table (:func:`normalise_observations`), with ``attrs["observation_qa"]``.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise InputDataError("no CNEMC file given")
    for sp, u in (units or {}).items():
        if normalise_unit(u) is None:
            raise InputDataError(
                f"units[{sp!r}] = {u!r} is not a unit; use ppm, ppb, ppbC, ug/m3 or mg/m3"
            )
    station_ids = stations["station_id"].astype(str).tolist()
    qa = ObservationQA(time_zone=f"CNEMC: Beijing time (UTC+8), hour-{hour_stamp}, to UTC")
    parts, part_rows = [], []
    seen: set[str] = set()
    renamed: dict[str, list[str]] = {}
    keys = {_code_key(s) for s in station_ids} | {"date", "hour", "type"}
    other_headers: dict[str, str] = {}  # code key -> "'1225 A' in d.csv, line 1"
    first_place: dict[str, str] = {}  # header matched up to spaces/case -> "d.csv, line 1"
    headers: list[str] = []

    def keep(written: list[str]) -> list[str]:
        # only the columns that can matter: a CNEMC day has ~2000 station columns
        headers[:] = written
        return [h for h in written if _code_key(h) in keys]

    for p in paths:
        table, rows = read_table_file(p, "CNEMC file", keep=keep)
        place = f"{p}, {rows.files[0].header_place()}"
        for h in headers:
            other_headers.setdefault(_code_key(h), f"{h!r} in {place}")
        long, long_rows, matched = cnemc_long_table(
            table, rows, station_ids, species, units, hour_stamp
        )
        seen.update(matched.values())
        for w, sid in matched.items():
            if w != sid:
                renamed.setdefault(sid, []).append(w)
                first_place.setdefault(w, place)
        if len(long):
            parts.append(long)
            part_rows.append(long_rows)
    wanted = [str(s).strip() for s in species]
    if not parts:
        raise InputDataError(
            f"no {'/'.join(wanted)} value of a station of the station table in the "
            f"{len(paths)} CNEMC file(s) ({paths[0]}, ...): check that the station table's "
            f"codes ({', '.join(station_ids[:5])}, ...) are column headers of the files and "
            "that the type column holds the species"
        )
    for sid, ws in renamed.items():
        qa.matched_station_codes[sid] = sorted(set(ws))
    if renamed:
        matched_text = ", ".join(
            f"{sid} ← {w!r} ({first_place[w]})"
            for sid, ws in renamed.items()
            for w in sorted(set(ws))
        )
        qa.warn(f"CNEMC headers matched after removing spaces/case: matched {matched_text}")
    sp_of = station_species(stations)
    absent = [
        s for s in station_ids if s not in seen and any(w in sp_of.get(s, []) for w in wanted)
    ]
    if absent:
        close = []
        for sid in absent[:10]:
            hit = difflib.get_close_matches(_code_key(sid), list(other_headers), n=1, cutoff=0.75)
            if hit:
                close.append(f"{sid}: {other_headers[hit[0]]}")
        near = f" (closest headers: {'; '.join(close)})" if close else ""
        qa.warn(
            f"station(s) {absent[:10]}{' ...' if len(absent) > 10 else ''} of the station table "
            f"measure {'/'.join(wanted)} but have no column in any of the {len(paths)} CNEMC "
            f"file(s){near}; check their codes"
        )
    obs = pd.concat(parts, ignore_index=True)
    rows = RowSources.concat(part_rows)
    unit_fix = "read_cnemc(..., units={{'{species}': '{unit}'}})"
    return _normalise(
        obs,
        stations,
        None,
        voc_molar_mass_per_carbon,
        magnitude_check,
        rows,
        qa,
        unit_declared_by=unit_fix,
        known_species=known_species,
    )
