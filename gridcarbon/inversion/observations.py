"""Stations and observations: tables, readers, unit conversion and validation.

Station table (DESIGN §3): ``station_id``, ``name``, ``lon``, ``lat`` (degrees), ``height``
(inlet height above ground, m), ``kind`` (background / demonstration / regional / urban / sink /
micro), ``species`` (comma-separated, of CO2, NO2, VOC).

Observation table (long): ``time`` (UTC, hour-beginning, naive ``datetime64``), ``station_id``,
``species`` (CO2, NO2, VOC), ``value`` and ``uncertainty`` in the canonical unit of the species
(ppm, ppb, ppbC; see :mod:`gridcarbon.inversion.units`) and ``unit``.

Readers: :func:`read_stations`, :func:`read_observations` (long CSV/Parquet),
:func:`read_cnemc_sites` and :func:`read_cnemc` (CNEMC-style wide hourly files).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from gridcarbon.errors import InputDataError, InputFileError, OutsideGridError
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.inversion.config import STATION_KINDS
from gridcarbon.inversion.units import CANONICAL_UNITS, normalise_unit, to_canonical

__all__ = [
    "validate_stations",
    "read_stations",
    "normalise_observations",
    "read_observations",
    "read_cnemc_sites",
    "read_cnemc",
    "station_species",
    "OBS_COLUMNS",
]

OBS_COLUMNS = ("time", "station_id", "species", "value", "unit", "uncertainty")
_SPECIES_ALIASES = {"co2": "CO2", "no2": "NO2", "voc": "VOC", "nmvoc": "VOC", "co": "CO"}


def _read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt"):
            try:
                return pd.read_csv(path, encoding="utf-8-sig")
            except UnicodeDecodeError:
                return pd.read_csv(path, encoding="gbk")
    except (ValueError, OSError) as exc:
        raise InputFileError(f"cannot read {str(path)!r}: {exc}") from None
    raise InputFileError(f"{str(path)!r}: unsupported format {suffix!r}; use .csv or .parquet")


def station_species(stations: pd.DataFrame) -> dict[str, list[str]]:
    """Species measured at each station (from the comma-separated ``species`` column)."""
    return {
        sid: [s.strip() for s in str(sp).split(",") if s.strip()]
        for sid, sp in zip(stations["station_id"], stations["species"], strict=True)
    }


def validate_stations(stations: pd.DataFrame, grid: GridSpec | None = None) -> pd.DataFrame:
    """Check a station table and add grid positions.

    Raises
    ------
    InputDataError
        Missing column, empty table, duplicate id, unknown class or species, bad coordinate.
    OutsideGridError
        A station lies outside ``grid``.

    Returns
    -------
    DataFrame
        A copy with ``x``, ``y`` (grid metres), ``row``, ``col`` when ``grid`` is given.
    """
    need = ["station_id", "lon", "lat", "kind", "species"]
    missing = [c for c in need if c not in stations.columns]
    if missing:
        raise InputDataError(
            f"station table lacks column(s) {missing}; expected {need} (+ name, height)"
        )
    if len(stations) == 0:
        raise InputDataError("station table is empty")
    df = stations.copy().reset_index(drop=True)
    df["station_id"] = df["station_id"].astype(str)
    if "name" not in df:
        df["name"] = df["station_id"]
    if "height" not in df:
        df["height"] = 10.0
    dup = df["station_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputDataError(
            f"station table row {i + 1}: duplicate station_id {df.station_id[i]!r}"
        )
    for i, row in df.iterrows():
        if row["kind"] not in STATION_KINDS:
            raise InputDataError(
                f"station table row {i + 1} ({row.station_id}): unknown kind {row['kind']!r}; "
                f"use one of {list(STATION_KINDS)}"
            )
        for sp in str(row["species"]).split(","):
            if sp.strip() not in ("CO2", "NO2", "VOC"):
                raise InputDataError(
                    f"station table row {i + 1} ({row.station_id}): unknown species {sp!r}; "
                    "use CO2, NO2, VOC separated by commas"
                )
        lon, lat, h = float(row["lon"]), float(row["lat"]), float(row["height"])
        if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise InputDataError(
                f"station table row {i + 1} ({row.station_id}): bad lon/lat {lon!r}, {lat!r}"
            )
        if not np.isfinite(h) or h < 0:
            raise InputDataError(
                f"station table row {i + 1} ({row.station_id}): inlet height {h!r} must be >= 0 m"
            )
    if grid is not None:
        x, y = grid.project(df["lon"].to_numpy(float), df["lat"].to_numpy(float))
        r, c = grid.xy_to_index(x, y, strict=False)
        bad = (r < 0) | (c < 0) | (r >= grid.ny) | (c >= grid.nx)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise OutsideGridError(
                f"station {df.station_id[i]!r} (row {i + 1}, lon {df.lon[i]}, lat {df.lat[i]}) is "
                "outside the grid; remove it or enlarge the grid (grid.buffer_m)"
            )
        df["x"], df["y"], df["row"], df["col"] = x, y, r.astype(np.int64), c.astype(np.int64)
    return df


def read_stations(path: str | Path, grid: GridSpec | None = None) -> pd.DataFrame:
    """Read and validate a station table (CSV or Parquet)."""
    return validate_stations(_read_table(path), grid)


def _to_utc(times: pd.Series, time_zone: str) -> pd.Series:
    t = pd.to_datetime(times, errors="coerce", utc=False)
    if getattr(t.dt, "tz", None) is None:
        try:
            t = t.dt.tz_localize(time_zone)
        except Exception as exc:  # unknown zone
            raise InputDataError(f"unknown time zone {time_zone!r}: {exc}") from None
    return t.dt.tz_convert("UTC").dt.tz_localize(None)


def normalise_observations(
    obs: pd.DataFrame,
    stations: pd.DataFrame,
    time_zone: str = "UTC",
    voc_molar_mass_per_carbon: float = 14.0,
) -> pd.DataFrame:
    """Validate a long observation table and convert it to UTC and canonical units.

    Parameters
    ----------
    obs : DataFrame
        Columns ``time``, ``station_id``, ``species``, ``value``, ``unit`` and optionally
        ``uncertainty`` (same unit as ``value``).
    stations : DataFrame
        Validated station table (:func:`validate_stations`).
    time_zone : str
        Zone of naive time stamps (``"UTC"`` or ``"Asia/Shanghai"`` for Beijing time);
        tz-aware stamps are converted as they are.
    voc_molar_mass_per_carbon : float
        g/mol of carbon, for VOC given as mass concentration.

    Raises
    ------
    InputDataError
        Empty table, missing column, unknown station, species or unit, bad time stamp,
        duplicate (station, time, species), negative or non-finite value; the message names
        the row (1-based data row).
    """
    if obs is None or len(obs) == 0:
        raise InputDataError("observation table is empty: give at least one observation")
    need = ["time", "station_id", "species", "value", "unit"]
    missing = [c for c in need if c not in obs.columns]
    if missing:
        raise InputDataError(
            f"observation table lacks column(s) {missing}; expected {list(OBS_COLUMNS)}"
        )
    df = obs.reset_index(drop=True).copy()
    df["station_id"] = df["station_id"].astype(str)
    known = set(stations["station_id"].astype(str))
    unknown = ~df["station_id"].isin(known)
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise InputDataError(
            f"observation row {i + 1}: unknown station {df.station_id[i]!r}; add it to the "
            "station table"
        )
    sp = df["species"].astype(str).str.strip().str.lower().map(_SPECIES_ALIASES)
    if sp.isna().any():
        i = int(np.flatnonzero(sp.isna())[0])
        raise InputDataError(
            f"observation row {i + 1}: unknown species {df.species[i]!r}; use CO2, NO2 or VOC"
        )
    df["species"] = sp
    t = _to_utc(df["time"], time_zone)
    if t.isna().any():
        i = int(np.flatnonzero(t.isna())[0])
        raise InputDataError(f"observation row {i + 1}: bad time stamp {df.time[i]!r}")
    df["time"] = t.to_numpy(dtype="datetime64[ns]")
    vals = pd.to_numeric(df["value"], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(vals)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"observation row {i + 1} ({df.station_id[i]}, {df.time[i]}): value {df.value[i]!r} "
            "is not a finite number; drop the row or mark it missing before reading"
        )
    neg = vals < 0
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise InputDataError(
            f"observation row {i + 1} ({df.station_id[i]}, {df.time[i]}): negative value "
            f"{vals[i]!r}; concentrations cannot be negative"
        )
    if "uncertainty" in df:
        unc = pd.to_numeric(df["uncertainty"], errors="coerce").to_numpy(float)
        badu = np.isfinite(unc) & (unc < 0)
        if badu.any():
            i = int(np.flatnonzero(badu)[0])
            raise InputDataError(f"observation row {i + 1}: negative uncertainty {unc[i]!r}")
    else:
        unc = np.full(len(df), np.nan)
    dup = df.duplicated(["station_id", "time", "species"], keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputDataError(
            f"observation row {i + 1}: duplicate (station {df.station_id[i]!r}, time "
            f"{df.time[i]}, species {df.species[i]}); keep one value per station, hour and species"
        )
    units = df["unit"].astype(str)
    norm = units.map(normalise_unit)
    if norm.isna().any():
        i = int(np.flatnonzero(norm.isna())[0])
        raise InputDataError(
            f"observation row {i + 1}: unknown unit {units[i]!r}; use ppm, ppb, ppbC, ug/m3 or mg/m3"
        )
    beijing = (df["time"] + pd.Timedelta(hours=8)).dt.date
    out_v = np.empty(len(df))
    out_u = np.empty(len(df))
    for (s, u), idx in df.groupby([df["species"], norm]).groups.items():
        idx = np.asarray(idx)
        try:
            out_v[idx] = to_canonical(
                vals[idx], u, s, beijing[idx].to_numpy(), voc_molar_mass_per_carbon
            )
            out_u[idx] = to_canonical(
                unc[idx], u, s, beijing[idx].to_numpy(), voc_molar_mass_per_carbon
            )
        except InputDataError as exc:
            raise InputDataError(f"observation row {int(idx[0]) + 1}: {exc}") from None
    sp_of = station_species(stations)
    not_measured = [
        i
        for i, (sid, s) in enumerate(zip(df.station_id, df.species, strict=True))
        if s not in sp_of.get(sid, [])
    ]
    if not_measured:
        i = not_measured[0]
        raise InputDataError(
            f"observation row {i + 1}: station {df.station_id[i]!r} does not list species "
            f"{df.species[i]} in the station table"
        )
    res = pd.DataFrame(
        {
            "time": df["time"].to_numpy(dtype="datetime64[ns]"),
            "station_id": df["station_id"].to_numpy(),
            "species": df["species"].to_numpy(),
            "value": out_v,
            "unit": df["species"].map(CANONICAL_UNITS).to_numpy(),
            "uncertainty": out_u,
        }
    )
    return res.sort_values(["species", "station_id", "time"]).reset_index(drop=True)


def read_observations(
    path: str | Path,
    stations: pd.DataFrame,
    time_zone: str = "UTC",
    voc_molar_mass_per_carbon: float = 14.0,
) -> pd.DataFrame:
    """Read a long observation table (CSV or Parquet) and normalise it
    (:func:`normalise_observations`)."""
    return normalise_observations(_read_table(path), stations, time_zone, voc_molar_mass_per_carbon)


_CNEMC_SITE_COLUMNS = {
    "station_id": ["监测点编码", "code", "site_code", "station_id"],
    "name": ["监测点名称", "name", "site_name"],
    "city": ["城市", "city"],
    "lon": ["经度", "lon", "longitude"],
    "lat": ["纬度", "lat", "latitude"],
}


def read_cnemc_sites(
    path: str | Path, kind: str = "urban", species: str = "NO2", height: float = 10.0
) -> pd.DataFrame:
    """Read a CNEMC site list (监测点编码, 监测点名称, 城市, 经度, 纬度; or English headers).

    The regulatory sites measure NO2 (and CO); they get ``kind`` and ``species`` as given.
    """
    raw = _read_table(path)
    cols = {c.strip().lower(): c for c in raw.columns}
    out = {}
    for std, cands in _CNEMC_SITE_COLUMNS.items():
        hit = next((cols[c.lower()] for c in cands if c.lower() in cols), None)
        if hit is None and std in ("station_id", "lon", "lat"):
            raise InputDataError(f"site list {str(path)!r} lacks a {std} column (one of {cands})")
        if hit is not None:
            out[std] = raw[hit]
    df = pd.DataFrame(out)
    df["kind"] = kind
    df["species"] = species
    df["height"] = height
    return df


def read_cnemc(
    paths: str | Path | Iterable[str | Path],
    stations: pd.DataFrame,
    species: Iterable[str] = ("NO2",),
    hour_stamp: str = "ending",
    voc_molar_mass_per_carbon: float = 14.0,
) -> pd.DataFrame:
    """Read CNEMC-style wide hourly CSV files (one per day) into the long observation table.

    Each file has columns ``date`` (YYYYMMDD, Beijing), ``hour`` (0–23, Beijing), ``type``
    (PM2.5, PM10, SO2, NO2, O3, CO, ... and their 24 h variants) and one column per station code.
    Gas values are µg/m³ (CO mg/m³) at the reference state in force on the date.

    Parameters
    ----------
    paths : path or paths
        The daily files.
    stations : DataFrame
        Validated station table whose ``station_id`` are the CNEMC station codes; columns of
        other codes are ignored.
    species : species to keep (``type`` values), default NO2.
    hour_stamp : {"ending", "beginning"}
        Whether ``hour`` labels the end of the averaging hour (CNEMC's convention: the value at
        hour 10 is the mean of 09:00–10:00) or its beginning.
    """
    if hour_stamp not in ("ending", "beginning"):
        raise InputDataError(f"hour_stamp {hour_stamp!r} must be 'ending' or 'beginning'")
    if isinstance(paths, str | Path):
        paths = [paths]
    frames = []
    wanted = set(species)
    known = set(stations["station_id"].astype(str))
    for p in paths:
        raw = _read_table(p)
        miss = [c for c in ("date", "hour", "type") if c not in raw.columns]
        if miss:
            raise InputDataError(f"CNEMC file {str(p)!r} lacks column(s) {miss}")
        raw = raw[raw["type"].astype(str).isin(wanted)]
        codes = [c for c in raw.columns if str(c) in known]
        if raw.empty or not codes:
            continue
        long = raw.melt(
            id_vars=["date", "hour", "type"],
            value_vars=codes,
            var_name="station_id",
            value_name="value",
        ).dropna(subset=["value"])
        t = pd.to_datetime(long["date"].astype(str), format="%Y%m%d", errors="coerce")
        if t.isna().any():
            raise InputDataError(
                f"CNEMC file {str(p)!r}: bad date {long['date'][t.isna()].iloc[0]!r}"
            )
        t = t + pd.to_timedelta(long["hour"].astype(int), unit="h")
        if hour_stamp == "ending":
            t = t - pd.Timedelta(hours=1)
        long["time"] = t.dt.tz_localize("Asia/Shanghai")
        long["species"] = long["type"].astype(str)
        long["unit"] = np.where(long["species"] == "CO", "mg/m3", "ug/m3")
        frames.append(long[["time", "station_id", "species", "value", "unit"]])
    if not frames:
        raise InputDataError(
            "no observation of the wanted species at known stations in the CNEMC files"
        )
    obs = pd.concat(frames, ignore_index=True)
    return normalise_observations(obs, stations, "Asia/Shanghai", voc_molar_mass_per_carbon)
