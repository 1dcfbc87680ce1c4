"""Observing-system simulation experiments (OSSE): a synthetic truth, synthetic observations,
the inversion, and scores against the truth.  Everything here is SYNTHETIC.

* truth = prior × factors drawn from the inversion's own prior distribution (B), plus — in the
  perturbed-transport experiment — sector-wise biases (config ``osse.sector_biases``);
* **identical twin** (``mode="identical"``): observations from the truth through the same H, with
  noise drawn from R (measurement noise and hour-to-hour correlated model error); the truth is
  drawn exactly from the inversion's prior (no sector biases, no unmodelled signal), so that the
  statistics (χ², coverage) check the implementation;
* **perfect-transport twin** (``mode="perfect"``): the identical twin with R made of the
  measurement errors, the model-error floors and ``osse.perfect_transport_model_error_rel``
  (10 %) of the modelled signal, without the transport term (:func:`perfect_transport_config`):
  the ceiling of the network, reported beside the twin with the default R;
* **perturbed transport** (``mode="perturbed"``, the one that counts): observations made with
  wind-direction, wind-speed and mixing-height errors, plus the biogenic signal (NEE, isoprene)
  that the inversion does not model (default), plus drifting micro-sensor biases and
  measurement noise; the inversion keeps its default B and R.  Its fixed errors
  (``osse.wind_direction_error_deg`` 20°, ``wind_speed_error`` 20 %, ``mixing_height_bias``
  +20 %, ``error_time_scale_h`` 6 h) make it a reported stress test;
* **randomised errors** (``mode="randomised"``): the perturbed case with those four errors
  drawn per replicate, uniform in the ranges of ``osse.randomised`` (15–35°, 10–35 %,
  −30 to +30 %, 3–12 h by default), from a stream of the replicate's seed of their own
  (:func:`randomised_transport_errors`), so everything else a replicate draws is what the
  perturbed case draws with the same seed; the draws are columns of the table
  (:data:`RANDOMISED_COLUMNS`).

The perturbed truth's optional sub-state structure (``osse.truth_structure``, each piece off
by default and drawn from a stream of its own): in its emissions a 3 km log-normal field, a
shifted rush hour, a weekend ratio and daily stack factors (:func:`structured_emissions`); in
its transport each stack's Briggs rise times a factor and a fraction of the stacks displaced
1–3 km (:func:`structured_stacks`; the truth's cell totals put a displaced stack's emission
in the cell where the truth has it).

Metrics per replicate and species: RMSE of per-cell period totals (kg) against the truth for
prior and posterior, near (≤ ``station_radius_km`` from a station) and far; city totals; reduced
χ²; 1σ coverage of the per-cell period factors; DOFS; and the CO2 scores again with the
cross-species correlation set to 0; and the honest scores of
:mod:`gridcarbon.inversion.osse_scores` (species-specific distance bands in kg and as per-cell
factors, coverage on constrained cells, blocks, counties and cities, innovation χ² per species
and station class), summarised with 95 % intervals.

**Satellites in the OSSE** (``osse.satellite: tropomi_no2``; off by default): the caller hands
:func:`run_osse` a ``column_simulator`` (``gridcarbon.pipeline.osse_column_simulator``: one
simulated TROPOMI NO2 file a day, made from the replicate's own truth emissions at the overpass
hour with the synthetic retrieval's own physics, NO2/NOx ratio, air-mass-factor, lifetime and
retrieval errors, written in the S5P layout and read back by the reader).  Every replicate is
then inverted three times on the same truth — surface only, column only and joint — and the
table gets an ``observations`` column (``surface``, ``column``, ``joint``; with the imager beside
TROPOMI also ``joint_no2``, surface + NO2 columns), with the number of usable overpasses per city
(``city_<code>_overpasses``) on the column and joint rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.config.inversion import (
    COVARIANCE_SETTINGS,
    ErrorsConfig,
    InversionConfig,
    StateConfig,
)
from gridcarbon.contracts import ObservationSet, ObservationType, Scenario
from gridcarbon.errors import ConfigError
from gridcarbon.inversion.assimilation import AssimilationResult, assimilate
from gridcarbon.inversion.meteorology import error_fields_at, perturb_point_met
from gridcarbon.inversion.observation_types import StationHourObservations
from gridcarbon.inversion.operator import forward, row_dot
from gridcarbon.inversion.osse_scores import (
    OBSERVATION_SETS,
    ScoreContext,
    honest_scores,
    interval_summary,
    mixing_height_target_rows,
    satellite_targets,
    score_context,
)
from gridcarbon.inversion.posterior import cell_period_stats
from gridcarbon.inversion.regions import MixingHeightRegions, mixing_height_regions
from gridcarbon.inversion.scores import nearest_distance_km
from gridcarbon.inversion.system import ObservationSystem

__all__ = [
    "Truth",
    "make_truth",
    "truth_covariance",
    "structured_emissions",
    "structured_stacks",
    "randomised_transport_errors",
    "RANDOMISED_COLUMNS",
    "synthetic_observations",
    "replicate_truth",
    "synthetic_observation_set",
    "OSSEResult",
    "run_osse",
    "score_replicate",
    "score_against_truth",
    "sector_multipliers",
    "area_sector_shares",
    "perturbed_footprints",
    "station_distance_km",
    "city_matrix",
    "summarise",
    "perfect_transport_config",
    "mixing_height_scores",
    "city_day_mixing_height",
    "column_transport_scores",
    "OSSE_MODES",
    "ColumnSimulation",
    "ColumnSimulator",
    "overpass_counts",
    "operator_columns",
    "column_transport_errors",
    "replicate_transport_settings",
]

#: The OSSE experiments (``osse.mode``).
OSSE_MODES: tuple[str, ...] = ("perturbed", "identical", "perfect", "randomised")

#: The modes whose truth is the perturbed one (its own statistics, structure and transport).
_PERTURBED_MODES = ("perturbed", "randomised")

#: The randomised-error OSSE's draws per replicate: table column -> ``osse`` setting.
RANDOMISED_COLUMNS: dict[str, str] = {
    "truth_wind_direction_error_deg": "wind_direction_error_deg",
    "truth_wind_speed_error": "wind_speed_error",
    "truth_mixing_height_bias": "mixing_height_bias",
    "truth_error_time_scale_h": "error_time_scale_h",
}

log = logging.getLogger(__name__)


@dataclass
class Truth:
    """A synthetic truth: state vector, emissions and the unmodelled pieces."""

    x: np.ndarray
    area: np.ndarray  # (ns, nt, ncell) float32, kg/h
    points: np.ndarray  # (ns, nt, npt) float32
    micro_drift: dict = field(default_factory=dict)  # (station, obs species) -> per-day drift
    include_biogenic: bool = False
    mode: str = "perturbed"
    #: the truth's factor on each point source's Briggs rise (None: the formula's rise)
    point_rise_factor: np.ndarray | None = None
    #: the truth's point-source positions ``(npt, 2)``, m (None: the inventory's)
    point_xy: np.ndarray | None = None
    #: the truth's relative mixing-height error per city and Beijing day
    #: (``osse.truth_mixing_height_by_city``), ``(city, day)``; None: province-wide
    mixing_height_delta: np.ndarray | None = None
    #: the cities of ``mixing_height_delta``
    mixing_height_cities: MixingHeightRegions | None = None

    def point_cells(self, system: ObservationSystem) -> np.ndarray:
        """The cell of each point source where the truth has it (flat, C order)."""
        if self.point_xy is None:
            return system.point_cells
        return system.cells_of(self.point_xy[:, 0], self.point_xy[:, 1])

    def cell_totals(
        self, system: ObservationSystem, si: int, include_points: bool = True
    ) -> np.ndarray:
        """Period total per cell (area, or area + points in the cell where the truth has
        them), kg."""
        tot = self.area[si].sum(axis=0, dtype=np.float64)
        if include_points and self.points.shape[2]:
            np.add.at(tot, self.point_cells(system), self.points[si].sum(axis=0, dtype=np.float64))
        return tot

    def emissions_at(self, system: ObservationSystem, si: int, hour: int) -> np.ndarray:
        """Everything the truth emits of species ``si`` in each cell at ``hour``, kg h-1 (flat,
        C order), as its stations see it (:func:`synthetic_observations`): the area sources,
        the point sources in the cells where the truth has them, the neighbouring regions'
        inflow at the truth's factors and, when the truth has it, the biogenic flux (at the
        truth's daily scale when the state holds one) — for the simulated satellite files,
        whose plumes must come from the same world as the stations'."""
        L = system.layout
        emitted = system.species[si]
        total = self.area[si][hour].astype(np.float64)
        if self.points.shape[2]:
            np.add.at(total, self.point_cells(system), self.points[si][hour])
        first = L.segments["neighbours"].start + si * len(L.neighbours)
        for j, pj in enumerate(system.neighbour_used):
            total += (
                self.x[first + j] * system.neighbour_density[emitted][hour] * system.neighbour_W[pj]
            )
        if self.include_biogenic and emitted in system.bio:
            scale = 1.0
            if emitted in L.biogenic_species:
                bi = L.biogenic_species.index(emitted)
                scale = self.x[L.segments["biogenic"].start + bi * L.ndays + system.hour_day[hour]]
            total += scale * np.asarray(system.bio[emitted][hour], np.float64)
        return total


@dataclass
class ColumnSimulation:
    """Satellite columns simulated for one OSSE replicate.

    Attributes
    ----------
    kinds : list of ObservationType
        The column observation types (e.g. one per overpass), made from the replicate's truth.
    info : dict
        What the simulation drew (e.g. ``lifetime_factor``) and counted (files, pixels); added
        to the column and joint rows of the table.
    """

    kinds: list[ObservationType]
    info: dict = field(default_factory=dict)


#: ``simulator(system, truth, seed) -> ColumnSimulation``: the columns of a replicate from its
#: truth (``seed``: the replicate's seed).
ColumnSimulator = Callable[[ObservationSystem, "Truth", int], ColumnSimulation]


