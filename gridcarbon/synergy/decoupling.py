"""Tapio decoupling, coupling coordination and GDP at constant prices.

Pure functions; GDP is in 亿元 (10^8 yuan) and CO2 in tonnes unless stated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.species import CO2
from gridcarbon.synergy.index import MODEL_LABEL

__all__ = [
    "TAPIO_STATES",
    "TAPIO_STATES_ZH",
    "tapio_state",
    "tapio_table",
    "coupling_coordination",
    "coordination_class",
    "constant_price_gdp",
    "check_gdp_magnitude",
    "model_carbon_intensity",
    "run_year",
    "UNVERIFIED_GDP_NOTE",
    "gdp_verification",
]

#: The eight Tapio (2005) states plus ``undefined`` (ΔG = 0: reported, not scored).
TAPIO_STATES = (
    "strong_decoupling",
    "weak_decoupling",
    "expansive_coupling",
    "expansive_negative_decoupling",
    "strong_negative_decoupling",
    "weak_negative_decoupling",
    "recessive_coupling",
    "recessive_decoupling",
    "undefined",
)
TAPIO_STATES_ZH = {
    "strong_decoupling": "强脱钩",
    "weak_decoupling": "弱脱钩",
    "expansive_coupling": "扩张连接",
    "expansive_negative_decoupling": "扩张负脱钩",
    "strong_negative_decoupling": "强负脱钩",
    "weak_negative_decoupling": "弱负脱钩",
    "recessive_coupling": "衰退连接",
    "recessive_decoupling": "衰退脱钩",
    "undefined": "无法判定",
}

#: GDP of one 6-digit administrative region in 亿元 lies in this range (a county of a few
#: 亿元 to the largest province, about 1.3 × 10^5 亿元); outside it the unit is wrong.
GDP_RANGE_100M_YUAN = (1.0, 2.0e5)

#: What every output resting on unverified GDP figures says (the shipped table's ``verified``).
UNVERIFIED_GDP_NOTE = (
    "GDP UNVERIFIED: the shipped 2020–2022 GDP table (gridcarbon/data/synergy_gdp_zhejiang.csv) "
    "was typed in partly from memory without the statistical bulletins; check each figure "
    "against the bulletin named in its `bulletin` column, or give your own GDP table"
)


def tapio_state(
    c0: float, c1: float, g0: float, g1: float, low: float = 0.8, high: float = 1.2
) -> tuple[float, str]:
    """Tapio decoupling elasticity and state of one region between two years.

    Parameters
    ----------
    c0, c1 : float
        Emissions (any unit, the same for both) in the base and the later year; c0 > 0.
    g0, g1 : float
        GDP at constant prices in the base and the later year; g0 > 0.
    low, high : float
        Thresholds of coupling (0.8 and 1.2).

    Returns
    -------
    (e, state)
        ``e = (ΔC/C₀)/(ΔG/G₀)`` (NaN when ΔG = 0) and the state: for ΔG > 0, ΔC < 0 strong
        decoupling, e < 0.8 weak decoupling, 0.8 ≤ e ≤ 1.2 expansive coupling, e > 1.2
        expansive negative decoupling; for ΔG < 0, ΔC > 0 strong negative decoupling, e < 0.8
        weak negative decoupling, 0.8 ≤ e ≤ 1.2 recessive coupling, e > 1.2 recessive
        decoupling; ΔG = 0 undefined.
    """
    if not (c0 > 0 and g0 > 0):
        raise InputDataError(
            f"Tapio decoupling needs positive base-year emissions and GDP (got C0={c0}, G0={g0})"
        )
    if not (np.isfinite(c1) and np.isfinite(g1)):
        raise InputDataError(f"Tapio decoupling needs finite values (got C1={c1}, G1={g1})")
    dc, dg = c1 - c0, g1 - g0
    if dg == 0:
        return float("nan"), "undefined"
    # One division (not a ratio of ratios) keeps decimal thresholds exact where they are, and
    # classifying the rounded value keeps e = 0.8 or 1.2 off the wrong side by one ulp.
    e = (dc * g0) / (dg * c0)
    e_cls = round(e, 12)
    if dg > 0:
        if dc < 0:
            return e, "strong_decoupling"
        if e_cls < low:
            return e, "weak_decoupling"
        return e, "expansive_coupling" if e_cls <= high else "expansive_negative_decoupling"
    if dc > 0:
        return e, "strong_negative_decoupling"
    if e_cls < low:
        return e, "weak_negative_decoupling"
    return e, "recessive_coupling" if e_cls <= high else "recessive_decoupling"


def tapio_table(
    emissions: pd.DataFrame, gdp: pd.DataFrame, base_year: int, year: int
) -> pd.DataFrame:
    """Tapio states of every region between two years.

    Parameters
    ----------
    emissions : DataFrame
        ``region_code``, ``year``, ``emissions`` (t or any unit).
    gdp : DataFrame
        ``region_code``, ``year``, ``gdp_const`` (GDP at constant prices, 亿元).

    Returns
    -------
    DataFrame
        ``region_code``, ``dC_rel``, ``dG_rel``, ``elasticity``, ``state``, ``state_zh``.
    """
    e = emissions.set_index(["region_code", "year"])["emissions"]
    g = gdp.set_index(["region_code", "year"])["gdp_const"]
    rows = []
    for code in sorted(set(e.index.get_level_values(0))):
        try:
            c0, c1 = float(e[(code, base_year)]), float(e[(code, year)])
            g0, g1 = float(g[(code, base_year)]), float(g[(code, year)])
        except KeyError as exc:
            raise InputDataError(
                f"region {code}: no emissions or GDP for {exc.args[0][1]} (needed for the "
                f"decoupling between {base_year} and {year})"
            ) from None
        try:
            elasticity, state = tapio_state(c0, c1, g0, g1)
        except InputDataError as exc:
            raise InputDataError(f"region {code}: {exc}") from None
        rows.append(
            {
                "region_code": code,
                "dC_rel": (c1 - c0) / c0,
                "dG_rel": (g1 - g0) / g0,
                "elasticity": elasticity,
                "state": state,
                "state_zh": TAPIO_STATES_ZH[state],
            }
        )
    return pd.DataFrame(rows)


def coupling_coordination(
    u1: np.ndarray | float,
    u2: np.ndarray | float,
    alpha: float = 0.5,
    beta: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coupling degree C, composite T and coordination D of two subsystems.

    ``C = 2√(U₁U₂)/(U₁+U₂)``, ``T = αU₁ + βU₂``, ``D = √(C·T)``. The subsystem indices are
    floored at 0.01 (a zero would make C undefined or 0 regardless of the other subsystem).

    Parameters
    ----------
    u1, u2 : array-like
        Normalised subsystem indices in [0, 1] (values below 0.01 become 0.01).
    alpha, beta : float
        Contributions of the subsystems; non-negative, summing to 1.

    Returns
    -------
    (C, T, D) : arrays, dimensionless in [0, 1]
    """
    if alpha < 0 or beta < 0 or abs(alpha + beta - 1.0) > 1e-12:
        raise ConfigError(f"alpha and beta must be >= 0 and sum to 1 (got {alpha}, {beta})")
    u1, u2 = np.asarray(u1, dtype=float), np.asarray(u2, dtype=float)
    for name, u in (("U1", u1), ("U2", u2)):
        if np.any((u < 0) | (u > 1) | ~np.isfinite(u)):
            raise InputDataError(f"{name} must lie in [0, 1] (got {u[(u < 0) | (u > 1)][:3]})")
    u1, u2 = np.maximum(u1, 0.01), np.maximum(u2, 0.01)
    c = 2.0 * np.sqrt(u1 * u2) / (u1 + u2)
    t = alpha * u1 + beta * u2
    return c, t, np.sqrt(c * t)


