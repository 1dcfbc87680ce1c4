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

With the columns' wind-speed term as two scales (``errors.column_wind_speed_error``: ``C``
carries ``σ_w² (m_u m_uᵀ + m_r m_rᵀ)``, ``m_u`` and ``m_r`` the prior enhancement from urban
and from rural sources), each overpass also gets the **posterior of its two scales**, which the
assimilation integrated out (:func:`transport_scales`): the same numbers the two scales would
have as unknowns of the state, one pair per overpass, without adding them to it.

With ``inversion.columns.no2_conversion_check`` or ``truncation_check`` the columns also get
the **evidence of their innovations for another operator** (:func:`innovation_evidence`), with
no truth: whether the data hold what the other NO2/NOx conversion, or a longer truncation,
adds to the modelled columns.

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
    "TRANSPORT_SCALE_COLUMNS",
    "PERSISTENCE_Z",
    "plane_fit",
    "transport_scales",
    "transport_scale_persistence",
    "persistence_warnings",
    "overpass_fit_tables",
    "column_summary",
    "innovation_evidence",
    "EVIDENCE_MIN_OVERPASSES",
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
    "urban_transport_scale",
    "urban_transport_scale_std",
    "rural_transport_scale",
    "rural_transport_scale_std",
    "transport_scale_prior_std",
)

#: The superobservation columns of the prior enhancement from urban and from rural sources
#: (``ColumnMatch.superobs``, with the wind-speed term as two scales), in the order of the
#: ``urban_transport_scale`` / ``rural_transport_scale`` columns of :data:`OVERPASS_COLUMNS`.
TRANSPORT_SCALE_COLUMNS = ("prior_urban", "prior_rural")


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