def overpass_counts(
    system: ObservationSystem,
    kinds: Sequence[ObservationType],
    cities: Any = None,
    codes: Sequence[str] = (),
) -> dict[str, float]:
    """Usable overpasses of column observation types (:class:`~gridcarbon.inversion.columns.
    ColumnObservations`) matched to ``system``: assimilated ones
    (``n_overpasses_used``, ``n_superobservations``) and, per city of the coverage matrix
    ``cities`` (cities × cells), those with a used superobservation whose centre lies in a cell
    at least half inside the city (``city_<code>_overpasses``); with the columns' plume-shape
    error, ``column_shape_mean_ratio``: the direction nodes' mean modelled enhancement over the
    central plume's, summed over the used superobservations."""
    g = system.grid
    out: dict = {"n_overpasses_used": 0, "n_superobservations": 0}
    per_city = {code: set() for code in codes}
    shape_sums = np.zeros(2)
    for kind in kinds:
        m = kind.match(system)
        out["n_overpasses_used"] += int(m.counts.get("n_overpasses_used", 0))
        out["n_superobservations"] += int(m.counts.get("n_superobservations", 0))
        if "prior_nodes_mean" in m.superobs:
            used = m.superobs[m.superobs["used"].to_numpy(bool)]
            shape_sums += [used["prior_nodes_mean"].sum(), used["prior_central"].sum()]
        if cities is None or not len(m.superobs):
            continue
        t = m.superobs[m.superobs["used"].to_numpy(bool)]
        col = np.floor((t["x"].to_numpy(float) - g.x_min) / g.cell_size).astype(np.int64)
        row = np.floor((g.y_max - t["y"].to_numpy(float)) / g.cell_size).astype(np.int64)
        ok = (col >= 0) & (col < g.nx) & (row >= 0) & (row < g.ny)
        cell = row[ok] * g.nx + col[ok]
        labels = t["overpass"].to_numpy()[ok]
        for k, code in enumerate(codes):
            w = np.asarray(cities[k].todense()).ravel()
            inside = w[cell] >= 0.5
            per_city[code].update(f"{kind.name}:{lab}" for lab in np.unique(labels[inside]))
    for code, found in per_city.items():
        out[f"city_{code}_overpasses"] = len(found)
    if shape_sums[1]:
        out["column_shape_mean_ratio"] = float(shape_sums[0] / shape_sums[1])
    return out


def sector_multipliers(
    system: ObservationSystem,
    biases: dict[str, float],
    area_shares: dict[str, dict[str, np.ndarray]] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Truth multipliers ``1 + Σ_sector bias × share`` per species and cell, and per point.

    ``area_shares[species][sector]`` is each sector's share of the cell's area emission (ncell,);
    without it only the point sources get sector biases.
    """
    ns = len(system.species)
    m_area = np.ones((ns, system.ncell))
    for si, s in enumerate(system.species):
        if area_shares and s in area_shares:
            for sec, b in biases.items():
                if sec in area_shares[s]:
                    m_area[si] += b * np.asarray(area_shares[s][sec]).ravel()
    m_pts = np.ones(len(system.points))
    if len(system.points) and "sector" in system.points:
        m_pts += system.points["sector"].map(biases).fillna(0.0).to_numpy(float)
    return m_area, m_pts


def area_sector_shares(
    inventory: Any, system: ObservationSystem
) -> dict[str, dict[str, np.ndarray]] | None:
    """Sector shares of each cell's area emission over the period, per species, from an
    inventory (:class:`~gridcarbon.grids.inventory.Inventory`: annual maps per sector) and the
    sector temporal profiles of the Beijing year; None without an inventory on the system's grid
    or when the period's hours are not hours of one Beijing year."""
    from gridcarbon.grids.temporal import beijing_year_hours, hourly_weight_matrix

    if inventory is None or inventory.grid.shape != system.grid.shape:
        return None
    year = int((system.times[0] + pd.Timedelta(hours=8)).year)
    year_hours = beijing_year_hours(year)
    positions = np.searchsorted(year_hours.values, system.times.values)
    if positions.max() >= year_hours.size or not np.array_equal(
        year_hours.values[positions], system.times.values
    ):
        return None
    W = hourly_weight_matrix(year, inventory.sectors)[positions]  # (nt, S)
    wsum = W.sum(axis=0)
    out = {}
    for s in system.species:
        if s not in inventory.species:
            continue
        maps = inventory.area_maps(s).reshape(len(inventory.sectors), -1) * wsum[:, None]
        tot = maps.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(tot > 0, maps / tot, 0.0)
        out[s] = {sec: shares[i] for i, sec in enumerate(inventory.sectors)}
    return out


def truth_covariance(system: ObservationSystem, cfg: InversionConfig):
    """The perturbed truth's error covariance on the system's layout: the state's covariance
    settings at their defaults with ``osse.truth_covariance`` over them — not the inversion's
    (``cfg.state``), so that changing B leaves the truth as it was.  The system's own B when
    the two agree (the default)."""
    default = StateConfig()
    settings = {k: getattr(default, k) for k in COVARIANCE_SETTINGS} | cfg.osse.truth_covariance
    if all(getattr(cfg.state, k) == v for k, v in settings.items()):
        return system.B
    return system.prior_covariance(state=cfg.state.model_copy(update=settings))


def _shift_hours(values: np.ndarray, shift: int) -> np.ndarray:
    """``values`` (time first) moved ``shift`` hours later (earlier when negative); the hours
    left empty at an end of the period repeat its edge hour."""
    out = np.empty_like(values)
    if shift > 0:
        out[shift:] = values[:-shift]
        out[:shift] = values[0]
    elif shift < 0:
        out[:shift] = values[-shift:]
        out[shift:] = values[-1]
    else:
        out[:] = values
    return out


def _structure_stream(seed: Any, piece: int) -> np.random.Generator:
    """The random stream of one piece of the truth's structure for a replicate's entropy
    ``seed``: independent of the replicate's own generator and of every other piece."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7919, piece)))


def structured_emissions(
    system: ObservationSystem,
    area: np.ndarray,
    points: np.ndarray,
    structure: Any,
    seed: Any,
    area_shares: dict[str, dict[str, np.ndarray]] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """A truth's area ``(ns, nt, ncell)`` and point ``(ns, nt, npt)`` emissions (kg/h) with the
    sub-state structure of ``structure`` (:class:`~gridcarbon.config.inversion.TruthStructure`).

    Each piece draws from its own stream of ``seed`` (the replicate's entropy), so turning one
    on or off changes no other draw: a 3 km log-normal factor per cell (shared by the species:
    the activity is co-located), the rush-hour sector's share of each cell (its period share
    from ``area_shares``) moved ±``rush_hour_shift_h`` hours, Beijing weekends times a ratio,
    and a daily AR(1) log-normal factor per point source.
    """

    def stream(piece: int) -> np.random.Generator:
        return _structure_stream(seed, piece)

    area = area.copy()
    points = points.copy()
    beijing = pd.DatetimeIndex(system.times) + pd.Timedelta(hours=8)
    if structure.cell_lognormal_sigma:
        sd = structure.cell_lognormal_sigma
        factor = np.exp(sd * stream(1).standard_normal(area.shape[2]) - 0.5 * sd * sd)
        area *= factor.astype(area.dtype)[None, None, :]
    if structure.rush_hour_shift_h and area_shares:
        shift = int(structure.rush_hour_shift_h * stream(2).choice([-1, 1]))
        for si, name in enumerate(system.species):
            share = (area_shares.get(name) or {}).get(structure.rush_hour_sector)
            if share is None:
                continue
            moved = area[si] * np.asarray(share, area.dtype)[None, :]
            area[si] += _shift_hours(moved, shift) - moved
    if structure.weekend_ratio_range is not None:
        ratio = stream(3).uniform(*structure.weekend_ratio_range)
        weekend = np.asarray(beijing.day_of_week >= 5)
        area[:, weekend, :] *= area.dtype.type(ratio)
    if structure.stack_daily_sigma and points.shape[2]:
        sd, rho = structure.stack_daily_sigma, structure.stack_daily_correlation
        day = np.asarray((beijing.normalize() - beijing.normalize()[0]).days)
        z = stream(4).standard_normal((int(day.max()) + 1, points.shape[2]))
        for d in range(1, z.shape[0]):
            z[d] = rho * z[d - 1] + np.sqrt(1.0 - rho * rho) * z[d]
        factor = np.exp(sd * z - 0.5 * sd * sd)[day]  # (nt, npt)
        points *= factor.astype(points.dtype)[None]
    return area, points


def structured_stacks(
    system: ObservationSystem, structure: Any, seed: Any
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The point sources' part of a truth's transport under ``structure``
    (:class:`~gridcarbon.config.inversion.TruthStructure`), each piece from its own stream of
    ``seed`` (the replicate's entropy), so that turning one on changes no other draw.

    Returns
    -------
    rise : ndarray ``(npt,)`` or None
        Factor on each stack's Briggs plume rise, uniform in ``stack_rise_factor_range``
        (None when off).
    xy : ndarray ``(npt, 2)`` or None
        Each stack's position in the truth, m (grid CRS): the inventory's, with
        ``round(stack_displaced_fraction × npt)`` stacks chosen at random moved a distance
        uniform in ``stack_displacement_km`` in a direction uniform in [0, 2π) (None when off).
    """
    npt = len(system.points)
    rise = xy = None
    if not npt:
        return rise, xy
    if structure.stack_rise_factor_range is not None:
        rise = _structure_stream(seed, 5).uniform(*structure.stack_rise_factor_range, npt)
    if structure.stack_displaced_fraction > 0:
        gen = _structure_stream(seed, 6)
        n = int(round(structure.stack_displaced_fraction * npt))
        moved = np.sort(gen.choice(npt, size=n, replace=False))
        dist = 1000.0 * gen.uniform(*structure.stack_displacement_km, n)
        angle = gen.uniform(0.0, 2.0 * np.pi, n)
        xy = system.points[["x", "y"]].to_numpy(float).copy()
        xy[moved, 0] += dist * np.cos(angle)
        xy[moved, 1] += dist * np.sin(angle)
    return rise, xy


def randomised_transport_errors(ranges: Any, seed: int) -> dict[str, float]:
    """The transport errors of one replicate of the randomised-error OSSE: each of
    ``osse.randomised`` (:class:`~gridcarbon.config.inversion.RandomisedErrors`) drawn uniform
    in its range, in a fixed order from a stream of the replicate's seed of its own (so the
    truth, the met's random fields and the noise are those of the perturbed case with the same
    seed, and narrowing one range changes none of the other draws).

    Returns
    -------
    dict
        ``osse`` setting -> value: ``wind_direction_error_deg`` (degrees),
        ``wind_speed_error`` (relative), ``mixing_height_bias`` (relative),
        ``error_time_scale_h`` (hours).
    """
    gen = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7927,)))
    u = gen.uniform(size=len(RANDOMISED_COLUMNS))
    out = {}
    for k, name in enumerate(RANDOMISED_COLUMNS.values()):
        low, high = getattr(ranges, name)
        out[name] = float(low + (high - low) * u[k])
    return out


