"""The stations' transport-error hyperparameters estimated from their innovations
(``errors.transport_error_estimate``), before the solve and without any truth, so that the same
code runs on real observations.

R's hourly model error of a station pair is ``√(floor² + (r m)² + s(θ)²)``: ``m`` the prior
modelled enhancement, ``r`` the relative model error (``errors.model_error_rel``) and ``s(θ)``
the 'stencil' transport spread with the wind turned by ±θ (``errors.model_error_wind_direction_deg``;
:meth:`~gridcarbon.inversion.system.ObservationSystem.direction_spread_at`).  With the
innovations ``d = y − H x_b`` of the assimilated rows and their prior variances
``(HBHᵀ)_ii``, θ (and optionally r) maximise the composite log-likelihood
``−½ Σ (log 2π v_i + d_i²/v_i)``, ``v_i = (HBHᵀ)_ii + R_ii(θ, r)``
(:func:`~gridcarbon.inversion.innovations.innovation_log_likelihood`).  The two terms have
different structures — ``r m`` follows the signal, ``s(θ)`` is large where a turned plume moves
across a station — which is what lets the data tell them apart; estimating θ alone reads any
error of the other terms as a direction error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import minimize_scalar

from gridcarbon.contracts import ObservationType
from gridcarbon.errors import ConfigError
from gridcarbon.inversion.errors_model import hourly_model_error, station_error_parts
from gridcarbon.inversion.innovations import innovation_log_likelihood
from gridcarbon.inversion.observation_types import StationHourObservations
from gridcarbon.inversion.state import PriorCovariance
from gridcarbon.inversion.system import ObservationSystem

__all__ = ["estimate_transport_errors", "city_offsets", "WIND_DIRECTION_GRID_STEP_DEG"]

log = logging.getLogger(__name__)

#: Step (degrees) of the grid of angles the search starts from: the likelihood is not smooth
#: in the angle (a turned plume crosses a station), so Brent's method alone can stop at a
#: local maximum.
WIND_DIRECTION_GRID_STEP_DEG = 2.5


def estimate_transport_errors(
    system: ObservationSystem,
    kinds: Sequence[ObservationType],
    B: PriorCovariance,
) -> tuple[ObservationSystem, dict]:
    """``errors.transport_error_estimate``: the stations' wind-direction error (and, with
    'wind_direction_and_relative', their relative model error) from their innovations.

    The angle is searched over ``errors.wind_direction_error_bounds_deg`` on a grid of
    :data:`WIND_DIRECTION_GRID_STEP_DEG`, then refined by Brent's method to 0.5° around the
    grid's best; at every angle the relative error, when estimated, is the profile maximum
    (Brent's method in its logarithm within ``errors.model_error_rel_bounds``).  Each angle
    costs two coarse operator builds the first time the system meets it (they are kept, so an
    OSSE pays them once for all its replicates); every other step is vectorised arithmetic.
    Only R moves: H, the innovations and HBHᵀ stay the system's.

    Parameters
    ----------
    system : ObservationSystem
        With ``errors.transport_error_model: stencil`` and ``errors.upwind_downwind: off``.
    kinds : sequence of ObservationType
        The kinds to be assimilated; their station-hour kinds give the innovations (other
        kinds are left as they are).
    B : PriorCovariance

    Returns
    -------
    ObservationSystem, dict
        The system with the stations' R at the estimate
        (:meth:`~gridcarbon.inversion.system.ObservationSystem.with_transport_errors`), and the
        estimate: ``wind_direction_deg`` and ``wind_direction_configured_deg`` (degrees),
        ``wind_direction_at_bound`` (within 1° of a bound of the search), ``model_error_rel``,
        ``model_error_rel_configured``, ``model_error_rel_at_bound`` (within 2 %; False when
        not estimated), ``estimated`` (the parameters estimated), ``log_likelihood`` and
        ``log_likelihood_configured`` (nats), ``innovation_chi2`` and
        ``innovation_chi2_configured`` (mean ``d²/(HBHᵀ + R)``), ``n_rows``, ``angles``
        (angles whose operators were evaluated for this estimate) and, when the scenario has
        city boundaries, ``city_offsets`` (:func:`city_offsets`, at the estimate; in R only
        with ``errors.city_offset_error``, as a shared error of each city's rows of a day).
    """
    cfg = system.config
    e = cfg.errors
    if e.transport_error_model != "stencil" or e.upwind_downwind != "off":
        raise ConfigError(
            "the transport-error estimate sizes the 'stencil' transport error of single "
            "stations: set errors.transport_error_model 'stencil' and errors.upwind_downwind "
            "'off'"
        )
    stations = [k for k in kinds if isinstance(k, StationHourObservations)]
    if not stations:
        raise ConfigError(
            "errors.transport_error_estimate uses the stations' innovations, but no station "
            "observations are assimilated; set it to 'off'"
        )
    pairs = system.pairs
    d, hbh, parts = [], [], []
    for k in stations:
        m = k.match(system)
        d.append(m.rows["observed"].to_numpy(float) - m.rows["prior"].to_numpy(float))
        hbh.append(B.aggregate_var(m.jacobian))
        parts.append(station_error_parts(pairs, m.used, m.measurement_error, cfg, m.aggregation))
    d, hbh = np.concatenate(d), np.concatenate(hbh)
    estimate_rel = e.transport_error_estimate == "wind_direction_and_relative"
    rel_lo, rel_hi = e.model_error_rel_bounds

    def loglik(angle: float, rel: float) -> float:
        c = cfg.model_copy(update={"errors": e.model_copy(update={"model_error_rel": rel})})
        model = hourly_model_error(system, pairs, c, system.direction_spread_at(angle))
        r = np.concatenate([p.variance(model) for p in parts])
        return innovation_log_likelihood(d, hbh + r)

    profile: dict[float, tuple[float, float]] = {}

    def at_angle(angle: float) -> tuple[float, float]:
        """(log-likelihood, relative error) at ``angle``: the profile maximum over the
        relative error when it is estimated."""
        if angle not in profile:
            if estimate_rel:
                found = minimize_scalar(
                    lambda u: -loglik(angle, float(np.exp(u))),
                    bounds=(np.log(rel_lo), np.log(rel_hi)),
                    method="bounded",
                    options={"xatol": 0.01},
                )
                rel = float(np.exp(found.x))
                profile[angle] = (loglik(angle, rel), rel)
            else:
                profile[angle] = (loglik(angle, e.model_error_rel), e.model_error_rel)
        return profile[angle]

    lo, hi = e.wind_direction_error_bounds_deg
    step = WIND_DIRECTION_GRID_STEP_DEG
    grid = np.unique(np.append(np.arange(lo, hi, step), hi))
    best = max((float(a) for a in grid), key=lambda a: at_angle(a)[0])
    refined = minimize_scalar(
        lambda a: -at_angle(float(a))[0],
        bounds=(max(lo, best - step), min(hi, best + step)),
        method="bounded",
        options={"xatol": 0.5},
    )
    angle = max((best, float(refined.x)), key=lambda a: at_angle(a)[0])
    loglik_best, rel = at_angle(angle)
    view = system.with_transport_errors(angle, rel if estimate_rel else None)
    v_best = hbh + np.concatenate(
        [p.variance(hourly_model_error(view, pairs, view.config)) for p in parts]
    )
    v_conf = hbh + np.concatenate(
        [p.variance(hourly_model_error(system, pairs, cfg)) for p in parts]
    )
    estimate = {
        "estimated": ["wind_direction", *(["model_error_rel"] if estimate_rel else [])],
        "wind_direction_deg": angle,
        "wind_direction_configured_deg": float(e.model_error_wind_direction_deg),
        "wind_direction_bounds_deg": [float(lo), float(hi)],
        "wind_direction_at_bound": bool(angle - lo < 1.0 or hi - angle < 1.0),
        "model_error_rel": rel,
        "model_error_rel_configured": float(e.model_error_rel),
        "model_error_rel_at_bound": bool(
            estimate_rel and (rel < rel_lo * 1.02 or rel > rel_hi / 1.02)
        ),
        "log_likelihood": loglik_best,
        "log_likelihood_configured": innovation_log_likelihood(d, v_conf),
        "innovation_chi2": float(np.mean(d * d / v_best)),
        "innovation_chi2_configured": float(np.mean(d * d / v_conf)),
        "n_rows": int(d.size),
        "angles": len(profile),
    }
    if system.station_city is not None:
        estimate["city_offsets"] = city_offsets(system, stations, d, v_best - hbh, B)
    if e.city_offset_error:
        if system.station_city is None:
            raise ConfigError(
                "errors.city_offset_error needs the cities of the stations, but the scenario "
                "has no city boundaries (boundaries['city']): add them, or set "
                "city_offset_error: false"
            )
        # used by the stations' match on the view (errors_model.city_offset_covariance)
        view.city_offset_variance = {
            tuple(key.split("|", 1)): max(value["moment"], 0.0)
            for key, value in estimate["city_offsets"].items()
        }
    flagged = estimate["wind_direction_at_bound"] or estimate["model_error_rel_at_bound"]
    log.log(
        logging.WARNING if flagged else logging.INFO,
        "transport errors from %d station innovations: wind direction %.1f° (configured %.1f°)"
        ", relative model error %.2f (configured %.2f); χ² %.2f → %.2f%s",
        d.size,
        angle,
        estimate["wind_direction_configured_deg"],
        rel,
        estimate["model_error_rel_configured"],
        estimate["innovation_chi2_configured"],
        estimate["innovation_chi2"],
        "; at a bound of the search" if flagged else "",
    )
    return view, estimate


def city_offsets(
    system: ObservationSystem,
    stations: Sequence[StationHourObservations],
    innovation: np.ndarray,
    r_var: np.ndarray,
    B: PriorCovariance,
) -> dict[str, dict[str, float]]:
    """An error shared by a city's stations on a day (a city-wide transport offset), sized from
    the innovations by moments: for each city, observed quantity and Beijing day with at least
    two assimilated rows, the sum ``S`` of their innovations has the predicted variance
    ``Var(S) = 1ᵀ(HBHᵀ)1 + Σ R_ii`` (R diagonal) and, with a shared offset of variance ``σ_c²``
    besides, ``Var(S) + n² σ_c²``; so ``σ_c² = mean over days of (S² − Var(S)) / n²``.

    Parameters
    ----------
    system : ObservationSystem
        With ``station_city`` (the scenario's city boundaries).
    stations : sequence of StationHourObservations
        The station kinds whose rows ``innovation`` and ``r_var`` list, in order.
    innovation, r_var : ndarray ``(m,)``
        ``d = y − H x_b`` and R's variances of those rows (observation units, squared).
    B : PriorCovariance

    Returns
    -------
    dict
        ``"<city>|<quantity>"`` → ``sigma_offset`` (observation units; 0 when the moment is
        negative, i.e. no offset beyond what HBHᵀ + R predict), ``moment`` (σ_c², may be
        negative), ``variance_ratio`` (mean S² / mean Var(S): 1 when HBHᵀ + R are right and
        there is no offset), ``predicted_sd_of_mean`` (the RMS over days of the predicted σ of
        the rows' mean, observation units: the scale to judge ``sigma_offset`` by),
        ``n_days`` and ``mean_stations``.  In R with ``errors.city_offset_error``.
    """
    city_of = dict(zip(system.stations["station_id"], system.station_city, strict=True))
    rows, H = [], []
    for k in stations:
        m = k.match(system)
        rows.append(m.rows[["station_id", "species", "day"]])
        H.append(m.jacobian)
    meta = pd.concat(rows, ignore_index=True)
    H = sp.vstack(H, format="csr")
    meta["city"] = meta["station_id"].map(city_of).fillna("")
    # positions in ``meta`` (a RangeIndex): the labels of the groups of its city rows
    in_city = meta[meta["city"] != ""]
    groups = [
        (key, np.asarray(labels, np.int64))
        for key, labels in in_city.groupby(["city", "species", "day"]).groups.items()
        if len(labels) >= 2
    ]
    if not groups:
        return {}
    # one row per (city, quantity, day): the sum of its rows
    S = sp.csr_matrix(
        (
            np.ones(sum(idx.size for _, idx in groups)),
            (
                np.repeat(np.arange(len(groups)), [idx.size for _, idx in groups]),
                np.concatenate([idx for _, idx in groups]),
            ),
        ),
        shape=(len(groups), len(meta)),
    )
    total = S @ innovation
    predicted = B.aggregate_var(S @ H) + S @ r_var
    n = np.asarray(S.sum(axis=1)).ravel()
    table = pd.DataFrame(
        {
            "key": [f"{city}|{quantity}" for (city, quantity, _), _ in groups],
            "moment": (total**2 - predicted) / n**2,
            "square": total**2,
            "predicted": predicted,
            "n": n,
        }
    )
    out = {}
    for key, g in table.groupby("key"):
        moment = float(g["moment"].mean())
        out[str(key)] = {
            "sigma_offset": float(np.sqrt(max(moment, 0.0))),
            "moment": moment,
            "variance_ratio": float(g["square"].mean() / g["predicted"].mean()),
            "predicted_sd_of_mean": float(np.sqrt((g["predicted"] / g["n"] ** 2).mean())),
            "n_days": len(g),
            "mean_stations": float(g["n"].mean()),
        }
    return out
