"""The observation-error model R: hourly measurement and transport errors, and their
aggregation to the assimilated observations (daily afternoon means or hourly values)."""

from __future__ import annotations

from dataclasses import dataclass
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
    "hourly_model_error",
    "StationErrorParts",
    "city_offset_covariance",
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


def hourly_model_error(
    system: ObservationSystem,
    pairs: pd.DataFrame,
    cfg: InversionConfig,
    direction_spread: np.ndarray | None = None,
) -> np.ndarray:
    """Hourly 1-σ model error of every pair, observation units: the species' floor, the
    relative error ``errors.model_error_rel`` of the prior modelled enhancement and (unless the
    transport errors are correlated and sit in R's correlated part) the transport spread —
    the system's own, or ``direction_spread`` when given."""
    floor = pairs["obs_species"].map(cfg.errors.model_error_floor).to_numpy(float)
    # with correlated transport errors the transport term is in the correlated part instead
    transport = 0.0 if cfg.errors.transport_error_correlation == "same_day" else 1.0
    spread = system.direction_spread if direction_spread is None else direction_spread
    return np.sqrt(
        floor**2 + (cfg.errors.model_error_rel * system.enhancement) ** 2 + transport * spread**2
    )


@dataclass(frozen=True)
class StationErrorParts:
    """The parts of the R variances of assimilated station rows that do not depend on the
    hourly model error: ``variance(model)`` gives the variances for any hourly model error.

    Attributes
    ----------
    aggregation : sparse ``(m, n_pairs)``
        From the pairs to the rows (means of their hours; one hour each for hourly rows).
    measurement_variance : ndarray ``(m,)``
        The rows' measurement-error variance (of the mean of independent hourly errors).
    inflation : ndarray ``(m,)``
        Factor on the row's squared mean hourly model error: ``n_eff``-corrected for errors
        correlated in time (:func:`ess_factor`).
    """

    aggregation: sp.csr_matrix
    measurement_variance: np.ndarray
    inflation: np.ndarray

    def variance(self, model: np.ndarray) -> np.ndarray:
        """R variances of the rows for the hourly 1-σ model error ``model`` ``(n_pairs,)``."""
        return self.measurement_variance + (self.aggregation @ model) ** 2 * self.inflation


def station_error_parts(
    pairs: pd.DataFrame, used: np.ndarray, meas: np.ndarray, cfg: InversionConfig, A: sp.csr_matrix
) -> StationErrorParts:
    """:class:`StationErrorParts` of the rows ``A`` aggregates from the used ``pairs``, with
    hourly measurement errors ``meas`` (observation units)."""
    hours = (pd.DatetimeIndex(pairs["time"]) - pd.Timestamp("2000-01-01")) / pd.Timedelta(hours=1)
    hours = np.asarray(hours, float)
    tau = cfg.errors.model_error_time_scale_h
    if cfg.errors.aggregation == "hourly":
        # each row one hour; its model error inflated by n / n_eff of its (station, species,
        # day) block
        idx = np.flatnonzero(used)
        g = pairs["group"].to_numpy()[idx]
        infl = np.ones(idx.size)
        for key in np.unique(g):
            m = g == key
            infl[m] = int(m.sum()) * ess_factor(hours[idx][m], tau)
        return StationErrorParts(sp.csr_matrix(A), meas[idx] ** 2, infl)
    A = A.tocsr()
    n_rows = A.shape[0]
    meas_var = np.empty(n_rows)
    infl = np.empty(n_rows)
    for i in range(n_rows):
        cols = A.indices[A.indptr[i] : A.indptr[i + 1]]
        meas_var[i] = (meas[cols] ** 2).mean() / cols.size
        infl[i] = ess_factor(hours[cols], tau)
    return StationErrorParts(A, meas_var, infl)


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
    model = hourly_model_error(system, pairs, cfg)
    r_var = station_error_parts(pairs, used, meas, cfg, A).variance(model)
    return meas, model, r_var


def city_offset_covariance(
    rows: pd.DataFrame, station_city: dict[str, str], variance: dict[tuple[str, str], float]
) -> sp.csr_matrix:
    """R's part for an error shared by a city's stations on a day: ``σ_c²`` between every two
    assimilated rows (and on the diagonal) of one city, observed quantity and Beijing day.

    Parameters
    ----------
    rows : DataFrame
        The assimilated rows: ``station_id``, ``obs_species`` (or ``species``), ``day``.
    station_city : dict
        Station id → city code ("" outside every city).
    variance : dict
        ``(city, quantity)`` → ``σ_c²`` (observation units squared, ≥ 0); pairs not in it
        have none.

    Returns
    -------
    sparse ``(m, m)``
        Symmetric positive semi-definite, block diagonal by city, quantity and day.
    """
    quantity = rows["obs_species"] if "obs_species" in rows else rows["species"]
    key = pd.DataFrame(
        {
            "city": rows["station_id"].map(station_city).fillna("").to_numpy(),
            "quantity": quantity.to_numpy(),
            "day": rows["day"].to_numpy(),
        }
    )
    r, c, v = [], [], []
    for (city, q, _), labels in key.groupby(["city", "quantity", "day"]).groups.items():
        s2 = variance.get((city, q), 0.0)
        if city == "" or not s2 > 0:
            continue
        idx = np.asarray(labels, np.int64)
        r.append(np.repeat(idx, idx.size))
        c.append(np.tile(idx, idx.size))
        v.append(np.full(idx.size * idx.size, s2))
    m = len(rows)
    if not r:
        return sp.csr_matrix((m, m))
    return sp.csr_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(m, m))


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
        gram = deviations[idx] @ deviations[idx].T
        # symmetric to the last bit: a general matrix product need not be
        block = (0.5 * (gram + gram.T)) * gaspari_cohn(dist / c)
        r, k = np.nonzero(block)
        rows.append(idx[r])
        cols.append(idx[k])
        vals.append(block[r, k])
    m = len(meta)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m, m)
    )