def _tuned_scales(res: AssimilationResult) -> dict[str, float]:
    """The R factors of ``errors.innovation_tuning`` per group (``r_scale_<group>``, the
    group's ``|`` written ``:``) and the B factors of ``errors.prior_error_tuning`` per species
    (``b_scale_<species>``), and the Desroziers ratios after the last solve
    (``r_ratio_<group>``, ``b_ratio_<species>``); empty when the tuning is off."""
    tuning = res.metrics.get("innovation_tuning")
    if not tuning:
        return {}
    out = {}
    for name in ("r_scale", "r_ratio_after", "b_scale", "b_ratio_after"):
        for key, value in tuning.get(name, {}).items():
            out[f"{name.removesuffix('_after')}_{key.replace('|', ':')}"] = float(value)
    return out


def _transport_estimate(res: AssimilationResult) -> dict[str, float]:
    """The stations' transport-error hyperparameters of ``errors.transport_error_estimate``
    (``estimated_wind_direction_deg``, ``estimated_model_error_rel``, their ``..._at_bound``
    flags as 0/1, the innovations' χ² at the configured and the estimated values, and per city
    and observed quantity ``city_offset_sigma_<city>:<quantity>`` and
    ``city_offset_ratio_<city>:<quantity>``); empty when it is off."""
    found = res.metrics.get("transport_error_estimate")
    if not found:
        return {}
    return {
        "estimated_wind_direction_deg": float(found["wind_direction_deg"]),
        "estimated_wind_direction_at_bound": float(found["wind_direction_at_bound"]),
        "estimated_model_error_rel": float(found["model_error_rel"]),
        "estimated_model_error_rel_at_bound": float(found["model_error_rel_at_bound"]),
        "transport_estimate_chi2_configured": float(found["innovation_chi2_configured"]),
        "transport_estimate_chi2": float(found["innovation_chi2"]),
        **{
            f"city_offset_{name}_{key.replace('|', ':')}": float(value[field])
            for key, value in found.get("city_offsets", {}).items()
            for name, field in (("sigma", "sigma_offset"), ("ratio", "variance_ratio"))
        },
    }


def _amf_estimate(res: AssimilationResult) -> dict[str, float]:
    """The columns' AMF error of ``errors.column_amf_error_estimate`` per product estimated
    (``amf_estimate_<product>_km``, ``..._rel``, ``..._gaussian`` (1: Gaussian, 0:
    exponential), ``..._at_bound``, ``..._misfit`` and ``..._misfit_configured``); empty when
    it is off."""
    out = {}
    for product, found in (res.metrics.get("column_amf_error_estimate") or {}).items():
        if not found["estimated"]:
            continue
        key = f"amf_estimate_{product}"
        out[f"{key}_km"] = float(found["amf_correlation_km"])
        out[f"{key}_rel"] = float(found["amf_error_rel"])
        out[f"{key}_gaussian"] = float(found["amf_correlation_shape"] == "gaussian")
        out[f"{key}_at_bound"] = float(found["amf_error_rel_at_bound"])
        out[f"{key}_misfit"] = float(found["misfit"])
        out[f"{key}_misfit_configured"] = float(found["misfit_configured"])
    return out


def make_truth(
    system: ObservationSystem,
    rng: np.random.Generator,
    mode: str,
    cfg: InversionConfig,
    area_shares: dict[str, dict[str, np.ndarray]] | None = None,
) -> Truth:
    """Draw a truth: in perturbed mode from the OSSE's own error statistics
    (:func:`truth_covariance`) plus sector biases and the sub-state structure of
    ``osse.truth_structure`` (:func:`structured_emissions`; for its transport the stacks' own
    rise factors and positions, :func:`structured_stacks`, kept on the truth for
    :func:`perturbed_footprints`), in the twins from the inversion's B."""
    L = system.layout
    # the mixing-height scales are drawn from a child generator so that the emission truth and
    # every later draw (met errors, noise) stay the same with the unknowns on or off
    nt = L.segments["transport"].start
    z = np.concatenate(
        [
            rng.standard_normal(nt),
            np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0]).standard_normal(L.n - nt),
        ]
    )
    B = truth_covariance(system, cfg) if mode == "perturbed" else system.B
    x = L.xb() + B.sqrt_apply(z)
    g = L.segments["grid"]
    f = x[g].reshape(L.grid_shape)
    cb = L.cell_block()
    by, bx = np.divmod(cb, L.nbx)
    hw = L.hour_window()
    biases = cfg.osse.sector_biases if mode == "perturbed" else {}
    m_area, m_pts = sector_multipliers(system, biases, area_shares)
    ns = len(system.species)
    area = np.empty_like(system.E)
    points = np.empty_like(system.Ep)
    npt = len(system.points)
    pcell = system.point_cells if npt else None
    for si in range(ns):
        fc = f[si][:, by, bx]  # (nw, ncell)
        area[si] = system.E[si] * (fc[hw] * m_area[si][None, :])
        if npt:
            pf = f[si][hw][:, by[pcell], bx[pcell]]
            if len(L.point_index):
                ps = (
                    L.segments["points"].start
                    + si * L.point_index.size
                    + np.arange(L.point_index.size)
                )
                pf[:, L.point_index] = x[ps][None, :]
            points[si] = system.Ep[si] * pf * m_pts[None, :]
    structure = cfg.osse.truth_structure
    if mode == "perturbed" and structure.active:
        seed = rng.bit_generator.seed_seq.entropy
        area, points = structured_emissions(system, area, points, structure, seed, area_shares)
    rise = point_xy = None
    if mode == "perturbed" and structure.transport_active:
        rise, point_xy = structured_stacks(system, structure, rng.bit_generator.seed_seq.entropy)
    drift = {}
    if mode == "perturbed":
        for sid, s in L.bias_keys:
            sd = cfg.osse.micro_drift_per_day.get(s, 0.0)
            drift[(sid, s)] = float(rng.normal(0.0, sd))
    include_bio = mode == "perturbed" or cfg.state.biogenic == "scaled"
    return Truth(x, area, points, drift, include_bio, mode, rise, point_xy)


def _correlated_transport_noise(
    system: ObservationSystem, cfg: InversionConfig, rng: np.random.Generator
) -> np.ndarray:
    """Transport-error noise of every pair drawn from the covariance R's correlated part
    assumes (``errors.transport_error_correlation: same_day``): per Beijing day
    ``Σ_k δ_k ∘ (T^1/2 ξ_k)[station]``, whose covariance is ``(Σ_k δ_k δ_kᵀ) ∘ T`` with T the
    Gaspari–Cohn taper between the stations — the hours of a station-day fully correlated,
    the days independent."""
    from gridcarbon.inversion.errors_model import gaspari_cohn

    P = system.pairs
    st = system.stations.reset_index(drop=True)
    station = pd.Index(st["station_id"]).get_indexer(P["station_id"])
    xy = st[["x", "y"]].to_numpy(float)
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    taper = gaspari_cohn(dist / (cfg.errors.transport_error_localisation_km * 1000.0))
    root = np.linalg.cholesky(taper + 1e-10 * np.eye(len(st)))
    dev = system.transport_deviations  # (nodes, pairs)
    day = P["day"].to_numpy()
    out = np.zeros(len(P))
    for d in np.unique(day):
        m = day == d
        fields = root @ rng.standard_normal((len(st), dev.shape[0]))  # (stations, nodes)
        out[m] = (dev[:, m] * fields[station[m]].T).sum(axis=0)
    return out


def _model_error_noise(system: ObservationSystem, cfg: InversionConfig, rng) -> np.ndarray:
    """Hourly model-error noise with the exponential hour-to-hour correlation R assumes (and,
    with correlated transport errors, their same-day correlation between stations)."""
    P = system.pairs
    floor = P["obs_species"].map(cfg.errors.model_error_floor).to_numpy(float)
    correlated = cfg.errors.transport_error_correlation == "same_day"
    sd = np.sqrt(
        floor**2
        + (cfg.errors.model_error_rel * system.enhancement) ** 2
        + (0.0 if correlated else 1.0) * system.direction_spread**2
    )
    hours = np.asarray(
        (pd.DatetimeIndex(P["time"]) - pd.Timestamp("2000-01-01")) / pd.Timedelta(hours=1), float
    )
    out = np.zeros(len(P))
    for _, idx in P.groupby("group").indices.items():
        t = hours[idx]
        C = np.exp(-np.abs(t[:, None] - t[None, :]) / cfg.errors.model_error_time_scale_h)
        Lc = np.linalg.cholesky(C + 1e-12 * np.eye(t.size))
        out[idx] = sd[idx] * (Lc @ rng.standard_normal(t.size))
    if correlated:
        out += _correlated_transport_noise(system, cfg, rng)
    return out


def perturbed_footprints(
    system: ObservationSystem,
    rng: np.random.Generator,
    cfg: InversionConfig,
    truth: Truth | None = None,
):
    """The transport of a perturbed-transport truth: the system's met with the OSSE's wind
    direction, wind speed and mixing-height errors, plumes of a known wind and, with
    ``osse.truth_nox_lifetime_factor_range``, a NOx lifetime the model's times a log-uniform
    factor drawn for the replicate (after the met's draws, so the met is the same with or
    without it).  With a ``truth`` whose stacks have their own plume rise or positions
    (``osse.truth_structure``: :func:`structured_stacks`), its point plumes are made with
    them."""
    o = cfg.osse
    xy = system.stations[["x", "y"]].to_numpy()
    blh_scale = None
    if truth is not None and truth.mixing_height_delta is not None:
        city = truth.mixing_height_cities.region_of(xy[:, 0], xy[:, 1])
        blh_scale = 1.0 + truth.mixing_height_delta[city[None, :], system.hour_day[:, None]]
    pm = perturb_point_met(
        system.pm,
        xy,
        rng,
        o.wind_direction_error_deg,
        o.wind_speed_error,
        o.mixing_height_bias,
        o.error_time_scale_h,
        o.error_length_scale_km,
        blh_scale,
    )
    receptors = system.receptors_with(pm)
    if o.truth_nox_lifetime_factor_range is not None:
        low, high = np.log(o.truth_nox_lifetime_factor_range)
        factor = float(np.exp(rng.uniform(low, high)))
        log.debug("OSSE truth: reactive-species lifetime x %.3f", factor)
        receptors = replace(receptors, tau_nox_s=receptors.tau_nox_s * factor)
    rise = 1.0
    point_xy = None
    if truth is not None:
        rise = 1.0 if truth.point_rise_factor is None else truth.point_rise_factor
        point_xy = truth.point_xy
    return system.build(receptors, known_wind=True, rise_scale=rise, point_xy=point_xy)


