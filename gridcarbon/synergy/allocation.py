"""Allocation of a CO2 cap to sub-regions, sectors or facilities.

Three methods, each turning a table of entities into shares that sum to 1; the cap is then
split into **whole tonnes** by the largest-remainder rule, so the allocations sum to the cap
exactly.

* ``historical`` (grandfathering): ``share_i = B_i / Σ B`` with ``B`` the historical emissions
  (t). A zero base is a new entrant (share 0, warning); a negative base is an error.
* ``benchmark`` (intensity): ``share_i = A_i b_i / Σ A b`` with ``A`` the activity (output,
  any unit) and ``b`` the benchmark intensity (t CO2 per unit of activity) of the entity's
  sector. Zero activity is a new entrant (warning); negative activity or benchmark is an error.
* ``entropy`` (entropy weight): indicators ``x_ij`` (columns, each with a direction: ``+`` more
  allowance for larger values, ``−`` less) are min–max normalised
  (``x′ = (x − min)/(max − min)`` or ``(max − x)/(max − min)``), ``p_ij = x′_ij / Σ_i x′_ij``,
  ``e_j = −Σ_i p_ij ln p_ij / ln n`` (``0 ln 0 = 0``), ``w_j = (1 − e_j)/Σ_j (1 − e_j)`` and
  ``share_i = Σ_j w_j p_ij``.

:func:`carbon_account` compares each allocation with the entity's posterior emissions
(surplus > 0, deficit < 0).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridcarbon.errors import ConfigError, InputDataError

__all__ = [
    "NewEntrantWarning",
    "Allocation",
    "largest_remainder",
    "historical_shares",
    "benchmark_shares",
    "entropy_weights",
    "entropy_shares",
    "allocate",
    "carbon_account",
]


class NewEntrantWarning(UserWarning):
    """An entity has a zero base: a new entrant that gets no allowance under that method."""


@dataclass(frozen=True)
class Allocation:
    """An allocation: ``table`` (per entity ``share``, ``quota_t`` exact, ``allocation_t``
    whole tonnes), the ``method``, the ``cap_t``, and ``weights`` (entropy method only)."""

    table: pd.DataFrame
    method: str
    cap_t: int
    weights: pd.Series | None = None


def largest_remainder(cap: int, shares: np.ndarray) -> np.ndarray:
    """Split an integer ``cap`` into integers proportional to ``shares`` (largest remainder).

    Each entity gets ``floor(cap × share)``; the tonnes left over go one each to the largest
    fractional remainders (ties to the earlier row). The result sums to ``cap`` exactly.
    """
    shares = np.asarray(shares, dtype=float)
    if shares.size == 0 or not np.isclose(shares.sum(), 1.0, rtol=0, atol=1e-9):
        raise InputDataError(f"shares must sum to 1 (got {shares.sum():.12g})")
    quota = cap * shares
    base = np.floor(quota).astype(np.int64)
    left = int(cap - base.sum())
    if left < 0 or left > shares.size:
        raise InputDataError(f"largest remainder: {left} tonnes left for {shares.size} entities")
    order = np.argsort(-(quota - base), kind="stable")
    base[order[:left]] += 1
    return base


def _column(table: pd.DataFrame, column: str, who: pd.Index, what: str) -> np.ndarray:
    if column not in table:
        raise InputDataError(f"the {what} needs a column {column!r}")
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(values)
    if bad.any():
        raise InputDataError(
            f"entity {who[bad][0]!r}: {column} {table[column].iloc[int(np.flatnonzero(bad)[0])]!r}"
            " is not a number"
        )
    return values


def _non_negative(values: np.ndarray, who: pd.Index, column: str) -> None:
    neg = values < 0
    if neg.any():
        raise InputDataError(
            f"entity {who[neg][0]!r}: {column} {values[neg][0]:g} is negative; a base cannot be "
            "negative"
        )
    zero = values == 0
    if zero.any():
        names = ", ".join(repr(x) for x in who[zero][:5])
        warnings.warn(
            f"{int(zero.sum())} entit{'y has' if zero.sum() == 1 else 'ies have'} a zero "
            f"{column} ({names}): new entrant(s), allocated nothing by this method",
            NewEntrantWarning,
            stacklevel=3,
        )


def historical_shares(table: pd.DataFrame, base: str = "base_t") -> np.ndarray:
    """Grandfathering shares from historical emissions (column ``base``, t)."""
    b = _column(table, base, table.index, "historical method")
    _non_negative(b, table.index, base)
    if b.sum() <= 0:
        raise InputDataError(f"every {base} is zero: nothing to allocate by history")
    return b / b.sum()


def benchmark_shares(
    table: pd.DataFrame,
    activity: str = "activity",
    benchmark: str = "benchmark_t_per_unit",
    benchmarks: dict[str, float] | None = None,
    sector: str = "sector",
) -> np.ndarray:
    """Benchmark (intensity) shares ``A_i b_i / Σ A b``.

    The benchmark comes from the column ``benchmark`` or, per ``sector``, from ``benchmarks``.
    """
    a = _column(table, activity, table.index, "benchmark method")
    if benchmarks is not None:
        if sector not in table:
            raise InputDataError(f"sector benchmarks need a column {sector!r}")
        missing = sorted(set(table[sector]) - set(benchmarks))
        if missing:
            raise InputDataError(f"no benchmark intensity for sector(s) {missing}")
        b = table[sector].map(benchmarks).to_numpy(float)
    else:
        b = _column(table, benchmark, table.index, "benchmark method")
    if (b < 0).any():
        raise InputDataError(f"entity {table.index[b < 0][0]!r}: negative benchmark intensity")
    _non_negative(a, table.index, activity)
    raw = a * b
    if raw.sum() <= 0:
        raise InputDataError("activity × benchmark is zero for every entity")
    return raw / raw.sum()


def entropy_weights(x: np.ndarray, directions: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Entropy weights of indicator columns and the proportions ``p`` (module docstring).

    Parameters
    ----------
    x : array (n entities, m indicators)
    directions : list of "+" / "-" per indicator

    Returns
    -------
    (w, p)
        ``w`` (m,) summing to 1 and ``p`` (n, m) with columns summing to 1.
    """
    x = np.asarray(x, dtype=float)
    n, m = x.shape
    if n < 2:
        raise InputDataError("the entropy method needs at least two entities")
    if len(directions) != m or any(d not in ("+", "-") for d in directions):
        raise ConfigError(f"directions must be '+' or '-' for each of {m} indicators")
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = hi - lo
    flat = span == 0
    if flat.all():
        raise InputDataError("every indicator is the same for all entities: no information")
    with np.errstate(invalid="ignore", divide="ignore"):
        xp = np.where(np.array(directions) == "+", (x - lo) / span, (hi - x) / span)
    xp[:, flat] = 1.0  # a constant indicator carries no information: e = 1, w = 0
    p = xp / xp.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0.0)
    e = -plogp.sum(axis=0) / np.log(n)
    d = 1.0 - e
    return d / d.sum(), p


