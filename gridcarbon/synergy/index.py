"""The pollution–carbon synergy index (减污降碳协同指数): normalisation, weighting and ranks.

Pure functions on pandas/numpy: the indicator system and the values are handed in as
DataFrames (the readers are in :mod:`gridcarbon.io.synergy_files`; :func:`load_indicator_system`
reads and checks the indicator table through them). The result is an
**unofficial calculation** (非官方测算): the province publishes its own index.

Scores
------
Each third-level indicator value ``x`` becomes an achievement ``t`` in [0, 1]:

* ``efficacy`` (功效系数法, default): ``t = (x − worst)/(best − worst)`` clipped to [0, 1],
  score ``60 + 40 t`` (so 60–100);
* ``minmax``: the same ``t``, score ``100 t``;
* ``target``: ``t = x/target`` (higher is better) or ``target/x`` (lower is better), clipped to
  [0, 1], score ``100 t``.

``worst`` and ``best`` come from the bounds mode: ``cross_section`` (all regions of the same
period), ``base_period`` (all regions of the base period) or ``fixed`` (a table). When
``best == worst`` a value at least as good as ``best`` scores ``t = 1``, any other ``t = 0``.
A **state** indicator (no. 8, the Tapio decoupling state) is scored through a table of
achievements per state (:data:`DEFAULT_STATE_SCORES`).

Second-level, first-level and total scores are weighted sums of their children's scores with the
weights of the shipped table (they sum to 1 within each parent). A missing child leaves its
parent empty, unless ``renormalise`` spreads the parent's weight over the children present.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from gridcarbon.errors import ConfigError, InputDataError

__all__ = [
    "UnitWarning",
    "UNOFFICIAL_LABEL",
    "MODEL_LABEL",
    "DEFAULT_STATE_SCORES",
    "STATE_ALIASES",
    "IndicatorSystem",
    "IndexResult",
    "indicator_system",
    "load_indicator_system",
    "provenance_sheet",
    "check_weights",
    "parse_period",
    "achievement",
    "scale_scores",
    "synergy_index",
    "rank_min",
]

#: The label every output of this package carries.
UNOFFICIAL_LABEL = "非官方测算 (unofficial calculation)"
#: The label of gridcarbon's own model figures shown beside official statistics.
MODEL_LABEL = "模型测算 (model estimate)"

#: Achievement ``t`` in [0, 1] of each Tapio decoupling state (indicator 8); a judgement, set
#: your own with ``state_scores``. Efficacy scores are ``60 + 40 t`` (100, 90, 80, 80, 70, 70,
#: 60, 60).
DEFAULT_STATE_SCORES: dict[str, float] = {
    "strong_decoupling": 1.0,
    "weak_decoupling": 0.75,
    "recessive_decoupling": 0.5,
    "expansive_coupling": 0.5,
    "recessive_coupling": 0.25,
    "weak_negative_decoupling": 0.25,
    "expansive_negative_decoupling": 0.0,
    "strong_negative_decoupling": 0.0,
}

#: Chinese names of the Tapio states (and the English ones with spaces) → canonical names.
STATE_ALIASES: dict[str, str] = {
    "强脱钩": "strong_decoupling",
    "弱脱钩": "weak_decoupling",
    "衰退脱钩": "recessive_decoupling",
    "扩张连接": "expansive_coupling",
    "扩张耦合": "expansive_coupling",
    "衰退连接": "recessive_coupling",
    "衰退耦合": "recessive_coupling",
    "弱负脱钩": "weak_negative_decoupling",
    "扩张负脱钩": "expansive_negative_decoupling",
    "强负脱钩": "strong_negative_decoupling",
}


class UnitWarning(UserWarning):
    """Indicator values whose magnitudes suggest a unit mix-up that cannot be proven."""


_PERIOD = re.compile(r"^(\d{4})[Qq]([1-4])$")
_WEIGHT_TOL = 1e-9
_DIRECTIONS = ("higher", "lower", "state")
Method = Literal["efficacy", "minmax", "target"]
BoundsMode = Literal["cross_section", "base_period", "fixed"]


@dataclass(frozen=True)
class IndicatorSystem:
    """The indicator tree: one row per third-level indicator, ordered by ``level3_no``.

    Columns: ``category``, ``category_en``, ``level1``, ``level1_en``, ``level1_weight``,
    ``level2``, ``level2_weight``, ``level3_no``, ``level3``, ``level3_en``, ``level3_weight``,
    ``direction`` (higher | lower | state), ``unit``, ``plausible_min``, ``plausible_max``,
    ``data_source``.
    """

    table: pd.DataFrame

    @property
    def numbers(self) -> list[int]:
        return [int(n) for n in self.table["level3_no"]]

    @property
    def level1_names(self) -> list[str]:
        return list(dict.fromkeys(self.table["level1"]))

    @property
    def level2_names(self) -> list[str]:
        return list(dict.fromkeys(self.table["level2"]))


@dataclass(frozen=True)
class IndexResult:
    """The synergy index of every region and period.

    Attributes
    ----------
    scores : DataFrame
        One row per region and period: ``region_code``, ``region_name``, ``period``, ``total``,
        ``rank``, ``change_vs_base`` (total − the base period's total, points),
        ``L1:<name>`` and ``L1 rank:<name>`` per first-level indicator, ``L2:<name>`` per
        second-level indicator, ``n_missing`` and ``label``.
    indicator_scores : DataFrame
        Long: ``region_code``, ``period``, ``level3_no``, ``value``, ``worst``, ``best``,
        ``target``, ``achievement``, ``score``.
    bounds : DataFrame
        ``period``, ``level3_no``, ``worst``, ``best``, ``target`` used.
    settings : dict
        ``method``, ``bounds``, ``base_period``, ``renormalise``, ``label``: written to every
        output.
    """

    scores: pd.DataFrame
    indicator_scores: pd.DataFrame
    bounds: pd.DataFrame
    settings: dict = field(default_factory=dict)


def check_weights(table: pd.DataFrame, tol: float = _WEIGHT_TOL) -> None:
    """Raise unless the weights sum to 1 within each parent of the indicator tree.

    First-level weights sum to 1 over the whole index, second-level weights within their
    first-level parent, third-level weights within their second-level parent.
    """
    first = table.drop_duplicates("level1")["level1_weight"].sum()
    if abs(first - 1.0) > tol:
        raise InputDataError(f"first-level weights sum to {first:.12g}, not 1")
    second = table.drop_duplicates(["level1", "level2"]).groupby("level1", sort=False)
    for name, w in second["level2_weight"].sum().items():
        if abs(w - 1.0) > tol:
            raise InputDataError(f"second-level weights under {name!r} sum to {w:.12g}, not 1")
    for name, w in table.groupby("level2", sort=False)["level3_weight"].sum().items():
        if abs(w - 1.0) > tol:
            raise InputDataError(f"third-level weights under {name!r} sum to {w:.12g}, not 1")
    for level in ("level1", "level2"):
        weights = table.groupby(level, sort=False)[f"{level}_weight"].nunique()
        if (weights > 1).any():
            raise InputDataError(
                f"{level} {weights.index[weights > 1][0]!r} has more than one weight"
            )


def indicator_system(table: pd.DataFrame) -> IndicatorSystem:
    """Validate an indicator table (see :class:`IndicatorSystem`) and return the system."""
    required = [
        "level1",
        "level1_weight",
        "level2",
        "level2_weight",
        "level3_no",
        "level3",
        "level3_weight",
        "direction",
    ]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise InputDataError(f"indicator table lacks column(s) {missing}")
    table = table.copy()
    table["level3_no"] = table["level3_no"].astype(int)
    for c in ("level1_weight", "level2_weight", "level3_weight"):
        table[c] = table[c].astype(float)
    bad = ~table["direction"].isin(_DIRECTIONS)
    if bad.any():
        raise InputDataError(
            f"indicator {table.loc[bad, 'level3_no'].iloc[0]}: direction "
            f"{table.loc[bad, 'direction'].iloc[0]!r} is not one of {_DIRECTIONS}"
        )
    if table["level3_no"].duplicated().any():
        raise InputDataError("indicator numbers (level3_no) are not unique")
    check_weights(table)
    for c in ("plausible_min", "plausible_max"):
        table[c] = pd.to_numeric(table.get(c), errors="coerce")
    return IndicatorSystem(table.sort_values("level3_no").reset_index(drop=True))


def load_indicator_system(path: str | Path | None = None) -> IndicatorSystem:
    """The indicator system: the shipped Zhejiang table, or a user's table of the same columns
    (read by :func:`gridcarbon.io.synergy_files.read_indicator_table`), checked."""
    from gridcarbon.io.synergy_files import read_indicator_table

    return indicator_system(read_indicator_table(path))


def provenance_sheet(values: pd.DataFrame) -> pd.DataFrame:
    """The provenance of every value used: region, period, indicator, value, source, as_of."""
    cols = ["region_code", "region_name", "period", "level3_no", "value", "unit", "source", "as_of"]
    out = values[[c for c in cols if c in values]].copy()
    out["label"] = UNOFFICIAL_LABEL
    return out


def parse_period(text: object) -> tuple[int, int]:
    """``"2022Q3"`` → ``(2022, 3)``; raise :class:`InputDataError` otherwise."""
    m = _PERIOD.match(str(text).strip())
    if not m:
        raise InputDataError(f"period {text!r} is not of the form YYYYQn (e.g. 2022Q4)")
    return int(m.group(1)), int(m.group(2))


def achievement(
    x: np.ndarray,
    direction: np.ndarray | str,
    worst: np.ndarray,
    best: np.ndarray,
) -> np.ndarray:
    """Achievement ``t = (x − worst)/(best − worst)`` clipped to [0, 1] (NaN where ``x`` is).

    ``direction`` decides only the case ``best == worst``: then ``t = 1`` where ``x`` is at least
    as good as ``best`` (``x ≥ best`` for higher-is-better, ``x ≤ best`` for lower), else 0.
    """
    x, worst, best = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (x, worst, best)))
    higher = np.broadcast_to(np.asarray(direction) == "higher", x.shape)
    span = best - worst
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (x - worst) / span
    flat = span == 0
    at_least_best = np.where(higher, x >= best, x <= best)
    t = np.where(flat, at_least_best.astype(float), t)
    t = np.clip(t, 0.0, 1.0)
    return np.where(np.isnan(x), np.nan, t)


def _target_achievement(x: np.ndarray, direction: np.ndarray, target: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        higher = x / target
        lower = np.where(x <= 0, 1.0, target / x)
    t = np.where(np.asarray(direction) == "higher", higher, lower)
    return np.where(np.isnan(x), np.nan, np.clip(t, 0.0, 1.0))


def scale_scores(t: np.ndarray, method: Method) -> np.ndarray:
    """Scores from achievements: ``60 + 40 t`` (efficacy) or ``100 t`` (minmax, target)."""
    return 60.0 + 40.0 * t if method == "efficacy" else 100.0 * t


def rank_min(values: pd.Series) -> pd.Series:
    """Ranks, 1 = highest; ties share the lower rank (1, 2, 2, 4); NaN stays unranked.

    Values are rounded to 1e-9 first so that equal scores summed in a different order tie.
    """
    return values.round(9).rank(method="min", ascending=False).astype("Int64")


def _rank_within(scores: pd.DataFrame, column: str) -> pd.Series:
    """:func:`rank_min` within each period."""
    rounded = scores[column].round(9)
    ranks = rounded.groupby(scores["period"]).rank(method="min", ascending=False)
    return ranks.astype("Int64")


def _aggregate(
    child: np.ndarray, weights: np.ndarray, groups: np.ndarray, n_groups: int, renormalise: bool
) -> np.ndarray:
    """Weighted sums of child columns into parent columns (NaN-aware; see module docstring)."""
    out = np.empty((child.shape[0], n_groups))
    for g in range(n_groups):
        cols = np.flatnonzero(groups == g)
        c, w = child[:, cols], weights[cols]
        present = ~np.isnan(c)
        if renormalise:
            wsum = present @ w
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:, g] = np.where(wsum > 0, np.nansum(c * w, axis=1) / wsum, np.nan)
        else:
            out[:, g] = np.where(present.all(axis=1), np.nansum(c * w, axis=1), np.nan)
    return out


def _state_achievements(
    values: pd.Series, scores: dict[str, float], where: pd.Series
) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values.to_numpy()):
        if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "":
            continue
        key = str(v).strip()
        key = STATE_ALIASES.get(key, key.lower().replace(" ", "_").replace("-", "_"))
        if key == "undefined":
            continue  # ΔG = 0: reported, not scored
        if key not in scores:
            raise InputDataError(
                f"{where.iloc[i]}: decoupling state {v!r} is not one of "
                f"{sorted(scores)} (or their Chinese names {sorted(STATE_ALIASES)})"
            )
        out[i] = scores[key]
    return out


def synergy_index(
    values: pd.DataFrame,
    system: IndicatorSystem,
    *,
    method: Method = "efficacy",
    bounds: BoundsMode = "cross_section",
    base_period: str | None = None,
    fixed_bounds: pd.DataFrame | None = None,
    renormalise: bool = False,
    state_scores: dict[str, float] | None = None,
) -> IndexResult:
    """Compute the synergy index of every region and period.

    Parameters
    ----------
    values : DataFrame
        Long table, one row per region, period and indicator: ``region_code`` (6 digits),
        ``region_name`` (optional), ``period`` (``YYYYQn``), ``level3_no`` (1–24), ``value``
        (number in the indicator's unit; a state name for state indicators; NaN = missing) and
        optionally ``where`` (the row's place in the user's file, for messages).
    system : IndicatorSystem
        The indicator tree (:func:`load_indicator_system`).
    method : {"efficacy", "minmax", "target"}
        Normalisation (module docstring).
    bounds : {"cross_section", "base_period", "fixed"}
        Where ``worst`` and ``best`` come from; ``target`` needs ``fixed_bounds`` with a
        ``target`` column.
    base_period : str, optional
        The period the change is measured against (and the bounds' period for
        ``bounds="base_period"``); default the earliest period.
    fixed_bounds : DataFrame, optional
        ``level3_no``, ``worst``, ``best`` (and/or ``target``) per numeric indicator.
    renormalise : bool
        Spread a parent's weight over its children present when some are missing.
    state_scores : dict, optional
        Achievement in [0, 1] per decoupling state (default :data:`DEFAULT_STATE_SCORES`).

    Returns
    -------
    IndexResult
    """
    if method not in ("efficacy", "minmax", "target"):
        raise ConfigError(f"normalisation method {method!r} is not efficacy, minmax or target")
    if bounds not in ("cross_section", "base_period", "fixed"):
        raise ConfigError(f"bounds {bounds!r} is not cross_section, base_period or fixed")
    state_scores = dict(DEFAULT_STATE_SCORES if state_scores is None else state_scores)
    for k, v in state_scores.items():
        if not 0.0 <= float(v) <= 1.0:
            raise ConfigError(f"state score of {k!r} is {v}; achievements lie in [0, 1]")
    table = system.table
    numbers = np.array(system.numbers)
    values = _check_values(values, system)
    where = values["where"]

    # Numeric and state indicators, one float column per indicator.
    direction_of = dict(zip(table["level3_no"], table["direction"], strict=True))
    is_state = values["level3_no"].map(direction_of).eq("state").to_numpy()
    numeric = np.full(len(values), np.nan)
    num_rows = ~is_state
    if num_rows.any():
        numeric[num_rows] = _to_float(values.loc[num_rows, "value"], where[num_rows])
    state_t = np.full(len(values), np.nan)
    if is_state.any():
        state_t[is_state] = _state_achievements(
            values.loc[is_state, "value"], state_scores, where[is_state]
        )
    _check_plausible(numeric, values["level3_no"].to_numpy(), where, table)
    values = values.assign(x=numeric, state_t=state_t)

    periods = sorted(values["period"].unique())
    base = periods[0] if base_period is None else str(base_period).strip().upper()
    parse_period(base)
    if base not in periods:
        raise InputDataError(f"base period {base!r} has no values; periods present: {periods}")

    keys = values[["region_code", "period"]].drop_duplicates().reset_index(drop=True)
    keys["_row"] = np.arange(len(keys))
    values = values.merge(keys, on=["region_code", "period"])
    col_of = {n: j for j, n in enumerate(numbers)}
    col = values["level3_no"].map(col_of).to_numpy()
    x = np.full((len(keys), len(numbers)), np.nan)
    x[values["_row"].to_numpy(), col] = values["x"].to_numpy()
    st = np.full_like(x, np.nan)
    st[values["_row"].to_numpy(), col] = values["state_t"].to_numpy()

    direction = table["direction"].to_numpy()
    higher = direction == "higher"
    worst, best, target = _bounds(
        x, keys["period"].to_numpy(), periods, base, higher, bounds, method, fixed_bounds, numbers
    )
    state_cols = direction == "state"
    if method == "target":
        t = _target_achievement(x, direction, target)
    else:
        t = achievement(x, direction, worst, best)
    t[:, state_cols] = st[:, state_cols]
    s3 = scale_scores(t, method)

    # Aggregate level 3 → 2 → 1 → total.
    l2_names = system.level2_names
    l1_names = system.level1_names
    l2_index = table["level2"].map({n: i for i, n in enumerate(l2_names)}).to_numpy()
    s2 = _aggregate(s3, table["level3_weight"].to_numpy(), l2_index, len(l2_names), renormalise)
    l2_table = table.drop_duplicates("level2").set_index("level2").loc[l2_names]
    l1_of_l2 = l2_table["level1"].map({n: i for i, n in enumerate(l1_names)}).to_numpy()
    s1 = _aggregate(s2, l2_table["level2_weight"].to_numpy(), l1_of_l2, len(l1_names), renormalise)
    l1_weights = table.drop_duplicates("level1").set_index("level1").loc[l1_names]["level1_weight"]
    total = _aggregate(s1, l1_weights.to_numpy(), np.zeros(len(l1_names), int), 1, renormalise)[
        :, 0
    ]

    names = (
        values.dropna(subset=["region_name"])
        .drop_duplicates("region_code")
        .set_index("region_code")["region_name"]
        if "region_name" in values
        else pd.Series(dtype=object)
    )
    scores = keys.drop(columns="_row").copy()
    scores.insert(1, "region_name", scores["region_code"].map(names))
    scores["total"] = total
    scores["n_missing"] = np.isnan(np.where(state_cols, st, x)).sum(axis=1)
    for j, name in enumerate(l1_names):
        scores[f"L1:{name}"] = s1[:, j]
    for j, name in enumerate(l2_names):
        scores[f"L2:{name}"] = s2[:, j]
    scores["rank"] = _rank_within(scores, "total")
    for name in l1_names:
        scores[f"L1 rank:{name}"] = _rank_within(scores, f"L1:{name}")
    base_total = scores.loc[scores["period"] == base].set_index("region_code")["total"]
    scores["change_vs_base"] = scores["total"] - scores["region_code"].map(base_total)
    scores = scores.sort_values(["period", "region_code"])  # YYYYQn sorts in time order
    scores["label"] = UNOFFICIAL_LABEL
    scores = scores.reset_index(drop=True)

    long = pd.DataFrame(
        {
            "region_code": np.repeat(keys["region_code"].to_numpy(), len(numbers)),
            "period": np.repeat(keys["period"].to_numpy(), len(numbers)),
            "level3_no": np.tile(numbers, len(keys)),
            "value": x.ravel(),
            "worst": worst.ravel(),
            "best": best.ravel(),
            "target": target.ravel(),
            "achievement": t.ravel(),
            "score": s3.ravel(),
        }
    )
    bound_table = long.drop_duplicates(["period", "level3_no"])[
        ["period", "level3_no", "worst", "best", "target"]
    ].reset_index(drop=True)
    settings = {
        "method": method,
        "bounds": bounds,
        "base_period": base,
        "renormalise": renormalise,
        "state_scores": state_scores,
        "label": UNOFFICIAL_LABEL,
    }
    return IndexResult(scores, long, bound_table, settings)


def _check_values(values: pd.DataFrame, system: IndicatorSystem) -> pd.DataFrame:
    missing = [c for c in ("region_code", "period", "level3_no", "value") if c not in values]
    if missing:
        raise InputDataError(f"the indicator values lack column(s) {missing}")
    if values.empty:
        raise InputDataError("the indicator values table has no rows")
    values = values.reset_index(drop=True).copy()
    if "where" not in values:
        values["where"] = [f"row {i + 1}" for i in range(len(values))]
    where = values["where"]
    values["region_code"] = values["region_code"].astype(str).str.strip()
    bad_code = ~values["region_code"].str.fullmatch(r"\d{6}")
    if bad_code.any():
        i = int(np.flatnonzero(bad_code)[0])
        raise InputDataError(
            f"{where.iloc[i]}: region code {values['region_code'].iloc[i]!r} is not a 6-digit "
            "administrative division code (e.g. 330100 for Hangzhou)"
        )
    text = values["period"].astype(str).str.strip()
    parts = text.str.extract(_PERIOD.pattern)
    bad = parts[0].isna()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"{where.iloc[i]}: period {values['period'].iloc[i]!r} is not of the form YYYYQn "
            "(e.g. 2022Q4)"
        )
    values["period"] = parts[0] + "Q" + parts[1]
    no = pd.to_numeric(values["level3_no"], errors="coerce")
    known = set(system.numbers)
    bad = no.isna() | ~no.isin(known)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"{where.iloc[i]}: indicator {values['level3_no'].iloc[i]!r} is not one of the "
            f"indicator numbers 1–{max(known)} (see `gridcarbon synergy template`)"
        )
    values["level3_no"] = no.astype(int)
    key = ["region_code", "period", "level3_no"]
    dup = values.duplicated(key, keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        same = (values[key] == values[key].iloc[i]).all(axis=1)
        first = int(np.flatnonzero(same)[0])
        raise InputDataError(
            f"{where.iloc[i]}: region {values['region_code'].iloc[i]}, period "
            f"{values['period'].iloc[i]}, indicator {values['level3_no'].iloc[i]} appears again "
            f"(first at {where.iloc[first]}); keep one value per region, period and indicator"
        )
    return values


def _to_float(column: pd.Series, where: pd.Series) -> np.ndarray:
    text = column.astype(object)
    is_text = text.map(lambda v: isinstance(v, str)).to_numpy(bool)
    cleaned = text.where(~is_text, text.astype(str).str.replace(",", "").str.strip())
    empty = cleaned.isna().to_numpy() | (is_text & (cleaned.astype(str) == ""))
    out = pd.to_numeric(cleaned.where(~empty, np.nan), errors="coerce").to_numpy(float)
    bad = ~empty & ~np.isfinite(out)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"{where.iloc[i]}: value {column.iloc[i]!r} is not a number; write a plain number "
            "in the indicator's unit (no units or % signs in the cell), or leave it empty if "
            "missing"
        )
    return out


def _check_plausible(
    x: np.ndarray, numbers: np.ndarray, where: pd.Series, table: pd.DataFrame
) -> None:
    """Refuse values outside an indicator's plausible range: almost always a unit mix-up."""
    if "plausible_min" not in table:
        return
    info = table.set_index("level3_no")
    lo = info["plausible_min"].reindex(numbers).to_numpy(float)
    hi = info["plausible_max"].reindex(numbers).to_numpy(float)
    with np.errstate(invalid="ignore"):
        bad = (x < lo) | (x > hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        n = int(numbers[i])
        unit = info.loc[n, "unit"] if "unit" in info else ""
        raise InputDataError(
            f"{where.iloc[i]}: indicator {n} ({info.loc[n, 'level3']}) = {x[i]:g} lies outside "
            f"its plausible range [{lo[i]:g}, {hi[i]:g}] {unit}; check the unit (e.g. t per "
            "亿元 instead of t per 万元, or a fraction instead of a percentage)"
        )
    if "unit" not in info:
        return
    for n in np.unique(numbers[np.isfinite(x)]):
        v = x[(numbers == n) & np.isfinite(x)]
        if info.loc[n, "unit"] == "%" and v.size >= 3 and np.all(np.abs(v) <= 1) and v.any():
            warnings.warn(
                f"indicator {int(n)} ({info.loc[n, 'level3']}) is a percentage but all its "
                f"{v.size} values lie within ±1: were fractions given (0.35 for 35 %)?",
                UnitWarning,
                stacklevel=3,
            )


def _bounds(
    x: np.ndarray,
    row_period: np.ndarray,
    periods: list[str],
    base: str,
    higher: np.ndarray,
    mode: str,
    method: str,
    fixed: pd.DataFrame | None,
    numbers: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Worst, best and target per row and indicator, shaped like ``x``."""
    n_rows, n_ind = x.shape
    target = np.full((n_rows, n_ind), np.nan)
    if mode == "fixed" or method == "target":
        if fixed is None:
            raise ConfigError(
                "fixed bounds and the target method need a bounds table (level3_no, worst, best,"
                " target): pass fixed_bounds (CLI: --bounds-file)"
            )
        fb = fixed.copy()
        fb["level3_no"] = pd.to_numeric(fb["level3_no"], errors="coerce")
        fb = fb.set_index("level3_no").reindex(numbers)
    if method == "target":
        if "target" not in fb:
            raise ConfigError("the target method needs a 'target' column in the bounds table")
        tgt = fb["target"].to_numpy(dtype=float)
        lacking = ~np.isnan(x).all(axis=0) & (np.isnan(tgt) | (tgt <= 0))
        if lacking.any():
            bad = [int(n) for n in numbers[lacking]]
            raise ConfigError(f"the bounds table lacks a positive target for indicator(s) {bad}")
        target[:] = tgt
    if mode == "fixed":
        worst_row = fb["worst"].to_numpy(dtype=float) if "worst" in fb else np.full(n_ind, np.nan)
        best_row = fb["best"].to_numpy(dtype=float) if "best" in fb else np.full(n_ind, np.nan)
        have = ~np.isnan(x).all(axis=0)
        lacking = have & (np.isnan(worst_row) | np.isnan(best_row))
        if method != "target" and lacking.any():
            bad = [int(n) for n in numbers[lacking]]
            raise ConfigError(f"the bounds table lacks worst/best for indicator(s) {bad}")
        return np.tile(worst_row, (n_rows, 1)), np.tile(best_row, (n_rows, 1)), target
    worst = np.full((n_rows, n_ind), np.nan)
    best = np.full((n_rows, n_ind), np.nan)
    frame = pd.DataFrame(x)
    with np.errstate(invalid="ignore"):
        hi = frame.groupby(row_period).max()
        lo = frame.groupby(row_period).min()
    mask = np.broadcast_to(higher, hi.shape)
    best_by = hi.where(mask, lo)
    worst_by = lo.where(mask, hi)
    if mode == "base_period":
        worst[:] = worst_by.loc[base].to_numpy()
        best[:] = best_by.loc[base].to_numpy()
    else:
        worst[:] = worst_by.loc[row_period].to_numpy()
        best[:] = best_by.loc[row_period].to_numpy()
    return worst, best, target