def replicate_truth(
    system: ObservationSystem,
    cfg: InversionConfig,
    mode: str,
    seed: int,
    area_shares: Any = None,
) -> tuple[Truth, pd.DataFrame, dict[str, float]]:
    """The truth and synthetic station observations of one OSSE replicate, as
    :func:`run_osse` draws them: from ``np.random.default_rng(seed)``, with the replicate's own
    transport errors in the ``randomised`` mode and the truth's own stacks (plume rise,
    positions) in the perturbed ones.

    Parameters
    ----------
    system : ObservationSystem
    cfg : InversionConfig
    mode : {"perturbed", "randomised", "identical", "perfect"}
        The OSSE mode (the twins observe with the model's own transport).
    seed : int
        The replicate's seed.
    area_shares : optional
        :func:`area_sector_shares` of the inventory (computed when absent).

    Returns
    -------
    truth : Truth
    observations : pandas.DataFrame
        Long table in canonical units (:func:`synthetic_observations`).
    drawn : dict
        The randomised mode's drawn transport errors by table column (empty otherwise).
    """
    if mode not in (*_PERTURBED_MODES, "identical", "perfect"):
        raise ValueError(
            f"OSSE mode {mode!r} is not one of perturbed, randomised, identical, perfect"
        )
    rng = np.random.default_rng(seed)
    truth_mode = "perturbed" if mode in _PERTURBED_MODES else "identical"
    truth = make_truth(system, rng, truth_mode, cfg, area_shares)
    settings, drawn = replicate_transport_settings(cfg, mode, seed)
    cfg_i = cfg.model_copy(update={"osse": settings})
    if cfg.osse.truth_mixing_height_by_city and mode in _PERTURBED_MODES:
        truth = city_day_mixing_height(system, cfg, seed, truth)
        if mode == "randomised":
            drawn["truth_mixing_height_bias"] = float(truth.mixing_height_delta.mean())
    fp = perturbed_footprints(system, rng, cfg_i, truth) if mode in _PERTURBED_MODES else None
    return truth, synthetic_observations(system, truth, rng, cfg_i, fp), drawn


def replicate_transport_settings(
    cfg: InversionConfig, mode: str, seed: int
) -> tuple[Any, dict[str, float]]:
    """The ``osse`` settings whose transport errors a replicate's truth sees: in the
    ``randomised`` mode its own draws (:func:`randomised_transport_errors`), and with
    ``osse.truth_mixing_height_by_city`` in the perturbed modes no province-wide mixing-height
    bias (the truth's city-day errors replace it).

    Returns
    -------
    settings : OSSESettings
    drawn : dict
        The randomised mode's draws by table column (:data:`RANDOMISED_COLUMNS`; empty
        otherwise).
    """
    settings = cfg.osse
    drawn: dict[str, float] = {}
    if mode == "randomised":
        errors = randomised_transport_errors(settings.randomised, seed)
        settings = settings.model_copy(update=errors)
        drawn = {col: errors[name] for col, name in RANDOMISED_COLUMNS.items()}
    if settings.truth_mixing_height_by_city and mode in _PERTURBED_MODES:
        settings = settings.model_copy(update={"mixing_height_bias": 0.0})
    return settings, drawn


def city_day_mixing_height(
    system: ObservationSystem, cfg: InversionConfig, seed: int, truth: Truth
) -> Truth:
    """``truth`` with its relative mixing-height error per city and Beijing day
    (``osse.truth_mixing_height_by_city``): each city's bias drawn uniform in
    ``osse.randomised.mixing_height_bias`` for the replicate, plus an independent daily
    N(0, ``osse.truth_mixing_height_daily_sd``), from a stream of the replicate's seed of its
    own (every other draw of the replicate unchanged).  The cities are the state's regions
    when it has them (``state.mixing_height_regions: city``), else the scenario's.  SYNTHETIC.
    """
    regions = system.mixing_height_regions or mixing_height_regions(
        system.city_boundaries,
        system.grid,
        cfg.state.mixing_height_region_length_km,
        needed_by="osse.truth_mixing_height_by_city",
    )
    gen = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7929,)))
    low, high = cfg.osse.randomised.mixing_height_bias
    n = len(regions.names)
    bias = gen.uniform(low, high, n)
    daily = cfg.osse.truth_mixing_height_daily_sd * gen.standard_normal((n, len(system.days)))
    # a mixing height scaled by less than 0.2 is not a plausible error of a met model
    delta = np.maximum(bias[:, None] + daily, -0.8)
    return replace(truth, mixing_height_delta=delta, mixing_height_cities=regions)


def synthetic_observations(
    system: ObservationSystem,
    truth: Truth,
    rng: np.random.Generator,
    cfg: InversionConfig,
    footprints=None,
) -> pd.DataFrame:
    """Observations of the truth at every pair of ``system`` (long table, canonical units).

    ``footprints`` is the transport that makes them: the system's own (identical twin) or one
    built with perturbed met.
    """
    fp = system.footprints if footprints is None else footprints
    L = system.layout
    P = system.pairs
    rows = P["row"].to_numpy()
    hrs = fp.receptors.hour[rows]
    val = np.full(len(P), np.nan)
    for obs_s in P["obs_species"].unique():
        m = (P["obs_species"] == obs_s).to_numpy()
        emitted = system.observed[obs_s].name
        si = system.species.index(emitted)
        nox = obs_s in system.reactive_observed
        c = forward(
            fp, truth.area[si], truth.points[si] if truth.points.shape[2] else None, nox=nox
        )
        for j, pj in enumerate(system.neighbour_used):
            fj = truth.x[L.segments["neighbours"].start + si * len(L.neighbours) + j]
            c = (
                c
                + fj
                * row_dot(fp, system.neighbour_W[pj], nox=nox)
                * system.neighbour_density[emitted][fp.receptors.hour]
            )
        if truth.include_biogenic and emitted in system.bio and not nox:
            bio_scale = 1.0
            if emitted in L.biogenic_species:
                bi = L.biogenic_species.index(emitted)
                days = system.rows["day"].to_numpy()
                bio_scale = truth.x[L.segments["biogenic"].start + bi * L.ndays + days]
            c = c + bio_scale * forward(fp, system.bio[emitted], nox=False)
        # the twins see the model's own H, whose plumes are the quadrature means when
        # errors.transport_error_model is 'quadrature' (ratio 1 otherwise), the point sources'
        # with the plume-rise dimension too (errors.point_dominated_pairs 'elevated_plume')
        twin = truth.mode != "perturbed"
        val[m] = (
            system.pair_conversion[m] * c[rows[m]] * (system.plume_mean_ratio[m] if twin else 1.0)
        )
        if twin and system.plume_rise_sd > 0 and truth.points.shape[2]:
            c_point = forward(fp, None, truth.points[si], nox=nox)
            val[m] += (
                system.pair_conversion[m]
                * c_point[rows[m]]
                * (system.point_mean_ratio[m] - system.plume_mean_ratio[m])
            )
    # background and micro biases (drawn in x)
    osp = np.array([L.obs_species.index(s) for s in P["obs_species"]])
    bgcol = (
        L.segments["background"].start
        + (osp * L.ndays + P["day"].to_numpy()) * L.nsectors
        + P["sector"].to_numpy()
    )
    val += P["obs_species"].map(cfg.state.background_prior).to_numpy(float) + truth.x[bgcol]
    bias_index = {k: i for i, k in enumerate(L.bias_keys)}
    mid = (L.ndays - 1) / 2.0
    for i, (sid, s) in enumerate(zip(P["station_id"], P["obs_species"], strict=True)):
        k = bias_index.get((sid, s))
        if k is not None:
            val[i] += truth.x[L.segments["bias"].start + k] + truth.micro_drift.get(
                (sid, s), 0.0
            ) * (P["day"].iat[i] - mid)
    # the perturbed truth's noise is its own (never R's); the twins' is R's, which they test
    noise_sd = (
        cfg.errors.measurement_error
        if truth.mode != "perturbed"
        else cfg.osse.truth_measurement_error or ErrorsConfig().measurement_error
    )
    meas = np.array(
        [noise_sd.get(k, {}).get(s, 0.0) for k, s in zip(P["kind"], P["obs_species"], strict=True)]
    )
    val += meas * rng.standard_normal(len(P))
    if truth.mode == "identical":
        val += _model_error_noise(system, cfg, rng)
        if L.transport_days:  # the truth's mixing-height scales, through the same linear model
            tr = truth.x[L.transport_col(system.pair_mixing_height_region(), P["day"].to_numpy())]
            val += system.mixing_height_sensitivity * tr
    # not clipped at zero: a micro sensor with a negative bias can read below zero, and the
    # identical twin's statistics need the linear-Gaussian model unaltered
    del hrs
    return pd.DataFrame(
        {
            "time": P["time"].to_numpy(),
            "station_id": P["station_id"].to_numpy(),
            "species": P["obs_species"].to_numpy(),
            "value": val,
            "unit": P["obs_species"].map({q: s.observed_unit for q, s in system.observed.items()}),
            "uncertainty": np.nan,
            "synthetic": True,
        }
    )


def station_distance_km(system: ObservationSystem) -> np.ndarray:
    """Distance (km) from every cell centre (flat, C order) to the nearest station."""
    g = system.grid
    xx, yy = np.meshgrid(g.x, g.y)
    return nearest_distance_km(
        xx.ravel(), yy.ravel(), system.stations["x"].to_numpy(), system.stations["y"].to_numpy()
    )


def perfect_transport_config(config: InversionConfig) -> InversionConfig:
    """The configuration of the perfect-transport twin: R of measurement errors, model-error
    floors and ``osse.perfect_transport_model_error_rel`` of the modelled signal, without the
    wind-direction and mixing-height terms (which also leaves the point-dominance test to the
    central plume)."""
    return config.model_copy(
        update={
            "errors": config.errors.model_copy(
                update={
                    "model_error_rel": config.osse.perfect_transport_model_error_rel,
                    "model_error_wind_direction_deg": 0.0,
                    "model_error_mixing_height_rel": 0.0,
                }
            )
        }
    )


