"""Same-hour upwind–downwind differences (``errors.upwind_downwind: replace``, off by default).

Two stations of one city that lie along the modelled wind see the same air: what blows in
(the background, the regional enhancement and the part of a mixing-height or wind error that
both share) arrives at both, and their difference downwind − upwind is mostly the city between
them.  With ``replace``, for every city of the scenario's city boundaries, Beijing day and
observed quantity, such pairs are formed from the hours at which both stations are assimilated
and the modelled wind (the mean of the two stations' wind vectors) lies within
``errors.upwind_downwind_angle_deg`` of the line from the upwind to the downwind station; the
two stations' afternoon means over those common hours (the *components*) are differenced:

``y_d = y_down − y_up``,  ``H_d = H_down − H_up``,  ``R_d = R_dd + R_uu − 2 R_du``,

with R the full error covariance of the components and of the stations assimilated alone
(:func:`difference_operator`: ``R' = D R Dᵀ``, so the correlated transport part of the same day,
``errors.transport_error_correlation: same_day``, cancels as far as the model says the two
stations' errors are coherent; with a diagonal R nothing cancels and ``R_d = R_dd + R_uu``).
A paired station's other hours of that day are not assimilated (no observation of it shares a
station-day with another, so no temporal cross-covariance is left out), and each station is in
at most one pair per day and quantity (the pairs with the most common hours first).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from gridcarbon.config.inversion import ErrorsConfig
from gridcarbon.errors import InputDataError
from gridcarbon.inversion.regions import city_codes

if TYPE_CHECKING:  # pragma: no cover
    from gridcarbon.inversion.system import ObservationSystem

__all__ = [
    "DIFFERENCE_KIND",
    "UpwindDownwindPairs",
    "station_cities",
    "wind_vectors",
    "select_pairs",
    "pairs_of_system",
    "component_rows",
    "difference_operator",
    "difference_covariance",
    "apply_differences",
]

#: ``kind`` of an assimilated difference (its own class in the χ² per station class).
DIFFERENCE_KIND = "upwind_downwind"


@dataclass(frozen=True)
class UpwindDownwindPairs:
    """The pairs formed (one per difference).

    Attributes
    ----------
    up, down : ndarray of str
        Station ids.
    species : ndarray of str
        Observed quantity.
    day : ndarray of int
        Beijing day index (``system.days``).
    city : ndarray of str
        City code.
    up_pairs, down_pairs : list of int ndarray
        Indices into ``system.pairs`` of the common hours, in time order, at each station.
    mean_cos : ndarray
        Mean cosine of the angle between the wind and the pair line over those hours.
    paired : bool ndarray ``(n_pairs,)``
        Every station-hour of a paired station's (station, quantity, day) group: none of them
        is assimilated alone.
    """

    up: np.ndarray
    down: np.ndarray
    species: np.ndarray
    day: np.ndarray
    city: np.ndarray
    up_pairs: list[np.ndarray]
    down_pairs: list[np.ndarray]
    mean_cos: np.ndarray
    paired: np.ndarray

    def __len__(self) -> int:
        return int(self.up.size)


def station_cities(stations: pd.DataFrame, cities: Any) -> np.ndarray:
    """The city code (``adcode`` of the city boundaries, lon/lat) of each station, "" outside
    every city.

    Raises
    ------
    InputDataError
        When there are no city boundaries.
    """
    if cities is None or len(cities) == 0:
        raise InputDataError(
            "errors.upwind_downwind 'replace' pairs the stations of one city, but the scenario "
            "has no city boundaries (boundaries['city']): add them, or set "
            "errors.upwind_downwind 'off'"
        )
    codes = city_codes(cities)
    lon = stations["lon"].to_numpy(float)
    lat = stations["lat"].to_numpy(float)
    out = np.full(lon.size, "", dtype=object)
    for code, geom in zip(codes, cities.geometry, strict=True):
        inside = shapely.contains_xy(geom, lon, lat) & (out == "")
        out[inside] = code
    return out


def wind_vectors(speed: np.ndarray, direction_from: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The wind as the vector it blows towards (east, north components, m/s) from its speed
    (m/s) and the direction it blows from (degrees clockwise from north)."""
    theta = np.radians(np.asarray(direction_from, dtype=np.float64))
    s = np.asarray(speed, dtype=np.float64)
    return -s * np.sin(theta), -s * np.cos(theta)


