"""The synergy analytics as sections of the zone report and layers of the map.

:func:`zone_synergy_outputs` turns a run's daily unit totals (prior and posterior), and, when
given, a facility table and an allocation table, into :class:`~gridcarbon.contracts.ReportSection`
values (an HTML ``<section>`` each, escaped by :func:`gridcarbon.synergy.sections.html_fragment`,
and Excel sheets) and :class:`~gridcarbon.contracts.PointLayer` values for the map: co-control
priority units, the enterprise rating and the units' carbon account.  Pure: no file is read or
written (the pipeline reads the inputs through :mod:`gridcarbon.io.synergy_files`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridcarbon.config.synergy import SynergyConfig, ZoneAllocationSettings
from gridcarbon.contracts import PointLayer, ReportSection
from gridcarbon.errors import InputDataError
from gridcarbon.synergy.allocation import allocate, carbon_account
from gridcarbon.synergy.cocontrol import CARBON, POLLUTANTS
from gridcarbon.synergy.index import UNOFFICIAL_LABEL
from gridcarbon.synergy.rating import (
    DIMENSIONS,
    anonymise,
    facility_indicators,
    rate_facilities,
    tercile_thresholds,
)
from gridcarbon.synergy.sections import (
    LEVELS,
    RATING_COLOURS,
    cocontrol_analysis,
    html_fragment,
)

__all__ = [
    "ZoneSynergyOutputs",
    "PRIORITY_COLOURS",
    "ACCOUNT_COLOURS",
    "zone_synergy_outputs",
    "cocontrol_section",
    "rating_section",
    "allocation_section",
]

#: Colour of a co-control priority unit by the pollutants it is a priority for.
PRIORITY_COLOURS = {
    "+".join(POLLUTANTS): "#7b3294",
    POLLUTANTS[0]: "#e66101",
    POLLUTANTS[1]: "#1b7837",
}
#: Colour of a carbon-account status.
ACCOUNT_COLOURS = {"surplus": "#2a9d3f", "deficit": "#d1495b", "not compared": "#999999"}
#: The layer control's group of every synergy layer.
LAYER_GROUP = "Synergy (unofficial, 非官方测算)"


@dataclass(frozen=True)
class ZoneSynergyOutputs:
    """The synergy sections of the zone report and the synergy layers of the map."""

    sections: tuple[ReportSection, ...]
    layers: tuple[PointLayer, ...]


def _settings_sheet(settings: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "key": ["label", *settings],
            "value": [UNOFFICIAL_LABEL, *(str(v) for v in settings.values())],
        }
    )


def _fmt(v: object, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, float | np.floating):
        return f"{float(v):.{digits}g}"
    return str(v)


def cocontrol_section(
    units: pd.DataFrame,
    days: pd.DatetimeIndex,
    prior: dict[str, np.ndarray],
    posterior: dict[str, np.ndarray],
    config: SynergyConfig,
    *,
    base_posterior: dict[str, np.ndarray] | None = None,
    synthetic: bool = False,
) -> tuple[ReportSection, PointLayer | None]:
    """The co-control section (distribution, trend, correlation, and change against a base)
    and, at unit level, the map layer of the co-control priority units.

    Parameters
    ----------
    units : DataFrame
        ``unit_code``, ``unit_name``, ``county_code``, ``city_code`` in the arrays' row order;
        ``lon``, ``lat`` (a point inside each unit, WGS84) for the map layer.
    days : DatetimeIndex
        Beijing days of the arrays' columns.
    prior, posterior : dict
        Species name → ``(unit, day)`` totals, kg.
    config : SynergyConfig
        ``cocontrol`` settings and ``zone_report.level``.
    base_posterior : dict, optional
        Species name → ``(unit, day)`` totals of a base period or scenario, kg.
    synthetic : bool
        The grids are synthetic (said in the section).
    """
    level = config.zone_report.level
    settings = config.cocontrol
    tables = cocontrol_analysis(
        units, days, prior, posterior, level, settings, base_posterior=base_posterior
    )
    corr = tables["correlation"]
    if level == "unit":
        names = units.set_index("unit_code")["unit_name"].astype(str)
        for table in tables.values():
            if table.index.name == "unit_code":
                table.insert(0, "unit_name", names.reindex(table.index).to_numpy())
    priority = corr[corr["priority"]]
    notes = [
        f"level: {level}; {len(corr)} entities; trend on "
        f"{tables['trend'].attrs['resolution']} series (Hamed–Rao Mann–Kendall, Sen's slope, "
        f"α = {settings.trend_alpha})",
        f"correlation: Spearman ρ of the posterior's relative departures from the prior "
        f"(posterior/prior − 1) of {CARBON} and each pollutant over the days; p-values on the "
        f"effective number of independent days; co-control priority where ρ ≥ "
        f"{settings.rho_min} and the Benjamini–Hochberg q ≤ {settings.q_max}. The prior "
        "covariance of the inversion correlates the species' corrections where they share "
        "sources, so a priority is partly the prior's design (docs/synergy.md §2).",
        f"co-control priorities: {len(priority)} of {len(corr)}"
        + "".join(
            f"; {p}: {int(corr[f'priority_{p}'].sum())}"
            for p in POLLUTANTS
            if f"priority_{p}" in corr
        ),
    ]
    if base_posterior is None:
        notes.append(
            "no base period or scenario given (synergy.zone_report.base_run): no reduction "
            "rates, elasticities or quadrants"
        )
    html = html_fragment(
        "协同控制分析 co-control analysis",
        {
            f"co-control priorities (ρ ≥ {settings.rho_min}, q ≤ {settings.q_max})": priority,
            **tables,
        },
        notes=notes,
        synthetic=synthetic,
    )
    sheet_names = {
        "correlation": "cocontrol_correlation",
        "trend": "cocontrol_trend",
        "distribution": "cocontrol_distribution",
        "distribution_summary": "cocontrol_dist_summary",
        "change": "cocontrol_change",
    }
    sheets = {sheet_names[k]: _with_index(v) for k, v in tables.items()}
    sheets["cocontrol_settings"] = _settings_sheet(
        {
            "level": level,
            **settings.model_dump(),
            # the resolution used, not the setting's "auto"
            "trend_resolution": tables["trend"].attrs["resolution"],
            "synthetic": synthetic,
        }
    )
    section = ReportSection("co-control analysis", html, sheets)
    layer = None
    if level == "unit" and {"lon", "lat"} <= set(units.columns) and len(priority):
        layer = _priority_layer(units, corr, tables["trend"])
    return section, layer


def _with_index(table: pd.DataFrame) -> pd.DataFrame:
    return table.reset_index() if table.index.name else table.copy()


def _priority_layer(units: pd.DataFrame, corr: pd.DataFrame, trend: pd.DataFrame) -> PointLayer:
    where = units.set_index("unit_code")
    rows = []
    for code, r in corr[corr["priority"]].iterrows():
        which = [p for p in POLLUTANTS if bool(r.get(f"priority_{p}", False))]
        key = "+".join(which)
        popup = []
        for p in POLLUTANTS:
            if f"rho_{p}" in r:
                popup.append([f"ρ {CARBON}–{p}", _fmt(r[f"rho_{p}"])])
                popup.append([f"q {p}", _fmt(r[f"q_{p}"])])
        popup.append([f"{CARBON} trend", str(trend.loc[code, f"{CARBON}_trend"])])
        popup.append(["", UNOFFICIAL_LABEL])
        rows.append(
            {
                "id": str(code),
                "name": str(where.loc[code, "unit_name"]),
                "lon": float(where.loc[code, "lon"]),
                "lat": float(where.loc[code, "lat"]),
                "colour": PRIORITY_COLOURS.get(key, "#666666"),
                "kind": f"co-control priority: {key}",
                "rows": popup,
            }
        )
    points = pd.DataFrame(rows)
    legend = tuple(
        (colour, f"priority for {key} ({int((points['colour'] == colour).sum())})")
        for key, colour in PRIORITY_COLOURS.items()
    )
    return PointLayer("Co-control priority units", LAYER_GROUP, points, legend)


def rating_section(
    facilities: pd.DataFrame,
    config: SynergyConfig,
    *,
    thresholds: pd.DataFrame | None = None,
    synthetic_attributes: bool = False,
    synthetic: bool = False,
) -> tuple[ReportSection, PointLayer | None]:
    """The enterprise red/yellow/green rating and its map layer (facilities with ``lon``/``lat``).

    Parameters
    ----------
    facilities : DataFrame
        The facility table of :func:`gridcarbon.synergy.rating.facility_indicators`
        (``facility_id``, ``name``, ``industry``, ``output_10k_yuan``, emissions in t, …;
        ``lon``, ``lat`` for the map).
    config : SynergyConfig
        ``rating`` (colour bands, ``anonymise``).
    thresholds : DataFrame, optional
        ``industry``, ``indicator``, ``green``, ``red``; default: terciles within each industry.
    synthetic_attributes : bool
        The attributes are the synthetic ones of the synthetic facility catalogue.
    synthetic : bool
        The emissions come from synthetic grids.
    """
    notes = []
    if synthetic_attributes:
        notes.append(
            "facility attributes (output value, energy mix, solid waste, tax, land) are "
            "SYNTHETIC, made for the synthetic facility catalogue"
        )
    indicators = facility_indicators(facilities)
    if thresholds is None:
        thresholds = tercile_thresholds(indicators)
        notes.append("thresholds: terciles within each industry (relative to peers)")
    rs = config.rating
    rated = rate_facilities(indicators, thresholds, rs.green_at, rs.red_below)
    layer = None
    if {"lon", "lat"} <= set(facilities.columns):
        layer = _rating_layer(rated, facilities.set_index("facility_id"), rs.anonymise)
    if rs.anonymise:
        rated = anonymise(rated)
        notes.append("enterprise names and ids hidden (synergy.rating.anonymise)")
    counts = rated["rating"].value_counts()
    notes.append("ratings: " + ", ".join(f"{c} {int(counts.get(c, 0))}" for c in RATING_COLOURS))
    shown = ["industry", "name", "score", "rating", *(f"colour_{d}" for d in DIMENSIONS)]
    html = html_fragment(
        "企业红黄绿评价 enterprise rating",
        {"rating": rated[[c for c in shown if c in rated]]},
        notes=notes,
        synthetic=synthetic or synthetic_attributes,
    )
    table = _with_index(rated)
    table["label"] = UNOFFICIAL_LABEL
    sheets = {
        "synergy_rating": table,
        "synergy_rating_thresholds": thresholds.assign(label=UNOFFICIAL_LABEL),
        "synergy_rating_settings": _settings_sheet(
            {
                **rs.model_dump(),
                "synthetic_attributes": synthetic_attributes,
                "synthetic": synthetic,
                "notes": "; ".join(notes),
            }
        ),
    }
    return ReportSection("enterprise rating", html, sheets), layer


def _rating_layer(rated: pd.DataFrame, where: pd.DataFrame, hide: bool) -> PointLayer | None:
    rows = []
    for k, (fid, r) in enumerate(rated.iterrows()):
        if fid not in where.index:
            continue
        lon, lat = float(where.loc[fid, "lon"]), float(where.loc[fid, "lat"])
        if not (np.isfinite(lon) and np.isfinite(lat)):
            continue
        label = f"E{k + 1:04d}"  # the labels of rating.anonymise, in the same row order
        popup = [["industry", str(r.get("industry", ""))], ["score", _fmt(r["score"], 2)]]
        popup += [[d, str(r.get(f"colour_{d}", ""))] for d in DIMENSIONS]
        popup.append(["", UNOFFICIAL_LABEL])
        rows.append(
            {
                "id": label if hide else str(fid),
                "name": label if hide else str(r.get("name", "")),
                "lon": lon,
                "lat": lat,
                "colour": RATING_COLOURS.get(str(r["rating"]), "#999999"),
                "kind": str(r["rating"]),
                "rows": popup,
            }
        )
    if not rows:
        return None
    points = pd.DataFrame(rows)
    legend = tuple(
        (colour, f"{name} ({int((points['kind'] == name).sum())})")
        for name, colour in RATING_COLOURS.items()
    )
    return PointLayer("Enterprise rating", LAYER_GROUP, points, legend)


def allocation_section(
    table: pd.DataFrame,
    settings: ZoneAllocationSettings,
    posterior_t: pd.Series,
    units: pd.DataFrame | None = None,
) -> tuple[ReportSection, PointLayer | None]:
    """A CO2 cap allocated to the run's units, counties or cities, with their carbon account.

    Parameters
    ----------
    table : DataFrame
        One row per entity, indexed by its code (``settings.id_column`` read as text), with the
        method's input columns.
    settings : ZoneAllocationSettings
    posterior_t : Series
        Posterior CO2 of the run per entity code, t.
    units : DataFrame, optional
        ``unit_code``, ``unit_name``, ``lon``, ``lat``: at unit level, the map layer.

    Raises
    ------
    InputDataError
        Entities that are not codes of the run at ``settings.level`` (the first few named).
    """
    unknown = table.index.difference(posterior_t.index)
    if len(unknown):
        raise InputDataError(
            f"{settings.table.name}: {len(unknown)} {settings.level} code(s) of column "
            f"{settings.id_column!r} are not in the run (e.g. {list(unknown[:3])}); give the "
            f"{LEVELS[settings.level]} values of zone_units.csv"
        )
    alloc = allocate(
        table,
        settings.cap_t,
        settings.method,
        base=settings.base_column,
        activity=settings.activity_column,
        benchmark=settings.benchmark_column,
        indicators=dict(settings.indicators),
    )
    account = carbon_account(alloc, posterior_t)
    account.index.name = settings.id_column  # the entity codes stay in the sheet
    account["label"] = UNOFFICIAL_LABEL
    counts = account["status"].value_counts()
    notes = [
        f"method {settings.method}; cap {alloc.cap_t:,} t split by the largest-remainder rule "
        f"(allocations sum to the cap); carbon account = allocation − posterior {CARBON} of the "
        f"run's period at {settings.level} level",
        ", ".join(f"{s} {int(counts.get(s, 0))}" for s in ACCOUNT_COLOURS),
    ]
    tables = {"allocation and carbon account": account}
    sheets = {"synergy_allocation": _with_index(account)}
    if alloc.weights is not None:
        tables["entropy weights"] = alloc.weights.to_frame()
        sheets["synergy_entropy_weights"] = _with_index(alloc.weights.to_frame())
    sheets["synergy_allocation_settings"] = _settings_sheet(
        {**settings.model_dump(mode="json"), "cap_t": alloc.cap_t}
    )
    html = html_fragment("碳排放配额分配 target allocation", tables, notes=notes)
    layer = None
    if settings.level == "unit" and units is not None and {"lon", "lat"} <= set(units.columns):
        layer = _account_layer(account, units.set_index("unit_code"))
    return ReportSection("target allocation", html, sheets), layer


def _account_layer(account: pd.DataFrame, where: pd.DataFrame) -> PointLayer:
    rows = []
    for code, r in account.iterrows():
        rows.append(
            {
                "id": str(code),
                "name": str(where.loc[code, "unit_name"]),
                "lon": float(where.loc[code, "lon"]),
                "lat": float(where.loc[code, "lat"]),
                "colour": ACCOUNT_COLOURS[str(r["status"])],
                "kind": str(r["status"]),
                "rows": [
                    ["allocation, t", f"{int(r['allocation_t']):,}"],
                    [f"posterior {CARBON}, t", _fmt(r["posterior_t"], 6)],
                    ["surplus, t", _fmt(r["surplus_t"], 6)],
                    ["", UNOFFICIAL_LABEL],
                ],
            }
        )
    points = pd.DataFrame(rows)
    legend = tuple(
        (colour, f"{name} ({int((points['kind'] == name).sum())})")
        for name, colour in ACCOUNT_COLOURS.items()
    )
    return PointLayer("Carbon account (allocation − posterior)", LAYER_GROUP, points, legend)


def zone_synergy_outputs(
    units: pd.DataFrame,
    days: pd.DatetimeIndex,
    prior: dict[str, np.ndarray],
    posterior: dict[str, np.ndarray],
    config: SynergyConfig,
    *,
    base_posterior: dict[str, np.ndarray] | None = None,
    facilities: pd.DataFrame | None = None,
    thresholds: pd.DataFrame | None = None,
    synthetic_attributes: bool = False,
    allocation_table: pd.DataFrame | None = None,
    synthetic: bool = False,
) -> ZoneSynergyOutputs:
    """Every synergy section of the zone report and layer of the map for one run.

    The co-control section always; the rating when ``facilities`` are given; the allocation
    when ``allocation_table`` is given (with ``config.zone_report.allocation``). Arguments as
    for :func:`cocontrol_section`, :func:`rating_section` and :func:`allocation_section`; the
    allocation's carbon account compares with the posterior CO2 summed over the days.
    """
    sections, layers = [], []
    section, layer = cocontrol_section(
        units,
        days,
        prior,
        posterior,
        config,
        base_posterior=base_posterior,
        synthetic=synthetic,
    )
    sections.append(section)
    layers.append(layer)
    if facilities is not None:
        section, layer = rating_section(
            facilities,
            config,
            thresholds=thresholds,
            synthetic_attributes=synthetic_attributes,
            synthetic=synthetic,
        )
        sections.append(section)
        layers.append(layer)
    alloc = config.zone_report.allocation
    if allocation_table is not None:
        if alloc is None:
            raise InputDataError("an allocation table needs synergy.zone_report.allocation")
        keys = units[LEVELS[alloc.level]].astype(str).to_numpy()
        totals = pd.Series(posterior[CARBON].sum(axis=1) / 1e3, index=keys)
        posterior_t = totals.groupby(level=0).sum()
        section, layer = allocation_section(allocation_table, alloc, posterior_t, units)
        sections.append(section)
        layers.append(layer)
    return ZoneSynergyOutputs(tuple(sections), tuple(x for x in layers if x is not None))