def entropy_shares(table: pd.DataFrame, indicators: dict[str, str]) -> tuple[np.ndarray, pd.Series]:
    """Entropy-weight shares ``Σ_j w_j p_ij`` from indicator columns (name → "+"/"-")."""
    if not indicators:
        raise ConfigError("the entropy method needs at least one indicator column")
    cols = list(indicators)
    x = np.column_stack([_column(table, c, table.index, "entropy method") for c in cols])
    w, p = entropy_weights(x, [indicators[c] for c in cols])
    shares = p @ w
    zero = shares == 0
    if zero.any():
        warnings.warn(
            f"entity {table.index[zero][0]!r} is the worst in every informative indicator and "
            "gets no allowance by the entropy method",
            NewEntrantWarning,
            stacklevel=2,
        )
    return shares, pd.Series(w, index=cols, name="weight")


def allocate(
    table: pd.DataFrame,
    cap_t: float,
    method: str,
    *,
    base: str = "base_t",
    activity: str = "activity",
    benchmark: str = "benchmark_t_per_unit",
    benchmarks: dict[str, float] | None = None,
    indicators: dict[str, str] | None = None,
) -> Allocation:
    """Allocate a CO2 cap (whole tonnes) to the entities (rows, indexed by entity id).

    Parameters
    ----------
    table : DataFrame
        One row per entity; the columns the method needs (module docstring).
    cap_t : float
        The cap in tonnes of CO2; a whole number ≥ 0.
    method : {"historical", "benchmark", "entropy"}

    Returns
    -------
    Allocation
    """
    if not np.isfinite(cap_t) or cap_t < 0 or float(cap_t) != int(cap_t):
        raise ConfigError(f"the cap must be a whole number of tonnes >= 0 (got {cap_t!r})")
    if table.index.has_duplicates:
        raise InputDataError(f"entity {table.index[table.index.duplicated()][0]!r} appears twice")
    cap = int(cap_t)
    weights = None
    if method == "historical":
        shares = historical_shares(table, base)
    elif method == "benchmark":
        shares = benchmark_shares(table, activity, benchmark, benchmarks)
    elif method == "entropy":
        shares, weights = entropy_shares(table, indicators or {})
    else:
        raise ConfigError(f"allocation method {method!r} is not historical, benchmark or entropy")
    out = pd.DataFrame(index=table.index)
    out["share"] = shares
    out["quota_t"] = cap * shares
    out["allocation_t"] = largest_remainder(cap, shares)
    return Allocation(out, method, cap, weights)


def carbon_account(allocation: Allocation, posterior_t: pd.Series) -> pd.DataFrame:
    """Allocation against posterior emissions: ``surplus_t = allocation − posterior`` (t).

    ``posterior_t`` is indexed by entity; entities without a posterior value (e.g. stacks that
    have no unknown of their own in the inversion) get NaN and ``compared = False``.
    """
    out = allocation.table.copy()
    post = posterior_t.reindex(out.index)
    out["posterior_t"] = post
    out["surplus_t"] = out["allocation_t"] - post
    out["status"] = np.where(
        post.isna(), "not compared", np.where(out["surplus_t"] >= 0, "surplus", "deficit")
    )
    out["compared"] = post.notna()
    return out
