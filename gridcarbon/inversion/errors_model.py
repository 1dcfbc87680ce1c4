"""The observation-error model R: hourly measurement and transport errors, and their
aggregation to the assimilated observations (daily afternoon means or hourly values)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.errors import InputDataError

if TYPE_CHECKING:  # pragma: no cover
    from gridcarbon.inversion.system import ObservationSystem

__all__ = [
    "aggregation_matrix",
    "observation_errors",
    "ess_factor",
    "gaspari_cohn",
    "correlated_transport_covariance",
]


def aggregation_matrix(
    pairs: pd.DataFrame, used: np.ndarray, mode: str
) -> tuple[sp.csr_matrix, pd.DataFrame]:
    """Averaging matrix from hourly pairs to assimilated observations.

    ``afternoon_mean``: one observation per (station, species, Beijing day) group = the mean of its
    used hours; ``hourly``: one per used pair.
    """
    idx = np.flatnonzero(used)
    if mode == "hourly":
        A = sp.csr_matrix(
            (np.ones(idx.size), (np.arange(idx.size), idx)), shape=(idx.size, len(pairs))
        )
        return A, pairs.iloc[idx].assign(n_hours=1).reset_index(drop=True)
    g = pairs["group"].to_numpy()[idx]
    ug, inv = np.unique(g, return_inverse=True)
    counts = np.bincount(inv)
    A = sp.csr_matrix((1.0 / counts[inv], (inv, idx)), shape=(ug.size, len(pairs)))
    first = pd.Series(idx).groupby(inv).first().to_numpy()
    meta = pairs.iloc[first][["station_id", "obs_species", "day", "kind", "sector", "time"]]
    meta = meta.reset_index(drop=True).assign(n_hours=counts)
    return A, meta


def ess_factor(times_h: np.ndarray, tau_h: float) -> float:
    """``(1/n²) Σ_ij exp(-|t_i - t_j| / tau)``: variance of a mean of correlated errors / σ²."""
    t = np.asarray(times_h, float)
    n = t.size
    return float(np.exp(-np.abs(t[:, None] - t[None, :]) / tau_h).sum() / (n * n))


def observation_errors(
    system: ObservationSystem,
    pairs: pd.DataFrame,
    used: np.ndarray,
    unc: np.ndarray,
    cfg: InversionConfig,
    A: sp.csr_matrix,
    meta: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hourly measurement and model errors, and the R variances of assimilated obs."""
    kinds = pairs["kind"].to_numpy()
    species = pairs["obs_species"].to_numpy()
    meas = np.array(
        [
            cfg.errors.measurement_error.get(k, {}).get(s, np.nan)
            for k, s in zip(kinds, species, strict=True)
        ]
    )
    meas = np.where(np.isfinite(unc), unc, meas)
    if np.isnan(meas[used]).any():
        i = int(np.flatnonzero(np.isnan(meas) & used)[0])
        raise InputDataError(
            f"no measurement error for station class {kinds[i]!r}, species {species[i]}: add it "
            "to inversion.errors.measurement_error or give an uncertainty column"
        )
    floor = pairs["obs_species"].map(cfg.errors.model_error_floor).to_numpy(float)
    # with correlated transport errors the transport term is in the correlated part instead
    transport = 0.0 if cfg.errors.transport_error_correlation == "same_day" else 1.0
    model = np.sqrt(
        floor**2
        + (cfg.errors.model_error_rel * system.enhancement) ** 2
        + transport * system.direction_spread**2
    )
    hours = (pd.DatetimeIndex(pairs["time"]) - pd.Timestamp("2000-01-01")) / pd.Timedelta(hours=1)
    hours = np.asarray(hours, float)
    idx = np.flatnonzero(used)
    if cfg.errors.aggregation == "hourly":
        # inflate the model error by n / n_eff of its (station, species, day) block
        g = pairs["group"].to_numpy()[idx]
        infl = np.ones(idx.size)
        for key in np.unique(g):
            m = g == key
            n = int(m.sum())
            infl[m] = n * ess_factor(hours[idx][m], cfg.errors.model_error_time_scale_h)
        r_var = meas[idx] ** 2 + model[idx] ** 2 * infl
        return meas, model, r_var
    r_var = np.empty(A.shape[0])
    A = A.tocsr()
    for i in range(A.shape[0]):
        cols = A.indices[A.indptr[i] : A.indptr[i + 1]]
        n = cols.size
        f = ess_factor(hours[cols], cfg.errors.model_error_time_scale_h)
        r_var[i] = (meas[cols] ** 2).mean() / n + (model[cols].mean() ** 2) * f
    return meas, model, r_var


def gaspari_cohn(r_over_c: np.ndarray) -> np.ndarray:
    """The Gaspari & Cohn (1999, QJRMS 125:723, eq. 4.10) compactly supported correlation
    function of ``r / c``: 1 at 0, 0 from 2 on, positive definite in up to three dimensions."""
    z = np.abs(np.asarray(r_over_c, dtype=np.float64))
    out = np.zeros_like(z)
    a = z <= 1.0
    za = z[a]
    out[a] = -0.25 * za**5 + 0.5 * za**4 + 0.625 * za**3 - 5.0 / 3.0 * za**2 + 1.0
    b = (z > 1.0) & (z < 2.0)
    zb = z[b]
    out[b] = (
        zb**5 / 12.0
        - 0.5 * zb**4
        + 0.625 * zb**3
        + 5.0 / 3.0 * zb**2
        - 5.0 * zb
        + 4.0
        - 2.0 / (3.0 * zb)
    )
    return out


def correlated_transport_covariance(
    system: ObservationSystem, A: sp.csr_matrix, meta: pd.DataFrame, cfg: InversionConfig
) -> sp.csr_matrix:
    """The transport part of R between the assimilated observations (afternoon means):
    ``C_ab = GC(d_ab / c) Σ_k δ_ka δ_kb`` for two observations of the same Beijing day, 0
    between days, where ``δ_k = A δ_k^pairs`` are the quadrature nodes' weighted deviations
    (``system.transport_deviations``) averaged like the observations, ``d_ab`` the distance
    between the two stations and GC the Gaspari–Cohn taper of half-width
    ``errors.transport_error_localisation_km``.  Positive semi-definite (a Schur product of
    two such matrices)."""
    deviations = np.asarray(A @ system.transport_deviations.T)  # (m, nodes)
    xy = system.stations.set_index("station_id").loc[meta["station_id"], ["x", "y"]].to_numpy()
    c = cfg.errors.transport_error_localisation_km * 1000.0
    day = meta["day"].to_numpy()
    rows, cols, vals = [], [], []
    for d in np.unique(day):
        idx = np.flatnonzero(day == d)
        dist = np.hypot(*(xy[idx, None, :] - xy[None, idx, :]).transpose(2, 0, 1))
        block = (deviations[idx] @ deviations[idx].T) * gaspari_cohn(dist / c)
        r, k = np.nonzero(block)
        rows.append(idx[r])
        cols.append(idx[k])
        vals.append(block[r, k])
    m = len(meta)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m, m)
    )