_CLASSES = (
    "极度失调",
    "严重失调",
    "中度失调",
    "轻度失调",
    "濒临失调",
    "勉强协调",
    "初级协调",
    "中级协调",
    "良好协调",
    "优质协调",
)


def coordination_class(d: np.ndarray | float) -> np.ndarray:
    """The usual ten classes of D in steps of 0.1 (极度失调 [0, 0.1) … 优质协调 [0.9, 1])."""
    d = np.asarray(d, dtype=float)
    idx = np.clip(np.floor(d * 10 + 1e-12).astype(int), 0, 9)
    return np.asarray(_CLASSES, dtype=object)[idx]


def constant_price_gdp(gdp: pd.DataFrame, base_year: int = 2020) -> pd.DataFrame:
    """GDP at constant prices of ``base_year`` from nominal GDP and real growth rates.

    ``G_const(base) = G_nominal(base)``, ``G_const(y) = G_const(y − 1) × (1 + g_y/100)`` with
    ``g_y`` the growth at comparable prices (%) published in the year-``y`` bulletin.

    Parameters
    ----------
    gdp : DataFrame
        ``region_code``, ``year``, ``gdp_100m_yuan`` (亿元, current prices),
        ``real_growth_pct``; consecutive years from ``base_year`` on.

    Returns
    -------
    DataFrame
        The input with ``gdp_const`` (亿元 at ``base_year`` prices) for years ≥ ``base_year``.
    """
    out = []
    for code, rows in gdp.sort_values("year").groupby("region_code", sort=True):
        rows = rows[rows["year"] >= base_year].copy()
        if rows.empty or int(rows["year"].iloc[0]) != base_year:
            raise InputDataError(f"region {code}: no GDP for the base year {base_year}")
        years = rows["year"].to_numpy(int)
        if np.any(np.diff(years) != 1):
            raise InputDataError(f"region {code}: GDP years {list(years)} are not consecutive")
        growth = 1.0 + rows["real_growth_pct"].to_numpy(float) / 100.0
        growth[0] = 1.0
        rows["gdp_const"] = float(rows["gdp_100m_yuan"].iloc[0]) * np.cumprod(growth)
        out.append(rows)
    return pd.concat(out, ignore_index=True)


