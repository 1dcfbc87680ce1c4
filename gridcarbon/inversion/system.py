"""The observation system: everything about where, when and how the stations see the grid that
does not depend on the observed values — receptor-hours, met, the plume operator, the state
layout, B and the Jacobian of the modelled observations with respect to the state."""

from __future__ import annotations

import copy
import functools
import logging
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xarray as xr

from gridcarbon.config.inversion import InversionConfig, StateConfig
from gridcarbon.contracts import Scenario
from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.grids.dataset import point_variable
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.inversion.chemistry import nox_lifetime_s
from gridcarbon.inversion.conversion import (
    ambient_conversion_factor,
    inlet_pressure_pa,
    model_conversion_factor,
)
from gridcarbon.inversion.fields import biogenic_fields, neighbour_fields
from gridcarbon.inversion.meteorology import PointMet, met_at_points, with_cloud_cover
from gridcarbon.inversion.observations import station_species, validate_stations
from gridcarbon.inversion.operator import (
    Footprints,
    Receptors,
    build_footprints,
    forward,
    row_dot,
)
from gridcarbon.inversion.regions import MixingHeightRegions, mixing_height_regions
from gridcarbon.inversion.state import (
    COLUMN_TERMS,
    PriorCovariance,
    StateLayout,
    species_correlation_matrix,
)
from gridcarbon.kernels.jacobian import jacobian_fill, point_max_and_sum
from gridcarbon.species import Species

__all__ = ["ObservationSystem", "transport_quadrature", "quadrature_moments"]

log = logging.getLogger(__name__)


