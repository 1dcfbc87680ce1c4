"""The fit of satellite columns, overpass by overpass: what the inversion's outputs say about
the column observations it assimilated (``column_observations.csv``, ``overpass_stats.csv`` and
the ``columns`` section of ``inversion_metrics.json``).

Each overpass has a planar background ``a + b x + c y`` that the assimilation marginalises
(:mod:`gridcarbon.inversion.columns`).  Here it is estimated explicitly, by generalised least
squares with the overpass's superobservation error covariance ``C`` (retrieval precision²/n,
representativeness and the spatially correlated air-mass-factor error), once for the prior and
once for the posterior modelled columns:

* background ``b = X β``, ``β = (Xᵀ C⁻¹ X)⁻¹ Xᵀ C⁻¹ (y − m)`` (``m`` the modelled column, prior
  or posterior; ``X`` the plane's design, centred on the overpass's mean position and scaled
  per 100 km);
* residual ``r = y − m − b``;
* ``χ² = rᵀ C⁻¹ r``: exactly the sum of squares of the overpass's assimilated (whitened,
  plane-free) rows, so the reduced χ² ``χ²/(n − 3)`` of the posterior is the overpass's share
  of the inversion's own χ² (not corrected for the degrees of freedom the state takes);
* RMS ``√mean(r²)``, bias ``mean(m + b − y)`` (model minus observation, as ``station_stats``;
  the plane takes up most of a uniform offset, so the bias is small unless the errors are
  strongly correlated), and the correlation of the observed enhancement ``y − b`` with ``m``.

Numbers only: no file is read or written here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg as sla

from gridcarbon.inversion.columns import plane_design

__all__ = [
    "SUPEROBSERVATION_COLUMNS",
    "OVERPASS_COLUMNS",
    "plane_fit",
    "overpass_fit_tables",
    "column_summary",
]

#: Columns of ``column_observations.csv`` (one row per superobservation).
SUPEROBSERVATION_COLUMNS = (
    "observation_type",
    "product",
    "species",
    "unit",
    "overpass",
    "time",
    "lon",
    "lat",
    "x",
    "y",
    "box_x_min",
    "box_y_min",
    "box_x_max",
    "box_y_max",
    "n_pixels",
    "used",
    "observed",
    "prior",
    "posterior",
    "prior_background",
    "background",
    "prior_fit",
    "posterior_fit",
    "prior_residual",
    "residual",
    "sigma",
    "sigma_retrieval",
    "sigma_representativeness",
    "sigma_amf",
)

#: Columns of ``overpass_stats.csv`` (one row per assimilated overpass).
OVERPASS_COLUMNS = (
    "observation_type",
    "product",
    "species",
    "unit",
    "overpass",
    "time",
    "n_superobservations",
    "n_pixels",
    "n_contrasts",
    "mean_observed",
    "mean_observed_enhancement",
    "mean_prior",
    "mean_posterior",
    "prior_rms",
    "posterior_rms",
    "prior_bias",
    "posterior_bias",
    "prior_chi2",
    "posterior_chi2",
    "prior_reduced_chi2",
    "posterior_reduced_chi2",
    "prior_r",
    "posterior_r",
    "background_offset",
    "background_gradient_x_per_100km",
    "background_gradient_y_per_100km",
    "background_lon",
    "background_lat",
)


def plane_fit(
    x: np.ndarray,
    y: np.ndarray,
    departure: np.ndarray,
    covariance: np.ndarray,
    cholesky: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """The generalised-least-squares plane of ``departure`` (observed − modelled) over the
    superobservations at ``(x, y)`` (m) with error covariance ``covariance`` (``cholesky``: its
    lower Cholesky factor, when already computed).

    Returns
    -------
    beta : ndarray ``(3,)``
        Offset at the mean position (observation units) and gradients along x and y per
        100 km.
    residual : ndarray ``(n,)``
        ``departure − X β``.
    chi2 : float
        ``rᵀ C⁻¹ r``.
    """
    X = plane_design(np.asarray(x, float), np.asarray(y, float))
    d = np.asarray(departure, float)
    Lc = np.linalg.cholesky(np.asarray(covariance, float)) if cholesky is None else cholesky
    Xw = sla.solve_triangular(Lc, X, lower=True)
    dw = sla.solve_triangular(Lc, d, lower=True)
    beta, *_ = np.linalg.lstsq(Xw, dw, rcond=None)
    residual = d - X @ beta
    rw = sla.solve_triangular(Lc, residual, lower=True)
    return beta, residual, float(rw @ rw)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def overpass_fit_tables(
    superobs: pd.DataFrame,
    covariance: Mapping[str, np.ndarray],
    *,
    observation_type: str,
    product: str,
    species: str,
    unit: str,
    box: tuple[float, float, float] | None = None,
    unproject: Callable[[Any, Any], tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The superobservations with their fit, and the fit statistics of each overpass.

    Parameters
    ----------
    superobs : DataFrame
        One row per superobservation (:meth:`ColumnObservations.superobservations` with an
        increment): ``overpass``, ``x``, ``y`` (m), ``lon``, ``lat``, ``time`` or
        ``pixel_time`` (UTC), ``n_pixels``, ``observed``, ``prior``, ``posterior`` (modelled,
        no background), ``sigma_retrieval``, ``sigma_representativeness``, ``sigma_amf``,
        ``used``.
    covariance : mapping
        Overpass label → error covariance of its superobservations, in their row order (the
        assimilated overpasses; others are listed with ``used`` False and no fit).
    observation_type, product, species, unit : str
        Written into every row.
    box : (x_min, y_max, size), optional
        The grid's west and north edges and the superobservation square's edge, m: the
        ``box_*`` columns (the square each superobservation averages).
    unproject : callable, optional
        Grid x, y → lon, lat (the plane's centre in lon/lat).

    Returns
    -------
    superobservations : DataFrame
        :data:`SUPEROBSERVATION_COLUMNS`; ``prior_fit``/``posterior_fit`` are the modelled
        column plus its own fitted plane, ``residual`` is observed − posterior fit and
        ``sigma`` the superobservation's total 1-σ (``√diag C``).
    overpasses : DataFrame
        :data:`OVERPASS_COLUMNS` (see the module doc).
    """
    so = superobs.reset_index(drop=True).copy()
    n = len(so)
    so_cols = list(SUPEROBSERVATION_COLUMNS)
    if n == 0:
        return pd.DataFrame(columns=so_cols), pd.DataFrame(columns=list(OVERPASS_COLUMNS))
    if "pixel_time" in so.columns:
        so["time"] = so["pixel_time"]
    so["observation_type"] = observation_type
    so["product"] = product
    so["species"] = species
    so["unit"] = unit
    if "used" not in so.columns:
        so["used"] = so["overpass"].isin(list(covariance))
    for c in ("prior_background", "background", "sigma"):
        so[c] = np.nan
    x, y = so["x"].to_numpy(float), so["y"].to_numpy(float)
    if box is not None:
        x0, y1, size = box
        bx = np.floor((x - x0) / size)
        by = np.floor((y1 - y) / size)
        so["box_x_min"] = x0 + bx * size
        so["box_x_max"] = x0 + (bx + 1) * size
        so["box_y_max"] = y1 - by * size
        so["box_y_min"] = y1 - (by + 1) * size
    else:
        for c in ("box_x_min", "box_y_min", "box_x_max", "box_y_max"):
            so[c] = np.nan
    obs = so["observed"].to_numpy(float)
    prior = so["prior"].to_numpy(float)
    post = so["posterior"].to_numpy(float)
    times = pd.to_datetime(so["time"])
    labels = so["overpass"].astype(str).to_numpy()
    rows = []
    for label in dict.fromkeys(labels):  # in the order of the superobservations
        C = covariance.get(label)
        if C is None:
            continue
        idx = np.flatnonzero(labels == label)
        if C.shape != (idx.size, idx.size):
            raise ValueError(
                f"overpass {label!r}: {idx.size} superobservations but a covariance of {C.shape}"
            )
        Lc = np.linalg.cholesky(C)
        fits = {
            name: plane_fit(x[idx], y[idx], obs[idx] - model[idx], C, Lc)
            for name, model in (("prior", prior), ("posterior", post))
        }
        so.loc[idx, "prior_background"] = obs[idx] - prior[idx] - fits["prior"][1]
        so.loc[idx, "background"] = obs[idx] - post[idx] - fits["posterior"][1]
        so.loc[idx, "sigma"] = np.sqrt(np.diag(C))
        beta = fits["posterior"][0]
        bg = so.loc[idx, "background"].to_numpy(float)
        dof = idx.size - 3
        cx, cy = float(x[idx].mean()), float(y[idx].mean())
        lon, lat = unproject(cx, cy) if unproject is not None else (np.nan, np.nan)
        row: dict[str, Any] = {
            "observation_type": observation_type,
            "product": product,
            "species": species,
            "unit": unit,
            "overpass": label,
            "time": times.iloc[idx].mean(),
            "n_superobservations": int(idx.size),
            "n_pixels": int(so["n_pixels"].to_numpy()[idx].sum()),
            "n_contrasts": int(dof),
            "mean_observed": float(obs[idx].mean()),
            "mean_observed_enhancement": float((obs[idx] - bg).mean()),
            "mean_prior": float(prior[idx].mean()),
            "mean_posterior": float(post[idx].mean()),
        }
        for name in ("prior", "posterior"):
            _, r, chi2 = fits[name]
            row[f"{name}_rms"] = float(np.sqrt(np.mean(r**2)))
            row[f"{name}_bias"] = float(-r.mean())
            row[f"{name}_chi2"] = chi2
            row[f"{name}_reduced_chi2"] = chi2 / dof if dof > 0 else float("nan")
        for name, model in (("prior", prior), ("posterior", post)):
            own_bg = so.loc[idx, f"{'prior_' if name == 'prior' else ''}background"]
            row[f"{name}_r"] = _corr(obs[idx] - own_bg.to_numpy(float), model[idx])
        row["background_offset"] = float(beta[0])
        row["background_gradient_x_per_100km"] = float(beta[1])
        row["background_gradient_y_per_100km"] = float(beta[2])
        row["background_lon"] = float(np.asarray(lon))
        row["background_lat"] = float(np.asarray(lat))
        rows.append(row)
    so["prior_fit"] = prior + so["prior_background"].to_numpy(float)
    so["posterior_fit"] = post + so["background"].to_numpy(float)
    so["prior_residual"] = obs - so["prior_fit"].to_numpy(float)
    so["residual"] = obs - so["posterior_fit"].to_numpy(float)
    stats = pd.DataFrame(rows, columns=list(OVERPASS_COLUMNS))
    return so[so_cols], stats