def select_pairs(
    pairs: pd.DataFrame,
    used: np.ndarray,
    station_xy: pd.DataFrame,
    station_city: pd.Series,
    wind_east: np.ndarray,
    wind_north: np.ndarray,
    errors: ErrorsConfig,
) -> UpwindDownwindPairs:
    """Form the upwind–downwind pairs (module docstring).

    Parameters
    ----------
    pairs : DataFrame
        ``system.pairs``: ``station_id``, ``obs_species``, ``day``, ``time``, ``group``.
    used : bool ndarray ``(n_pairs,)``
        The station-hours that would be assimilated.
    station_xy : DataFrame
        ``x``, ``y`` (m, the grid's projection; y northwards) indexed by station id.
    station_city : Series
        City code ("" outside every city) by station id.
    wind_east, wind_north : ndarray ``(n_pairs,)``
        The modelled wind at each station-hour (the vector it blows towards, m/s).
    errors : ErrorsConfig
        ``upwind_downwind_angle_deg``, ``upwind_downwind_separation_km``,
        ``upwind_downwind_min_hours``.
    """
    cos_tol = float(np.cos(np.radians(errors.upwind_downwind_angle_deg)))
    lo, hi = (1000.0 * d for d in errors.upwind_downwind_separation_km)
    idx = np.flatnonzero(used)
    sid = pairs["station_id"].to_numpy()[idx]
    city = station_city.reindex(sid).fillna("").to_numpy()
    keep = city != ""
    table = pd.DataFrame(
        {
            "pair": idx[keep],
            "station_id": sid[keep],
            "species": pairs["obs_species"].to_numpy()[idx][keep],
            "day": pairs["day"].to_numpy()[idx][keep],
            "city": city[keep],
            "time": pairs["time"].to_numpy()[idx][keep],
        }
    )
    chosen: list[tuple] = []
    for (q, day, code), g in table.groupby(["species", "day", "city"], sort=True):
        hours = {
            s: dict(zip(h["time"].to_numpy(), h["pair"].to_numpy(), strict=True))
            for s, h in g.groupby("station_id", sort=True)
        }
        candidates = []
        for a, b in combinations(sorted(hours), 2):
            dx = float(station_xy.at[b, "x"] - station_xy.at[a, "x"])
            dy = float(station_xy.at[b, "y"] - station_xy.at[a, "y"])
            dist = float(np.hypot(dx, dy))
            if not lo <= dist <= hi:
                continue
            common = sorted(set(hours[a]) & set(hours[b]))
            if len(common) < errors.upwind_downwind_min_hours:
                continue
            ia = np.array([hours[a][t] for t in common], dtype=np.int64)
            ib = np.array([hours[b][t] for t in common], dtype=np.int64)
            we = 0.5 * (wind_east[ia] + wind_east[ib])
            wn = 0.5 * (wind_north[ia] + wind_north[ib])
            speed = np.hypot(we, wn)
            with np.errstate(invalid="ignore", divide="ignore"):
                cos = np.where(speed > 0, (we * dx + wn * dy) / (speed * dist), 0.0)
            forward, backward = cos >= cos_tol, cos <= -cos_tol
            nf, nb = int(forward.sum()), int(backward.sum())
            score_f, score_b = float(cos[forward].sum()), float(-cos[backward].sum())
            if (nf, score_f) >= (nb, score_b):
                up, down, sel, n, score = a, b, forward, nf, score_f
                up_idx, down_idx = ia[sel], ib[sel]
            else:
                up, down, sel, n, score = b, a, backward, nb, score_b
                up_idx, down_idx = ib[sel], ia[sel]
            if n >= errors.upwind_downwind_min_hours:
                candidates.append((-n, -score / n, up, down, up_idx, down_idx))
        taken: set[str] = set()
        for _, neg_cos, up, down, up_idx, down_idx in sorted(
            candidates, key=lambda c: (c[0], c[1], c[2], c[3])
        ):
            if up in taken or down in taken:
                continue
            taken.update((up, down))
            chosen.append((up, down, q, day, code, up_idx, down_idx, -neg_cos))
    groups = pairs["group"].to_numpy()
    paired_groups = np.unique(
        np.concatenate([groups[np.concatenate(c[5:7])] for c in chosen])
        if chosen
        else np.zeros(0, np.int64)
    )
    return UpwindDownwindPairs(
        up=np.array([c[0] for c in chosen], dtype=object),
        down=np.array([c[1] for c in chosen], dtype=object),
        species=np.array([c[2] for c in chosen], dtype=object),
        day=np.array([c[3] for c in chosen], dtype=np.int64),
        city=np.array([c[4] for c in chosen], dtype=object),
        up_pairs=[c[5] for c in chosen],
        down_pairs=[c[6] for c in chosen],
        mean_cos=np.array([c[7] for c in chosen], dtype=np.float64),
        paired=np.isin(groups, paired_groups),
    )


def pairs_of_system(system: ObservationSystem, used: np.ndarray) -> UpwindDownwindPairs:
    """:func:`select_pairs` on an observation system (its stations, their cities and its
    modelled wind)."""
    if system.station_city is None:
        raise InputDataError(
            "the observation system was built with errors.upwind_downwind 'off': build it with "
            "the setting on to form upwind-downwind pairs"
        )
    st = system.stations.set_index("station_id")
    rows = system.pairs["row"].to_numpy()
    we, wn = wind_vectors(
        system.rows["speed"].to_numpy()[rows], system.rows["direction_from"].to_numpy()[rows]
    )
    return select_pairs(
        system.pairs,
        used,
        st[["x", "y"]],
        pd.Series(system.station_city, index=st.index),
        we,
        wn,
        system.config.errors,
    )