def city_matrix(system: ObservationSystem, cities: Any, codes: list[str]):
    """Coverage matrix of the given cities on the grid (rows in ``codes`` order; an empty row
    for a code not among ``cities``, a lon/lat GeoDataFrame with an ``adcode`` column)."""
    import scipy.sparse as sp

    from gridcarbon.grids.coverage import coverage_matrix
    from gridcarbon.grids.gridspec import to_projected

    by_code = cities.set_index(cities["adcode"].astype(str))
    rows = []
    for code in codes:
        if code in by_code.index:
            geom = to_projected(by_code.geometry[code], system.grid.crs)
            rows.append(coverage_matrix(system.grid, [geom]))
        else:
            rows.append(sp.csr_matrix((1, system.grid.size)))
    return sp.vstack(rows).tocsr()


def score_replicate(
    system: ObservationSystem,
    truth: Truth,
    res: AssimilationResult,
    cfg: InversionConfig,
    near: np.ndarray,
    cities=None,
    city_codes: list[str] | None = None,
    label: str = "",
    distance_km: np.ndarray | None = None,
    context: ScoreContext | None = None,
    only_species: str | None = None,
    overpass_days: np.ndarray | None = None,
) -> list[dict]:
    """Scores of one inversion against the truth, one dict per species.

    With ``distance_km`` (per cell, to the nearest station) the area-source RMSE reduction is
    also scored per band of ``cfg.osse.distance_bands_km`` (``rmse_reduction_<lo>-<hi>km``).
    ``expected_rmse_reduction_near`` is what B and R promise near stations,
    ``1 - sqrt(Σ σ²_post / Σ σ²_prior)`` (the expected gain when the truth is drawn from B and
    the errors from R; conservative with a truncated Lanczos basis).  With ``context``
    (:func:`~gridcarbon.inversion.osse_scores.score_context`) the honest scores of
    :func:`~gridcarbon.inversion.osse_scores.honest_scores` are added (the innovation χ² only
    for ``label == "default"``, the system's own B; ``honest_score_seconds``: their time).
    ``only_species``: score that species only.  ``overpass_days``: the replicate's days with
    an assimilated overpass, for the mixing-height scores (:func:`mixing_height_scores`).
    """
    out = []
    region = system.region_fraction > 0
    edges = [0.0, *cfg.osse.distance_bands_km]  # sorted by the config

    def rmse(a, b, m):
        return float(np.sqrt(np.mean((a[m] - b[m]) ** 2))) if m.any() else np.nan

    L = system.layout
    for si, s in enumerate(system.species):
        if only_species is not None and s != only_species:
            continue
        rec = {"label": label, "species": s}
        # "cells": the gridded (area-source) variables of the emission Dataset — the target
        # metric; "cells_with_points": plus the point sources located in each cell.
        for tag, inc in (("", False), ("_with_points", True)):
            st = cell_period_stats(system, res.covariance, res.x_post, si, include_points=inc)
            tt = truth.cell_totals(system, si, include_points=inc)
            pr, po, sd = st["prior"], st["posterior"], st["posterior_std"]
            ok = region & (pr > 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                ur = np.where(st["prior_std"] > 0, 1 - sd / st["prior_std"], 0.0)
            nm, fm = ok & near, ok & ~near
            con = ok & (ur >= 0.05)
            rec.update(
                {
                    f"rmse_prior_near_kg{tag}": rmse(pr, tt, nm),
                    f"rmse_post_near_kg{tag}": rmse(po, tt, nm),
                    f"rmse_prior_far_kg{tag}": rmse(pr, tt, fm),
                    f"rmse_post_far_kg{tag}": rmse(po, tt, fm),
                    f"coverage_1sigma{tag}": float((np.abs(tt[ok] - po[ok]) <= sd[ok]).mean()),
                    f"coverage_1sigma_constrained{tag}": float(
                        (np.abs(tt[con] - po[con]) <= sd[con]).mean()
                    )
                    if con.any()
                    else np.nan,
                }
            )
            rec[f"rmse_reduction_near{tag}"] = (
                1 - rec[f"rmse_post_near_kg{tag}"] / rec[f"rmse_prior_near_kg{tag}"]
            )
            rec[f"rmse_change_far{tag}"] = (
                rec[f"rmse_post_far_kg{tag}"] / rec[f"rmse_prior_far_kg{tag}"] - 1
            )
            if not inc:
                rec["expected_rmse_reduction_near"] = (
                    float(1 - np.sqrt(np.sum(sd[nm] ** 2) / np.sum(st["prior_std"][nm] ** 2)))
                    if nm.any()
                    else np.nan
                )
            if not inc and distance_km is not None:
                for lo, hi in zip(edges[:-1], edges[1:], strict=True):
                    band = ok & (distance_km <= hi) & ((distance_km > lo) | (lo == 0.0))
                    e_pr = rmse(pr, tt, band)
                    rec[f"rmse_reduction_{lo:g}-{hi:g}km"] = 1 - rmse(po, tt, band) / e_pr
                    rec[f"n_cells_{lo:g}-{hi:g}km"] = int(band.sum())
            if inc:
                rec.update(
                    {
                        "n_cells_near": int(nm.sum()),
                        "n_cells_far": int(fm.sum()),
                        "n_cells_constrained": int(con.sum()),
                        "total_truth_kg": float(tt[region].sum()),
                        "total_prior_kg": float(pr[region].sum()),
                        "total_post_kg": float(po[region].sum()),
                    }
                )
                if cities is not None and s == cfg.osse.focus_species:
                    for k, code in enumerate(city_codes or []):
                        w = np.asarray(cities[k].todense()).ravel()
                        t_, p_, a_ = float(w @ tt), float(w @ pr), float(w @ po)
                        if t_ > 0:
                            rec[f"city_{code}_prior_err"] = p_ / t_ - 1
                            rec[f"city_{code}_post_err"] = a_ / t_ - 1
        if len(L.point_index):
            ps = (
                L.segments["points"].start + si * L.point_index.size + np.arange(L.point_index.size)
            )
            rec["point_factor_rmse_prior"] = float(np.sqrt(np.mean((1.0 - truth.x[ps]) ** 2)))
            rec["point_factor_rmse_post"] = float(
                np.sqrt(np.mean((res.x_post[ps] - truth.x[ps]) ** 2))
            )
            rec["point_factor_rmse_ratio"] = (
                rec["point_factor_rmse_post"] / rec["point_factor_rmse_prior"]
            )
            # what B and R promise for them: sqrt(Σ σ²_post / Σ σ²_prior)
            rec["expected_point_factor_rmse_ratio"] = float(
                np.sqrt(np.sum(res.post_std[ps] ** 2) / np.sum(res.prior_std[ps] ** 2))
            )
        rec.update(mixing_height_scores(L, res, truth, overpass_days))
        rec.update(column_transport_scores(L, res))
        rec.update(
            {
                "reduced_chi2": res.reduced_chi2,
                "dofs": res.dofs,
                "n_obs": res.metrics["n_observations"],
                "n_negative_factors": res.n_negative,
            }
        )
        if context is not None:
            t_honest = time.perf_counter()
            on_cities = cities if s == cfg.osse.focus_species else None
            rec.update(
                honest_scores(
                    context,
                    system,
                    truth,
                    res,
                    si,
                    on_cities,
                    city_codes,
                    with_chi2=label == "default",
                )
            )
            rec["honest_score_seconds"] = time.perf_counter() - t_honest
        out.append(rec)
    return out


def operator_columns(
    system: ObservationSystem,
    truth: Truth,
    kinds: Sequence[ObservationType],
    rng: np.random.Generator | None,
    transport_errors: Any = None,
    transport_rng: np.random.Generator | None = None,
    turn_fit: dict[str, pd.DataFrame] | None = None,
) -> list[ObservationType]:
    """The column twin (``osse.satellite_columns: operator``, a DIAGNOSTIC): each column
    observation type of ``kinds`` with the value of every superobservation of a used overpass
    replaced by the column operator's own model of the truth's emissions
    (:meth:`~gridcarbon.inversion.columns.ColumnObservations.modelled`: the truth's hourly area
    and point emissions, its neighbours' factors and, when the truth has it, its biogenic flux),
    plus the overpass's background (the plane fitted by least squares to the simulated values
    less that model, which the inversion's plane projection removes anyway) and, with ``rng``,
    a draw from the overpass's own error covariance.  Pixels, clouds, superobservations, H
    and R stay those of the simulated files; other observation types pass unchanged.

    Without ``transport_errors`` the model sees its own meteorology.  With them (the
    replicate's ``osse`` settings, :func:`replicate_transport_settings`; the twin
    ``operator_perturbed``) its plumes are made with the met perturbed as the stations'
    truth's is (:func:`column_transport_errors`, drawn once for the pixels of every overpass
    from ``transport_rng``): the same error statistics, the truth's city-day mixing heights,
    independent draws of the random fields, and with ``osse.truth_nox_lifetime_factor_range``
    a lifetime factor of its own drawn in that range.  SYNTHETIC.

    With transport errors, columns that fit a wind turn (``errors.column_wind_direction_fit``)
    and a dict ``turn_fit``, each such type's fit is set against the truth's turn:
    ``turn_fit[observed]`` (the observed species, ``NO2`` or ``CO2``) gets one row per used
    overpass, ``observation_type``, ``overpass``, ``pixels``, ``fitted_deg`` (its fitted turn,
    the mean over its pixels), ``truth_mean_deg`` and ``truth_within_rms_deg`` (the mean of the
    truth's turn over the overpass's pixels and the RMS about it: what one turn per overpass
    cannot represent), ``pixel_rms_error_deg`` and ``pixel_rms_truth_deg`` (over its pixels,
    the RMS of the fitted turn there minus the truth's, and of the truth's), ``weight`` and
    ``weighted_rms_error_deg``, ``weighted_rms_truth_deg`` (the same, each pixel weighted by
    its superobservation's (``sigma_shape`` / the retrieval's and representativeness σ)²:
    where the turn changes the modelled column) — a diagnostic of the fit's skill, never an
    input to it.
    """
    from gridcarbon.inversion.columns import ColumnObservations, plane_design

    L = system.layout
    used = [isinstance(k, ColumnObservations) and bool(k.match(system).blocks) for k in kinds]
    lifetime = 1.0
    perturbations: dict[int, dict[str, np.ndarray]] = {}
    if transport_errors is not None:
        if transport_errors.truth_nox_lifetime_factor_range:
            low, high = np.log(transport_errors.truth_nox_lifetime_factor_range)
            lifetime = float(np.exp(transport_rng.uniform(low, high)))
        # one draw for the pixels of every overpass, so that overpasses hours apart share
        # their errors as the AR(1) says
        pixels = {i: kinds[i].pixels_used(system) for i in np.flatnonzero(used)}
        if pixels:
            drawn = column_transport_errors(
                system, pd.concat(pixels.values()), transport_errors, truth, transport_rng
            )
            ends = np.cumsum([len(p) for p in pixels.values()])[:-1]
            for name, values in drawn.items():
                for i, part in zip(pixels, np.split(values, ends), strict=True):
                    perturbations.setdefault(i, {})[name] = part
    out: list[ObservationType] = []
    for i, k in enumerate(kinds):
        if not used[i]:
            out.append(k)
            continue
        found = k.match(system)
        fp = None
        if i in perturbations:
            fp = k.perturbed_footprints(system, **perturbations[i], lifetime_factor=lifetime)
        si = system.species.index(k.species.name)
        first = L.segments["neighbours"].start + si * len(L.neighbours)
        bio = None
        if k.species.name in L.biogenic_species:
            bi = L.biogenic_species.index(k.species.name)
            start = L.segments["biogenic"].start + bi * L.ndays
            bio = truth.x[start : start + L.ndays]
        elif truth.include_biogenic:
            bio = np.ones(L.ndays)
        true = k.modelled(
            system,
            truth.area[si],
            truth.points[si],
            truth.x[first : first + len(system.neighbour_used)],
            bio,
            footprints=fp,
        )
        table = found.superobs
        observed = table["observed"].to_numpy(float).copy()
        for (idx, _), C in zip(found.blocks, found.covariance.values(), strict=True):
            X = plane_design(table["x"].to_numpy(float)[idx], table["y"].to_numpy(float)[idx])
            beta, *_ = np.linalg.lstsq(X, observed[idx] - true[idx], rcond=None)
            noise = 0.0 if rng is None else np.linalg.cholesky(C) @ rng.standard_normal(idx.size)
            observed[idx] = true[idx] + X @ beta + noise
        out.append(k.with_observed(system, observed))
        if turn_fit is not None and i in perturbations and k.settings.wind_direction_fit:
            key = k.species.observed_as
            table = _turn_fit_table(
                out[-1].match(system).superobs,
                k.pixels_used(system)["superobservation"].to_numpy(),
                perturbations[i]["wind_turn_deg"],
            ).assign(observation_type=k.name)
            turn_fit[key] = pd.concat([turn_fit.get(key), table], ignore_index=True)
    return out


def _turn_fit_table(
    superobs: pd.DataFrame, pixel_rows: np.ndarray, truth_turn_deg: np.ndarray
) -> pd.DataFrame:
    """Per used overpass: the fitted turn (its mean over the overpass's pixels) against the
    mean and spread of the truth's turn over its pixels, and the RMS over its pixels of the
    fitted turn at each pixel minus the truth's there (``pixel_rows``: each used pixel's
    superobservation; :func:`operator_columns`)."""
    used = superobs["used"].to_numpy()[pixel_rows]
    rows = pixel_rows[used]
    fitted = superobs["wind_turn_deg"].to_numpy(float)[rows]
    truth = truth_turn_deg[used]
    # where the turn matters: the plume-shape spread against the retrieval's own noise
    noise = superobs["sigma_retrieval"] ** 2 + superobs["sigma_representativeness"] ** 2
    weight = (superobs["sigma_shape"] ** 2 / noise).to_numpy(float)[rows]
    pixels = pd.DataFrame(
        {
            "overpass": superobs["overpass"].to_numpy()[rows],
            "fitted": fitted,
            "truth": truth,
            "squared_error": (fitted - truth) ** 2,
            "squared_truth": truth**2,
            "weight": weight,
            "weighted_squared_error": weight * (fitted - truth) ** 2,
            "weighted_squared_truth": weight * truth**2,
        }
    )
    by = pixels.groupby("overpass")
    weights = by["weight"].sum().to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        weighted = {
            f"weighted_rms_{part}_deg": np.sqrt(
                by[f"weighted_squared_{part}"].sum().to_numpy(float) / weights
            )
            for part in ("error", "truth")
        }
    return pd.DataFrame(
        {
            "overpass": by.size().index.to_numpy(),
            "pixels": by.size().to_numpy(np.int64),
            "fitted_deg": by["fitted"].mean().to_numpy(float),
            "truth_mean_deg": by["truth"].mean().to_numpy(float),
            "truth_within_rms_deg": by["truth"].std(ddof=0).to_numpy(float),
            "pixel_rms_error_deg": np.sqrt(by["squared_error"].mean().to_numpy(float)),
            "pixel_rms_truth_deg": np.sqrt(by["squared_truth"].mean().to_numpy(float)),
            "weight": weights,
            **weighted,
        }
    )


def turn_fit_summary(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Replicate figures of :func:`operator_columns`' ``turn_fit`` tables, per observed
    species ``name``: ``column_turn_fit_<name>_rms_truth_deg`` (RMS over overpasses of the truth's
    mean turn), ``…_rms_fitted_deg``, ``…_rms_error_deg`` (fitted − truth's mean),
    ``…_correlation`` and ``…_within_rms_deg`` (the RMS of the truth's turn about each
    overpass's mean, over all pixels' overpasses); and over all pixels, ``…_pixel_rms_error_deg``
    (the fitted turn at each pixel − the truth's there: what a turn fitted per tile can lower
    below one per overpass) and ``…_pixel_rms_truth_deg`` (the truth's turn: the error of not
    fitting), and both again as ``…_weighted_rms_{error,truth}_deg``, each pixel weighted by
    where the turn matters: its superobservation's (plume-shape σ / retrieval and
    representativeness σ)²."""
    out: dict[str, float] = {}
    for name, tab in tables.items():
        f, m = tab["fitted_deg"].to_numpy(float), tab["truth_mean_deg"].to_numpy(float)
        key = f"column_turn_fit_{name}"
        out[f"{key}_rms_truth_deg"] = float(np.sqrt(np.mean(m**2)))
        out[f"{key}_rms_fitted_deg"] = float(np.sqrt(np.mean(f**2)))
        out[f"{key}_rms_error_deg"] = float(np.sqrt(np.mean((f - m) ** 2)))
        both = f.size > 1 and np.std(f) > 0 and np.std(m) > 0
        out[f"{key}_correlation"] = float(np.corrcoef(f, m)[0, 1]) if both else float("nan")
        w = tab["truth_within_rms_deg"].to_numpy(float)
        out[f"{key}_within_rms_deg"] = float(np.sqrt(np.mean(w**2)))
        n = tab["pixels"].to_numpy(float)
        w = tab["weight"].to_numpy(float)
        for part in ("error", "truth"):
            squares = tab[f"pixel_rms_{part}_deg"].to_numpy(float) ** 2
            out[f"{key}_pixel_rms_{part}_deg"] = float(np.sqrt(np.sum(n * squares) / n.sum()))
            squares = np.nan_to_num(tab[f"weighted_rms_{part}_deg"].to_numpy(float) ** 2)
            out[f"{key}_weighted_rms_{part}_deg"] = float(np.sqrt(np.sum(w * squares) / w.sum()))
    return out


def column_transport_errors(
    system: ObservationSystem,
    pixels: pd.DataFrame,
    settings: Any,
    truth: Truth,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """The perturbed OSSE's transport errors at satellite pixels: the wind direction's error
    (``settings.wind_direction_error_deg`` × a unit field, degrees) and the wind speed's
    log-normal factor (``settings.wind_speed_error``), the fields of
    :func:`~gridcarbon.inversion.meteorology.error_fields_at` (the stations' correlations in
    space and time, ``settings.error_length_scale_km`` and ``error_time_scale_h``, drawn
    anew from ``rng``), and the mixing height's factor ``1 + settings.mixing_height_bias``
    times, when the truth has them, its city-day errors (``osse.truth_mixing_height_by_city``).

    Parameters
    ----------
    pixels : DataFrame
        ``x``, ``y`` (m) and ``hour`` (index of the system's hours) per pixel
        (:meth:`~gridcarbon.inversion.columns.ColumnObservations.pixels_used`).
    settings : OSSESettings
        The replicate's (:func:`replicate_transport_settings`).

    Returns
    -------
    dict
        ``wind_turn_deg``, ``wind_speed_factor``, ``mixing_height_factor``, one value per
        pixel (the keyword arguments of
        :meth:`~gridcarbon.inversion.columns.ColumnObservations.perturbed_footprints`).
    """
    x = pixels["x"].to_numpy(float)
    y = pixels["y"].to_numpy(float)
    hour = pixels["hour"].to_numpy(np.int64)
    direction, speed = error_fields_at(
        np.column_stack([x, y]),
        hour.astype(float),
        rng,
        settings.error_time_scale_h,
        settings.error_length_scale_km,
        2,
    )
    sig = np.log1p(settings.wind_speed_error)
    blh = np.full(x.size, 1.0 + settings.mixing_height_bias)
    if truth.mixing_height_delta is not None:
        city = truth.mixing_height_cities.region_of(x, y)
        blh *= 1.0 + truth.mixing_height_delta[city, system.hour_day[hour]]
    return {
        "wind_turn_deg": settings.wind_direction_error_deg * direction,
        "wind_speed_factor": np.exp(sig * speed - 0.5 * sig * sig),
        "mixing_height_factor": blh,
    }


def overpass_day_indices(system: ObservationSystem, kinds: list[ObservationType]) -> np.ndarray:
    """The Beijing days (indices of ``system.days``) on which any of the column observation
    types ``kinds`` has an assimilated row (by the row's ``time``, an hour of the period),
    sorted; empty without any."""
    days = [np.zeros(0, np.int64)]
    for k in kinds:
        rows = k.assimilated(system)
        if len(rows):
            hours = system.times.get_indexer(pd.DatetimeIndex(rows["time"]))
            days.append(system.hour_day[hours])
    return np.unique(np.concatenate(days)).astype(np.int64)


def mixing_height_scores(
    layout: Any,
    res: AssimilationResult,
    truth: Truth | None = None,
    overpass_days: np.ndarray | None = None,
) -> dict[str, float]:
    """The posterior daily mixing-height scales δ (``state.mixing_height_unknowns``) of one
    inversion, summarised for the OSSE table; empty when the state has none (the default).

    Parameters
    ----------
    layout : StateLayout
        The system's state layout (``transport_days`` daily scales, per region of
        ``transport_regions`` or province-wide, in its ``transport`` segment).
    res : AssimilationResult
        The inversion.
    truth : Truth, optional
        With a per-city, per-day mixing-height error (``osse.truth_mixing_height_by_city``),
        the posterior δ is also scored against it city-day by city-day; in the twins against
        the truth's own δ (drawn from B), element by element.
    overpass_days : ndarray of int, optional
        The Beijing days (indices of ``ObservationSystem.days``) with an assimilated overpass
        in the replicate (:func:`overpass_day_indices`), the same for its surface-only, column
        and joint inversions so that the three are scored on the same days; without them (or
        with none) the ``_overpass`` scores are not made.

    Returns
    -------
    dict
        ``mixing_height_post_mean`` (mean over the days, and regions, of the posterior δ,
        relative: the inversion's estimate of a month-long mixing-height bias, comparable with
        the randomised mode's ``truth_mixing_height_bias``), ``mixing_height_post_day_sd``
        (standard deviation over them of the posterior δ), ``mixing_height_post_std_mean`` and
        ``mixing_height_prior_std_mean`` (mean over them of δ's posterior and prior 1-σ).
        Against a city-day truth, over every city and day and, when columns were assimilated,
        over the days with an overpass (suffix ``_overpass``): ``mixing_height_rms_error``
        (RMS of δ̂ − δ, δ̂ the city's own scale or the province's), ``..._rms_error_prior``
        (the prior's, δ̂ = 0), ``..._rms_error_ratio`` (RMS error ÷ the prior σ of δ) and
        ``..._rms_z`` (RMS of (δ̂ − δ) / posterior σ), and ``..._days``.
    """
    if not layout.transport_days:
        return {}
    seg = layout.segments["transport"]
    x = np.asarray(res.x_post[seg], float)
    out = {
        "mixing_height_post_mean": float(x.mean()),
        "mixing_height_post_day_sd": float(x.std()),
        "mixing_height_post_std_mean": float(np.mean(res.post_std[seg])),
        "mixing_height_prior_std_mean": float(np.mean(res.prior_std[seg])),
    }
    ndays = layout.transport_days
    if truth is not None and truth.mixing_height_delta is not None:
        names = truth.mixing_height_cities.names
        region = (
            np.array([layout.transport_regions.index(c) for c in names])
            if layout.transport_regions
            else np.zeros(len(names), np.int64)
        )
        delta = truth.mixing_height_delta[:, :ndays]
    elif truth is not None and truth.mode != "perturbed":
        # the twins draw the state's own δ (B's) and observe it through H's column
        region = np.arange(max(len(layout.transport_regions), 1))
        delta = truth.x[seg].reshape(region.size, ndays)
    else:
        return out
    cols = layout.transport_col(region[:, None], np.arange(ndays)[None, :])
    err = res.x_post[cols] - delta
    z = err / res.post_std[cols]
    prior = res.prior_std[cols]
    on_days = {"": np.ones(ndays, bool)}
    if overpass_days is not None and len(overpass_days):
        seen = np.zeros(ndays, bool)
        seen[np.asarray(overpass_days, np.int64)] = True
        on_days["_overpass"] = seen
    for suffix, on in on_days.items():
        if not on.any():
            continue
        e, zz, p = err[:, on], z[:, on], prior[:, on]
        rms = float(np.sqrt(np.mean(e**2)))
        out[f"mixing_height_rms_error{suffix}"] = rms
        out[f"mixing_height_rms_error_prior{suffix}"] = float(np.sqrt(np.mean(delta[:, on] ** 2)))
        out[f"mixing_height_rms_error_ratio{suffix}"] = rms / float(np.sqrt(np.mean(p**2)))
        out[f"mixing_height_rms_z{suffix}"] = float(np.sqrt(np.mean(zz**2)))
        out[f"mixing_height_days{suffix}"] = float(on.sum())
    return out


def column_transport_scores(layout: Any, res: AssimilationResult) -> dict[str, float]:
    """The posterior column transport unknowns (``state.column_transport_unknowns``) of one
    inversion and their 1-σ, for the OSSE table; empty when the state has none (the default).

    Parameters
    ----------
    layout : StateLayout
        The system's state layout (its ``column_terms`` in the ``column_transport`` segment).
    res : AssimilationResult
        The inversion.

    Returns
    -------
    dict
        ``column_<term>_post`` and ``column_<term>_post_std`` for each term (relative changes,
        dimensionless: e.g. ``column_urban_transport_scale_post`` = 0.4 says the modelled
        column enhancement from urban sources is 40 % too weak, as a plume-depth wind 1.4 ×
        too fast would make it).  A surface-only inversion leaves them at the prior (0 and the
        prior 1-σ).
    """
    seg = layout.segments["column_transport"]
    out = {}
    for i, term in enumerate(layout.column_terms):
        out[f"column_{term}_post"] = float(res.x_post[seg.start + i])
        out[f"column_{term}_post_std"] = float(res.post_std[seg.start + i])
    return out


@dataclass
class OSSEResult:
    """Scores of all replicates (``table``: one row per replicate, species and variant) and
    ``summary`` (targets vs measured).  Synthetic by construction."""

    table: pd.DataFrame
    summary: dict
    timings: dict
    synthetic: bool = True
    last_result: AssimilationResult | None = None
    last_truth: Truth | None = None
    last_observations: pd.DataFrame | None = None


def _cities(system: ObservationSystem, scenario: Scenario, cfg: InversionConfig, codes: list[str]):
    """The coverage of the scored cities (None: none scored)."""
    if not codes or cfg.osse.focus_species not in system.species:
        return None
    if "city" not in scenario.boundaries:
        log.warning("city scores skipped: the scenario has no city boundaries")
        return None
    return city_matrix(system, scenario.boundaries["city"], codes)


def _city_codes(scenario: Scenario, cfg: InversionConfig) -> list[str]:
    return list(scenario.cities) if cfg.osse.cities is None else list(cfg.osse.cities)


def run_osse(
    prior: xr.Dataset,
    scenario: Scenario,
    config: InversionConfig | None = None,
    *,
    mode: str | None = None,
    replicates: int | None = None,
    seed: int | None = None,
    area_shares: dict[str, dict[str, np.ndarray]] | None = None,
    cross_species_zero: bool = True,
    city_codes: list[str] | None = None,
    system: ObservationSystem | None = None,
    keep_last: bool = False,
    progress: bool = False,
    honest: bool = True,
    column_simulator: ColumnSimulator | None = None,
) -> OSSEResult:
    """Run seeded OSSE replicates (see module docstring).

    Parameters
    ----------
    prior : xr.Dataset
        The prior emission Dataset.
    scenario : Scenario
        Stations, meteorology, land cover, neighbouring regions, inventory (the sector shares
        of the truth's biases) and the cities scored (``boundaries["city"]``, ``cities``).
    config : InversionConfig
        ``config.osse`` holds the OSSE settings.
    mode : "perturbed", "randomised", "identical" or "perfect"; default ``config.osse.mode``.
        "perfect" inverts with :func:`perfect_transport_config` (its own system when none is
        given); "randomised" is "perturbed" with the transport errors of each replicate drawn
        by :func:`randomised_transport_errors` and recorded in the table
        (:data:`RANDOMISED_COLUMNS`).
    replicates, seed : default from ``config.osse``; replicate i uses ``seed + i``.
    area_shares : per species and sector, each cell's share of the area emission (for the
        sector biases of the truth); default from the scenario's inventory
        (:func:`area_sector_shares`).
    cross_species_zero : also score ``osse.focus_species`` with the cross-species correlation
        set to 0.
    city_codes : cities to score (default ``config.osse.cities``, else the scenario's; [] to
        skip).
    system : ObservationSystem, optional
        One already built for ``prior``, ``scenario`` and ``config`` (for "perfect": and
        :func:`perfect_transport_config` of it).
    keep_last : keep the last replicate's result, truth and observations.
    progress : show a progress bar.
    honest : add the honest scores (:mod:`gridcarbon.inversion.osse_scores`) to the table and
        their 95 % intervals to ``summary["intervals"]``.
    column_simulator : callable, optional
        ``(system, truth, seed) -> ColumnSimulation``: the satellite columns of a replicate made
        from its truth (``gridcarbon.pipeline.osse_column_simulator``); required when
        ``osse.satellite`` is not ``"none"``.  Each replicate is then inverted three times
        (surface only, column only, joint; the ``observations`` column of the table; with the
        NO2 columns beside another product a fourth time, ``joint_no2``), the
        summary's ``species``, ``intervals`` and city scores are the surface-only ones, and
        ``summary["intervals_by_observations"]`` and ``summary["satellite_targets"]`` are added,
        and with a truth δ per city and day (``osse.truth_mixing_height_by_city``)
        ``summary["mixing_height_targets"]``.
    """
    from tqdm.auto import tqdm

    cfg = InversionConfig() if config is None else config
    mode = cfg.osse.mode if mode is None else mode
    if mode not in OSSE_MODES:
        raise ValueError(f"OSSE mode {mode!r} is not one of {OSSE_MODES}")
    if mode == "perfect":
        cfg = perfect_transport_config(cfg)
        if system is not None and system.config.errors != cfg.errors:
            raise ValueError(
                "the perfect-transport twin needs a system built with "
                "perfect_transport_config(config); build it with that configuration or pass none"
            )
    if cfg.osse.satellite != "none" and column_simulator is None:
        raise ConfigError(
            f"osse.satellite = {cfg.osse.satellite!r} needs the columns of each replicate: pass "
            "column_simulator=gridcarbon.pipeline.osse_column_simulator(scenario, config), or "
            "set osse.satellite: none"
        )
    if cfg.osse.satellite == "none":
        column_simulator = None
    reps = cfg.osse.replicates if replicates is None else replicates
    seed0 = cfg.osse.seed if seed is None else seed
    focus = cfg.osse.focus_species
    t0 = time.perf_counter()
    if system is None:
        system = ObservationSystem(prior, scenario, cfg)
    if area_shares is None:
        area_shares = area_sector_shares(scenario.inventory, system)
    timings = {"system_seconds": time.perf_counter() - t0}
    dist = station_distance_km(system)
    near = dist <= cfg.osse.station_radius_km
    codes = _city_codes(scenario, cfg) if city_codes is None else list(city_codes)
    cities = _cities(system, scenario, cfg, codes)
    context = score_context(system, cfg, scenario.boundaries.get("county")) if honest else None
    B0 = system.prior_covariance({}) if cross_species_zero and len(system.species) > 1 else None
    rows = []
    last = (None, None, None)
    t_solve = 0.0
    t_obs = 0.0
    t_columns = 0.0
    for i in tqdm(range(reps), desc=f"OSSE ({mode})", disable=not progress):
        ta = time.perf_counter()
        truth, obs, drawn = replicate_truth(system, cfg, mode, seed0 + i, area_shares)
        kind = StationHourObservations(obs)
        t_obs += time.perf_counter() - ta
        sets: dict[str | None, list[ObservationType]] = {None: [kind]}
        extra: dict[str | None, dict] = {None: {}}
        seen = None
        if column_simulator is not None:
            tc = time.perf_counter()
            sim = column_simulator(system, truth, seed0 + i)
            if cfg.osse.satellite_columns != "simulated":
                # streams of their own, so the simulated files' draws stay the replicate's
                twin_rng = np.random.default_rng([seed0 + i, 2_000_003])
                errors = met_rng = None
                if cfg.osse.satellite_columns == "operator_perturbed" and mode in _PERTURBED_MODES:
                    errors = replicate_transport_settings(cfg, mode, seed0 + i)[0]
                    met_rng = np.random.default_rng([seed0 + i, 2_000_004])
                turn_fit: dict[str, pd.DataFrame] = {}
                twin = operator_columns(
                    system, truth, sim.kinds, twin_rng, errors, met_rng, turn_fit=turn_fit
                )
                sim = replace(sim, kinds=twin, info={**sim.info, **turn_fit_summary(turn_fit)})
            counts = {**sim.info, **overpass_counts(system, sim.kinds, cities, codes)}
            seen = overpass_day_indices(system, sim.kinds)
            t_columns += time.perf_counter() - tc
            sets = {"surface": [kind]}
            extra = {"surface": {"observations": "surface"}}
            if sum(len(k.assimilated(system)) for k in sim.kinds):
                sets.update({"column": list(sim.kinds), "joint": [kind, *sim.kinds]})
                for name in ("column", "joint"):
                    extra[name] = {"observations": name, **counts}
                no2 = [k for k in sim.kinds if getattr(k, "quantity", None) == "vertical_column"]
                if no2 and len(no2) < len(sim.kinds):
                    # the NO2 columns' own target ("TROPOMI NO2 + surface") beside the imager's
                    sets["joint_no2"] = [kind, *no2]
                    extra["joint_no2"] = {
                        "observations": "joint_no2",
                        **sim.info,
                        **overpass_counts(system, no2, cities, codes),
                    }
            else:
                log.warning("OSSE replicate %d: no overpass could be assimilated", i)
        res = None
        for name, kinds in sets.items():
            tb = time.perf_counter()
            res_k = assimilate(
                system, kinds[0] if len(kinds) == 1 else kinds, build_posterior=False
            )
            t_solve += time.perf_counter() - tb
            if name in (None, "surface"):
                res = res_k
            for r in score_replicate(
                system, truth, res_k, cfg, near, cities, codes, "default", dist, context,
                overpass_days=seen,
            ):  # fmt: skip
                rows.append(
                    {
                        "replicate": i,
                        "seed": seed0 + i,
                        "mode": mode,
                        **drawn,
                        **extra[name],
                        **r,
                        "solver_seconds": res_k.solver.get("seconds", np.nan),
                        "iterations": res_k.solver.get("iterations", np.nan),
                        **_tuned_scales(res_k),
                        **_transport_estimate(res_k),
                        **_amf_estimate(res_k),
                    }
                )
        if B0 is not None:
            res0 = assimilate(system, kind, prior_covariance=B0, build_posterior=False)
            for r in score_replicate(
                system,
                truth,
                res0,
                cfg,
                near,
                cities,
                codes,
                "no_cross_species",
                None,
                context,
                only_species=focus,
            ):
                rows.append(
                    {
                        "replicate": i,
                        "seed": seed0 + i,
                        "mode": mode,
                        **drawn,
                        **extra[next(iter(sets))],
                        **r,
                    }
                )
        if keep_last:
            last = (res, truth, obs)
    timings.update(
        {
            "observation_seconds": t_obs,
            "solve_seconds": t_solve,
            **({"column_simulation_seconds": t_columns} if column_simulator is not None else {}),
            "total_seconds": time.perf_counter() - t0,
        }
    )
    table = pd.DataFrame(rows)
    surface = table
    if column_simulator is not None:
        surface = table[table["observations"] == "surface"]
    summary = summarise(surface, mode, focus)
    if honest:
        summary["intervals"] = interval_summary(surface, focus)
    if column_simulator is not None:
        summary["satellite"] = cfg.osse.satellite
        if honest:
            summary["intervals_by_observations"] = {
                o: interval_summary(table[table["observations"] == o], focus)
                for o in OBSERVATION_SETS
                if (table["observations"] == o).any()
            }
            far = system.config.chemistry.reactive_species
            summary["satellite_targets"] = satellite_targets(table, focus, far).to_dict(
                orient="records"
            )
            mixing = mixing_height_target_rows(table)
            if len(mixing):
                summary["mixing_height_targets"] = mixing.to_dict(orient="records")
    summary["operator"] = system.info()
    return OSSEResult(table, summary, timings, True, *last)


def synthetic_observation_set(
    system: ObservationSystem,
    scenario: Scenario,
    config: InversionConfig,
    area_shares: dict[str, dict[str, np.ndarray]] | None = None,
) -> tuple[ObservationSet, Truth]:
    """One perturbed-transport OSSE replicate as the observations of a run (seed
    ``osse.seed``): SYNTHETIC observations of a synthetic truth at the system's station-hours.

    Returns the observations (an :class:`~gridcarbon.contracts.ObservationSet` of station-hour
    observations, marked synthetic) and the truth they were made from."""
    if area_shares is None:
        area_shares = area_sector_shares(scenario.inventory, system)
    truth, obs, _ = replicate_truth(system, config, "perturbed", config.osse.seed, area_shares)
    observations = ObservationSet(
        kinds=(StationHourObservations(obs),), stations=system.stations, synthetic=True
    )
    return observations, truth


def score_against_truth(
    system: ObservationSystem,
    scenario: Scenario,
    config: InversionConfig,
    truth: Truth,
    result: AssimilationResult,
    label: str = "stage",
) -> list[dict]:
    """The OSSE's scores of one inversion of synthetic observations against their truth (near
    and far from the stations, by distance band, and the scenario's cities)."""
    dist = station_distance_km(system)
    codes = _city_codes(scenario, config)
    cities = _cities(system, scenario, config, codes)
    near = dist <= config.osse.station_radius_km
    return score_replicate(system, truth, result, config, near, cities, codes, label, dist)


def summarise(table: pd.DataFrame, mode: str, focus_species: str) -> dict:
    """Targets of the issue against the measured figures (never adjusted to meet them); the
    city errors and the scores without cross-species correlation of ``focus_species``."""
    d = table[table["label"] == "default"]
    out: dict = {
        "mode": mode,
        "replicates": int(d["replicate"].nunique()),
        "synthetic": True,
        "species": {},
    }
    for s, g in d.groupby("species"):
        m = int(g["n_obs"].median())
        rec = {
            "rmse_reduction_near_mean": float(g["rmse_reduction_near"].mean()),
            "rmse_reduction_near_min": float(g["rmse_reduction_near"].min()),
            "rmse_change_far_mean": float(g["rmse_change_far"].mean()),
            "rmse_change_far_max": float(g["rmse_change_far"].max()),
            "reduced_chi2_mean": float(g["reduced_chi2"].mean()),
            "reduced_chi2_min": float(g["reduced_chi2"].min()),
            "reduced_chi2_max": float(g["reduced_chi2"].max()),
            "coverage_mean": float(g["coverage_1sigma"].mean()),
            "coverage_constrained_mean": float(g["coverage_1sigma_constrained"].mean()),
            "dofs_mean": float(g["dofs"].mean()),
            "n_obs": m,
            "with_points_rmse_reduction_near_mean": float(
                g["rmse_reduction_near_with_points"].mean()
            ),
            "with_points_rmse_change_far_mean": float(g["rmse_change_far_with_points"].mean()),
            "with_points_coverage_mean": float(g["coverage_1sigma_with_points"].mean()),
            "expected_rmse_reduction_near_mean": float(g["expected_rmse_reduction_near"].mean()),
        }
        for c in [c for c in g.columns if c.startswith("rmse_reduction_") and c.endswith("km")]:
            rec[f"{c}_mean"] = float(g[c].mean())
        if "point_factor_rmse_prior" in g:
            rec["point_factor_rmse_prior_mean"] = float(g["point_factor_rmse_prior"].mean())
            rec["point_factor_rmse_post_mean"] = float(g["point_factor_rmse_post"].mean())
        if mode in ("identical", "perfect"):
            tol = 3 * np.sqrt(2.0 / m)
            rec["target_chi2"] = f"1 ± {tol:.3f}"
            rec["chi2_ok"] = bool(abs(rec["reduced_chi2_mean"] - 1) <= tol)
            rec["target_coverage"] = "0.68 ± 0.03"
            rec["coverage_ok"] = bool(abs(rec["coverage_mean"] - 0.68) <= 0.03)
        else:
            rec["near_ok"] = bool(rec["rmse_reduction_near_mean"] >= 0.30)
            rec["far_ok"] = bool(rec["rmse_change_far_mean"] <= 0.02)
            rec["chi2_ok"] = bool(0.5 <= rec["reduced_chi2_mean"] <= 2.0)
            rec["coverage_ok"] = bool(abs(rec["coverage_mean"] - 0.68) <= 0.10)
        out["species"][s] = rec
    if mode in _PERTURBED_MODES and focus_species in out["species"]:
        co2 = d[d["species"] == focus_species]
        cities = {}
        for c in [c for c in co2.columns if c.startswith("city_") and c.endswith("_prior_err")]:
            code = c.split("_")[1]
            pe = co2[c].to_numpy(float)
            ae = co2[f"city_{code}_post_err"].to_numpy(float)
            missed = np.abs(pe) > 0.10
            frac = float(np.mean(np.abs(ae[missed]) <= 0.10)) if missed.any() else np.nan
            cities[code] = {
                "replicates_prior_miss_gt_10pct": int(missed.sum()),
                "fraction_post_within_10pct": frac,
                "ok": bool(frac >= 0.9) if missed.any() else None,
                "mean_abs_prior_err": float(np.mean(np.abs(pe))),
                "mean_abs_post_err": float(np.mean(np.abs(ae))),
            }
        out[f"{focus_species}_cities"] = cities
        z = table[(table["label"] == "no_cross_species") & (table["species"] == focus_species)]
        if len(z):
            out[f"{focus_species}_no_cross_species"] = {
                "rmse_reduction_near_mean": float(z["rmse_reduction_near"].mean()),
                "rmse_change_far_mean": float(z["rmse_change_far"].mean()),
                "coverage_mean": float(z["coverage_1sigma"].mean()),
            }
    return out
