"""Carbon-peak scenarios with the Kaya identity, a seeded Monte Carlo band and an SVG plot.

``CO2 = P × (G/P) × (E/G) × (C/E)``: population ``P`` (10^4 persons), GDP per capita ``G/P``
(yuan per person, constant prices), energy intensity ``E/G`` (tce per 10^4 yuan) and the carbon
intensity of energy ``C/E`` (t CO2 per tce); then ``CO2 [t] = P · (G/P) · (E/G) · (C/E)``.

Each factor grows along a path of annual rates (% per year, per year range) set per scenario.
The Monte Carlo band shifts each factor's whole growth path by ``δ ~ N(0, σ)`` percentage points
per draw (a systematic error of the assumed path, not year-to-year noise, which would average
out), seeded.

The peak is the largest value over the horizon: ``peaked`` inside it, ``peaked at or before the
base year`` when the path falls from the start, and ``no peak by <end>`` when the largest value
is the last year (the path may still rise).
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.species import CO2

__all__ = [
    "FACTORS",
    "PeakScenario",
    "growth_path",
    "kaya_trajectory",
    "find_peak",
    "project_scenarios",
    "monte_carlo_band",
    "stirpat_fit",
    "peak_svg",
]

#: The Kaya factors, in the order of the identity, with their units.
FACTORS = {
    "population": "10^4 persons",
    "gdp_per_capita": "yuan per person (constant prices)",
    "energy_intensity": "tce per 10^4 yuan",
    "carbon_intensity": f"t {CO2.name} per tce",
}


@dataclass(frozen=True)
class PeakScenario:
    """One scenario: annual growth rates (%) of each factor per year, from ``base_year + 1``."""

    name: str
    rates: dict[str, np.ndarray]


def growth_path(spec: dict, base_year: int, end_year: int, factor: str = "") -> np.ndarray:
    """Annual growth rates (%) for the years ``base_year + 1 … end_year`` from a path spec.

    ``spec`` maps year ranges to rates, e.g. ``{"2021-2025": 5.5, "2026-2030": 4.5}``, or a
    single year ``{"2031": 3.0}``; every year of the horizon must be covered exactly once.
    """
    years = np.arange(base_year + 1, end_year + 1)
    rates = np.full(years.size, np.nan)
    for key, rate in spec.items():
        text = str(key).strip()
        parts = text.split("-")
        try:
            first, last = (int(parts[0]), int(parts[-1]))
        except ValueError:
            raise ConfigError(
                f"{factor}: year range {key!r} is not 'YYYY' or 'YYYY-YYYY'"
            ) from None
        if first > last:
            raise ConfigError(f"{factor}: year range {key!r} runs backwards")
        sel = (years >= first) & (years <= last)
        if np.any(~np.isnan(rates[sel])):
            raise ConfigError(f"{factor}: year range {key!r} overlaps another range")
        try:
            rates[sel] = float(rate)
        except (TypeError, ValueError):
            raise ConfigError(f"{factor}: growth rate {rate!r} for {key} is not a number") from None
    if np.isnan(rates).any():
        missing = years[np.isnan(rates)]
        raise ConfigError(
            f"{factor}: no growth rate for year(s) {missing[0]}"
            + (f"–{missing[-1]}" if missing.size > 1 else "")
        )
    if np.any(rates <= -100):
        raise ConfigError(f"{factor}: a growth rate of -100 % or less would end the factor")
    return rates


def kaya_trajectory(
    base: dict[str, float], rates: dict[str, np.ndarray], base_year: int
) -> pd.DataFrame:
    """Kaya factors and CO2 for ``base_year`` and every year of the rates.

    Returns a table indexed by year with the four factors and ``co2_t`` (tonnes).
    """
    n = len(next(iter(rates.values())))
    years = np.arange(base_year, base_year + n + 1)
    out = pd.DataFrame(index=pd.Index(years, name="year"))
    co2 = np.ones(years.size)
    for f in FACTORS:
        if f not in base or not np.isfinite(base[f]) or base[f] <= 0:
            raise ConfigError(f"the base value of {f} ({FACTORS[f]}) must be a positive number")
        path = base[f] * np.concatenate([[1.0], np.cumprod(1.0 + np.asarray(rates[f]) / 100.0)])
        out[f] = path
        co2 *= path
    out["co2_t"] = co2
    return out


def find_peak(years: np.ndarray, values: np.ndarray, rtol: float = 1e-12) -> dict:
    """Peak year, value and status of one trajectory (module docstring).

    A plateau peaks in its first year. ``status`` is ``peaked``, ``peaked at or before the base
    year`` or ``no peak by <end>`` (then ``peak_year`` is None and ``peak_value`` is the last
    value).
    """
    values = np.asarray(values, dtype=float)
    top = values.max()
    first = int(np.flatnonzero(values >= top * (1 - rtol))[0])
    if first == values.size - 1 and values.size > 1:
        return {
            "peak_year": None,
            "peak_value": float(values[-1]),
            "status": f"no peak by {int(years[-1])}",
        }
    status = "peaked at or before the base year" if first == 0 else "peaked"
    return {"peak_year": int(years[first]), "peak_value": float(values[first]), "status": status}


def _scenarios(spec: dict) -> tuple[dict, int, int, list[PeakScenario], dict]:
    try:
        base_year = int(spec["base_year"])
        end_year = int(spec["end_year"])
        base = {k: float(v) for k, v in spec["base"].items()}
        scen = spec["scenarios"]
    except KeyError as exc:
        raise ConfigError(f"the peak scenario file lacks {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"the peak scenario file has a bad base value: {exc}") from None
    if end_year <= base_year:
        raise ConfigError(f"end_year {end_year} must be after base_year {base_year}")
    unknown = set(base) - set(FACTORS)
    if unknown:
        raise ConfigError(f"unknown Kaya factor(s) {sorted(unknown)}; use {list(FACTORS)}")
    scenarios = []
    for name, paths in scen.items():
        missing = [f for f in FACTORS if f not in paths]
        if missing:
            raise ConfigError(f"scenario {name!r} lacks growth paths for {missing}")
        rates = {f: growth_path(paths[f], base_year, end_year, f"{name}/{f}") for f in FACTORS}
        scenarios.append(PeakScenario(str(name), rates))
    sigma = {f: float(spec.get("uncertainty_pct_points", {}).get(f, 0.0)) for f in FACTORS}
    if any(s < 0 for s in sigma.values()):
        raise ConfigError("uncertainties (percentage points of the growth rates) must be >= 0")
    return base, base_year, end_year, scenarios, sigma


def project_scenarios(
    spec: dict, n_draws: int = 1000, seed: int = 20240, band: tuple[float, float] = (5, 95)
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Project every scenario of a spec and its Monte Carlo band.

    Parameters
    ----------
    spec : dict
        ``base_year``, ``end_year``, ``base`` (the four factors in :data:`FACTORS` units),
        ``scenarios`` (name → factor → {year range: % per year}) and optionally
        ``uncertainty_pct_points`` (factor → 1σ of its growth rate, percentage points).
    n_draws, seed : int
        Monte Carlo draws (0 = no band) and the seed.
    band : (low, high)
        Percentiles of the band.

    Returns
    -------
    (trajectories, peaks)
        ``trajectories``: long table scenario × year with the factors, ``co2_mt`` and
        ``co2_mt_low``/``co2_mt_high``; ``peaks``: per scenario ``peak_year``, ``peak_mt``,
        ``status``, the band of the peak value and year, and the share of draws that peak
        within the horizon.
    """
    base, base_year, _, scenarios, sigma = _scenarios(spec)
    rng = np.random.default_rng(seed)
    traj, peaks = [], []
    for sc in scenarios:
        t = kaya_trajectory(base, sc.rates, base_year)
        years = t.index.to_numpy()
        t["co2_mt"] = t["co2_t"] / 1e6
        peak = find_peak(years, t["co2_t"].to_numpy())
        row = {
            "scenario": sc.name,
            "peak_year": peak["peak_year"],
            "peak_mt": peak["peak_value"] / 1e6,
            "status": peak["status"],
        }
        if n_draws > 0:
            draws = monte_carlo_band(base, sc.rates, base_year, sigma, n_draws, rng)
            t["co2_mt_low"] = np.percentile(draws, band[0], axis=0) / 1e6
            t["co2_mt_high"] = np.percentile(draws, band[1], axis=0) / 1e6
            dp = [find_peak(years, d) for d in draws]
            pv = np.array([p["peak_value"] for p in dp]) / 1e6
            py = np.array([np.nan if p["peak_year"] is None else p["peak_year"] for p in dp])
            row.update(
                {
                    "peak_mt_low": float(np.percentile(pv, band[0])),
                    "peak_mt_high": float(np.percentile(pv, band[1])),
                    "peak_year_low": _nan_percentile(py, band[0]),
                    "peak_year_high": _nan_percentile(py, band[1]),
                    "share_peaking_in_horizon": float(np.mean(~np.isnan(py))),
                    "n_draws": n_draws,
                    "seed": seed,
                }
            )
        t.insert(0, "scenario", sc.name)
        traj.append(t.reset_index())
        peaks.append(row)
    return pd.concat(traj, ignore_index=True), pd.DataFrame(peaks)