def transport_quadrature(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Hermite nodes (standard-normal units) and weights (summing to 1) of ``n`` points:
    ``Σ w f(z)`` is the expectation of ``f(Z)``, ``Z ~ N(0, 1)``, exact for polynomials of
    degree ≤ 2n − 1."""
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return z, w / w.sum()


def quadrature_moments(
    signals: list[np.ndarray], weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Mean, variance and weighted deviations of a signal over the nodes of one quadrature
    dimension.

    Parameters
    ----------
    signals : list of ndarray ``(n,)``
        The signal (observation units) at each node, in the order of ``weights``.
    weights : ndarray
        The nodes' weights (summing to 1, :func:`transport_quadrature`).

    Returns
    -------
    mean, variance : ndarray ``(n,)``
        ``Σ_k w_k f_k`` and ``Σ_k w_k (f_k − mean)²``.
    deviations : list of ndarray ``(n,)``
        ``√w_k (f_k − mean)``: the sum of their outer products is the covariance of the
        dimension, its diagonal the variance.
    """
    mean = sum(w * f for w, f in zip(weights, signals, strict=True))
    variance = sum(w * (f - mean) ** 2 for w, f in zip(weights, signals, strict=True))
    deviations = [np.sqrt(w) * (f - mean) for w, f in zip(weights, signals, strict=True)]
    return mean, variance, deviations


class ObservationSystem:
    """Receptor-hours, operator, state layout, B and Jacobian for a prior and a network.

    Parameters
    ----------
    prior : xr.Dataset
        Emission Dataset (``docs/architecture.md``) on the scenario's grid.
    scenario : Scenario
        Gives the species (those the prior holds, in the scenario's order), the station network
        (validated here against the grid), the meteorology of the prior's hours, the land cover
        (urban fraction for the dispersion curves; forest and cropland for the biogenic
        fields) and the neighbouring regions (``boundaries["neighbours"]``, the inflow prior;
        none when absent).
    config : InversionConfig
    point_met : PointMet, optional
        Met at the stations to use instead of interpolating the scenario's (the
        perturbed-transport OSSE passes perturbed met here).
    build_jacobian : bool
        Build J (False: the operator and the state only).

    Attributes
    ----------
    species : list of str
        Names of the species in the state, in order; ``species_values`` the Species.
    observed : dict
        Observed quantity name → the Species it observes (the system's species only).
    E, Ep : ndarray
        Prior area ``(ns, nt, ncell)`` and point ``(ns, nt, npoint)`` emissions, kg h-1.
    layout : StateLayout
    B : PriorCovariance
    pairs : DataFrame
        One row per station-hour and observed quantity at the assimilated hours.
    J : sparse ``(n_pairs, n_state)``
        Jacobian of the hourly modelled values; ``y_prior`` their prior values.
    """

    def __init__(
        self,
        prior: xr.Dataset,
        scenario: Scenario,
        config: InversionConfig,
        point_met: PointMet | None = None,
        build_jacobian: bool = True,
    ) -> None:
        t0 = time.perf_counter()
        cfg = config
        self.config = cfg
        self.grid = GridSpec.from_dataset(prior)
        self.times = pd.DatetimeIndex(prior["time"].values)
        self.nt = self.times.size
        self.species_values: tuple[Species, ...] = tuple(
            s for s in scenario.species if s.name in prior.data_vars
        )
        self.species = [s.name for s in self.species_values]
        if not self.species:
            raise InputDataError(
                f"the prior holds none of the scenario's species "
                f"{[s.name for s in scenario.species]}"
            )
        self.observed: dict[str, Species] = {s.observed_as: s for s in self.species_values}
        chem = cfg.chemistry
        #: observed quantities that see a reactive species' NO2 share, with its decay
        self.reactive_observed = frozenset(
            s.observed_as for s in self.species_values if s.name == chem.reactive_species
        )
        g = self.grid
        self.ncell = g.size
        self.stations = validate_stations(scenario.stations, g, known_species=scenario.species)
        #: city code of each station ("" outside every city), to pair stations for
        #: errors.upwind_downwind and for the cities' offsets of errors.transport_error_estimate
        #: (None without city boundaries, unless upwind_downwind needs them: it refuses then)
        self.station_city: np.ndarray | None = None
        city_boundaries = scenario.boundaries.get("city")
        #: the scenario's city boundaries (lon/lat GeoDataFrame) or None
        self.city_boundaries = city_boundaries
        if cfg.errors.upwind_downwind != "off" or (
            cfg.errors.transport_error_estimate != "off"
            and city_boundaries is not None
            and len(city_boundaries)
        ):
            from gridcarbon.inversion.upwind_downwind import station_cities

            self.station_city = station_cities(self.stations, city_boundaries)
        #: the cities with their own daily mixing-height scales (state.mixing_height_regions
        #: 'city'), and the city of each station; None for one province-wide scale a day
        self.mixing_height_regions: MixingHeightRegions | None = None
        self.station_mixing_height_region: np.ndarray | None = None
        if cfg.state.mixing_height_unknowns and cfg.state.mixing_height_regions == "city":
            self.mixing_height_regions = mixing_height_regions(
                city_boundaries, g, cfg.state.mixing_height_region_length_km
            )
            self.station_mixing_height_region = self.mixing_height_regions.region_of(
                self.stations["x"].to_numpy(float), self.stations["y"].to_numpy(float)
            )
        landcover = dict(scenario.landcover)
        for name, fraction in landcover.items():
            if np.size(fraction) != g.size:
                raise InputDataError(
                    f"the scenario's land cover {name!r} has {np.size(fraction)} cells, but the "
                    f"prior's grid has {g.ny} x {g.nx}; give the prior of the scenario's grid"
                )
        # -- emissions ----------------------------------------------------------------------
        self.E = np.stack([self._area(prior, s) for s in self.species])  # (ns, nt, ncell) f32
        self.has_points = "point" in prior.dims and prior.sizes.get("point", 0) > 0
        if self.has_points:
            self.Ep = np.stack(
                [
                    np.asarray(prior[point_variable(s)].values, np.float32)
                    if point_variable(s) in prior
                    else np.zeros((self.nt, prior.sizes["point"]), np.float32)
                    for s in self.species
                ]
            )
            px, py = g.project(prior["point_lon"].values, prior["point_lat"].values)
            self.points = pd.DataFrame(
                {
                    "point_id": prior["point_id"].values.astype(str),
                    "x": px,
                    "y": py,
                    "row": prior["point_row"].values.astype(np.int64),
                    "col": prior["point_col"].values.astype(np.int64),
                    "height": prior["point_stack_height_m"].values.astype(float),
                    "diameter": prior["point_stack_diameter_m"].values.astype(float),
                    "velocity": prior["point_exit_velocity_m_s"].values.astype(float),
                    "temperature": prior["point_exit_temperature_K"].values.astype(float),
                }
            )
            if "point_sector" in prior.coords:
                self.points["sector"] = prior["point_sector"].values.astype(str)
        else:
            self.Ep = np.zeros((len(self.species), self.nt, 0), np.float32)
            self.points = pd.DataFrame(
                columns=[
                    "point_id",
                    "x",
                    "y",
                    "row",
                    "col",
                    "height",
                    "diameter",
                    "velocity",
                    "temperature",
                ]
            )
        self.prior_attrs = dict(prior.attrs)
        #: the prior's attributes of each species variable, for the posterior's
        self.variable_attrs: dict[str, dict] = {}
        for s in self.species:
            self.variable_attrs[s] = dict(prior[s].attrs)
            name = point_variable(s)
            self.variable_attrs[name] = (
                dict(prior[name].attrs)
                if name in prior
                else {
                    "long_name": f"{s} emission from point sources",
                    "units": "kg h-1",
                    "cell_methods": "time: mean",
                }
            )
        self._prior_points = None
        if self.has_points:
            from gridcarbon.grids.dataset import POINT_COORDS

            self._prior_points = pd.DataFrame(
                {
                    c: prior["point_id" if c == "point_id" else f"point_{c}"].values
                    for c in POINT_COORDS
                    if ("point_id" if c == "point_id" else f"point_{c}") in prior.coords
                }
            )
            if len(self._prior_points.columns) < len(POINT_COORDS):
                self._prior_points = None
        self.region_fraction = (
            np.asarray(prior["region_fraction"].values).ravel()
            if "region_fraction" in prior
            else np.ones(g.size)
        )
        if "urban" not in landcover:
            log.warning("the scenario's land cover has no urban fraction: rural dispersion only")
        self.urban_frac = np.asarray(landcover.get("urban", np.zeros(g.size))).ravel()
        self.urban = self.urban_frac >= cfg.transport.urban_fraction_threshold
        # -- met at stations ----------------------------------------------------------------
        st = self.stations
        if point_met is None:
            met = with_cloud_cover(scenario.meteorology.for_hours(self.times))
            point_met = met_at_points(
                met, self.times, st["lon"].to_numpy(float), st["lat"].to_numpy(float)
            )
        self.pm = point_met
        self.region_t2m = np.asarray(point_met.t2m.mean(axis=1))
        # -- receptor-hours ----------------------------------------------------------------
        self._make_rows()
        self.receptors = self._receptors(point_met)
        self.footprints = self.build(self.receptors)
        # -- auxiliary fields ----------------------------------------------------------------
        tot = {
            s: self.E[i].sum(axis=1, dtype=np.float64) + self.Ep[i].sum(axis=1, dtype=np.float64)
            for i, s in enumerate(self.species)
        }
        region_area = float(self.region_fraction.sum() * g.cell_area)
        self.neighbour_names, self.neighbour_W, self.neighbour_density = neighbour_fields(
            g,
            tot,
            region_area,
            cfg.state.neighbour_density_scale,
            scenario.boundaries.get("neighbours"),
        )
        self.bio = biogenic_fields(
            g,
            self.times,
            self.region_t2m,
            landcover,
            {s: m for s, m in cfg.state.biogenic_models.items() if s in self.species},
            {s.name: s.molar_mass_g_mol for s in self.species_values},
        )
        # -- state --------------------------------------------------------------------------
        self.layout = self._layout()
        self.B = self.prior_covariance()
        self.build_seconds = time.perf_counter() - t0
        if build_jacobian:
            self._jacobian()
        self.setup_seconds = time.perf_counter() - t0

    # ---------------------------------------------------------------------------------------
    @staticmethod
    def _area(prior: xr.Dataset, sp_: str) -> np.ndarray:
        da = prior[sp_]
        if "sector" in da.dims:
            da = da.sum("sector", dtype=np.float64)
        a = np.asarray(da.values, np.float32)
        return a.reshape(a.shape[0], -1)

    def _make_rows(self) -> None:
        cfg = self.config
        st = self.stations
        bj_hour = ((self.times.hour + 8) % 24).to_numpy()
        bj_days = (self.times + pd.Timedelta(hours=8)).normalize()
        self.days = pd.DatetimeIndex(np.unique(bj_days.values))
        day_idx = np.searchsorted(self.days.values, bj_days.values)
        #: index into ``days`` of the Beijing day of every hour of the period
        self.hour_day = day_idx
        sp_of = station_species(st)
        rows, pairs = [], []
        hours_by_sp = {s: set(h) for s, h in cfg.errors.assimilation_hours_local.items()}
        self._check_settings(sp_of)
        for k, sid in enumerate(st["station_id"]):
            wanted = [s for s in sp_of[sid] if s in self.observed]
            if not wanted:
                continue
            for h in range(self.nt):
                sps = [s for s in wanted if bj_hour[h] in hours_by_sp.get(s, set())]
                if not sps:
                    continue
                r = len(rows)
                rows.append((k, h))
                for s in sps:
                    pairs.append((r, s))
        if not rows:
            raise InputDataError(
                "no station measures a species of the prior at the assimilated hours"
            )
        rows = np.asarray(rows)
        self.rows = pd.DataFrame(
            {
                "st": rows[:, 0],
                "hour": rows[:, 1],
                "station_id": st["station_id"].to_numpy()[rows[:, 0]],
                "kind": st["kind"].to_numpy()[rows[:, 0]],
                "time": self.times.values[rows[:, 1]],
                "day": day_idx[rows[:, 1]],
            }
        )
        raw_speed = self.pm.speed[rows[:, 1], rows[:, 0]]
        self.rows["speed"] = raw_speed
        self.rows["direction_from"] = self.pm.direction_from[rows[:, 1], rows[:, 0]]
        self.rows["stability"] = self.pm.stability[rows[:, 1], rows[:, 0]]
        self.rows["blh"] = self.pm.blh[rows[:, 1], rows[:, 0]]
        self.rows["calm"] = raw_speed < cfg.transport.calm_exclude_m_s
        pr = np.array([p[0] for p in pairs])
        ps = np.array([p[1] for p in pairs])
        self.pairs = pd.DataFrame({"row": pr, "obs_species": ps})
        self.pairs["station_id"] = self.rows["station_id"].to_numpy()[pr]
        self.pairs["time"] = self.rows["time"].to_numpy()[pr]
        self.pairs["day"] = self.rows["day"].to_numpy()[pr]
        self.pairs["kind"] = self.rows["kind"].to_numpy()[pr]
        self.pairs["calm"] = self.rows["calm"].to_numpy()[pr]
        # inflow sector of the (station, species, day) group: mean wind of its hours
        d = np.radians(self.rows["direction_from"].to_numpy()[pr])
        grp = (
            self.pairs.groupby(["station_id", "obs_species", "day"], sort=False).ngroup().to_numpy()
        )
        su = np.bincount(grp, np.sin(d))
        cu = np.bincount(grp, np.cos(d))
        ang = (np.degrees(np.arctan2(su, cu)) + 360.0) % 360.0
        nsec = cfg.state.background_sectors
        sector = (np.floor(((ang + 180.0 / nsec) % 360.0) / (360.0 / nsec))).astype(int) % nsec
        self.pairs["group"] = grp
        self.pairs["sector"] = sector[grp]

    def _receptors(self, pm: PointMet) -> Receptors:
        cfg = self.config
        st = self.stations
        k = self.rows["st"].to_numpy()
        h = self.rows["hour"].to_numpy()
        tau = nox_lifetime_s(cfg.chemistry, self.times.values[h], pm.sun_elevation[h, k] > 0)
        return Receptors.from_arrays(
            st["x"].to_numpy()[k],
            st["y"].to_numpy()[k],
            st["height"].to_numpy(float)[k],
            h,
            pm.speed[h, k],
            pm.direction_from[h, k],
            pm.stability[h, k],
            pm.blh[h, k],
            tau,
            pm.t2m[h, k],
            calm_floor=cfg.transport.calm_floor_m_s,
        )

    def receptors_with(self, pm: PointMet) -> Receptors:
        """Receptor-hours of this system seen with other met (perturbed transport)."""
        return self._receptors(pm)

    def build(
        self,
        rec: Receptors,
        coarse: bool = False,
        known_wind: bool = False,
        rise_scale: float | np.ndarray = 1.0,
        point_xy: np.ndarray | None = None,
    ) -> Footprints:
        """Plume operator for receptor-hours ``rec`` on this grid with this config
        (``coarse``: 3×3 / 7×7 sub-cell quadrature; ``known_wind``: point plumes for winds known
        exactly, as in an OSSE truth, without ``point_plume_direction_sd_deg``; ``rise_scale``:
        a factor on every point source's Briggs plume rise, or one per point source;
        ``point_xy``: ``(npt, 2)`` positions of the point sources (m, grid CRS) in place of the
        inventory's, as in an OSSE truth with displaced stacks, each with the urban or rural
        dispersion of the cell it is in)."""
        cfg = self.config
        g = self.grid
        pts = None
        if self.has_points and len(self.points):
            cells = self.point_cells
            pts = {
                k: self.points[k].to_numpy(float)
                for k in ("x", "y", "height", "diameter", "velocity", "temperature")
            }
            if point_xy is not None:
                pts["x"] = np.asarray(point_xy[:, 0], float)
                pts["y"] = np.asarray(point_xy[:, 1], float)
                cells = self.cells_of(pts["x"], pts["y"])
            pts["urban"] = self.urban[cells]
        return build_footprints(
            rec,
            g.x_min,
            g.y_max,
            g.cell_size,
            g.nx,
            g.ny,
            self.urban,
            pts,
            max_distance_m=cfg.transport.max_distance_km * 1000.0,
            max_travel_s=cfg.transport.max_travel_hours * 3600.0,
            lateral_sigmas=cfg.transport.lateral_sigmas,
            subcells=min(cfg.transport.subcells, 3) if coarse else cfg.transport.subcells,
            subcells_near=min(cfg.transport.subcells_near, 7)
            if coarse
            else cfg.transport.subcells_near,
            area_height_m=cfg.transport.area_source_height_m,
            lid_factor=cfg.transport.lid_uniform_factor,
            no2_primary=cfg.chemistry.no2_primary_fraction,
            no2_equilibrium=cfg.chemistry.no2_equilibrium_fraction,
            no2_conversion_s=cfg.chemistry.no2_conversion_time_h * 3600.0,
            point_direction_sd_rad=0.0
            if known_wind
            else float(np.radians(cfg.transport.point_plume_direction_sd_deg)),
            point_rise_scale=rise_scale,
        )

    def _check_settings(self, measured: dict[str, list[str]]) -> None:
        """Refuse a measured quantity of the state's species without the settings it needs."""
        cfg = self.config
        quantities = {q for qs in measured.values() for q in qs if q in self.observed}
        for q in sorted(quantities):
            for where, table in (
                ("errors.assimilation_hours_local", cfg.errors.assimilation_hours_local),
                ("state.background_prior", cfg.state.background_prior),
                ("errors.model_error_floor", cfg.errors.model_error_floor),
            ):
                if q not in table:
                    raise ConfigError(
                        f"stations measure {q} (species {self.observed[q].name}), but "
                        f"inversion.{where} has no entry for it; add one"
                    )

    def _layout(self) -> StateLayout:
        cfg = self.config
        npb = min(cfg.state.n_point_unknowns, len(self.points))
        if npb:
            ranking = cfg.state.point_ranking_species
            main = self.Ep[self.species.index(ranking)] if ranking in self.species else self.Ep[0]
            order = np.argsort(-main.sum(axis=0, dtype=np.float64), kind="stable")[:npb]
            big = np.sort(order)
        else:
            big = np.zeros(0, np.int64)
        obs_species = sorted(set(self.pairs["obs_species"]), key=list(self.observed).index)
        sp_of = station_species(self.stations)
        bias = [
            (sid, s)
            for sid, kind in zip(self.stations.station_id, self.stations.kind, strict=True)
            if kind == "micro"
            for s in sp_of[sid]
            if s in obs_species
        ]
        bio = [s for s in self.species if s in self.bio] if cfg.state.biogenic == "scaled" else []
        nbs = [nm for i, nm in enumerate(self.neighbour_names) if np.any(self.neighbour_W[i] > 0)]
        self.neighbour_used = [self.neighbour_names.index(nm) for nm in nbs]
        return StateLayout(
            self.species,
            self.grid.ny,
            self.grid.nx,
            cfg.state.block_cells,
            cfg.state.window_hours,
            self.nt,
            big,
            list(nbs),
            bio,
            obs_species,
            len(self.days),
            cfg.state.background_sectors,
            bias,
            len(self.days) if cfg.state.mixing_height_unknowns else 0,
            tuple(t for t in COLUMN_TERMS if t in cfg.state.column_transport_terms)
            if cfg.state.column_transport_unknowns
            else (),
            () if self.mixing_height_regions is None else self.mixing_height_regions.names,
        )

    def prior_covariance(
        self, species_correlation: dict[str, float] | None = None, state: StateConfig | None = None
    ) -> PriorCovariance:
        """B of this layout with the config's (or the given) species correlation, from the
        config's state settings or ``state``'s covariance settings (the layout stays this
        system's)."""
        st = self.config.state if state is None else state
        L = self.layout
        Cs = species_correlation_matrix(
            L.species,
            st.species_correlation if species_correlation is None else species_correlation,
        )
        bg = np.array(
            [
                st.background_error.get(s, 1.0)
                for s in L.obs_species
                for _ in range(L.ndays * L.nsectors)
            ]
        )
        bias = np.array([st.micro_bias_error.get(s, 1.0) for _, s in L.bias_keys])
        return PriorCovariance(
            L,
            st.prior_error,
            Cs,
            st.length_scale_km * 1000.0,
            self.grid.cell_size,
            st.time_scale_days * 24.0,
            {
                "points": st.point_prior_error,
                "neighbours": st.neighbour_prior_error,
                "biogenic": st.biogenic_prior_error,
                "background": bg if bg.size else 1.0,
                "bias": bias if bias.size else 1.0,
                "transport": st.mixing_height_prior_error,
                "column_transport": np.array(
                    [
                        st.column_lifetime_prior_error
                        if term == "lifetime_scale"
                        else st.column_wind_prior_error
                        for term in L.column_terms
                    ]
                ),
            },
            st.mixing_height_time_scale_days,
            None if self.mixing_height_regions is None else self.mixing_height_regions.correlation,
        )

    # ---------------------------------------------------------------------------------------
    def _jacobian(self) -> None:
        """Jacobian of the hourly modelled values (one row per pair) w.r.t. the state."""
        cfg = self.config
        L = self.layout
        fp = self.footprints
        P = self.pairs
        npair = len(P)
        pair_row, pair_sp, pair_nox, pair_conv = self.pair_index
        pair_conversion = self.pair_conversion
        ln = (fp.area_ptr[pair_row + 1] - fp.area_ptr[pair_row]) + (
            fp.pt_ptr[pair_row + 1] - fp.pt_ptr[pair_row]
        )
        offs = np.zeros(npair + 1, np.int64)
        np.cumsum(ln, out=offs[1:])
        tot = int(offs[-1])
        o_row = np.empty(tot, np.int64)
        o_col = np.empty(tot, np.int64)
        o_val = np.empty(tot, np.float64)
        sum_area = np.zeros(npair)
        sum_pt = np.zeros(npair)
        max_pt = np.zeros(npair)
        cell_block = L.cell_block()
        npt = len(self.points)
        point_big = np.full(npt, -1, np.int64)
        point_big[L.point_index] = np.arange(L.point_index.size)
        point_block = cell_block[self.point_cells] if npt else np.zeros(0, np.int64)
        jacobian_fill(
            pair_row,
            pair_sp,
            pair_nox,
            pair_conv,
            fp.area_ptr,
            fp.area_idx,
            fp.area_val,
            fp.area_nox,
            fp.pt_ptr,
            fp.pt_idx,
            fp.pt_val,
            fp.pt_nox,
            fp.receptors.hour,
            self.E,
            self.Ep,
            cell_block,
            L.hour_window(),
            point_big,
            point_block,
            L.segments["grid"].start,
            L.segments["points"].start,
            L.nw,
            L.nby * L.nbx,
            max(L.point_index.size, 1),
            offs,
            o_row,
            o_col,
            o_val,
            sum_area,
            sum_pt,
            max_pt,
        )
        rows = [o_row]
        cols = [o_col]
        vals = [o_val]
        # neighbour inflow and biogenic columns: H applied to each field
        sum_nb = np.zeros(npair)
        for si, s in enumerate(self.species):
            m = pair_sp == si
            if not m.any():
                continue
            for obs_s in set(P["obs_species"][m]):
                mm = m & (P["obs_species"] == obs_s).to_numpy()
                nox = obs_s in self.reactive_observed
                hrs = fp.receptors.hour[pair_row[mm]]
                for j, pj in enumerate(self.neighbour_used):
                    y = (
                        row_dot(fp, self.neighbour_W[pj], nox=nox)[pair_row[mm]]
                        * self.neighbour_density[s][hrs]
                        * pair_conversion[mm]
                    )
                    q = np.flatnonzero(mm)
                    rows.append(q)
                    cols.append(
                        np.full(q.size, L.segments["neighbours"].start + si * len(L.neighbours) + j)
                    )
                    vals.append(y)
                    sum_nb[q] += y
                if s in L.biogenic_species:
                    bi = L.biogenic_species.index(s)
                    y = forward(fp, self.bio[s], nox=False)[pair_row[mm]] * pair_conversion[mm]
                    q = np.flatnonzero(mm)
                    rows.append(q)
                    cols.append(
                        L.segments["biogenic"].start + bi * L.ndays + P["day"].to_numpy()[q]
                    )
                    vals.append(y)
        n_plume_parts = len(rows)  # the parts above depend on the transport
        # background (1 per pair) and micro bias columns
        osp = [L.obs_species.index(s) for s in P["obs_species"]]
        bgcol = (
            L.segments["background"].start
            + (np.asarray(osp) * L.ndays + P["day"].to_numpy()) * L.nsectors
            + P["sector"].to_numpy()
        )
        rows.append(np.arange(npair))
        cols.append(bgcol)
        vals.append(np.ones(npair))
        bias_index = {k: i for i, k in enumerate(L.bias_keys)}
        bi = np.array(
            [
                bias_index.get((sid, s), -1)
                for sid, s in zip(P["station_id"], P["obs_species"], strict=True)
            ]
        )
        q = np.flatnonzero(bi >= 0)
        rows.append(q)
        cols.append(L.segments["bias"].start + bi[q])
        vals.append(np.ones(q.size))
        self._local_signal = sum_area + sum_pt
        spread, rot_share, zi_sens = self._direction_spread()
        #: the expected signal over the transport error / the central plume's, per pair
        self.plume_mean_ratio = np.ones(npair)
        #: ... and of the point-source columns (the same unless the quadrature has the plume
        #: rise: errors.point_dominated_pairs 'elevated_plume')
        self.point_mean_ratio = self.plume_mean_ratio
        self.elevated_plume_variance = np.zeros(npair)
        if cfg.errors.transport_error_model == "quadrature":
            spread, self.plume_mean_ratio, self.point_mean_ratio = self._quadrature_spread()
            for i in range(n_plume_parts):
                vals[i] = vals[i] * self.plume_mean_ratio[rows[i]]
            if self.plume_rise_sd > 0:
                # the point-source entries of each pair follow its area entries (jacobian_fill)
                n_area = fp.area_ptr[pair_row + 1] - fp.area_ptr[pair_row]
                is_point = (np.arange(tot) - offs[o_row]) >= n_area[o_row]
                vals[0] = o_val * np.where(
                    is_point, self.point_mean_ratio[o_row], self.plume_mean_ratio[o_row]
                )
            sum_area = sum_area * self.plume_mean_ratio
            # the point-dominance test sees the plumes without the rise dimension, so that the
            # hours it flags do not depend on errors.point_dominated_pairs
            point_central = sum_pt * self.plume_mean_ratio
            sum_pt = sum_pt * self.point_mean_ratio
            max_pt = max_pt * self.plume_mean_ratio
            sum_nb = sum_nb * self.plume_mean_ratio
        else:
            point_central = sum_pt
        # d(modelled enhancement)/d(relative mixing-height change), obs units; the column of
        # the daily mixing-height scale (neighbour inflow left out: a small, far part)
        self.mixing_height_sensitivity = zi_sens
        if L.transport_days:
            rows.append(np.arange(npair))
            cols.append(L.transport_col(self.pair_mixing_height_region(), P["day"].to_numpy()))
            vals.append(zi_sens)
        self.J = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(npair, L.n)
        )
        self.J.sum_duplicates()
        bg_prior = P["obs_species"].map(cfg.state.background_prior).to_numpy(float)
        xb = L.xb()
        self.y_prior = bg_prior + self.J @ xb
        self.enhancement = sum_area + sum_pt + sum_nb
        dominance_base = sum_area + point_central + sum_nb
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(dominance_base > 0, max_pt / dominance_base, 0.0)
        self.direction_spread = spread
        self.pairs["point_share"] = np.maximum(share, rot_share)
        self.pairs["direction_spread"] = spread
        self.pairs["prior_enhancement"] = self.enhancement
        self.pairs["prior"] = self.y_prior
        self.bg_prior = bg_prior

    @functools.cached_property
    def conversion(self) -> dict[str, float]:
        """Observation units per µg/m³ of each measured quantity, at the model's reference state
        (``chemistry.model_temperature_K``, ``model_pressure_kPa``)."""
        chem = self.config.chemistry
        return {
            q: model_conversion_factor(
                self.observed[q],
                chem.voc_molar_mass_per_carbon,
                chem.model_temperature_K,
                chem.model_pressure_kPa,
            )
            for q in dict.fromkeys(self.pairs["obs_species"])
        }

    @functools.cached_property
    def pair_conversion(self) -> np.ndarray:
        """Observation units per µg/m³ for each pair: the quantity's :attr:`conversion` at the
        reference state, or (``chemistry.model_conversion_state: ambient``) at the station-hour's
        2 m temperature and inlet pressure (surface pressure of the met carried up the inlet
        height, or the standard atmosphere at the station's ``elevation`` + inlet height)."""
        chem = self.config.chemistry
        P = self.pairs
        if chem.model_conversion_state == "reference":
            return P["obs_species"].map(self.conversion).to_numpy(float)
        st = self.rows["st"].to_numpy()[P["row"].to_numpy()]
        hour = self.rows["hour"].to_numpy()[P["row"].to_numpy()]
        t = self.pm.t2m[hour, st]
        height = self.stations["height"].to_numpy(float)[st]
        sp_ = None if self.pm.surface_pressure is None else self.pm.surface_pressure[hour, st]
        elevation = np.zeros(len(self.stations))
        if sp_ is None:
            if "elevation" in self.stations:
                elevation = self.stations["elevation"].to_numpy(float)
            unknown = ~np.isfinite(elevation)
            if "elevation" not in self.stations or unknown.any():
                ids = self.stations["station_id"].to_numpy()[
                    unknown if "elevation" in self.stations else slice(None)
                ]
                log.warning(
                    "ambient conversion without surface pressure (sp) in the meteorology and "
                    "without the elevation of %d station(s) (%s): taken at sea level; a station "
                    "at 1,500 m is then ~19 %% off. Give an 'elevation' column (m above sea "
                    "level) in the station table or sp in the meteorology",
                    len(ids),
                    ", ".join(map(str, ids[:5])) + (", …" if len(ids) > 5 else ""),
                )
                elevation = np.where(np.isfinite(elevation), elevation, 0.0)
        p = inlet_pressure_pa(t, height, sp_, elevation[st])
        out = np.empty(len(P))
        for q in dict.fromkeys(P["obs_species"]):
            m = (P["obs_species"] == q).to_numpy()
            out[m] = ambient_conversion_factor(
                self.observed[q], chem.voc_molar_mass_per_carbon, t[m], p[m]
            )
        return out

    @functools.cached_property
    def pair_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per pair: receptor-hour row, emitted-species index, whether it sees the reactive
        species' NO2 share, and the conversion from µg/m³ to the observation's unit."""
        P = self.pairs
        return (
            P["row"].to_numpy(np.int64),
            np.array(
                [self.species.index(self.observed[s].name) for s in P["obs_species"]], np.int64
            ),
            P["obs_species"].isin(self.reactive_observed).to_numpy(),
            self.pair_conversion,
        )

    def _direction_spread(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Transport-error estimate: the spread of the prior modelled enhancement when the wind
        is turned by ±``model_error_wind_direction_deg``, when the mixing height is scaled
        by 1 ± ``model_error_mixing_height_rel`` and, for the reactive species, when the NOx
        lifetime is scaled by 1 ± ``model_error_nox_lifetime_rel`` (variances of the
        independent sources added), the largest single-point share of the turned and scaled-lid plumes, and
        the derivative of the enhancement with respect to a relative change of the mixing
        height (central difference of the two scaled plumes; zeros unless
        ``mixing_height_unknowns``)."""
        cfg = self.config
        npair = len(self.pairs)
        delta = cfg.errors.model_error_wind_direction_deg
        dtau = cfg.errors.model_error_nox_lifetime_rel
        dz = cfg.errors.model_error_mixing_height_rel
        # the derivative's step: R's mixing-height error, or the unknowns' own prior error
        step = (
            dz
            if dz > 0
            else (cfg.state.mixing_height_prior_error if cfg.state.mixing_height_unknowns else 0)
        )
        variants = [(sgn * delta, 1.0, True) for sgn in (-1.0, 1.0) if delta > 0]
        variants += [(0.0, 1.0 + sgn * step, dz > 0) for sgn in (-1.0, 1.0) if step > 0]
        sens = np.zeros(npair)
        base = self._local_signal
        sq = np.zeros(npair)
        share = np.zeros(npair)
        #: per pair, the direction part of ``sq`` (:meth:`direction_spread_at` swaps it)
        self._direction_sq = np.zeros(npair)
        for angle, zscale, in_spread in variants:
            sig, sh = self.pair_signal(angle, zscale)
            if in_spread:
                share = np.maximum(share, sh)
                sq += (sig - base) ** 2
            if angle != 0.0:
                self._direction_sq += (sig - base) ** 2
            if zscale != 1.0 and cfg.state.mixing_height_unknowns:
                sens += np.sign(zscale - 1.0) * sig / (2.0 * step)
        if dtau > 0 and self.reactive_observed:
            # against the same (coarse) quadrature, so that only the lifetime moves the signal
            coarse, _ = self.pair_signal()
            for tau_scale in (1.0 - dtau, 1.0 + dtau):
                sq += (self.pair_signal(tau_scale=tau_scale)[0] - coarse) ** 2
        # the directions, the mixing heights and the lifetimes are independent error sources,
        # each pair of variants an estimate of its variance (mean square deviation)
        return np.sqrt(sq / 2.0), share, sens

    @property
    def operators_of(self) -> ObservationSystem:
        """The system whose operators this one has: itself, or for a view made by
        :meth:`with_transport_errors` (which changes only the stations' R) the system it
        was made from, so that other observation types keep their matches."""
        return self.__dict__.get("_operators_of", self)

    def direction_spread_at(self, angle_deg: float) -> np.ndarray:
        """The 'stencil' transport error of every pair (obs units) with the wind turned by
        ±``angle_deg`` (degrees, ≥ 0) instead of ``errors.model_error_wind_direction_deg``; its
        mixing-height and lifetime parts unchanged.  Two coarse operator builds."""
        if self.config.errors.transport_error_model != "stencil":
            raise ConfigError(
                "direction_spread_at needs errors.transport_error_model: stencil (the "
                "quadrature's mean changes H as well as R)"
            )
        if not 0.0 <= angle_deg < 90.0:
            raise ConfigError(f"wind-direction error {angle_deg!r}° is outside [0°, 90°)")
        # kept per angle on the base system, for it and its views
        cache = self.operators_of.__dict__.setdefault("_direction_sq_at", {})
        key = float(angle_deg)
        if key not in cache:
            base = self._local_signal
            turned = np.zeros_like(base)
            if angle_deg > 0:
                for sgn in (-1.0, 1.0):
                    turned += (self.pair_signal(sgn * angle_deg)[0] - base) ** 2
            cache[key] = turned
        # the spread is sqrt(Σ squared deviations / 2) over its pairs of variants; the views'
        # own spread is their base's with the direction part swapped, so start from the base
        base_spread = self.operators_of.direction_spread
        return np.sqrt(np.maximum(base_spread**2 + (cache[key] - self._direction_sq) / 2, 0))

    def with_transport_errors(
        self, wind_direction_deg: float, model_error_rel: float | None = None
    ) -> ObservationSystem:
        """This system with the stations' R sized for a wind-direction error of
        ``wind_direction_deg`` (:meth:`direction_spread_at`) and, when given, a relative model
        error ``model_error_rel``: a shallow copy sharing H and everything else, whose
        configuration holds the two values.  The pairs flagged as dominated by one point source
        stay those of the configured angle."""
        spread = self.direction_spread_at(wind_direction_deg)
        view = copy.copy(self)
        update: dict[str, float] = {"model_error_wind_direction_deg": float(wind_direction_deg)}
        if model_error_rel is not None:
            update["model_error_rel"] = float(model_error_rel)
        errors = self.config.errors.model_copy(update=update)
        view.config = self.config.model_copy(update={"errors": errors})
        view.direction_spread = spread
        view.pairs = self.pairs.assign(direction_spread=spread)
        view._operators_of = self.operators_of
        return view

    def _quadrature_spread(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``quadrature`` transport error: the standard deviation of every pair's prior
        signal over a Gauss–Hermite design (one dimension at a time: wind direction, wind speed,
        mixing height and, with ``errors.point_dominated_pairs: elevated_plume``, the plume
        rise of the point sources; the variances of the independent dimensions added), the
        ratio of its mean to the central plume's (each dimension's mean shift added) and the
        ratio for the point-source columns (the same plus the rise dimension's mean shift of
        the point-source signal over the central point-source signal; equal to the first
        without the rise dimension), all on the coarse quadrature.  Pairs with no signal keep
        ratios of 1.  The rise dimension's variance (:attr:`elevated_plume_variance`) is that
        of the point-source signal alone: the area sources do not depend on the rise."""
        e = self.config.errors
        nodes, weights = transport_quadrature(e.quadrature_nodes)
        dims = {
            "direction": lambda z: {"angle_deg": e.model_error_wind_direction_deg * z},
            "speed": lambda z: {"speed_scale": float(np.exp(e.model_error_wind_speed_rel * z))},
            "mixing_height": lambda z: {
                "zscale": float(np.exp(e.model_error_mixing_height_rel * z))
            },
        }
        central, _, central_point = self.pair_signals()
        variance = np.zeros_like(central)
        mean = central.copy()
        deviations = []
        for node_args in dims.values():
            signals = [
                central if abs(z) < 1e-12 else self.pair_signal(**node_args(z))[0] for z in nodes
            ]
            m, v, dev = quadrature_moments(signals, weights)
            variance += v
            deviations += dev
            mean += m - central
        #: per pair, the variance of the point-source signal over the plume-rise nodes (obs
        #: units squared; zeros without the rise dimension)
        self.elevated_plume_variance = np.zeros_like(central)
        point_shift = np.zeros_like(central)
        rise_sd = self.plume_rise_sd
        if rise_sd > 0:
            signals = [
                central_point
                if abs(z) < 1e-12
                else self.pair_signals(rise_scale=float(np.exp(rise_sd * z)))[2]
                for z in nodes
            ]
            m, v, dev = quadrature_moments(signals, weights)
            self.elevated_plume_variance = v
            variance += v
            deviations += dev
            point_shift = m - central_point
            mean += point_shift
        #: ``(nodes, n_pairs)``: Σ over nodes of their outer products is the transport-error
        #: covariance of the design (its diagonal the variance)
        self.transport_deviations = np.array(deviations)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(central > 0, (mean - point_shift) / central, 1.0)
            point_ratio = ratio + np.where(central_point > 0, point_shift / central_point, 0.0)
        return np.sqrt(variance), ratio, point_ratio

    @property
    def plume_rise_sd(self) -> float:
        """Log-sd of the plume-rise factor in the transport quadrature: the errors'
        ``model_error_plume_rise_rel`` with ``point_dominated_pairs: elevated_plume``, else 0."""
        e = self.config.errors
        return e.model_error_plume_rise_rel if e.point_dominated_pairs == "elevated_plume" else 0.0

    def pair_signal(
        self,
        angle_deg: float = 0.0,
        zscale: float = 1.0,
        tau_scale: float = 1.0,
        speed_scale: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Prior modelled local enhancement (area and point sources, obs units) of every pair
        with the wind turned by ``angle_deg``, the mixing height scaled by ``zscale``, the
        NOx lifetime by ``tau_scale`` and the wind speed by ``speed_scale``, and the largest
        single-point share of it.  Uses the
        coarser 3×3 / 7×7 quadrature: it sizes errors and linearisations, not the
        observations' own signal."""
        sig, share, _ = self.pair_signals(angle_deg, zscale, tau_scale, speed_scale)
        return sig, share

    def pair_signals(
        self,
        angle_deg: float = 0.0,
        zscale: float = 1.0,
        tau_scale: float = 1.0,
        speed_scale: float = 1.0,
        rise_scale: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`pair_signal` with the point sources' Briggs rise times ``rise_scale``, and the
        point-source part of the enhancement (obs units) as a third array."""
        pair_row, pair_sp, pair_nox, pair_conv = self.pair_index
        rec = self.receptors
        th = np.radians(angle_deg)
        c, s_ = np.cos(th), np.sin(th)
        r2 = Receptors(
            rec.x,
            rec.y,
            rec.z,
            rec.hour,
            rec.speed * speed_scale,
            c * rec.ex - s_ * rec.ey,
            s_ * rec.ex + c * rec.ey,
            rec.stability,
            rec.zi * zscale,
            rec.tau_nox_s * tau_scale,
            rec.t_amb,
        )
        fp = self.build(r2, coarse=True, rise_scale=rise_scale)
        sig = np.zeros(pair_row.size)
        share = np.zeros(pair_row.size)
        point = np.zeros(pair_row.size)
        for si in range(len(self.species)):
            for nox in (False, True):
                m = (pair_sp == si) & (pair_nox == nox)
                if not m.any():
                    continue
                y = forward(fp, self.E[si], self.Ep[si] if self.Ep.shape[2] else None, nox=nox)
                mx = np.zeros(rec.n)
                tot = np.zeros(rec.n)
                if fp.npoint:
                    point_max_and_sum(
                        fp.pt_ptr,
                        fp.pt_idx,
                        fp.pt_nox if nox else fp.pt_val,
                        rec.hour,
                        self.Ep[si],
                        mx,
                        tot,
                    )
                sig[m] = y[pair_row[m]] * pair_conv[m]
                point[m] = tot[pair_row[m]] * pair_conv[m]
                with np.errstate(invalid="ignore", divide="ignore"):
                    sh = np.where(y > 0, mx / y, 0.0)
                share[m] = sh[pair_row[m]]
        return sig, share, point

    def cells_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Flat index (C order) of the cell holding each position ``x``, ``y`` (m, grid CRS);
        a position off the grid gets the nearest edge cell."""
        g = self.grid
        col = np.clip(np.floor((np.asarray(x, float) - g.x_min) / g.cell_size), 0, g.nx - 1)
        row = np.clip(np.floor((g.y_max - np.asarray(y, float)) / g.cell_size), 0, g.ny - 1)
        return (row.astype(np.int64) * g.nx + col.astype(np.int64)).astype(np.int64)

    @property
    def point_cells(self) -> np.ndarray:
        """Flat (C-order) grid-cell index of every point source."""
        return (self.points["row"] * self.grid.nx + self.points["col"]).to_numpy(np.int64)

    def pair_mixing_height_region(self) -> np.ndarray:
        """Index of each pair's mixing-height region (its station's city; 0 for one
        province-wide scale a day)."""
        if self.station_mixing_height_region is None:
            return np.zeros(len(self.pairs), np.int64)
        where = pd.Series(
            self.station_mixing_height_region, index=self.stations["station_id"].to_numpy()
        )
        return where.loc[self.pairs["station_id"].to_numpy()].to_numpy(np.int64)

    def mixing_height_region_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index of the mixing-height region of grid points ``x, y`` (metres); 0 for one
        province-wide scale a day."""
        if self.mixing_height_regions is None:
            return np.zeros(np.shape(x), np.int64)
        return self.mixing_height_regions.region_of(x, y)

    def info(self) -> dict:
        fp = self.footprints
        return {
            "receptor_hours": int(self.receptors.n),
            "pairs": int(len(self.pairs)),
            "state_size": int(self.layout.n),
            "H_nnz": int(fp.nnz),
            "J_nnz": int(self.J.nnz) if hasattr(self, "J") else None,
            "kernel_evaluations": int(fp.kernel_evaluations),
            "H_build_seconds": float(fp.build_seconds),
            "kernel_evaluations_per_second": float(
                fp.kernel_evaluations / max(fp.build_seconds, 1e-9)
            ),
            "setup_seconds": float(getattr(self, "setup_seconds", np.nan)),
        }
