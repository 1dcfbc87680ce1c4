"""Enterprise red/yellow/green rating on reduction, decarbonisation, synergy and efficiency.

Indicators (computed from a facility table) and their dimension:

==================  =====================================  ==============  =========
dimension           indicator                              unit            better
==================  =====================================  ==============  =========
reduction           pollutants (NOx + VOC) per unit output t per 10^4 yuan lower
decarbonisation     CO2 per unit output                    t per 10^4 yuan lower
decarbonisation     non-fossil share of energy use         %               higher
synergy             solid-waste comprehensive reuse        %               higher
efficiency          tax per mu of land                     10^4 yuan/mu    higher
==================  =====================================  ==============  =========

Each indicator gets a colour from thresholds given **per industry** (green at or better than
``green``, red worse than ``red``, yellow between); green = 1, yellow = ½, red = 0 points. A
dimension scores the mean of its indicators' points, the facility the mean of the four
dimensions: green from ``green_at`` (⅔), red below ``red_below`` (⅓), yellow between. A
dimension without any indicator value leaves the facility "not rated".

:func:`tercile_thresholds` derives relative thresholds (the best and worst third within each
industry) where no thresholds are given; :func:`synthetic_facility_attributes` makes the
attributes the synthetic facility catalogue lacks, labelled synthetic.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from gridcarbon.errors import InputDataError
from gridcarbon.species import CO2, NOX, VOC

__all__ = [
    "INDICATORS",
    "DIMENSIONS",
    "facility_indicators",
    "tercile_thresholds",
    "rate_facilities",
    "anonymise",
    "synthetic_facility_attributes",
]

#: indicator → (dimension, direction, unit)
INDICATORS: dict[str, tuple[str, str, str]] = {
    "pollutant_per_output": ("reduction", "lower", "t per 10^4 yuan"),
    "co2_per_output": ("decarbonisation", "lower", "t per 10^4 yuan"),
    "non_fossil_share_pct": ("decarbonisation", "higher", "%"),
    "solid_waste_reuse_pct": ("synergy", "higher", "%"),
    "tax_per_mu": ("efficiency", "higher", "10^4 yuan per mu"),
}
DIMENSIONS = ("reduction", "decarbonisation", "synergy", "efficiency")
_POINTS = {"green": 1.0, "yellow": 0.5, "red": 0.0}
#: Emission columns of the facility table (t per year): the carbon species and the pollutants.
_CO2_T, _NOX_T, _VOC_T = (f"{sp.name}_t" for sp in (CO2, NOX, VOC))
_REQUIRED = ("facility_id", "name", "industry", "output_10k_yuan", _CO2_T, _NOX_T, _VOC_T)


def facility_indicators(facilities: pd.DataFrame) -> pd.DataFrame:
    """The rating indicators of each facility (module docstring), indexed by ``facility_id``.

    Parameters
    ----------
    facilities : DataFrame
        ``facility_id``, ``name``, ``industry``, ``output_10k_yuan`` (output value, 10^4 yuan),
        ``CO2_t``, ``NOx_t``, ``VOC_t`` (t per year); optional ``non_fossil_share_pct``,
        ``solid_waste_reuse_pct``, ``tax_10k_yuan``, ``land_mu``.
    """
    missing = [c for c in _REQUIRED if c not in facilities]
    if missing:
        raise InputDataError(f"the facility table lacks column(s) {missing}")
    f = facilities.set_index("facility_id", drop=False)
    if f.index.has_duplicates:
        raise InputDataError(f"facility {f.index[f.index.duplicated()][0]!r} appears twice")
    num = {}
    for c in (
        "output_10k_yuan",
        _CO2_T,
        _NOX_T,
        _VOC_T,
        "non_fossil_share_pct",
        "solid_waste_reuse_pct",
        "tax_10k_yuan",
        "land_mu",
    ):
        if c in f:
            v = pd.to_numeric(f[c], errors="coerce")
            bad = v.isna() & f[c].notna()
            if bad.any() or (v < 0).any():
                who = f.index[bad | (v < 0)][0]
                raise InputDataError(
                    f"facility {who!r}: {c} {f.loc[who, c]} is not a non-negative number"
                )
            num[c] = v
    for c in ("non_fossil_share_pct", "solid_waste_reuse_pct"):
        if c in num and (num[c] > 100).any():
            who = num[c].index[num[c] > 100][0]
            raise InputDataError(f"facility {who!r}: {c} {num[c][who]:g} exceeds 100 %")
    output = num["output_10k_yuan"].where(num["output_10k_yuan"] > 0)
    out = pd.DataFrame(index=f.index)
    out["name"], out["industry"] = f["name"], f["industry"]
    out["pollutant_per_output"] = (num[_NOX_T] + num[_VOC_T]) / output
    out["co2_per_output"] = num[_CO2_T] / output
    out["non_fossil_share_pct"] = num.get("non_fossil_share_pct", np.nan)
    out["solid_waste_reuse_pct"] = num.get("solid_waste_reuse_pct", np.nan)
    if "tax_10k_yuan" in num and "land_mu" in num:
        out["tax_per_mu"] = num["tax_10k_yuan"] / num["land_mu"].where(num["land_mu"] > 0)
    else:
        out["tax_per_mu"] = np.nan
    return out


def tercile_thresholds(indicators: pd.DataFrame) -> pd.DataFrame:
    """Relative thresholds: the best third of each industry is green, the worst third red.

    Returns a thresholds table (``industry``, ``indicator``, ``green``, ``red``). These rate
    facilities against their peers, not against a standard; say so wherever they are used.
    """
    rows = []
    for industry, group in indicators.groupby("industry", sort=True):
        for ind, (_, direction, _) in INDICATORS.items():
            v = group[ind].dropna()
            if v.empty:
                continue
            lo, hi = np.quantile(v, [1 / 3, 2 / 3])
            green, red = (lo, hi) if direction == "lower" else (hi, lo)
            rows.append({"industry": industry, "indicator": ind, "green": green, "red": red})
    return pd.DataFrame(rows)


def _colour(x: np.ndarray, green: np.ndarray, red: np.ndarray, direction: str) -> np.ndarray:
    if direction == "lower":
        c = np.where(x <= green, "green", np.where(x > red, "red", "yellow"))
    else:
        c = np.where(x >= green, "green", np.where(x < red, "red", "yellow"))
    return np.where(np.isnan(x) | np.isnan(green) | np.isnan(red), "", c).astype(object)


def rate_facilities(
    indicators: pd.DataFrame,
    thresholds: pd.DataFrame,
    green_at: float = 2.0 / 3.0,
    red_below: float = 1.0 / 3.0,
) -> pd.DataFrame:
    """Red/yellow/green per indicator, dimension and facility (module docstring).

    Parameters
    ----------
    indicators : DataFrame
        From :func:`facility_indicators`.
    thresholds : DataFrame
        ``industry`` (``*`` = any industry without its own row), ``indicator``, ``green``,
        ``red`` (in the indicator's unit; for lower-is-better indicators green ≤ red).

    Returns
    -------
    DataFrame
        Per facility: the indicators, ``colour_<indicator>``, ``score_<dimension>`` and
        ``colour_<dimension>``, ``score`` (0–1) and ``rating`` (green / yellow / red /
        not rated).
    """
    need = {"industry", "indicator", "green", "red"}
    if not need <= set(thresholds.columns):
        raise InputDataError(f"the thresholds table needs columns {sorted(need)}")
    unknown = set(thresholds["indicator"]) - set(INDICATORS)
    if unknown:
        raise InputDataError(
            f"unknown rating indicator(s) {sorted(unknown)}; use {list(INDICATORS)}"
        )
    th = thresholds.set_index(["industry", "indicator"])
    for (industry, ind), row in th.iterrows():
        direction = INDICATORS[ind][1]
        ok = row["green"] <= row["red"] if direction == "lower" else row["green"] >= row["red"]
        if not ok:
            raise InputDataError(
                f"thresholds of {ind!r} for industry {industry!r}: green {row['green']:g} is "
                f"worse than red {row['red']:g} ({direction} is better)"
            )
    out = indicators.copy()
    dim_points: dict[str, list[np.ndarray]] = {d: [] for d in DIMENSIONS}
    for ind, (dim, direction, _) in INDICATORS.items():
        green = np.full(len(out), np.nan)
        red = np.full(len(out), np.nan)
        for i, industry in enumerate(out["industry"]):
            key = (industry, ind) if (industry, ind) in th.index else ("*", ind)
            if key in th.index:
                green[i], red[i] = th.loc[key, "green"], th.loc[key, "red"]
        colour = _colour(out[ind].to_numpy(float), green, red, direction)
        out[f"colour_{ind}"] = colour
        dim_points[dim].append(np.array([_POINTS.get(c, np.nan) for c in colour], dtype=float))
    dims = []
    for dim in DIMENSIONS:
        stack = np.vstack(dim_points[dim])
        with np.errstate(invalid="ignore"):
            n = (~np.isnan(stack)).sum(axis=0)
            score = np.where(n > 0, np.nansum(stack, axis=0) / np.maximum(n, 1), np.nan)
        out[f"score_{dim}"] = score
        out[f"colour_{dim}"] = _band(score, green_at, red_below)
        dims.append(score)
    dims_arr = np.vstack(dims)
    complete = ~np.isnan(dims_arr).any(axis=0)
    score = np.where(complete, np.nanmean(np.where(complete, dims_arr, 0.0), axis=0), np.nan)
    out["score"] = score
    out["rating"] = np.where(complete, _band(score, green_at, red_below), "not rated")
    return out


def _band(score: np.ndarray, green_at: float, red_below: float) -> np.ndarray:
    # Rounding keeps an exact 2/3 (e.g. points 1, 1, 0) on the green side of green_at = 2/3.
    s = np.round(score, 12)
    g, r = round(green_at, 12), round(red_below, 12)
    c = np.where(s >= g, "green", np.where(s < r, "red", "yellow"))
    return np.where(np.isnan(score), "", c).astype(object)


def anonymise(table: pd.DataFrame, columns: tuple[str, ...] = ("name",)) -> pd.DataFrame:
    """Replace enterprise names (and ids used as the index) by neutral labels ``E0001`` …"""
    out = table.copy()
    labels = [f"E{i + 1:04d}" for i in range(len(out))]
    for c in columns:
        if c in out:
            out[c] = labels
    if "facility_id" in out:
        out["facility_id"] = labels
    out.index = pd.Index(labels, name=out.index.name)
    return out


#: Assumed CO2 intensity of output by sector (t CO2 per 10^4 yuan of output value), for the
#: **synthetic** attributes of the synthetic facility catalogue only.
_SYNTHETIC_INTENSITY = {
    "power": 6.0,
    "industry_cement": 4.5,
    "industry_steel": 2.5,
    "industry_petrochemical": 1.2,
    "industry_paper": 1.0,
    "industry_chemical": 0.7,
    "industry_textile": 0.35,
    "industry_other": 0.25,
}


def synthetic_facility_attributes(points: pd.DataFrame, seed: int = 20241) -> pd.DataFrame:
    """Synthetic output value, energy mix and other attributes for synthetic point sources.

    Deterministic (seeded per facility id). The output value follows an assumed CO2 intensity
    per sector with lognormal spread; non-fossil share, solid-waste reuse, tax and land are
    drawn from assumed ranges. Nothing here describes a real enterprise; the result carries
    ``synthetic = True``.

    Parameters
    ----------
    points : DataFrame
        ``point_id``, ``point_name``, ``point_sector``, ``CO2_kg_period``, ``NOx_kg_period``,
        ``VOC_kg_period`` (the run folder's ``prior_point_sources.csv``).

    Returns
    -------
    DataFrame
        A facility table for :func:`facility_indicators` (emissions in t over the run period,
        output value scaled to the same period).
    """
    rows = []
    for p in points.itertuples(index=False):
        digest = hashlib.sha256(f"{seed}|{p.point_id}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        co2_t = float(p.CO2_kg_period) / 1e3
        intensity = _SYNTHETIC_INTENSITY.get(p.point_sector, 0.5) * rng.lognormal(0.0, 0.3)
        output = co2_t / intensity
        land_mu = max(50.0, output / rng.uniform(200.0, 800.0))
        rows.append(
            {
                "facility_id": p.point_id,
                "name": p.point_name,
                "industry": p.point_sector,
                "output_10k_yuan": output,
                _CO2_T: co2_t,
                _NOX_T: float(p.NOx_kg_period) / 1e3,
                _VOC_T: float(p.VOC_kg_period) / 1e3,
                "non_fossil_share_pct": float(np.clip(rng.normal(15.0, 8.0), 0.0, 100.0)),
                "solid_waste_reuse_pct": float(np.clip(rng.normal(85.0, 10.0), 0.0, 100.0)),
                "tax_10k_yuan": output * rng.uniform(0.02, 0.08),
                "land_mu": land_mu,
                "synthetic": True,
            }
        )
    return pd.DataFrame(rows)
