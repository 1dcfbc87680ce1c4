"""Readers and writers of the synergy tables, and readers of the run folders the synergy
analyses start from.

The analytics (:mod:`gridcarbon.synergy`) take DataFrames and arrays; everything here touches
files.  Tables are written by the formula-safe writers of :mod:`gridcarbon.io.tables`; a run
folder's files are found by their roles in :data:`gridcarbon.contracts.RUN_FILES`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridcarbon.contracts import run_file_name
from gridcarbon.errors import InputDataError, InputFileError
from gridcarbon.io.geodata import package_data_path
from gridcarbon.io.netcdf_lock import open_netcdf
from gridcarbon.io.tables import write_csv, write_excel
from gridcarbon.names import clean_text_values

__all__ = [
    "INDICATOR_FILE",
    "GDP_FILE",
    "VALUE_COLUMNS",
    "read_indicator_table",
    "load_shipped_gdp",
    "read_table",
    "read_indicator_values",
    "read_bounds",
    "template_frame",
    "write_template",
    "read_run_units",
    "read_run_unit_geometries",
    "open_run_grids",
    "read_run_daily_tally",
    "run_is_synthetic",
    "read_point_crosscheck",
    "read_station_evidence",
    "read_run_point_sources",
    "read_peak_spec",
    "read_run_city_totals",
    "read_run_posterior_totals",
    "read_inversion_solver",
    "read_facility_table",
    "read_entity_table",
]

INDICATOR_FILE = "synergy_indicators.csv"
GDP_FILE = "synergy_gdp_zhejiang.csv"

#: Standard column → accepted header names (English and Chinese; case-insensitive; a bilingual
#: header such as ``地区代码 region_code`` matches through either word).
VALUE_COLUMNS: dict[str, tuple[str, ...]] = {
    "region_code": ("region_code", "地区代码", "行政区划代码", "区划代码"),
    "region_name": ("region_name", "地区名称", "地区"),
    "period": ("period", "时期", "期别", "季度"),
    "level3_no": ("indicator_no", "level3_no", "指标编号", "指标序号"),
    "indicator": ("indicator", "指标名称", "指标"),
    "value": ("value", "数值", "指标值"),
    "unit": ("unit", "单位", "计量单位"),
    "source": ("source", "来源", "数据来源"),
    "as_of": ("as_of", "截至", "数据时间", "更新日期"),
}
_BILINGUAL = {
    "region_code": "地区代码 region_code",
    "region_name": "地区名称 region_name",
    "period": "时期 period",
    "level3_no": "指标编号 indicator_no",
    "indicator": "指标名称 indicator",
    "value": "数值 value",
    "unit": "单位 unit",
    "source": "数据来源 source",
    "as_of": "截至 as_of",
}
_SPLIT = re.compile(r"[\s/|()（）:：,，]+")


def read_indicator_table(path: str | Path | None = None) -> pd.DataFrame:
    """The indicator table as read: the shipped Zhejiang table, or a user's table of the same
    columns (:func:`gridcarbon.synergy.index.indicator_system` checks it)."""
    path = package_data_path(INDICATOR_FILE) if path is None else Path(path)
    return read_table(path, dtype={"level3_no": int})


def load_shipped_gdp() -> pd.DataFrame:
    """The shipped 2020–2022 GDP of Zhejiang's 11 cities and the province.

    **Not verified**: typed in partly from memory without the statistical bulletins (see
    ``data_manifest.yaml``); every output computed from it says so.

    Columns: ``region_code``, ``region_name``, ``region_name_en``, ``year``,
    ``gdp_100m_yuan`` (亿元, current prices), ``real_growth_pct`` (growth at comparable prices
    over the year before, %), ``verified`` (``no``; ``gdp_only`` where the GDP, not the growth,
    agrees with a cited source), ``source`` (that citable source, else empty), ``bulletin``
    (the statistical bulletin each figure should be checked against; not consulted),
    ``recall_confidence`` (the typist's own confidence, not a check), ``note``.
    """
    return pd.read_csv(
        package_data_path(GDP_FILE),
        dtype={"region_code": str, "source": str, "note": str},
        keep_default_na=False,
        na_values={"gdp_100m_yuan": [""], "real_growth_pct": [""]},
        encoding="utf-8",
    )


def read_table(path: str | Path, sheet: str | int | None = 0, **kwargs) -> pd.DataFrame:
    """A CSV (UTF-8, UTF-8 with BOM or GB18030) or Excel sheet as a DataFrame of text."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{str(path)!r} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            return pd.read_excel(path, sheet_name=sheet, dtype=object, **kwargs)
        if suffix not in (".csv", ".txt"):
            raise InputFileError(f"{str(path)!r}: use a .csv or .xlsx file")
        try:
            return pd.read_csv(path, encoding="utf-8-sig", **kwargs)
        except UnicodeDecodeError:
            return pd.read_csv(path, encoding="gb18030", **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, KeyError) as exc:
        if isinstance(exc, InputFileError):
            raise
        raise InputFileError(f"cannot read {str(path)!r}: {exc}") from None


def _match_columns(
    columns: Iterable[object], wanted: dict[str, tuple[str, ...]], source: str
) -> dict[object, str]:
    """Map a file's headers to standard names through their aliases."""
    mapping: dict[object, str] = {}
    for col in columns:
        text = str(col).strip().lower()
        tokens = {text, *(t for t in _SPLIT.split(text) if t)}
        hits = [std for std, aliases in wanted.items() if tokens & {a.lower() for a in aliases}]
        if len(hits) > 1:
            hits = [h for h in hits if text in {a.lower() for a in wanted[h]}] or hits[:1]
        if hits:
            if hits[0] in mapping.values():
                raise InputDataError(
                    f"{source}: two columns map to {hits[0]!r} (the second is {str(col)!r}); "
                    "keep one"
                )
            mapping[col] = hits[0]
    return mapping


def _line(i: int, excel: bool) -> str:
    return f"row {i + 2}" if excel else f"line {i + 2}"


def read_indicator_values(path: str | Path, indicators: pd.DataFrame) -> pd.DataFrame:
    """Read a table of indicator values (CSV/Excel; Chinese, English or bilingual headers).

    One row per region, period and indicator; the indicator is given by number, by name
    (Chinese or English) or both (they must agree). Rows whose region, period and value are all
    empty (untouched template rows) are skipped.  ``indicators`` is the indicator table
    (``level3_no``, ``level3``, ``level3_en``, ``unit``: the ``table`` of an
    :class:`~gridcarbon.synergy.index.IndicatorSystem`), against which numbers, names and units
    are checked.

    Returns
    -------
    DataFrame
        ``region_code``, ``region_name``, ``period``, ``level3_no``, ``value`` (text as read),
        ``unit``, ``source``, ``as_of`` and ``where`` (file and line, for messages).
    """
    path = Path(path)
    raw = read_table(path, dtype=object)
    source = path.name
    excel = path.suffix.lower() in (".xlsx", ".xlsm")
    mapping = _match_columns(raw.columns, VALUE_COLUMNS, source)
    table = raw.rename(columns=mapping)[list(mapping.values())]
    for need in ("region_code", "period", "value"):
        if need not in table:
            aliases = " / ".join(VALUE_COLUMNS[need])
            raise InputDataError(f"{source}: no column for {need!r} (headers accepted: {aliases})")
    if "level3_no" not in table and "indicator" not in table:
        raise InputDataError(
            f"{source}: no indicator column (indicator_no / 指标编号 or indicator / 指标名称)"
        )
    table["where"] = [f"{source}, {_line(i, excel)}" for i in range(len(table))]
    blank = table[["region_code", "period", "value"]].apply(
        lambda c: c.isna() | c.astype(str).str.strip().eq("")
    )
    table = table.loc[~blank.all(axis=1)].reset_index(drop=True)
    if table.empty:
        raise InputDataError(f"{source}: no indicator values (every row is empty)")
    where = table["where"]
    for col, kind in (("region_code", "code"), ("period", "code"), ("region_name", "name")):
        if col in table:
            table[col] = clean_text_values(
                table[col].map(lambda v: v if pd.isna(v) else str(v).strip()).tolist(),
                field=col,
                kind=kind,
                source=source,
                location=lambda i: where.iloc[i].split(", ", 1)[1],
            )
    table["region_code"] = table["region_code"].map(_code_text)
    table["level3_no"] = _indicator_numbers(table, indicators, where)
    for col in ("region_name", "unit", "source", "as_of"):
        if col not in table:
            table[col] = None
    _check_units(table, indicators)
    return table[
        [
            "region_code",
            "region_name",
            "period",
            "level3_no",
            "value",
            "unit",
            "source",
            "as_of",
            "where",
        ]
    ]


def _code_text(v: object) -> object:
    """Region codes read as numbers (330100.0) back to their text."""
    if isinstance(v, float) and np.isfinite(v) and v == int(v):
        return str(int(v))
    return v if pd.isna(v) else str(v).strip()


def _indicator_numbers(table: pd.DataFrame, indicators: pd.DataFrame, where: pd.Series) -> list:
    by_name: dict[str, int] = {}
    for row in indicators.itertuples():
        for name in (row.level3, getattr(row, "level3_en", None)):
            if isinstance(name, str):
                by_name[name.strip().lower()] = int(row.level3_no)
    known = {int(n) for n in indicators["level3_no"]}
    out = []
    for i in range(len(table)):
        number = None
        if "level3_no" in table and not pd.isna(table["level3_no"].iloc[i]):
            raw = table["level3_no"].iloc[i]
            try:
                number = int(float(str(raw).strip()))
            except ValueError:
                number = -1
            if number not in known:
                raise InputDataError(
                    f"{where.iloc[i]}: indicator number {raw!r} is not one of 1–{max(known)}"
                )
        if "indicator" in table and not pd.isna(table["indicator"].iloc[i]):
            name = str(table["indicator"].iloc[i]).strip()
            named = by_name.get(name.lower())
            if named is None:
                raise InputDataError(
                    f"{where.iloc[i]}: unknown indicator name {name!r}; use the names or numbers "
                    "of the indicator table (`gridcarbon synergy template` writes them)"
                )
            if number is not None and named != number:
                raise InputDataError(
                    f"{where.iloc[i]}: indicator number {number} and name {name!r} (indicator "
                    f"{named}) disagree"
                )
            number = named
        if number is None:
            raise InputDataError(f"{where.iloc[i]}: neither indicator number nor name is given")
        out.append(number)
    return out


def _check_units(table: pd.DataFrame, indicators: pd.DataFrame) -> None:
    """A unit column, where given, must match the indicator's unit (万元 vs 亿元 and the like)."""
    units = dict(zip(indicators["level3_no"], indicators.get("unit", ""), strict=True))
    for i, (no, unit) in enumerate(zip(table["level3_no"], table["unit"], strict=True)):
        if unit is None or pd.isna(unit) or str(unit).strip() == "":
            continue
        expected = str(units.get(no, ""))
        if _unit_key(str(unit)) != _unit_key(expected):
            raise InputDataError(
                f"{table['where'].iloc[i]}: indicator {no} is given in {unit!r}, but the index "
                f"uses {expected!r}; convert the value to {expected!r}"
            )


def _unit_key(unit: str) -> str:
    key = unit.strip().lower().replace(" ", "").replace("³", "3").replace("μ", "µ")
    return {
        "吨/万元": "t/10^4yuan",
        "t/万元": "t/10^4yuan",
        "微克/立方米": "µg/m3",
        "ug/m3": "µg/m3",
        "千瓦时/立方米": "kwh/m3",
        "项": "projects",
        "个": "projects",
        "分": "points(0-100)",
    }.get(key, key)


def read_bounds(path: str | Path) -> pd.DataFrame:
    """Fixed bounds and targets: ``level3_no``, ``worst``, ``best``, ``target`` per indicator."""
    path = Path(path)
    raw = read_table(path, dtype=object)
    wanted = {
        "level3_no": VALUE_COLUMNS["level3_no"],
        "worst": ("worst", "最差值", "下限"),
        "best": ("best", "最优值", "上限"),
        "target": ("target", "目标值"),
    }
    table = raw.rename(columns=_match_columns(raw.columns, wanted, path.name))
    if "level3_no" not in table:
        raise InputDataError(f"{path.name}: no indicator_no / 指标编号 column")
    out = pd.DataFrame({"level3_no": pd.to_numeric(table["level3_no"], errors="coerce")})
    for c in ("worst", "best", "target"):
        if c in table:
            values = pd.to_numeric(table[c], errors="coerce")
            bad = values.isna() & table[c].notna()
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputDataError(
                    f"{path.name}, line {i + 2}: {c} {table[c].iloc[i]!r} is not a number"
                )
            out[c] = values
    if out["level3_no"].isna().any():
        i = int(np.flatnonzero(out["level3_no"].isna())[0])
        raise InputDataError(f"{path.name}, line {i + 2}: indicator number missing or not a number")
    return out


def template_frame(indicators: pd.DataFrame) -> pd.DataFrame:
    """An empty values table with bilingual headers, one row per indicator of the indicator
    table ``indicators`` to fill in."""
    frame = pd.DataFrame(
        {
            "region_code": "",
            "region_name": "",
            "period": "",
            "level3_no": indicators["level3_no"],
            "indicator": indicators["level3"],
            "value": "",
            "unit": indicators["unit"],
            "source": indicators["data_source"],
            "as_of": "",
        }
    )
    return frame.rename(columns=_BILINGUAL)


def write_template(path: str | Path, indicators: pd.DataFrame, overwrite: bool = False) -> Path:
    """Write the empty values table (CSV or Excel by suffix) with Chinese and English headers;
    the Excel file carries the indicator table ``indicators`` as a second sheet."""
    path = Path(path)
    frame = template_frame(indicators)
    if path.suffix.lower() == ".xlsx":
        return write_excel({"values": frame, "indicators": indicators.copy()}, path, overwrite)
    return write_csv(frame, path, overwrite)


# -- run folders ------------------------------------------------------------------------------


def _run_file(run_dir: str | Path, role: str) -> Path:
    """The file of ``role`` (:data:`gridcarbon.contracts.RUN_FILES`) in a run folder."""
    path = Path(run_dir) / run_file_name(role)
    if not path.exists():
        raise InputFileError(
            f"{str(path)!r} does not exist; run `gridcarbon run --out {run_dir}` (with the "
            "inversion and zoning stages enabled) first"
        )
    return path


def read_run_units(run_dir: str | Path) -> pd.DataFrame:
    """The run's control units with their period totals (``zone_units.csv``)."""
    path = _run_file(run_dir, "units_csv")
    codes = {c: str for c in ("unit_code", "county_code", "city_code")}
    return pd.read_csv(path, dtype=codes, encoding="utf-8-sig")


def read_run_unit_geometries(run_dir: str | Path, unit_codes: Sequence[str]) -> Any:
    """The run's control units (``zone_units.gpkg``) as a GeoDataFrame indexed by ``unit_code``,
    in the order of ``unit_codes``."""
    import geopandas as gpd

    geo = gpd.read_file(_run_file(run_dir, "units_gpkg"))
    geo["unit_code"] = geo["unit_code"].astype(str)
    missing = sorted(set(unit_codes) - set(geo["unit_code"]))
    if missing:
        raise InputDataError(
            f"zone_units.gpkg of {str(run_dir)!r} lacks unit(s) {missing[:5]} that "
            "zone_units.csv lists; the run folder mixes outputs of different runs — re-run"
        )
    return geo.set_index("unit_code").loc[list(unit_codes)]


def open_run_grids(run_dir: str | Path, which: str) -> Any:
    """The run's ``prior`` or ``posterior`` grids (NetCDF), opened lazily; close them after."""
    if which not in ("prior", "posterior"):
        raise InputDataError(f"grids {which!r} are not prior or posterior")
    return open_netcdf(_run_file(run_dir, f"{which}_netcdf"))


def read_run_daily_tally(
    run_dir: str | Path, species: str, unit_codes: Sequence[str]
) -> np.ndarray | None:
    """The zoning stage's daily posterior tally of ``species`` per unit (``zone_tally_daily.nc``,
    ``(unit, day)`` kg, rows in the order of ``unit_codes``), or None when the run has none."""
    path = Path(run_dir) / run_file_name("tally_daily_nc")
    if not path.exists():
        return None
    with open_netcdf(path) as ds:
        return ds[species].sel(unit=np.asarray(unit_codes)).to_numpy()


def run_is_synthetic(run_dir: str | Path) -> bool:
    """Whether a run's grids are synthetic (its ``posterior.nc`` or ``prior.nc`` says so)."""
    run_dir = Path(run_dir)
    posterior = run_dir / run_file_name("posterior_netcdf")
    with open_run_grids(run_dir, "posterior" if posterior.exists() else "prior") as ds:
        return str(ds.attrs.get("synthetic", "true")).lower() == "true"


def read_point_crosscheck(run_dir: str | Path) -> pd.DataFrame:
    """Prior and posterior period totals (t) of the stacks with their own inversion unknowns.

    From ``inversion_extras.csv`` (segment ``points``: posterior factor and its σ, prior σ) and
    ``prior_point_sources.csv`` (the prior period totals, location, name and sector).

    Returns
    -------
    DataFrame
        ``id``, ``name``, ``sector``, ``lon``, ``lat``, ``species``, ``prior``, ``prior_std``,
        ``posterior``, ``posterior_std`` (t over the run period).
    """
    extras = pd.read_csv(_run_file(run_dir, "inversion_extras"))
    pts = read_run_point_sources(run_dir)
    own = extras[extras["segment"] == "points"]
    rows = []
    by_id = pts.set_index("point_id")
    for r in own.itertuples(index=False):
        if r.key not in by_id.index:
            raise InputDataError(
                f"inversion_extras.csv names stack {r.key!r}, which prior_point_sources.csv lacks"
            )
        p = by_id.loc[r.key]
        total_t = float(p[f"{r.species}_kg_period"]) / 1e3
        rows.append(
            {
                "id": r.key,
                "name": p["point_name"],
                "sector": p["point_sector"],
                "lon": p["point_lon"],
                "lat": p["point_lat"],
                "species": r.species,
                "prior": total_t * r.prior,
                "prior_std": total_t * r.prior_std,
                "posterior": total_t * r.posterior,
                "posterior_std": total_t * r.posterior_std,
            }
        )
    return pd.DataFrame(rows)


def read_station_evidence(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``station_series.csv`` and the station locations of ``station_stats.csv``."""
    series = pd.read_csv(_run_file(run_dir, "station_series"), dtype={"station_id": str})
    stations = pd.read_csv(_run_file(run_dir, "station_stats"), dtype={"station_id": str})
    return series, stations[["station_id", "lon", "lat"]].drop_duplicates("station_id")


def read_run_point_sources(run_dir: str | Path) -> pd.DataFrame:
    """The run's point sources with their period totals (``prior_point_sources.csv``)."""
    return pd.read_csv(_run_file(run_dir, "prior_points"), dtype={"point_id": str})


def read_peak_spec(path: str | Path) -> dict:
    """A peak-scenario spec from YAML (see :func:`gridcarbon.synergy.peak.project_scenarios`)
    or CSV.

    The CSV has columns ``scenario``, ``factor``, ``years``, ``value``: rows of scenario
    ``base`` give the base year (``years``) and base value of each factor, rows of scenario
    ``uncertainty`` the 1σ of a factor's growth rate (percentage points), every other row a
    growth rate (% per year) of a factor over a year range (``2021-2025``) in that scenario.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{str(path)!r} does not exist")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise InputFileError(f"{path.name}: not valid YAML ({exc})") from None
        if not isinstance(spec, dict):
            raise InputFileError(f"{path.name}: expected a mapping at the top level")
        return spec
    table = read_table(path, dtype=str)
    need = {"scenario", "factor", "years", "value"}
    if not need <= set(table.columns):
        raise InputDataError(f"{path.name}: needs columns {sorted(need)}")
    spec: dict = {"base": {}, "scenarios": {}, "uncertainty_pct_points": {}}
    last_years = []
    for i, r in enumerate(table.itertuples(index=False)):
        where = f"{path.name}, line {i + 2}"
        try:
            value = float(r.value)
        except (TypeError, ValueError):
            raise InputDataError(f"{where}: value {r.value!r} is not a number") from None
        scenario = str(r.scenario).strip()
        if scenario == "base":
            spec["base"][str(r.factor).strip()] = value
            spec["base_year"] = int(str(r.years).strip())
        elif scenario == "uncertainty":
            spec["uncertainty_pct_points"][str(r.factor).strip()] = value
        else:
            years = str(r.years).strip()
            spec["scenarios"].setdefault(scenario, {}).setdefault(str(r.factor).strip(), {})[
                years
            ] = value
            last_years.append(int(years.split("-")[-1]))
    if "base_year" not in spec or not last_years:
        raise InputDataError(f"{path.name}: needs 'base' rows and at least one growth-rate row")
    spec["end_year"] = max(last_years)
    return spec


def read_run_city_totals(
    run_dir: str | Path, species: str
) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    """Posterior total of ``species`` (its name) per city over a run, and the run's first and
    last Beijing day.

    From ``zone_rollup_city.csv`` (area + point sources inside each city's units) and the
    period of ``summary.json``.

    Returns
    -------
    (DataFrame, Timestamp, Timestamp)
        ``region_code`` (the city code) and ``total_t`` (t over the run); first and last day.
    """
    city = pd.read_csv(
        _run_file(run_dir, "rollup_city"), dtype={"city_code": str}, encoding="utf-8-sig"
    )
    column = f"{species}_kg"
    if column not in city:
        raise InputDataError(f"zone_rollup_city.csv of {str(run_dir)!r} has no column {column!r}")
    summary_path = _run_file(run_dir, "summary")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    try:
        start_utc, end_utc = summary["prior"]["period_utc"]
    except (KeyError, ValueError):
        raise InputFileError(f"{summary_path}: no prior.period_utc") from None
    first = (pd.Timestamp(start_utc) + pd.Timedelta(hours=8)).normalize()
    last = (pd.Timestamp(end_utc) + pd.Timedelta(hours=8)).normalize() - pd.Timedelta(days=1)
    table = pd.DataFrame({"region_code": city["city_code"], "total_t": city[column] / 1e3})
    return table, first, last


def read_run_posterior_totals(run_dir: str | Path, level: str, species: str) -> pd.Series:
    """Posterior total of ``species`` (its name) over a run (t) per facility, unit, county or
    city, for carbon accounts.

    Facilities: only the stacks with their own unknown in the inversion (the others share their
    cell's correction and have no posterior of their own); units, counties and cities: the
    zoning stage's totals (area + point sources).
    """
    if level == "facility":
        points = read_point_crosscheck(run_dir)
        own = points[points["species"] == species]
        return pd.Series(own["posterior"].to_numpy(), index=own["id"].astype(str), name="total_t")
    columns = {"unit": "unit_code", "county": "county_code", "city": "city_code"}
    if level not in columns:
        raise InputDataError(f"level {level!r} is not facility, unit, county or city")
    units = read_run_units(run_dir)
    return (units.groupby(columns[level])[f"{species}_kg"].sum() / 1e3).rename("total_t")


def read_inversion_solver(run_dir: str | Path) -> str:
    """The solver of a run's inversion (``inversion_metrics.json``): ``dense``, ``cg-obs`` …"""
    metrics = json.loads(_run_file(run_dir, "inversion_metrics_json").read_text("utf-8"))
    solver = metrics.get("solver", {})
    return str(solver.get("solver", "unknown") if isinstance(solver, dict) else solver)


def read_facility_table(path: str | Path) -> pd.DataFrame:
    """A facility table for the enterprise rating (CSV/Excel): ids kept as text and checked,
    names and industries cleaned (:func:`gridcarbon.names.clean_text_values`, naming the line)."""
    path = Path(path)
    table = read_table(path, dtype={"facility_id": str})
    for col, kind in (("facility_id", "code"), ("name", "name"), ("industry", "name")):
        if col in table:
            table[col] = clean_text_values(
                table[col].tolist(),
                field=col,
                kind=kind,
                source=path.name,
                location=lambda i: f"line {i + 2}",
            )
    return table


def read_entity_table(path: str | Path, id_column: str) -> pd.DataFrame:
    """A table of entities (CSV/Excel) indexed by ``id_column`` read as text and cleaned
    (:func:`gridcarbon.names.clean_text_values`, naming the line); e.g. an allocation's inputs."""
    path = Path(path)
    table = read_table(path, dtype={id_column: str})
    if id_column not in table:
        raise InputDataError(
            f"{path.name}: no column {id_column!r} (its columns: {list(map(str, table.columns))})"
        )
    table[id_column] = clean_text_values(
        table[id_column].tolist(),
        field=id_column,
        kind="name",
        source=path.name,
        location=lambda i: f"line {i + 2}",
    )
    return table.set_index(id_column)