def check_gdp_magnitude(
    values: pd.Series, where: pd.Series | None = None, unit: str = "亿元"
) -> None:
    """Refuse GDP values whose magnitude shows a unit mix-up (万元 or 元 given as 亿元).

    A 6-digit region's GDP in 亿元 lies in :data:`GDP_RANGE_100M_YUAN`; a value 10^4 times
    larger was written in 万元.
    """
    lo, hi = GDP_RANGE_100M_YUAN
    v = pd.to_numeric(values, errors="coerce").to_numpy(float)
    for i, x in enumerate(v):
        at = where.iloc[i] if where is not None else f"row {i + 1}"
        if not np.isfinite(x):
            raise InputDataError(f"{at}: GDP {values.iloc[i]!r} is not a number")
        if x > hi:
            hint = "万元 (divide by 10,000)" if x <= hi * 1e4 else "元 (divide by 10^8)"
            raise InputDataError(
                f"{at}: GDP {x:,.0f} {unit} is larger than any region's GDP ({hi:,.0f} 亿元); "
                f"it looks like {hint} — give GDP in 亿元"
            )
        if x < lo:
            raise InputDataError(
                f"{at}: GDP {x:g} {unit} is below {lo:g} 亿元; it looks like 万亿元 or a "
                "wrong unit — give GDP in 亿元"
            )


def model_carbon_intensity(
    co2_t: pd.DataFrame, gdp_const: pd.DataFrame, synthetic: bool, allow_synthetic: bool = False
) -> pd.DataFrame:
    """gridcarbon's own CO2 per unit GDP (t per 万元), labelled 模型测算 (model estimate).

    The grids hold **direct** emissions within the region; the provincial statistics count
    energy CO2 including imported electricity. The two differ by construction, so this figure
    is shown beside the official one and never replaces it.

    Parameters
    ----------
    co2_t : DataFrame
        ``region_code``, ``year``, ``co2_t`` (posterior CO2 for the whole year, tonnes).
    gdp_const : DataFrame
        ``region_code``, ``year``, ``gdp_const`` (亿元 at constant prices).
    synthetic : bool
        Whether the grids are synthetic (the default scenario is).
    allow_synthetic : bool
        Compute on synthetic grids anyway (the result is then labelled synthetic too).
    """
    if synthetic and not allow_synthetic:
        raise InputDataError(
            f"the grids are synthetic (the embedded default scenario): a {CO2.name} intensity from them "
            "would be read as a fact about real cities; pass allow_synthetic=True "
            "(CLI: --allow-synthetic) to compute it anyway, labelled synthetic"
        )
    merged = co2_t.merge(gdp_const, on=["region_code", "year"], how="left")
    lacking = merged["gdp_const"].isna()
    if lacking.any():
        row = merged.loc[lacking].iloc[0]
        raise InputDataError(
            f"region {row['region_code']}: no GDP for {row['year']}; supply a GDP table for it"
        )
    merged["co2_per_10k_yuan_t"] = merged["co2_t"] / (merged["gdp_const"] * 1e4)
    merged["label"] = MODEL_LABEL + (" — synthetic grids" if synthetic else "")
    return merged


def run_year(first_day: pd.Timestamp, last_day: pd.Timestamp) -> int:
    """The calendar year a run covers whole (Beijing days), or an error naming its period.

    CO2 per unit GDP compares a year's emissions with a year's GDP; a month scaled to a year
    would carry the month's seasonality into the figure.
    """
    year = first_day.year
    if not (first_day == pd.Timestamp(year, 1, 1) and last_day == pd.Timestamp(year, 12, 31)):
        raise InputDataError(
            f"the run covers {first_day:%Y-%m-%d} to {last_day:%Y-%m-%d}, not one whole "
            f"calendar year: {CO2.name} per unit GDP needs a year's emissions (run `gridcarbon run "
            "--year YYYY`, inverted month by month)"
        )
    return year


def gdp_verification(gdp: pd.DataFrame, first_year: int, last_year: int) -> pd.Series:
    """Per region, whether the GDP figures of ``first_year`` … ``last_year`` are verified.

    A GDP at constant prices rests on the base year's GDP and every later growth rate, so a
    region counts as verified (``"yes"``) only when every row of those years has ``verified ==
    "yes"``; otherwise ``"no"``.  A table without a ``verified`` column (a user's own) is taken
    as the user's responsibility: ``"user table"`` for every region.

    Parameters
    ----------
    gdp : DataFrame
        ``region_code``, ``year`` and, in the shipped table, ``verified``
        (``yes`` / ``gdp_only`` / ``no``).
    first_year, last_year : int
        The years the figures rest on.

    Returns
    -------
    Series
        Indexed by ``region_code``.
    """
    codes = sorted(set(gdp["region_code"].astype(str)))
    if "verified" not in gdp:
        return pd.Series("user table", index=pd.Index(codes, name="region_code"))
    used = gdp[(gdp["year"] >= first_year) & (gdp["year"] <= last_year)]
    ok = (used["verified"].astype(str) == "yes").groupby(used["region_code"].astype(str)).all()
    return (
        ok.reindex(codes, fill_value=False)
        .map({True: "yes", False: "no"})
        .rename_axis("region_code")
    )