def transport_scales(
    x: np.ndarray,
    y: np.ndarray,
    residual: np.ndarray,
    covariance: np.ndarray,
    parts: np.ndarray,
    scale_sd: float,
    r_factor: float = 1.0,
    emission_variance: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The posterior of an overpass's relative scales of parts of its modelled enhancement,
    which its error covariance integrates out.

    The superobservations are ``y = H x + Σ_k s_k m_k + X β + ε``: scales ``s_k ~ N(0, σ²)``
    of the parts ``m_k`` (e.g. the prior enhancement from urban and from rural sources), a
    plane ``X β`` with a flat prior and ``ε ~ N(0, C₀)``; ``covariance`` is
    ``C = C₀ + σ² Σ_k m_k m_kᵀ``, as the assimilation used it (before its Desroziers factor).
    With ``Π = C⁻¹ − C⁻¹X (XᵀC⁻¹X)⁻¹ XᵀC⁻¹`` (the precision with the plane integrated out) the
    joint minimum over ``(x, s, β)`` has the ``x̂`` of the assimilation, which integrated ``s``
    and ``β`` out, and

    * ``ŝ = σ² Mᵀ Π (y − H x̂)``, ``M = [m_k]`` (not changed by a factor on the whole R);
    * ``Cov(s | y) = f (σ² I − σ⁴ Mᵀ Π M) + G H P Hᵀ Gᵀ``, ``G = σ² Mᵀ Π``, ``f`` the R
      factor, ``P`` the posterior covariance of the state: the scales' own uncertainty given
      the emissions, plus the emissions' uncertainty carried through ``ŝ``.  A factor on R
      multiplies the whole of ``C``, so the scales' prior variance is then ``f σ²``.

    Exactly what the scales would be as unknowns of the state, one set per overpass (tested
    against that formulation).

    Parameters
    ----------
    x, y : ndarray ``(n,)``
        Superobservation centres, m.
    residual : ndarray ``(n,)``
        Observed − posterior modelled column (no background), observation units.
    covariance : ndarray ``(n, n)``
        ``C``, squared observation units, with the scales' term.
    parts : ndarray ``(k, n)``
        ``m_k``, observation units.
    scale_sd : float
        ``σ``, dimensionless (> 0).
    r_factor : float
        ``f``, the factor the assimilation applied to the overpass's R (1: none).
    emission_variance : callable, optional
        ``A (k, n) → diag(A H P Hᵀ Aᵀ)`` for this overpass's rows of H; without it the σ is
        the one given the posterior emissions (a lower bound).

    Returns
    -------
    scales : ndarray ``(k,)``
        ``ŝ``, dimensionless: +0.3 is an enhancement 30 % (of the prior's part) stronger than
        modelled, as a plume-depth wind 1/1.3 × as fast would make it.
    std : ndarray ``(k,)``
        Their posterior 1-σ, dimensionless.
    """
    if not scale_sd > 0:
        raise ValueError(f"transport scales: scale_sd = {scale_sd!r}; give a 1-σ > 0")
    M = np.atleast_2d(np.asarray(parts, float))
    Lc = np.linalg.cholesky(np.asarray(covariance, float))
    X = plane_design(np.asarray(x, float), np.asarray(y, float))
    # Π through the whitened plane's orthogonal complement: Π = L⁻ᵀ (I − Q Qᵀ) L⁻¹
    Q, _ = np.linalg.qr(sla.solve_triangular(Lc, X, lower=True))
    Mw = sla.solve_triangular(Lc, M.T, lower=True)
    Mw -= Q @ (Q.T @ Mw)
    rw = sla.solve_triangular(Lc, np.asarray(residual, float), lower=True)
    rw -= Q @ (Q.T @ rw)
    var = scale_sd * scale_sd
    scales = var * (Mw.T @ rw)
    cov = r_factor * (var * np.eye(M.shape[0]) - var * var * (Mw.T @ Mw))
    std2 = np.diag(cov).copy()
    if emission_variance is not None:
        # G = σ² Mᵀ Π, row by row over the superobservations: L⁻ᵀ of the projected M
        G = var * sla.solve_triangular(Lc, Mw, lower=True, trans="T").T
        std2 += np.asarray(emission_variance(G), float)
    return scales, np.sqrt(np.clip(std2, 0.0, None))


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
    transport_scale_sd: float = 0.0,
    r_factor: Mapping[str, float] | None = None,
    emission_variance: Callable[[str, np.ndarray, np.ndarray], np.ndarray] | None = None,
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
    transport_scale_sd : float
        With the wind-speed term as two scales: their prior 1-σ (``σ_w``), and ``superobs``
        has :data:`TRANSPORT_SCALE_COLUMNS`; each overpass then gets the posterior of its
        scales (:func:`transport_scales`).  0 (the default): the scale columns are NaN.
    r_factor : mapping, optional
        Overpass label → the factor the assimilation applied to its R (default 1).
    emission_variance : callable, optional
        ``(label, idx, G) → diag(G H_idx P H_idxᵀ Gᵀ)``: the posterior emissions' variance
        carried into the scales (``idx`` the overpass's superobservations); without it their
        σ is the one given the posterior emissions.

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
    with_scales = transport_scale_sd > 0
    if with_scales:
        missing = [c for c in TRANSPORT_SCALE_COLUMNS if c not in so.columns]
        if missing:
            raise ValueError(
                f"transport scales: the superobservations have no {missing} columns; the "
                "column match carries them with the wind-speed term as two scales"
            )
        parts = so[list(TRANSPORT_SCALE_COLUMNS)].to_numpy(float).T
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
        if with_scales:
            factor = (r_factor or {}).get(label, 1.0)
            scales, std = transport_scales(
                x[idx],
                y[idx],
                obs[idx] - post[idx],
                C,
                parts[:, idx],
                transport_scale_sd,
                factor,
                None
                if emission_variance is None
                else lambda G, label=label, idx=idx: emission_variance(label, idx, G),
            )
            for name, v, sd in zip(("urban", "rural"), scales, std, strict=True):
                row[f"{name}_transport_scale"] = float(v)
                row[f"{name}_transport_scale_std"] = float(sd)
            row["transport_scale_prior_std"] = float(np.sqrt(factor) * transport_scale_sd)
        rows.append(row)
    so["prior_fit"] = prior + so["prior_background"].to_numpy(float)
    so["posterior_fit"] = post + so["background"].to_numpy(float)
    so["prior_residual"] = obs - so["prior_fit"].to_numpy(float)
    so["residual"] = obs - so["posterior_fit"].to_numpy(float)
    stats = pd.DataFrame(rows, columns=list(OVERPASS_COLUMNS))
    return so[so_cols], stats


#: |z| of a scale's mean over the period beyond which :func:`transport_scale_persistence` calls
#: it persistent: the two-sided 1 % point of a standard normal.  An a-priori level, not tuned.
PERSISTENCE_Z = 2.576


def transport_scale_persistence(overpasses: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Whether the overpasses' wind-speed scales share a sign over the period: the cue for a
    transport error every overpass shares, which scales drawn independently per overpass
    cannot hold.

    If the scales' prior fits the data and the error is independent from one overpass to the
    next, each posterior mean ``ŝ_k`` has mean 0 and variance ``f_k σ_w² − σ_k²`` (its prior
    variance less its posterior's: the law of total variance), so

    ``z = Σ ŝ_k / √Σ (f_k σ_w² − σ_k²)``

    is about standard normal; a persistent part of the error moves it away from 0 as √n.
    Data only: no truth enters.

    Parameters
    ----------
    overpasses : DataFrame
        Rows of ``overpass_stats.csv`` (:data:`OVERPASS_COLUMNS`) of one observation type;
        overpasses whose scale is empty (the wind-speed term not the two scales) are left out.

    Returns
    -------
    dict
        ``"urban"`` and ``"rural"`` (those with at least one finite scale) → ``n_overpasses``,
        ``mean`` and ``rms`` of ``ŝ`` (dimensionless), ``z`` and ``persistent``
        (``|z| > PERSISTENCE_Z``).
    """
    out: dict[str, dict[str, Any]] = {}
    if "transport_scale_prior_std" not in overpasses.columns:
        return out
    prior_var = overpasses["transport_scale_prior_std"].to_numpy(float) ** 2
    for name in ("urban", "rural"):
        s = overpasses[f"{name}_transport_scale"].to_numpy(float)
        sd = overpasses[f"{name}_transport_scale_std"].to_numpy(float)
        ok = np.isfinite(s) & np.isfinite(sd) & np.isfinite(prior_var)
        if not ok.any():
            continue
        spread = float(np.clip(prior_var[ok] - sd[ok] ** 2, 0.0, None).sum())
        z = float(s[ok].sum() / np.sqrt(spread)) if spread > 0 else float("nan")
        out[name] = {
            "n_overpasses": int(ok.sum()),
            "mean": float(s[ok].mean()),
            "rms": float(np.sqrt(np.mean(s[ok] ** 2))),
            "z": _finite(z),
            "persistent": bool(np.isfinite(z) and abs(z) > PERSISTENCE_Z),
        }
    return out


def persistence_warnings(summary: Mapping[str, Any], in_state: Sequence[str] = ()) -> list[str]:
    """One message per observation type and scale that :func:`column_summary`'s
    ``transport_scales`` calls persistent (for the log: the user's cue that the columns carry
    a transport error every overpass shares).  ``in_state``: the column transport terms the
    state already has (``StateLayout.column_terms``, e.g. ``"urban_transport_scale"``); for
    those the message says what is left once the state's term took its share."""
    messages = []
    for kind, entry in summary.get("by_type", {}).items():
        for part, cue in entry.get("transport_scales", {}).items():
            if not cue["persistent"]:
                continue
            head = (
                f"{kind}: the {part} wind-speed scales of its {cue['n_overpasses']} overpasses "
                f"share a sign (mean {cue['mean']:+.2f}, z = {cue['z']:+.1f}, beyond "
                f"±{PERSISTENCE_Z})"
            )
            if f"{part}_transport_scale" in in_state:
                messages.append(
                    f"{head} after the state's own {part} transport scale took its share: the "
                    "shared error is larger than that term's prior (state.column_wind_prior_error) "
                    "allows, or is not a scale of the modelled plume (a turned or displaced "
                    "plume); see the metrics' column_transport section"
                )
            else:
                messages.append(
                    f"{head}: a transport error every overpass shares (plume-depth winds "
                    "biased, or plumes turned alike on every overpass), which scales drawn per "
                    "overpass in R cannot hold, so the emissions near the sources take it up; "
                    "check the winds behind the column operator before reading the emissions "
                    "the columns moved.  state.column_transport_unknowns estimates a shared "
                    "scale, but the columns cannot tell it from the cities' own emissions: in "
                    "the twin with transport errors it cost the near field (docs/inversion.md, "
                    "'The shared part in the state, beside the scales')"
                )
    return messages


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
    superobservations, and with the wind-speed scales their persistence over the period
    (``transport_scales``: :func:`transport_scale_persistence`).

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
        scales = transport_scale_persistence(ov)
        if scales:
            entry["transport_scales"] = scales
        by_type[str(kind)] = entry
    out["by_type"] = by_type
    return out


#: Overpasses below which :func:`innovation_evidence` gives no verdict: its standard errors
#: come from the spread between overpasses (errors shared within one are not independent).
EVIDENCE_MIN_OVERPASSES = 5


def innovation_evidence(
    enhancement: np.ndarray,
    difference: np.ndarray,
    innovation: np.ndarray,
    overpass: np.ndarray,
) -> dict[str, Any] | None:
    """Whether the columns' prior innovations hold what another operator adds to the modelled
    columns (another NO2/NOx conversion, a longer truncation), with no truth: the
    least-squares fit of ``d = a m + b Δ`` over the assimilated rows.

    Every argument is one value per assimilated row — whitened and free of the overpasses'
    planes (``T`` of :class:`~gridcarbon.inversion.columns.ColumnMatch`), so each row has unit
    error under R:

    * ``m`` the prior modelled enhancement of the operator in use;
    * ``Δ`` the other operator's prior modelled enhancement less it;
    * ``d`` the prior innovation, observed less ``m``.

    ``a`` is the emissions' overall error (the state's to fix); ``b`` near 1 says the columns
    hold the other operator's ``Δ``, near 0 that they do not.  Standard errors are robust to
    errors shared within an overpass (cluster sandwich over overpasses, with the small-sample
    factor ``G/(G−1)·(n−1)/(n−k)`` of statsmodels' ``cov_type="cluster"``), and the 95 %
    interval uses Student's t with ``G − 1`` degrees of freedom (``G`` overpasses).

    Parameters
    ----------
    enhancement, difference, innovation : ndarray, shape (n,)
        ``m``, ``Δ`` and ``d`` (dimensionless: units of each row's error).
    overpass : ndarray, shape (n,)
        Each row's overpass label.

    Returns
    -------
    dict or None
        ``a``, ``a_se``, ``b``, ``b_se``, ``b_low``, ``b_high`` (95 %), ``n_rows``,
        ``n_overpasses``, ``rms_enhancement`` and ``rms_difference`` (of ``m`` and ``Δ``
        after the planes: 1 is one σ of R), and ``verdict``: ``"other"`` (``b ≥ 0.5``, its
        interval above 0: the columns hold most of ``Δ``), ``"partly"`` (``b < 0.5``, its
        interval above 0: a part), ``"in use"`` (the interval reaches 0 and stays below 1)
        or ``"inconclusive"`` (the interval spans 0 to 1, or fewer than
        :data:`EVIDENCE_MIN_OVERPASSES` overpasses).  None when the fit is not defined: fewer
        than two overpasses or three rows, or ``m`` and ``Δ`` collinear.
    """
    from scipy.stats import t as student_t

    X = np.column_stack([np.asarray(enhancement, float), np.asarray(difference, float)])
    d = np.asarray(innovation, float)
    labels, group = np.unique(np.asarray(overpass), return_inverse=True)
    n, k = X.shape
    n_groups = labels.size
    if n_groups < 2 or n <= k or np.linalg.matrix_rank(X) < k:
        return None
    bread = np.linalg.inv(X.T @ X)
    coef = bread @ (X.T @ d)
    scores = np.zeros((n_groups, k))
    np.add.at(scores, group, X * (d - X @ coef)[:, None])
    small_sample = n_groups / (n_groups - 1) * (n - 1) / (n - k)
    se = np.sqrt(np.diag(small_sample * bread @ (scores.T @ scores) @ bread))
    half = float(student_t.ppf(0.975, n_groups - 1)) * se[1]
    b, low, high = float(coef[1]), float(coef[1] - half), float(coef[1] + half)
    if n_groups < EVIDENCE_MIN_OVERPASSES:
        verdict = "inconclusive"
    elif low > 0:
        verdict = "other" if b >= 0.5 else "partly"
    elif high < 1:
        verdict = "in use"
    else:
        verdict = "inconclusive"
    return {
        "a": float(coef[0]),
        "a_se": float(se[0]),
        "b": b,
        "b_se": float(se[1]),
        "b_low": low,
        "b_high": high,
        "n_rows": int(n),
        "n_overpasses": int(n_groups),
        "rms_enhancement": float(np.sqrt(np.mean(X[:, 0] ** 2))),
        "rms_difference": float(np.sqrt(np.mean(X[:, 1] ** 2))),
        "verdict": verdict,
    }