def _nan_percentile(x: np.ndarray, q: float) -> float:
    ok = x[~np.isnan(x)]
    return float(np.percentile(ok, q, method="nearest")) if ok.size else float("nan")


def monte_carlo_band(
    base: dict[str, float],
    rates: dict[str, np.ndarray],
    base_year: int,
    sigma: dict[str, float],
    n_draws: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """CO2 trajectories (t) of ``n_draws`` draws, shape ``(n_draws, n_years + 1)``."""
    n_years = len(next(iter(rates.values())))
    log_co2 = np.zeros((n_draws, n_years + 1))
    for f in FACTORS:
        shift = rng.normal(0.0, sigma.get(f, 0.0), size=(n_draws, 1))
        r = np.asarray(rates[f])[None, :] + shift
        r = np.maximum(r, -99.0)  # a draw cannot drive a factor to zero
        log_path = np.concatenate(
            [np.zeros((n_draws, 1)), np.cumsum(np.log1p(r / 100.0), axis=1)], axis=1
        )
        log_co2 += np.log(base[f]) + log_path
    return np.exp(log_co2)


def stirpat_fit(history: pd.DataFrame, drivers: list[str], target: str = "co2_t") -> pd.Series:
    """STIRPAT regression ``ln C = a + Σ b_k ln X_k`` on a user's historical series (OLS).

    Fitted on the four Kaya factors alone it is an identity (all b = 1); it is useful with
    drivers that are not factors of C (e.g. urbanisation, industry share). Returns the
    coefficients (``const`` and one per driver) with ``r2``.
    """
    cols = [target, *drivers]
    missing = [c for c in cols if c not in history]
    if missing:
        raise InputDataError(f"the STIRPAT history lacks column(s) {missing}")
    data = history[cols].astype(float)
    if (data <= 0).to_numpy().any():
        raise InputDataError("STIRPAT takes logarithms: every value must be positive")
    if len(data) <= len(drivers) + 1:
        raise InputDataError(
            f"STIRPAT with {len(drivers)} drivers needs more than {len(drivers) + 1} years"
        )
    y = np.log(data[target].to_numpy())
    x = np.column_stack([np.ones(len(data)), np.log(data[drivers].to_numpy())])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    r2 = 1.0 - resid @ resid / ((y - y.mean()) @ (y - y.mean()))
    return pd.Series([*coef, r2], index=["const", *drivers, "r2"])


_COLOURS = ("#1b6ca8", "#2a9d3f", "#d1495b", "#8e6c8a", "#e09f3e", "#555555")


def peak_svg(
    trajectories: pd.DataFrame,
    peaks: pd.DataFrame,
    title: str = f"{CO2.name} peak scenarios (Kaya identity)",
    width: int = 720,
    height: int = 400,
) -> str:
    """A self-contained SVG line chart: CO2 (Mt) per scenario with its band and peak marker."""
    labels = {}
    for name in trajectories["scenario"].unique():
        peak = peaks.loc[peaks["scenario"] == name].iloc[0]
        if peak["peak_year"] is not None and not pd.isna(peak["peak_year"]):
            labels[name] = f"{name} (peak {int(peak['peak_year'])})"
        else:
            labels[name] = f"{name} ({peak['status']})"
    # the legend sits right of the plot: make room for its longest label (~7 px a character)
    right = int(min(width / 2, 45 + 7 * max(len(t) for t in labels.values())))
    left, top, bottom = 70, 40, 50
    pw, ph = width - left - right, height - top - bottom
    years = trajectories["year"].to_numpy()
    y0, y1 = int(years.min()), int(years.max())
    cols = [c for c in ("co2_mt", "co2_mt_low", "co2_mt_high") if c in trajectories]
    vmax = float(np.nanmax(trajectories[cols].to_numpy())) * 1.05
    vmin = min(0.0, float(np.nanmin(trajectories[cols].to_numpy())))

    def sx(year: float) -> float:
        return left + (year - y0) / max(y1 - y0, 1) * pw

    def sy(v: float) -> float:
        return top + (1 - (v - vmin) / (vmax - vmin)) * ph

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="22" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="black"/>',
    ]
    for tick in _ticks(vmin, vmax):
        y = sy(tick)
        parts.append(
            f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>'
        )
    step = max(1, int(np.ceil((y1 - y0) / 10)))
    for year in range(y0, y1 + 1, step):
        x = sx(year)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 4}" stroke="black"/>'
            f'<text x="{x:.1f}" y="{top + ph + 18}" text-anchor="middle">{year}</text>'
        )
    parts.append(
        f'<text x="16" y="{top + ph / 2:.1f}" transform="rotate(-90 16 {top + ph / 2:.1f})" '
        f'text-anchor="middle">{CO2.name} (Mt)</text>'
    )
    for k, (name, t) in enumerate(trajectories.groupby("scenario", sort=False)):
        colour = _COLOURS[k % len(_COLOURS)]
        if "co2_mt_low" in t:
            pts = [
                f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(t["year"], t["co2_mt_high"], strict=True)
            ]
            pts += [
                f"{sx(a):.1f},{sy(b):.1f}"
                for a, b in zip(t["year"][::-1], t["co2_mt_low"][::-1], strict=True)
            ]
            parts.append(
                f'<polygon points="{" ".join(pts)}" fill="{colour}" fill-opacity="0.15" '
                'stroke="none"/>'
            )
        line = " ".join(
            f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(t["year"], t["co2_mt"], strict=True)
        )
        parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        peak = peaks.loc[peaks["scenario"] == name].iloc[0]
        label = escape(labels[name])
        if peak["peak_year"] is not None and not pd.isna(peak["peak_year"]):
            px, py = sx(float(peak["peak_year"])), sy(float(peak["peak_mt"]))
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{colour}"/>')
        ly = top + 16 + 18 * k
        parts.append(
            f'<line x1="{left + pw + 10}" y1="{ly - 4}" x2="{left + pw + 28}" y2="{ly - 4}" '
            f'stroke="{colour}" stroke-width="2"/>'
            f'<text x="{left + pw + 32}" y="{ly}">{label}</text>'
        )
    if "co2_mt_low" in trajectories:
        parts.append(
            f'<text x="{left}" y="{height - 8}" font-size="11" fill="#555">shaded: Monte Carlo '
            "band of each scenario (percentiles in the table); 非官方测算 unofficial</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    raw = (hi - lo) / n
    mag = 10 ** np.floor(np.log10(raw)) if raw > 0 else 1.0
    step = min((s * mag for s in (1, 2, 5, 10) if s * mag >= raw), default=mag)
    start = np.ceil(lo / step) * step
    return [float(round(v, 10)) for v in np.arange(start, hi + step * 1e-9, step)]