def _finite(v: float) -> float | None:
    """A JSON-ready number: None for NaN or infinity."""
    v = float(v)
    return v if np.isfinite(v) else None


def column_summary(
    superobs: pd.DataFrame, overpasses: pd.DataFrame, counts: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """The ``columns`` section of the inversion metrics: counts, and figures pooled over the
    assimilated overpasses — the reduced χ² ``Σχ²/Σ(n − 3)`` over every type, and per
    observation type (its unit) the RMS residual, bias and correlation over its
    superobservations.

    ``counts``: each column type's pixel and overpass counts (``ColumnMatch.counts``), summed.
    """
    used = superobs[superobs["used"].astype(bool)] if len(superobs) else superobs
    dof = int(overpasses["n_contrasts"].sum()) if len(overpasses) else 0
    out: dict[str, Any] = {
        "n_observation_types": int(superobs["observation_type"].nunique()) if len(superobs) else 0,
        "n_overpasses": len(overpasses),
        "n_superobservations": len(used),
        "n_contrasts": dof,
    }
    for key in ("n_pixels", "n_pixels_used", "n_overpasses_dropped"):
        out[key] = int(sum(int(c.get(key, 0)) for c in counts))
    for name in ("prior", "posterior"):
        chi2 = float(overpasses[f"{name}_chi2"].sum()) if len(overpasses) else float("nan")
        out[f"{name}_reduced_chi2"] = _finite(chi2 / dof) if dof > 0 else None
    by_type = {}
    for kind, g in used.groupby("observation_type", sort=True):
        ov = overpasses[overpasses["observation_type"] == kind]
        o = g["observed"].to_numpy(float)
        entry: dict[str, Any] = {
            "species": str(g["species"].iloc[0]),
            "unit": str(g["unit"].iloc[0]),
            "product": str(g["product"].iloc[0]),
            "n_overpasses": len(ov),
            "n_superobservations": len(g),
        }
        for name, fit, bg in (
            ("prior", "prior_fit", "prior_background"),
            ("posterior", "posterior_fit", "background"),
        ):
            r = o - g[fit].to_numpy(float)
            entry[f"{name}_rms"] = _finite(np.sqrt(np.mean(r**2)))
            entry[f"{name}_bias"] = _finite(-r.mean())
            entry[f"{name}_r"] = _finite(_corr(o - g[bg].to_numpy(float), g[name].to_numpy(float)))
        by_type[str(kind)] = entry
    out["by_type"] = by_type
    return out