def component_rows(
    pairs: pd.DataFrame, found: UpwindDownwindPairs
) -> tuple[sp.csr_matrix, pd.DataFrame]:
    """Averaging matrix and rows of the components, in the order down₀, up₀, down₁, up₁, …:
    each the mean of one station's values over its pair's common hours (the rows of
    :func:`~gridcarbon.inversion.errors_model.aggregation_matrix`)."""
    rows, cols, vals, first, n_hours = [], [], [], [], []
    for j in range(len(found)):
        for k, hours in enumerate((found.down_pairs[j], found.up_pairs[j])):
            r = 2 * j + k
            rows.append(np.full(hours.size, r))
            cols.append(hours)
            vals.append(np.full(hours.size, 1.0 / hours.size))
            first.append(int(hours[0]))
            n_hours.append(hours.size)
    m = 2 * len(found)
    A = sp.csr_matrix(
        (
            np.concatenate(vals) if vals else np.zeros(0),
            (
                np.concatenate(rows) if rows else np.zeros(0, np.int64),
                np.concatenate(cols) if cols else np.zeros(0, np.int64),
            ),
        ),
        shape=(m, len(pairs)),
    )
    meta = pairs.iloc[first][["station_id", "obs_species", "day", "kind", "sector", "time"]]
    meta = meta.reset_index(drop=True).assign(n_hours=np.asarray(n_hours, dtype=np.int64))
    return A, meta


def difference_operator(n_single: int, n_differences: int) -> sp.csr_matrix:
    """``D``: the identity on the first ``n_single`` observations, then one row
    ``e_down − e_up`` per difference over the components ordered down₀, up₀, down₁, up₁, …;
    shape ``(n_single + n_differences, n_single + 2 n_differences)``."""
    j = np.arange(n_differences)
    rows = np.concatenate([np.arange(n_single), n_single + j, n_single + j])
    cols = np.concatenate([np.arange(n_single), n_single + 2 * j, n_single + 2 * j + 1])
    vals = np.concatenate([np.ones(n_single), np.ones(n_differences), -np.ones(n_differences)])
    return sp.csr_matrix(
        (vals, (rows, cols)), shape=(n_single + n_differences, n_single + 2 * n_differences)
    )


def difference_covariance(
    D: sp.csr_matrix, r_var: np.ndarray, correlated: sp.csr_matrix | None
) -> tuple[np.ndarray, sp.csr_matrix | None]:
    """``R' = D R Dᵀ`` split like R: the variances (diagonal of R') and the correlated part
    ``D C Dᵀ`` (None when ``correlated`` is None), where ``R = diag(r_var − diag C) + C``.

    The uncorrelated part stays diagonal (the rows of D touch disjoint observations), so a
    difference's variance is ``R_dd + R_uu − 2 R_du`` with ``R_du`` from C only."""
    own = np.asarray(r_var, dtype=np.float64)
    if correlated is not None:
        own = own - correlated.diagonal()
    own_out = np.asarray(D.multiply(D) @ own, dtype=np.float64)
    if correlated is None:
        return own_out, None
    c_out = D @ sp.csr_matrix(correlated) @ D.T
    c_out = (0.5 * (c_out + c_out.T)).tocsr()  # symmetric to the last bit
    c_out.eliminate_zeros()
    return own_out + c_out.diagonal(), c_out


def apply_differences(
    A: sp.csr_matrix,
    meta: pd.DataFrame,
    r_var: np.ndarray,
    correlated: sp.csr_matrix | None,
    found: UpwindDownwindPairs,
) -> tuple[sp.csr_matrix, pd.DataFrame, np.ndarray, sp.csr_matrix | None]:
    """From the observations assimilated alone followed by the components
    (:func:`component_rows`) to the observations alone followed by the differences: their
    aggregation ``D A``, rows (a difference: the downwind station's row with ``kind``
    :data:`DIFFERENCE_KIND`, ``upwind_station_id`` the upwind station's; "" for the others)
    and R (:func:`difference_covariance`)."""
    n_diff = len(found)
    if n_diff == 0:  # no pair formed: the rows, H and R as they were, to the last bit
        return sp.csr_matrix(A), meta.assign(upwind_station_id=""), r_var, correlated
    n_single = A.shape[0] - 2 * n_diff
    D = difference_operator(n_single, n_diff)
    r_out, c_out = difference_covariance(D, r_var, correlated)
    single = meta.iloc[:n_single].assign(upwind_station_id="")
    diff = (
        meta.iloc[n_single::2]
        .assign(kind=DIFFERENCE_KIND, upwind_station_id=found.up.astype(str))
        .reset_index(drop=True)
    )
    rows = pd.concat([single, diff], ignore_index=True)
    # D A, row by row (the rows alone are copied as they are)
    A = sp.csr_matrix(A)
    out = sp.vstack([A[:n_single], A[n_single::2] - A[n_single + 1 :: 2]], format="csr")
    return out, rows, r_out, c_out
