"""Observation types: what the inversion can assimilate, each as its block of H and its part of R
(:class:`gridcarbon.contracts.ObservationType`).

:class:`StationHourObservations` are hourly values at stations — the network's own
observations — assimilated as daily afternoon means (or hourly values) through the plume
operator of the :class:`~gridcarbon.inversion.system.ObservationSystem`.  Another kind (a column
footprint, a box mean) is any value with the same four members; the assimilation stacks the
blocks of all kinds (H = vstack of blocks, R block-diagonal).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridcarbon.errors import InputDataError
from gridcarbon.inversion.errors_model import (
    aggregation_matrix,
    city_offset_covariance,
    correlated_transport_covariance,
    observation_errors,
)
from gridcarbon.inversion.upwind_downwind import (
    apply_differences,
    component_rows,
    pairs_of_system,
)

if TYPE_CHECKING:  # pragma: no cover
    from gridcarbon.inversion.system import ObservationSystem

__all__ = ["StationHourObservations", "StationHourMatch"]


@dataclass(frozen=True, eq=False)
class StationHourMatch:
    """Station-hour observations matched to the pairs of an observation system.

    Attributes
    ----------
    observed_hourly : ndarray ``(n_pairs,)``
        The observed value of every pair (NaN: none).
    used : bool ndarray ``(n_pairs,)``
        Assimilated: observed, not calm, not dominated by one point source (unless
        ``errors.point_dominated_pairs: elevated_plume`` readmits those), and with
        ``errors.upwind_downwind: replace`` not a paired station's hour outside its pair.
    reason : ndarray of str
        Why a pair is not used ("" when it is).
    counts : dict
        ``n_hourly_pairs_used``, ``n_excluded_calm``, ``n_excluded_point_dominated`` (and
        ``n_readmitted_point_dominated`` with ``errors.point_dominated_pairs: elevated_plume``;
        ``n_upwind_downwind_differences``, ``n_upwind_downwind_hours`` and
        ``n_upwind_downwind_hours_dropped`` with ``errors.upwind_downwind: replace``).
    aggregation : sparse ``(m, n_pairs)``
        From the pairs to the assimilated observations (means or single hours; an
        upwind–downwind difference has ``+1/n`` on its downwind and ``−1/n`` on its upwind
        station's hours).
    rows : DataFrame
        One row per assimilated observation (:meth:`StationHourObservations.assimilated`).
    jacobian : sparse ``(m, n_state)``
    measurement_error, model_error : ndarray ``(n_pairs,)``
        Hourly 1-sigma errors, observation units.
    r_var : ndarray ``(m,)``
        Error variances of the assimilated observations.
    r_correlated : sparse ``(m, m)`` or None
        Their correlated transport errors (``errors.transport_error_correlation: same_day``;
        its diagonal is included in ``r_var``), None when R is diagonal.
    """

    observed_hourly: np.ndarray
    used: np.ndarray
    reason: np.ndarray
    counts: dict[str, int]
    aggregation: sp.csr_matrix
    rows: pd.DataFrame
    jacobian: sp.csr_matrix
    measurement_error: np.ndarray
    model_error: np.ndarray
    r_var: np.ndarray
    r_correlated: sp.csr_matrix | None = None


class StationHourObservations:
    """Hourly observations at stations, matched to the station-hours of an observation system.

    Parameters
    ----------
    observations : DataFrame
        ``time`` (UTC), ``station_id``, ``species`` (the observed quantity), ``value``
        (canonical unit), ``uncertainty`` (may be NaN or absent): a table of
        :func:`~gridcarbon.inversion.observations.normalise_observations`, or synthetic
        observations.

    Station-hours with no observation, a calm, or one point source giving more than
    ``errors.point_dominance_max`` of the modelled enhancement are not assimilated (the last
    are, with ``errors.point_dominated_pairs: elevated_plume``: then the assimilated rows
    carry ``n_point_dominated``, their point-dominated hours); the others
    are averaged per station, quantity and Beijing day (``errors.aggregation``), with R from
    :mod:`gridcarbon.inversion.errors_model`.
    """

    name = "station_hour"

    def __init__(self, observations: pd.DataFrame) -> None:
        if observations is None or len(observations) == 0:
            raise InputDataError("observation table is empty")
        self._table = observations
        self._match: tuple[weakref.ref, StationHourMatch] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"_table": self._table, "_match": None}

    def table(self) -> pd.DataFrame:
        """The observations as given."""
        return self._table

    def match(self, system: ObservationSystem) -> StationHourMatch:
        """The observations matched to ``system`` (computed once per system)."""
        if self._match is not None and self._match[0]() is system:
            return self._match[1]
        found = _match(self._table, system)
        self._match = (weakref.ref(system), found)
        return found

    def assimilated(self, system: ObservationSystem) -> pd.DataFrame:
        """One row per assimilated observation: ``station_id``, ``species``, ``day`` (Beijing,
        index), ``kind``, ``sector`` (inflow), ``time`` (first hour), ``n_hours``,
        ``observed`` and ``prior``."""
        return self.match(system).rows

    def jacobian_block(self, system: ObservationSystem) -> sp.csr_matrix:
        """Rows of H (with the background and bias columns) of the assimilated observations."""
        return self.match(system).jacobian

    def error_variance(self, system: ObservationSystem) -> np.ndarray:
        """Their error variances (measurement and transport, correlated in time)."""
        return self.match(system).r_var

    def error_covariance(self, system: ObservationSystem) -> sp.csr_matrix | None:
        """Their error covariance when the transport errors are correlated between stations
        (``errors.transport_error_correlation: same_day``; diagonal = :meth:`error_variance`),
        else None (R diagonal)."""
        m = self.match(system)
        if m.r_correlated is None:
            return None
        own = m.r_var - m.r_correlated.diagonal()
        return (sp.diags(own) + m.r_correlated).tocsr()

    def series(self, system: ObservationSystem, x_increment: np.ndarray) -> pd.DataFrame:
        """One row per station, quantity and hour at the assimilated hours: ``time`` (UTC),
        ``station_id``, ``species``, ``unit``, ``observed``, ``prior``, ``posterior``,
        ``used``, ``reason``, ``measurement_error``, ``model_error``."""
        m = self.match(system)
        P = system.pairs
        units = {q: s.observed_unit for q, s in system.observed.items()}
        return pd.DataFrame(
            {
                "time": P["time"].to_numpy(),
                "station_id": P["station_id"].to_numpy(),
                "species": P["obs_species"].to_numpy(),
                "unit": P["obs_species"].map(units).to_numpy(),
                "observed": m.observed_hourly,
                "prior": system.y_prior,
                "posterior": system.y_prior + system.J @ x_increment,
                "used": m.used,
                "reason": m.reason,
                "measurement_error": m.measurement_error,
                "model_error": m.model_error,
            }
        )


def _match(obs: pd.DataFrame, system: ObservationSystem) -> StationHourMatch:
    cfg = system.config
    P = system.pairs
    times = pd.DatetimeIndex(obs["time"])
    if times.tz is not None:  # normalised tables carry UTC explicitly; the pairs are naive UTC
        times = times.tz_convert("UTC").tz_localize(None)
    key = pd.MultiIndex.from_arrays(
        [obs["station_id"].astype(str), times, obs["species"].astype(str)]
    )
    val = pd.Series(obs["value"].to_numpy(float), index=key)
    uncs = pd.Series(
        obs["uncertainty"].to_numpy(float) if "uncertainty" in obs else np.full(len(obs), np.nan),
        index=key,
    )
    pkey = pd.MultiIndex.from_arrays(
        [P["station_id"], pd.DatetimeIndex(P["time"]), P["obs_species"]]
    )
    y_h = val.reindex(pkey).to_numpy()
    unc = uncs.reindex(pkey).to_numpy()
    has = np.isfinite(y_h)
    if not has.any():
        raise InputDataError(
            "no observation matches a station-hour of the period at the assimilated hours; "
            "check station ids, time zone (UTC expected) and the period"
        )
    calm = P["calm"].to_numpy()
    dominated = P["point_share"].to_numpy() > cfg.errors.point_dominance_max
    readmit = cfg.errors.point_dominated_pairs == "elevated_plume"
    used = has & ~calm & (readmit | ~dominated)
    reason = np.where(
        ~has,
        "no observation",
        np.where(
            calm,
            "calm",
            np.where(dominated & ~readmit, "single point source dominates", ""),
        ),
    )
    found = None
    alone = used
    if cfg.errors.upwind_downwind != "off":
        # stations paired upwind-downwind are assimilated as differences, not alone
        found = pairs_of_system(system, used)
        alone = used & ~found.paired
    A, meta = aggregation_matrix(P, alone, cfg.errors.aggregation)
    if found is not None:
        A_c, meta_c = component_rows(P, found)
        A = sp.vstack([A, A_c], format="csr")
        meta = pd.concat([meta, meta_c], ignore_index=True)
    if readmit and found is None:
        # the point-dominated hours in each assimilated observation (the readmitted ones)
        n_dominated = (A @ dominated.astype(float)) * meta["n_hours"].to_numpy()
        meta = meta.assign(n_point_dominated=np.rint(n_dominated).astype(int))
    if found is None:
        y = A @ np.where(used, y_h, 0.0)
        Jo = (A @ system.J).tocsr()
        yb = A @ system.y_prior
    meas, model, r_var = observation_errors(system, P, used, unc, cfg, A, meta)
    correlated = None
    if cfg.errors.transport_error_correlation == "same_day":
        correlated = correlated_transport_covariance(system, A, meta, cfg)
        r_var = r_var + correlated.diagonal()
    offsets = system.__dict__.get("city_offset_variance")
    if offsets and found is None:
        # errors.city_offset_error: the cities' shared offsets of the transport estimate
        city = dict(zip(system.stations["station_id"], system.station_city, strict=True))
        shared = city_offset_covariance(meta.reset_index(drop=True), city, offsets)
        correlated = shared if correlated is None else (correlated + shared).tocsr()
        r_var = r_var + shared.diagonal()
    if found is not None:
        A, meta, r_var, correlated = apply_differences(A, meta, r_var, correlated, found)
        if readmit:
            # the point-dominated hours of both stations of a difference
            n_dominated = (abs(A) @ dominated.astype(float)) * meta["n_hours"].to_numpy()
            meta = meta.assign(n_point_dominated=np.rint(n_dominated).astype(int))
        # a paired station's hours of the day outside its pair are not assimilated
        assimilated = np.asarray(abs(A).sum(axis=0)).ravel() > 0
        n_dropped = int((used & ~assimilated).sum())
        reason = np.where(used & ~assimilated, "paired upwind-downwind at other hours", reason)
        used = used & assimilated
        y = A @ np.where(used, y_h, 0.0)
        Jo = (A @ system.J).tocsr()
        yb = A @ system.y_prior
    rows = meta.rename(columns={"obs_species": "species"}).assign(observed=y, prior=yb)
    counts = {
        "n_hourly_pairs_used": int(used.sum()),
        "n_excluded_calm": int((has & calm).sum()),
        "n_excluded_point_dominated": int((has & ~calm & dominated & ~readmit).sum()),
    }
    if readmit:
        counts["n_readmitted_point_dominated"] = int((has & ~calm & dominated).sum())
    if found is not None:
        counts["n_upwind_downwind_differences"] = len(found)
        counts["n_upwind_downwind_hours"] = int(2 * sum(h.size for h in found.up_pairs))
        counts["n_upwind_downwind_hours_dropped"] = n_dropped
    return StationHourMatch(y_h, used, reason, counts, A, rows, Jo, meas, model, r_var, correlated)
