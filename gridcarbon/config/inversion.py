"""Configuration of the inversion stage (a section of :class:`gridcarbon.config.RunConfig`).

Every modelling choice of the inverse model is a field here with a documented default; the
reasons for each default are given in ``docs/inversion.md``.  The choices are grouped:

``state``      what is estimated and its prior errors (B);
``errors``     what is assimilated and with which errors (R);
``transport``  the Gaussian-plume observation operator;
``chemistry``  the reactive species and the conversion to mixing ratios;
``solver``     how the posterior is computed;

the top level holds the switches, the input files and the OSSE.  A key of the earlier flat
layout (``inversion.block_cells``) is refused with a message naming its new place
(``inversion.state.block_cells``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "InversionConfig",
    "OSSEConfig",
    "CrossValidationConfig",
    "ColumnsConfig",
    "RandomisedErrors",
    "StateConfig",
    "ErrorsConfig",
    "TransportConfig",
    "ChemistryConfig",
    "SolverConfig",
    "STATION_KINDS",
    "MOVED_KEYS",
    "EXTRA_OBSERVED_QUANTITIES",
    "OBSERVED_ALIASES",
    "PLAUSIBLE_MEDIAN",
    "NEGATIVE_FLOOR",
    "DIURNAL_CHECK_QUANTITIES",
    "CNEMC_QUANTITIES",
]

#: Station classes of the network (DESIGN §3).
STATION_KINDS: tuple[str, ...] = (
    "background",
    "demonstration",
    "regional",
    "urban",
    "sink",
    "micro",
)


# -- observed quantities: plausibility of what stations report, keyed by quantity name -------------

#: Quantities regulatory stations report that no built-in species is observed as: canonical unit
#: and molar mass (g/mol).  CNEMC files carry CO in mg/m³.
EXTRA_OBSERVED_QUANTITIES: dict[str, tuple[str, float]] = {"CO": ("ppm", 28.0101)}

#: Other spellings of observed quantities in station and observation tables (case-insensitive).
OBSERVED_ALIASES: dict[str, str] = {"nmvoc": "VOC"}

#: Plausible median of one station's hourly values, canonical units: (refuse below, warn below,
#: warn above, refuse above).  NO2: 0.25 ppb is 0.5 µg/m³ (a station median below it is
#: mg/m³ read as µg/m³), the warning band 1–100 ppb is about 2–190 µg/m³; CO2: 380–600 ppm at
#: surface stations since 2005; VOC (NMVOC): 3–3000 ppbC from remote to roadside; CO: 0.1–5 ppm.
#: A quantity without a range is not checked.
PLAUSIBLE_MEDIAN: dict[str, tuple[float, float, float, float]] = {
    "NO2": (0.25, 1.0, 100.0, 1000.0),
    "CO2": (300.0, 380.0, 600.0, 2000.0),
    "VOC": (1.0, 3.0, 3000.0, 100000.0),
    "CO": (0.02, 0.1, 5.0, 100.0),
}

#: Lowest value accepted, canonical units: noise around zero gives negative NO2 and VOC values,
#: down to about 6 times a micro sensor's hourly error (5 ppb NO2, 10 ppbC VOC; kept, and
#: counted in the QA record); a negative CO2 mixing ratio is not a measurement.  A quantity not
#: listed accepts no negative value.
NEGATIVE_FLOOR: dict[str, float] = {"NO2": -30.0, "VOC": -60.0, "CO": -1.0, "CO2": 0.0}

#: Quantities whose mean daily cycle at stations near sources is checked for its afternoon
#: minimum (the afternoon's deep mixed layer, and NO2 photolysis), to catch time-zone slips.
DIURNAL_CHECK_QUANTITIES: tuple[str, ...] = ("NO2", "CO2")

#: What the regulatory (CNEMC) network measures of the modelled quantities (the CNEMC readers'
#: default).
CNEMC_QUANTITIES: tuple[str, ...] = ("NO2",)


def _default_meas_error() -> dict[str, dict[str, float]]:
    # 1-sigma hourly measurement error by station class, in ppm (CO2), ppb (NO2), ppbC (VOC).
    return {
        "background": {"CO2": 0.1, "NO2": 1.0},
        "demonstration": {"CO2": 0.1, "NO2": 1.0, "VOC": 2.0},
        "regional": {"CO2": 0.2, "NO2": 1.0},
        "urban": {"CO2": 0.3, "NO2": 1.5, "VOC": 3.0},
        "sink": {"CO2": 0.3},
        "micro": {"CO2": 2.0, "NO2": 5.0},
    }


#: The state settings that make the prior error covariance B (not the state's layout): the
#: perturbed OSSE truth draws from these settings' defaults (``osse.truth_covariance``), never
#: from the inversion's own, so that changing B does not change the truth.
COVARIANCE_SETTINGS = (
    "prior_error",
    "length_scale_km",
    "time_scale_days",
    "species_correlation",
    "point_prior_error",
    "background_error",
    "micro_bias_error",
    "neighbour_prior_error",
    "biogenic_prior_error",
    "mixing_height_prior_error",
    "mixing_height_time_scale_days",
    "column_wind_prior_error",
    "column_lifetime_prior_error",
)


class TruthStructure(BaseModel):
    """Structure of the perturbed OSSE truth that the state cannot represent (each off at its
    default; each piece can be run alone or together): the truth's emissions and, for the point
    sources, its transport (plume rise, stack positions), each piece drawn from its own random
    stream so that turning one on changes no other draw."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    cell_lognormal_sigma: float = Field(
        0.0,
        ge=0,
        le=2,
        description="log-space sigma of an independent 3 km log-normal factor on every cell's "
        "area emissions (mean 1; e.g. 0.3); finer than the state's blocks",
    )
    rush_hour_shift_h: int = Field(
        0,
        ge=0,
        le=3,
        description="the road-transport part of the area emissions shifted in time by +/- this "
        "many hours (sign drawn per replicate; e.g. 1)",
    )
    rush_hour_sector: str = Field(
        "road_transport", description="the inventory sector whose emissions rush_hour_shift_h moves"
    )
    weekend_ratio_range: tuple[float, float] | None = Field(
        None,
        description="area emissions on Beijing Saturdays and Sundays times a ratio drawn "
        "uniform in this range per replicate (e.g. [0.5, 1.0])",
    )
    stack_daily_sigma: float = Field(
        0.0,
        ge=0,
        le=2,
        description="log-space sigma of a daily AR(1) factor on each point source (mean 1; "
        "e.g. 0.2), one-day lag correlation stack_daily_correlation",
    )
    stack_daily_correlation: float = Field(
        0.7, ge=0, lt=1, description="day-to-day correlation of the stacks' daily factors"
    )
    stack_rise_factor_range: tuple[float, float] | None = Field(
        None,
        description="the truth's transport: each point source's Briggs plume rise times a "
        "factor drawn uniform in this range, per stack and replicate (e.g. [0.6, 1.4]); None = "
        "the formula's rise, as the model has it",
    )
    stack_displaced_fraction: float = Field(
        0.0,
        ge=0,
        le=1,
        description="the truth's transport: this fraction of the point sources (rounded to a "
        "whole number of stacks, chosen per replicate; e.g. 0.05) sits elsewhere than the "
        "inventory says, moved stack_displacement_km in a random direction",
    )
    stack_displacement_km: tuple[float, float] = Field(
        (1.0, 3.0),
        description="distance (km) of a displaced stack from its inventory position, drawn "
        "uniform in this range",
    )

    @field_validator("weekend_ratio_range")
    @classmethod
    def _ratio(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not 0 < v[0] <= v[1]:
            raise ValueError(f"weekend_ratio_range {v} must be 0 < low <= high")
        return v

    @field_validator("stack_rise_factor_range")
    @classmethod
    def _rise(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not 0 <= v[0] <= v[1]:
            raise ValueError(f"stack_rise_factor_range {v} must be 0 <= low <= high")
        return v

    @field_validator("stack_displacement_km")
    @classmethod
    def _displacement(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] <= v[1]:
            raise ValueError(f"stack_displacement_km {v} must be 0 <= low <= high (km)")
        return v

    @property
    def active(self) -> bool:
        """Whether any piece of the truth's emissions is on."""
        return bool(
            self.cell_lognormal_sigma
            or self.rush_hour_shift_h
            or self.weekend_ratio_range
            or self.stack_daily_sigma
        )

    @property
    def transport_active(self) -> bool:
        """Whether any piece of the truth's transport (stack rise, displaced stacks) is on."""
        return self.stack_rise_factor_range is not None or self.stack_displaced_fraction > 0


class RandomisedErrors(BaseModel):
    """Ranges of the transport errors of the randomised-error OSSE (``osse.mode:
    randomised``): per replicate each error is drawn uniform in its range, from a stream of its
    own, in place of the fixed values of the perturbed case (``osse.wind_direction_error_deg``,
    ``wind_speed_error``, ``mixing_height_bias``, ``error_time_scale_h``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    wind_direction_error_deg: tuple[float, float] = Field(
        (15.0, 35.0), description="range of the 1-sigma wind-direction error, degrees"
    )
    wind_speed_error: tuple[float, float] = Field(
        (0.10, 0.35), description="range of the 1-sigma relative wind-speed error"
    )
    mixing_height_bias: tuple[float, float] = Field(
        (-0.30, 0.30),
        description="range of the relative mixing-height bias seen by the truth (+0.2 = 20 % "
        "higher)",
    )
    error_time_scale_h: tuple[float, float] = Field(
        (3.0, 12.0), description="range of the e-folding time of the (AR(1)) wind errors, hours"
    )

    @field_validator("wind_direction_error_deg", "wind_speed_error")
    @classmethod
    def _non_negative(cls, v: tuple[float, float], info) -> tuple[float, float]:
        if not 0 <= v[0] <= v[1]:
            raise ValueError(f"randomised.{info.field_name} {v} must be 0 <= low <= high")
        return v

    @field_validator("mixing_height_bias")
    @classmethod
    def _bias(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not -1 < v[0] <= v[1]:
            raise ValueError(f"randomised.mixing_height_bias {v} must be -1 < low <= high")
        return v

    @field_validator("error_time_scale_h")
    @classmethod
    def _time(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] <= v[1]:
            raise ValueError(f"randomised.error_time_scale_h {v} must be 0 < low <= high (hours)")
        return v


class OSSEConfig(BaseModel):
    """Settings of the observing-system simulation experiments (synthetic truth)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    replicates: int = Field(3, ge=1, description="seeded replicates in one call")
    seed: int = Field(20240, description="seed of replicate 0 (replicate i uses seed + i)")
    mode: Literal["perturbed", "identical", "perfect", "randomised"] = Field(
        "perturbed",
        description="'perturbed': observations made with perturbed winds and mixing height plus "
        "unmodelled biogenic signal, with the fixed errors below (a stress test); 'randomised': "
        "the perturbed case with its transport errors drawn per replicate in the ranges of "
        "osse.randomised (recorded in the table); 'identical': same transport as the "
        "inversion (identical twin, a consistency check); 'perfect': the identical twin with "
        "R made of the measurement errors, the model-error floors and perfect_transport_"
        "model_error_rel of the modelled signal, without the transport term (the network's "
        "ceiling)",
    )
    perfect_transport_model_error_rel: float = Field(
        0.10,
        ge=0,
        description="relative model error of R in the perfect-transport twin (mode 'perfect')",
    )
    sector_biases: dict[str, float] = Field(
        default_factory=lambda: {"industry_petrochemical": 0.30, "road_transport": -0.20},
        description="relative bias of the truth per sector (e.g. +0.30 = 30% higher than prior)",
    )
    wind_direction_error_deg: float = Field(20.0, ge=0, description="1-sigma wind direction error")
    wind_speed_error: float = Field(0.20, ge=0, description="1-sigma relative wind speed error")
    mixing_height_bias: float = Field(
        0.20, description="relative bias of the mixing height seen by the truth (+0.2 = 20% higher)"
    )
    truth_mixing_height_by_city: bool = Field(
        False,
        description="perturbed and randomised modes: the truth's mixing height is scaled per "
        "city and Beijing day, by 1 + b_city + e, instead of by one province-wide 1 + "
        "mixing_height_bias: b_city drawn for the replicate uniform in "
        "randomised.mixing_height_bias, e independent N(0, truth_mixing_height_daily_sd) per "
        "city and day (cities: boundaries['city']; a station outside every city takes the "
        "nearest). The stations' transport sees it; the synthetic satellite files keep the "
        "met's mixing height (their writer's physics is domain-mean). SYNTHETIC",
    )
    truth_mixing_height_daily_sd: float = Field(
        0.15,
        ge=0,
        lt=0.5,
        description="with truth_mixing_height_by_city: 1-sigma of the daily part of each city's "
        "relative mixing-height error",
    )
    error_time_scale_h: float = Field(
        6.0, gt=0, description="e-folding time of the (AR(1)) wind errors, hours"
    )
    error_length_scale_km: float = Field(
        150.0, gt=0, description="e-folding length of the wind errors between stations, km"
    )
    randomised: RandomisedErrors = Field(
        default_factory=RandomisedErrors,
        description="mode 'randomised': the ranges its transport errors are drawn from per "
        "replicate (wind direction, wind speed, mixing-height bias, correlation time)",
    )
    truth_covariance: dict[str, Any] = Field(
        default_factory=dict,
        description="the perturbed truth's own error statistics: state covariance settings "
        "(prior_error, length_scale_km, ...: inversion.state's names) over their defaults. The "
        "truth never reads the inversion's B or R: changing inversion.state's covariance or "
        "inversion.errors leaves it as it was (the identical twins draw from the inversion's "
        "own B and R, which is what they test)",
    )
    truth_measurement_error: dict[str, dict[str, float]] | None = Field(
        None,
        description="1-sigma measurement noise of the perturbed truth's observations by station "
        "class and observed species; None = errors.measurement_error's defaults",
    )
    truth_structure: TruthStructure = Field(
        default_factory=TruthStructure,
        description="sub-state structure of the perturbed truth's emissions (all off by default)",
    )
    truth_nox_lifetime_factor_range: tuple[float, float] | None = Field(
        None,
        description="perturbed truth only: its NOx lifetime is the model's times a factor drawn "
        "log-uniform in this range, once per replicate (e.g. [0.5, 2.0], so that the truth "
        "does not share the operator's chemistry); None = the model's lifetime (the default)",
    )
    satellite: Literal["none", "tropomi_no2", "co2m_xco2", "tropomi_no2+co2m_xco2"] = Field(
        "none",
        description="satellite columns in the OSSE: 'none' (the default: station observations "
        "only), 'tropomi_no2' (one simulated TROPOMI NO2 overpass a day), 'co2m_xco2' (a "
        "simulated CO2M-like XCO2 imager swath every satellite_imager_every_days, OCO Lite "
        "layout) or both; made from the replicate's own truth emissions with the synthetic "
        "retrieval's physics and errors, written in the product's layout and read back; every "
        "replicate is then inverted three times: surface only, column only and joint",
    )
    satellite_imager_every_days: int = Field(
        3,
        ge=1,
        description="days between the simulated CO2M-like imager overpasses (the first on the "
        "period's first overpass)",
    )
    satellite_lifetime_factor_range: tuple[float, float] = Field(
        (0.5, 1.5),
        description="the simulated columns' NOx lifetime (3 h) times a factor drawn "
        "log-uniform in this range once per replicate (the issue's ±50 %)",
    )
    satellite_amf_error_sigma: float = Field(
        0.15,
        ge=0,
        description="relative 1-sigma of the simulated retrieval's air-mass-factor error "
        "(spatially correlated along the swath, 100 km)",
    )
    satellite_no2_free_troposphere_mol_m2: float = Field(
        1.2e-5,
        ge=0,
        le=1e-3,
        description="the simulated TROPOMI files' free-tropospheric NO2 column above 2 km "
        "(mol m-2), a background seen through the retrieval's own air-mass factor, which "
        "the column operator models only as the overpass's plane; 0 takes it out (a "
        "diagnostic of the truth, never a method)",
    )
    satellite_noise_scale: float = Field(
        1.0,
        ge=0,
        description="the simulated slant-column noise (8.6 umol m-2) times this (0: no noise)",
    )
    satellite_truth_chemistry: bool = Field(
        False,
        description="DIAGNOSTIC, never a method: hand each simulated overpass's own NOx "
        "lifetime and NO2/NOx ratio (the truth's, read from the file) to the column operator, "
        "to tell the columns' chemistry error from their transport error",
    )
    satellite_truth_chemistry_parts: Literal["lifetime+ratio", "lifetime", "ratio"] = Field(
        "lifetime+ratio",
        description="what satellite_truth_chemistry hands over: both (the default), only "
        "the lifetime (the operator keeps its NO2/NOx ramp) or only the flat NO2/NOx ratio "
        "(the operator keeps its lifetime), to tell the two apart",
    )
    satellite_truth_wind: bool = Field(
        False,
        description="DIAGNOSTIC, never a method: hand each simulated overpass's one transport "
        "wind (the truth's, read from the file: 1.4 x the domain-mean 10 m wind) to the column "
        "operator as the wind of every plume, NO2 and XCO2, in place of each pixel's wind with "
        "the plume-depth profile, to tell the columns' wind error from the rest of their "
        "mismatch (spread, vertical profile, retrieval)",
    )
    satellite_operator_lateral_spread: bool = Field(
        False,
        description="DIAGNOSTIC of the truth, never a method: the simulated files spread "
        "their plumes laterally as the column operator does (ISC3 rural and Briggs urban "
        "sigma_y of the overpass's most common stability class over the grid, urban by the "
        "dispersion's own rule) in place of the writer's linear sqrt((1.5 km)^2 + (0.1 x)^2), "
        "to tell the columns' spread mismatch from the rest",
    )
    satellite_columns: Literal["simulated", "operator", "operator_perturbed"] = Field(
        "simulated",
        description="DIAGNOSTIC, never a method: 'simulated' (the default) assimilates the "
        "simulated files' columns; 'operator' keeps their pixels, clouds, superobservations "
        "and R but puts in place of each used superobservation's value the column operator's "
        "own model of the replicate's truth emissions plus a draw from that overpass's R, so "
        "that the columns' physics is the model's (the column twin: what columns would add if "
        "the operator were right); 'operator_perturbed' makes that model's plumes with the "
        "met perturbed as the stations' truth's is in the perturbed and randomised modes (the "
        "replicate's wind direction, wind speed and mixing-height errors, same statistics, "
        "own draws): the twin with the stations' kind of transport error",
    )
    satellite_min_upwind_fetch_km: float | None = Field(
        None,
        ge=0,
        description="pixels closer than this to the grid's upwind edge are not used; None = the "
        "column operator's default (its truncation, 150 km)",
    )
    micro_drift_per_day: dict[str, float] = Field(
        default_factory=lambda: {"CO2": 0.05, "NO2": 0.1},
        description="1-sigma linear drift of micro-sensor bias per day (ppm, ppb)",
    )
    station_radius_km: float = Field(30.0, gt=0, description="'near a station' for the metrics")
    distance_bands_km: list[float] = Field(
        default_factory=lambda: [5.0, 10.0, 20.0, 30.0],
        min_length=1,
        description="upper edges (km) of the bands of distance to the nearest station in which "
        "the RMSE reduction of the area-source cells is also scored (where the gain sits)",
    )
    far_field_block_km: list[float] = Field(
        default_factory=lambda: [9.0, 27.0, 81.0],
        description="sides (km, rounded to whole cells) of the square blocks in which the "
        "far field's area-source totals are also scored (own_far_block_rmse_reduction_<side>"
        "km): how the far-field gain depends on the scale it is judged at; a diagnostic, not "
        "a target",
    )
    cities: list[str] | None = Field(
        None,
        description="city codes (of the scenario's city boundaries) whose totals of "
        "focus_species are scored; None = the scenario's cities (the default: Hangzhou and "
        "Ningbo), [] = none",
    )
    focus_species: str = Field(
        "CO2",
        description="the species whose city totals are scored and that is scored again with "
        "the cross-species correlation set to 0",
    )

    @field_validator("truth_covariance")
    @classmethod
    def _truth_covariance(cls, v: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(v) - set(COVARIANCE_SETTINGS))
        if unknown:
            raise ValueError(
                f"truth_covariance: {unknown} are not covariance settings; use "
                f"{', '.join(COVARIANCE_SETTINGS)}"
            )
        return v

    @field_validator("truth_nox_lifetime_factor_range")
    @classmethod
    def _lifetime_range(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not 0 < v[0] <= v[1]:
            raise ValueError(f"truth_nox_lifetime_factor_range {v} must be 0 < low <= high")
        return v

    @field_validator("satellite_lifetime_factor_range")
    @classmethod
    def _satellite_lifetime_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] <= v[1]:
            raise ValueError(f"satellite_lifetime_factor_range {v} must be 0 < low <= high")
        return v

    @field_validator("distance_bands_km", "far_field_block_km")
    @classmethod
    def _distinct_distances(cls, v: list[float], info: ValidationInfo) -> list[float]:
        if any(not d > 0 for d in v) or len(set(v)) != len(v):
            raise ValueError(f"{info.field_name} {v} must be distinct distances > 0 km")
        return sorted(v)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StateConfig(_Section):
    """What is estimated (the state vector) and its prior error covariance B."""

    block_cells: int = Field(
        3, ge=1, le=20, description="edge of a state block in grid cells (1 = per cell)"
    )
    window_hours: int = Field(
        24, ge=1, le=744, description="time window of a scaling factor, hours (1 h .. a month)"
    )
    prior_error: float = Field(0.5, gt=0, description="1-sigma error of each scaling factor")
    length_scale_km: float = Field(
        20.0,
        gt=0,
        description="e-folding length of the (separable exponential) spatial correlation",
    )
    time_scale_days: float = Field(
        5.0, gt=0, description="e-folding time of the correlation between time windows, days"
    )
    species_correlation: dict[str, float] = Field(
        default_factory=lambda: {"CO2-NOx": 0.6, "CO2-VOC": 0.2, "NOx-VOC": 0.3},
        description="correlation of the errors of different species (shared sources)",
    )
    n_point_unknowns: int = Field(
        20, ge=0, description="largest point sources (by CO2) that get their own factors"
    )
    point_ranking_species: str = Field(
        "CO2",
        description="the species whose period emission ranks the point sources for "
        "n_point_unknowns (the first species of the run when it has no such species)",
    )
    point_prior_error: float = Field(0.3, gt=0, description="1-sigma error of their factors")
    background_sectors: int = Field(
        4, ge=1, le=16, description="inflow-direction sectors of the daily background unknowns"
    )
    background_prior: dict[str, float] = Field(
        default_factory=lambda: {"CO2": 420.0, "NO2": 5.0, "VOC": 10.0},
        description="prior background (ppm, ppb, ppbC)",
    )
    background_error: dict[str, float] = Field(
        default_factory=lambda: {"CO2": 3.0, "NO2": 3.0, "VOC": 5.0},
        description="1-sigma error of the daily background per inflow sector",
    )
    micro_bias_error: dict[str, float] = Field(
        default_factory=lambda: {"CO2": 5.0, "NO2": 5.0, "VOC": 10.0},
        description="1-sigma prior error of each micro station's constant bias",
    )
    neighbour_density_scale: dict[str, float] = Field(
        default_factory=lambda: {
            "Shanghai": 3.0,
            "Jiangsu": 1.3,
            "Anhui": 0.6,
            "Jiangxi": 0.5,
            "Fujian": 0.7,
        },
        description="emission density of each neighbouring province relative to Zhejiang's mean "
        "(coarse inflow prior in the grid outside the region)",
    )
    neighbour_prior_error: float = Field(0.5, gt=0, description="error of the neighbour factors")
    biogenic: Literal["unmodelled", "scaled"] = Field(
        "unmodelled",
        description="'unmodelled': NEE (CO2) and isoprene (VOC) are only in the OSSE truth; "
        "'scaled': a prior biogenic field is modelled with one scale factor per species and day",
    )
    biogenic_prior_error: float = Field(0.5, gt=0, description="error of the biogenic factors")
    biogenic_models: dict[str, Literal["net_ecosystem_exchange", "isoprene"]] = Field(
        default_factory=lambda: {"CO2": "net_ecosystem_exchange", "VOC": "isoprene"},
        description="the biogenic flux of each species, by species name: net ecosystem "
        "exchange (CO2) and isoprene (VOC) over the forest and cropland of the land cover",
    )
    mixing_height_unknowns: bool = Field(
        False,
        description="put a province-wide mixing-height scale per Beijing day in the state "
        "(relative change of the boundary-layer height, prior mean 0), linearised: its column "
        "is the derivative of each observation's prior modelled enhancement with respect to it, "
        "so that a coherent, persistent boundary-layer error can be explained by transport "
        "rather than by a province-wide change of emissions. Off by default: in the OSSE it "
        "recovered the truth's mixing-height bias only in part and moved the city totals in "
        "both directions (docs/inversion.md)",
    )
    mixing_height_prior_error: float = Field(
        0.3,
        gt=0,
        lt=1,
        description="1-sigma of the daily mixing-height scale (the typical boundary-layer-height "
        "uncertainty also used for R: errors.model_error_mixing_height_rel)",
    )
    mixing_height_time_scale_days: float = Field(
        5.0,
        gt=0,
        description="e-folding time of the correlation between days of the mixing-height scale "
        "(synoptic regimes, whose boundary-layer errors persist, last about 3-7 days)",
    )
    mixing_height_regions: Literal["province", "city"] = Field(
        "province",
        description="with mixing_height_unknowns: one scale per Beijing day for the province, or "
        "one per city and day (the scenario's boundaries['city']; an observation takes the "
        "city its station or superobservation lies in, or outside every city the nearest "
        "city's centroid), for boundary layers that differ between the coast, the basins and "
        "the hills",
    )
    mixing_height_region_length_km: float = Field(
        200.0,
        gt=0,
        description="with mixing_height_regions 'city': the same day's scales of two cities "
        "correlate as exp(-d / L), d between their centroids. An a-priori choice (the size of "
        "a synoptic boundary-layer regime across the province), not tuned",
    )

    column_transport_unknowns: bool = Field(
        False,
        description="put three column transport unknowns in the state, shared by every "
        "satellite overpass of the period (a month by default) and estimated beside the "
        "emissions: the relative change of the modelled column enhancement from urban sources "
        "and from rural sources (a persistent error of the plume-depth wind speed, as a column "
        "scales as 1/wind) and the relative change of the reactive species' lifetime; "
        "linearised at the prior like the mixing-height unknowns. They answer a mismatch every "
        "overpass shares, which a per-overpass error in R (errors.column_wind_speed_error, "
        "column_lifetime_error) only widens; without column observations they stay at their "
        "prior. Off by default (docs/inversion.md)",
    )
    column_transport_terms: list[
        Literal["urban_transport_scale", "rural_transport_scale", "lifetime_scale"]
    ] = Field(
        default_factory=lambda: [
            "urban_transport_scale",
            "rural_transport_scale",
            "lifetime_scale",
        ],
        min_length=1,
        description="which column transport unknowns column_transport_unknowns puts in the "
        "state (kept in this order whatever the order given): the urban and the rural "
        "transport scale and the lifetime scale",
    )
    column_lifetime_iterations: int = Field(
        0,
        ge=0,
        le=10,
        description="Gauss-Newton outer iterations of the lifetime scale "
        "(column_transport_unknowns): after each solve the column operator of the reactive "
        "species is rebuilt at the posterior lifetime tau (1 + c) (c clipped to [-0.8, 2]) and "
        "the problem solved again with the model linearised there; 0: one linearisation at the "
        "prior (the lifetime's column is then a secant over tau x (1 +/- "
        "column_lifetime_prior_error))",
    )
    column_wind_prior_error: float = Field(
        0.3,
        gt=0,
        lt=1,
        description="1-sigma of the urban and of the rural column transport scale "
        "(column_transport_unknowns): the plume-depth wind speed's relative uncertainty, the "
        "same as errors.model_error_wind_speed_rel",
    )
    column_lifetime_prior_error: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="1-sigma of the relative change of the reactive species' lifetime "
        "(column_transport_unknowns): the spread of the published daytime NOx lifetimes over "
        "eastern China (Shah et al. 2020; Lange et al. 2022); also the step of the central "
        "difference that gives its column",
    )

    @field_validator("species_correlation")
    @classmethod
    def _corr(cls, v: dict[str, float]) -> dict[str, float]:
        for k, r in v.items():
            parts = k.split("-")
            if len(parts) != 2 or not all(p and p.replace("_", "").isalnum() for p in parts):
                raise ValueError(
                    f"species_correlation key {k!r} must name two species, like 'CO2-NOx'"
                )
            if not -1 < r < 1:
                raise ValueError(f"species_correlation {k!r} = {r} must be in (-1, 1)")
        return v


class ErrorsConfig(_Section):
    """What is assimilated (hours, aggregation, exclusions) and with which errors (R)."""

    aggregation: Literal["afternoon_mean", "hourly"] = Field(
        "afternoon_mean",
        description="assimilate daily afternoon means, or hourly values with R inflated by the "
        "effective sample size",
    )
    assimilation_hours_local: dict[str, list[int]] = Field(
        default_factory=lambda: {
            "CO2": [12, 13, 14, 15, 16],
            "NO2": [12, 13, 14, 15, 16],
            "VOC": [12, 13, 14, 15, 16],
        },
        description="Beijing hours (hour-beginning) assimilated per species",
    )
    measurement_error: dict[str, dict[str, float]] = Field(
        default_factory=_default_meas_error,
        description="hourly 1-sigma measurement error by station class and species",
    )
    model_error_rel: float = Field(
        0.5, ge=0, description="model (transport) error as a fraction of the modelled enhancement"
    )
    model_error_floor: dict[str, float] = Field(
        default_factory=lambda: {"CO2": 1.0, "NO2": 2.0, "VOC": 3.0},
        description="absolute floor of the hourly model error (ppm, ppb, ppbC)",
    )
    model_error_wind_direction_deg: float = Field(
        30.0,
        ge=0,
        description="transport error also from the spread of the prior modelled "
        "signal with the wind turned by +/- this angle (typical reanalysis 10 m wind-direction "
        "error); the point-dominance test uses the largest share of the three directions",
    )
    model_error_mixing_height_rel: float = Field(
        0.3,
        ge=0,
        lt=1,
        description="... and with the mixing height scaled by 1 +/- this "
        "(typical boundary-layer-height uncertainty); 0 disables",
    )
    transport_error_estimate: Literal["off", "wind_direction", "wind_direction_and_relative"] = (
        Field(
            "off",
            description="estimate the stations' transport-error hyperparameters per run, "
            "before the solve, from their innovations d = y - H x_b, by maximising the "
            "Gaussian likelihood of the rows taken one by one (variance (HBH^T)_ii + R_ii; a "
            "composite likelihood, which ignores the correlations between rows: consistent "
            "for the parameters, over-confident about them): 'wind_direction' = the angle of "
            "the 'stencil' transport error (model_error_wind_direction_deg) within "
            "wind_direction_error_bounds_deg; 'wind_direction_and_relative' = that angle and "
            "the relative model error (model_error_rel, within model_error_rel_bounds) "
            "together, so that an error that scales with the signal is not read as a "
            "direction error; uses no truth, so it runs unchanged on real data; 'off': both as "
            "configured (the default)",
        )
    )
    city_offset_error: bool = Field(
        False,
        description="with transport_error_estimate: add to R an error shared by a city's "
        "stations on a day (same observed quantity), of the variance the estimate sizes from "
        "the innovations by moments (its city_offsets; 0 where the moment is negative), so "
        "that a city's stations are not counted as independent witnesses of its emissions; "
        "needs the scenario's city boundaries; off by default",
    )
    wind_direction_error_bounds_deg: list[float] = Field(
        default_factory=lambda: [5.0, 60.0],
        min_length=2,
        max_length=2,
        description="[min, max] of the angle searched by transport_error_estimate (degrees); "
        "an estimate within 1 degree of a bound is flagged",
    )
    model_error_rel_bounds: list[float] = Field(
        default_factory=lambda: [0.05, 1.5],
        min_length=2,
        max_length=2,
        description="[min, max] of the relative model error searched by "
        "transport_error_estimate 'wind_direction_and_relative'; an estimate within 2 % of a "
        "bound is flagged",
    )
    transport_error_model: Literal["stencil", "quadrature"] = Field(
        "stencil",
        description="how the transport error of R is sized: 'stencil' = the spread of the "
        "signal with the wind turned by +/- model_error_wind_direction_deg and the mixing "
        "height scaled by 1 +/- model_error_mixing_height_rel (the default); 'quadrature' = a "
        "deterministic Gauss-Hermite design, one dimension at a time, over the wind direction "
        "(normal, sd model_error_wind_direction_deg), the wind speed and the mixing height "
        "(log-normal, median 1, log-sd model_error_wind_speed_rel and "
        "model_error_mixing_height_rel): its variance is the transport error, and its mean "
        "replaces the central plume in H (the expected signal under the transport error)",
    )
    transport_error_correlation: Literal["none", "same_day"] = Field(
        "none",
        description="'same_day' (with transport_error_model 'quadrature' and aggregation "
        "'afternoon_mean'): the transport errors of one Beijing day are correlated between "
        "stations and quantities as the quadrature nodes' deviations are, localised with a "
        "Gaspari-Cohn taper of half-width transport_error_localisation_km (R block diagonal "
        "by day); 'none': independent (R diagonal, the default)",
    )
    transport_error_localisation_km: float = Field(
        50.0,
        gt=0,
        description="half-width c of the Gaspari-Cohn taper of the correlated transport error "
        "(zero beyond 2c): a setting chosen for a province's station spacing, not a value from "
        "the literature",
    )
    model_error_wind_speed_rel: float = Field(
        0.3,
        ge=0,
        lt=1,
        description="log-sd of the wind-speed factor in the 'quadrature' transport error",
    )
    quadrature_nodes: int = Field(
        3, ge=2, le=15, description="Gauss-Hermite nodes per dimension of the 'quadrature' model"
    )
    model_error_nox_lifetime_rel: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="... and, for the reactive species, with the NOx lifetime scaled by "
        "1 +/- this (0.5 = the +/-50 % spread between the published lifetimes of Shah et al. "
        "2020 and Lange et al. 2022; the real-data setting, with "
        "chemistry.nox_lifetime_day_by_season); 0 disables (the synthetic default)",
    )
    model_error_time_scale_h: float = Field(
        3.0, gt=0, description="e-folding time of the hour-to-hour model-error correlation"
    )
    point_dominance_max: float = Field(
        0.5,
        gt=0,
        le=1,
        description="drop station-hours where one point source gives more than "
        "this share of the modelled enhancement (unless point_dominated_pairs is "
        "'elevated_plume')",
    )
    point_dominated_pairs: Literal["exclude", "elevated_plume"] = Field(
        "exclude",
        description="station-hours dominated by one point source (point_dominance_max): "
        "'exclude' them (the default), or admit them with the 'elevated_plume' error model "
        "(needs transport_error_model 'quadrature'): the quadrature gets a fourth dimension, "
        "the Briggs plume rise times a log-normal factor (median 1, log-sd "
        "model_error_plume_rise_rel); the point-source columns of H take the nodes' mean of "
        "the point-source signal and R the nodes' variance of it (the elevated-plume term), "
        "for every pair",
    )
    model_error_plume_rise_rel: float = Field(
        0.5,
        ge=0,
        lt=2,
        description="log-sd of the plume-rise factor of the 'elevated_plume' error model "
        "(0.5: the inversion issue's plume rise x (1 +/- 0.5)); 0 = the quadrature without "
        "the rise dimension",
    )
    column_scale_error: bool = Field(
        False,
        description="satellite NO2 columns: add an error of the modelled enhancement common to "
        "each overpass, a multiplicative scale with an a-priori 1-sigma of 41 % (NO2/NOx ratio "
        "20 %, NOx lifetime 30 %, overpass-wide air-mass factor 20 %, in quadrature), "
        "marginalised analytically (C + sigma_s^2 m m^T, m the prior modelled enhancement); "
        "off by default",
    )
    column_lifetime_error: bool = Field(
        False,
        description="satellite NO2 columns: add an error of the NOx lifetime per overpass, "
        "1-sigma 50 % (the spread of the published daytime lifetimes over eastern China), "
        "through the central difference of the prior modelled enhancement over "
        "tau x (1 +/- 0.5), marginalised analytically (C + sigma^2 m_tau m_tau^T): the "
        "lifetime changes the plumes' shape, not only their size; with column_scale_error "
        "also on, the scale drops its lifetime part (0.28 instead of 0.41); off by default",
    )
    column_wind_speed_error: bool = Field(
        False,
        description="satellite columns (NO2 and XCO2): add an error of the operator's "
        "plume-depth wind speed per overpass, drawn independently for the enhancement from "
        "urban and from rural sources (a column enhancement scales as 1/wind), with the "
        "1-sigma of model_error_wind_speed_rel, marginalised analytically "
        "(C + sigma_w^2 (m_u m_u^T + m_r m_r^T), m_u and m_r the prior modelled enhancement "
        "from urban and rural cells); off by default",
    )
    column_wind_speed_shape: bool = Field(
        False,
        description="with column_wind_speed_error: the columns' wind-speed term as a plume-shape "
        "term instead of the two scales per overpass: the prior modelled enhancement "
        "recomputed with every pixel's wind speed times exp(sigma z) at the Gauss-Hermite "
        "nodes z (quadrature_nodes, sigma = model_error_wind_speed_rel, the Turner class "
        "recomputed), the nodes' covariance tapered with Gaspari-Cohn of half-width "
        "column_shape_localisation_km (a faster wind thins a plume and carries NOx farther "
        "before it decays, and a wind-speed error varies within an overpass); "
        "quadrature_nodes - 1 more operator builds; off by default: measured in the OSSE "
        "twin it describes the transport error better but the inversion does worse "
        "(docs/inversion.md)",
    )
    column_wind_speed_shape_correlation: Literal["tapered", "overpass"] = Field(
        "tapered",
        description="with column_wind_speed_shape: the speed nodes' covariance 'tapered' as "
        "the direction's (column_shape_localisation_km; the default) or whole over the "
        "overpass, 'overpass' (one speed error per overpass, as column_wind_speed_error's "
        "scales, with the plumes recomputed at its nodes)",
    )
    column_wind_direction_error: bool = Field(
        False,
        description="satellite columns (NO2 and XCO2): add a plume-shape error per overpass, "
        "the spread of the prior modelled enhancement with every pixel's wind turned by the "
        "Gauss-Hermite nodes (quadrature_nodes) of a normal direction error of 1-sigma "
        "model_error_wind_direction_deg; the nodes' covariance, tapered with Gaspari-Cohn of "
        "half-width column_shape_localisation_km, is added to the overpass's error covariance "
        "(a turned plume moves its enhancement across the wind: an error correlated along each "
        "plume that no scale of its strength describes); off by default",
    )
    column_wind_direction_fit: bool = Field(
        False,
        description="with column_wind_direction_error: fit one turn of the wind per satellite "
        "overpass to the overpass's own columns before the inversion (five candidate turns, "
        "-2 to +2 sigma of model_error_wind_direction_deg; the most probable turn "
        "given the background-free columns, with the plume's strength 1 +/- 1 times the "
        "prior's integrated out and the direction error's normal prior, refined by a "
        "parabola), and build H and the "
        "error terms with the winds turned "
        "by it: a plume displaced by a wind error is a dipole along the plume that R's spread "
        "cannot remove; six more operator builds per overpass set; off by default "
        "(docs/inversion.md)",
    )
    column_wind_direction_fit_prior: Literal["pointwise", "overpass_mean"] = Field(
        "pointwise",
        description="with column_wind_direction_fit: the sigma of the fitted turn's prior, "
        "'pointwise' (model_error_wind_direction_deg) or 'overpass_mean' (the sigma of an "
        "overpass's mean of a direction-error field correlated as the plume-shape term's "
        "Gaspari-Cohn taper of column_shape_localisation_km: smaller, as the fitted turn is an "
        "average over the overpass)",
    )
    column_wind_direction_fit_tile_km: float | None = Field(
        None,
        gt=0,
        description="with column_wind_direction_fit: fit the wind turn as a field, one turn "
        "per square tile of this side (km, a lattice from the grid's origin), jointly per "
        "overpass with the tiles' prior correlated as the plume-shape term's taper (a wind "
        "error varies within an overpass); unset (the default): one turn per overpass; "
        "measured in the OSSE twin, it does not help (docs/inversion.md)",
    )
    column_expected_plume: bool = Field(
        False,
        description="with column_wind_direction_error: the columns' H is the mean of the "
        "operator over the direction nodes, the expected plume under the direction error (as "
        "transport_error_model 'quadrature' does for the stations), so the plume-shape term "
        "of R is the spread about what H models; off: H is the central plume (the default)",
    )
    column_mixing_height_error: bool = Field(
        False,
        description="satellite columns (NO2 and XCO2): add a mixing-height error per overpass "
        "to R, the central difference of the prior modelled enhancement over the mixing "
        "height scaled by 1 +/- model_error_mixing_height_rel, marginalised as "
        "C + sigma^2 m_z m_z^T (under a retrieval's averaging kernel a column still depends "
        "on the mixing height); with state.mixing_height_unknowns the columns then carry no "
        "column of the daily scales in H, which the stations alone set; off by default (the "
        "columns carry the daily scales' column when the unknowns are on)",
    )
    column_auxiliary_sampling: Literal["full", "coarse"] = Field(
        "full",
        description="the sampling of the columns' auxiliary operators, those built only for "
        "an error term or a state slope (the plume-shape nodes, the mixing height and lifetime "
        "at 1 +/- their step): 'full' = H's own (the default), 'coarse' = one sample point per "
        "grid cell and no source sub-cells, about half the cost of a full build; the shape "
        "term's nodes, central one included, are then all coarse, so their spread is not a "
        "difference of samplings, and H stays at full sampling (refused with "
        "column_expected_plume, whose H is the nodes' mean).  "
        "benchmarks/column_auxiliary_sampling.py: shape sigma coarse / full, median 0.999",
    )
    column_amf_error_estimate: Literal["off", "innovations"] = Field(
        "off",
        description="'innovations': before the solve, read each column product's "
        "air-mass-factor error (its form, exponential or Gaussian, its correlation length "
        "and its size) off the prior innovations of all its overpasses (pairs of "
        "superobservations binned by separation against P (HBH^T + C) P^T, Hollingsworth & "
        "Lonnberg 1986; gridcarbon.inversion.column_errors) and put it in their R in place "
        "of columns.amf_error_rel / amf_correlation_km / amf_correlation_shape; uses no "
        "truth, so it runs unchanged on real data; reported in the metrics "
        "(column_amf_error_estimate); 'off': as configured (the default)",
    )
    column_shape_localisation_km: float = Field(
        100.0,
        gt=0,
        description="half-width c of the Gaspari-Cohn taper of the columns' plume-shape error "
        "(zero beyond 2c): a plume's direction error is coherent along the plume, which the "
        "column operator follows 150 km downwind, and reanalysis wind errors are correlated "
        "over synoptic scales; a setting, not a fitted value",
    )

    upwind_downwind: Literal["off", "replace"] = Field(
        "off",
        description="'replace': for every city of the scenario's city boundaries, Beijing day "
        "and observed quantity, pairs of stations inside the city that lie along the modelled "
        "wind (upwind_downwind_angle_deg, upwind_downwind_separation_km) are assimilated as "
        "the difference downwind - upwind of their afternoon means over the hours both share "
        "with the wind along the pair line (H and R differenced from the full error "
        "covariance), replacing both stations' afternoon means of that day; 'off': every "
        "station alone (the default)",
    )
    upwind_downwind_angle_deg: float = Field(
        30.0,
        gt=0,
        lt=90,
        description="largest angle between the modelled wind (the mean of the two stations' "
        "wind vectors) and the line from the upwind to the downwind station at an hour the "
        "pair uses",
    )
    upwind_downwind_separation_km: list[float] = Field(
        default_factory=lambda: [5.0, 50.0],
        min_length=2,
        max_length=2,
        description="[min, max] distance (km) between the two stations of a pair",
    )
    upwind_downwind_min_hours: int = Field(
        2,
        ge=1,
        description="fewest hours of a Beijing afternoon with the wind along the pair line "
        "(both stations used) for the pair to be formed that day",
    )

    innovation_tuning: Literal["off", "desroziers"] = Field(
        "off",
        description="'desroziers': after the first solve, rescale R per group of observations "
        "(observation type x observed quantity x station class) by the Desroziers et al. "
        "(2005, QJRMS 131:3385) ratio mean(d_a d_b / R_ii) of the analysis residuals "
        "d_a = y - H x_a and innovations d_b = y - H x_b, bounded by innovation_scale_bounds, "
        "and solve again (innovation_iterations times); groups with fewer than "
        "innovation_min_observations keep their R; 'off': R as modelled (the default)",
    )
    innovation_column_groups: Literal["overpass", "product"] = Field(
        "overpass",
        description="the groups of the satellite columns' rows in innovation_tuning and "
        "innovation_statistics: 'overpass' = each overpass a group of its own (the default; an "
        "overpass has tens of rows, so with innovation_min_observations 50 most keep their "
        "error covariance), 'product' = every overpass of one observed quantity (NO2 columns, "
        "XCO2) one group 'columns', whose factor then scales every overpass's whole error "
        "covariance: the columns' representativeness sized from their own innovations",
    )
    innovation_tuning_scope: Literal["all", "columns"] = Field(
        "all",
        description="the groups innovation_tuning 'desroziers' rescales: 'all' (the default) "
        "or 'columns' = only the satellite columns' groups, so the stations keep the R they "
        "are modelled with and a station-only inversion is the untuned one (no extra solve)",
    )
    innovation_iterations: int = Field(
        1,
        ge=1,
        le=3,
        description="rescale-and-solve passes of innovation_tuning 'desroziers' (each one "
        "more solve); the scaling is the product of the passes' ratios",
    )
    innovation_scale_bounds: list[float] = Field(
        default_factory=lambda: [0.25, 4.0],
        min_length=2,
        max_length=2,
        description="[min, max] of the cumulative factor on a group's R variances "
        "(innovation_tuning): a bound, not an estimate; a group at a bound is flagged",
    )
    innovation_min_observations: int = Field(
        50,
        ge=2,
        description="fewest observations of a group for its R to be rescaled (the ratio's "
        "sampling error is about sqrt(2/n) of itself for independent errors, more with "
        "correlated ones)",
    )
    innovation_statistics: bool = Field(
        False,
        description="compute the innovation statistics per group (Desroziers R and HBH^T "
        "estimates, chi2) after the last solve and write innovation_statistics.csv",
    )
    prior_error_tuning: Literal["off", "desroziers"] = Field(
        "off",
        description="'desroziers': after each solve, rescale each species' emission-factor "
        "variances in B (grid, point-source and neighbour-province factors; their "
        "correlations kept) by the Desroziers et al. (2005) ratio of the rows that see that "
        "species' emissions, sum((d_b - d_a) d_b - HB_oH^T)/R over sum(HB_eH^T)/R with B_o "
        "the rest of B, bounded by prior_scale_bounds, and solve again "
        "(innovation_iterations times, together with innovation_tuning when it is on); a "
        "species with fewer than innovation_min_observations rows keeps its B; 'off': B as "
        "configured (the default)",
    )
    prior_scale_bounds: list[float] = Field(
        default_factory=lambda: [0.25, 4.0],
        min_length=2,
        max_length=2,
        description="[min, max] of the cumulative factor on a species' emission-factor "
        "variances (prior_error_tuning): a bound, not an estimate; a species at a bound is "
        "flagged",
    )

    @model_validator(mode="after")
    def _check(self) -> ErrorsConfig:
        for sp, hours in self.assimilation_hours_local.items():
            if not hours or any(h < 0 or h > 23 for h in hours):
                raise ValueError(f"assimilation_hours_local[{sp}] must be hours 0..23")
        for kind in self.measurement_error:
            if kind not in STATION_KINDS:
                raise ValueError(f"measurement_error: unknown station class {kind!r}")
        if self.transport_error_correlation == "same_day" and (
            self.transport_error_model != "quadrature" or self.aggregation != "afternoon_mean"
        ):
            raise ValueError(
                "transport_error_correlation 'same_day' needs transport_error_model "
                f"'quadrature' (not {self.transport_error_model!r}) and aggregation "
                f"'afternoon_mean' (not {self.aggregation!r})"
            )
        if self.transport_error_estimate != "off" and (
            self.transport_error_model != "stencil" or self.upwind_downwind != "off"
        ):
            raise ValueError(
                "transport_error_estimate sizes the 'stencil' transport error of single "
                f"stations: set transport_error_model 'stencil' (not "
                f"{self.transport_error_model!r}) and upwind_downwind 'off' (not "
                f"{self.upwind_downwind!r}), or keep transport_error_estimate 'off'"
            )
        if self.city_offset_error and self.transport_error_estimate == "off":
            raise ValueError(
                "city_offset_error adds the cities' offsets that transport_error_estimate sizes: "
                "set transport_error_estimate 'wind_direction_and_relative' (or "
                "'wind_direction') as well, or city_offset_error: false"
            )
        lo, hi = self.wind_direction_error_bounds_deg
        if not 0 < lo < hi < 90:
            raise ValueError(
                f"wind_direction_error_bounds_deg = {self.wind_direction_error_bounds_deg}: "
                "give [min, max] with 0 < min < max < 90 degrees"
            )
        lo, hi = self.model_error_rel_bounds
        if not 0 < lo < hi < 10:
            raise ValueError(
                f"model_error_rel_bounds = {self.model_error_rel_bounds}: give [min, max] with "
                "0 < min < max < 10"
            )
        if self.column_wind_speed_shape and not self.column_wind_speed_error:
            raise ValueError(
                "column_wind_speed_shape recomputes the plumes at the nodes of the columns' "
                "wind-speed error: set column_wind_speed_error: true as well, or "
                "column_wind_speed_shape: false"
            )
        if self.column_wind_speed_shape_correlation != "tapered" and not (
            self.column_wind_speed_shape
        ):
            raise ValueError(
                "column_wind_speed_shape_correlation = "
                f"{self.column_wind_speed_shape_correlation!r} sets the correlation of the "
                "wind-speed nodes' term: set column_wind_speed_shape: true as well, or leave it "
                "'tapered'"
            )
        if self.column_wind_direction_fit and not self.column_wind_direction_error:
            raise ValueError(
                "column_wind_direction_fit fits the wind turn with the prior sigma of the "
                "columns' wind-direction error: set column_wind_direction_error: true as well, "
                "or column_wind_direction_fit: false"
            )
        if (
            self.column_wind_direction_fit_tile_km is not None
            and not self.column_wind_direction_fit
        ):
            raise ValueError(
                "column_wind_direction_fit_tile_km = "
                f"{self.column_wind_direction_fit_tile_km!r} sets the tiles of the fitted wind "
                "turn: set column_wind_direction_fit: true as well, or leave the tiles unset"
            )
        if self.column_expected_plume and not self.column_wind_direction_error:
            raise ValueError(
                "column_expected_plume takes the columns' H as the mean over the nodes of the "
                "wind-direction error: set column_wind_direction_error: true as well, or "
                "column_expected_plume: false"
            )
        if self.column_expected_plume and self.column_auxiliary_sampling == "coarse":
            raise ValueError(
                "column_expected_plume makes the columns' H the nodes' mean, and H stays at full "
                "sampling: set column_auxiliary_sampling 'full', or column_expected_plume: false"
            )
        if (
            self.point_dominated_pairs == "elevated_plume"
            and self.transport_error_model != "quadrature"
        ):
            raise ValueError(
                "point_dominated_pairs 'elevated_plume' extends the transport quadrature: set "
                f"transport_error_model 'quadrature' (not {self.transport_error_model!r}), or "
                "keep point_dominated_pairs 'exclude'"
            )
        for name, what in (
            ("innovation_scale_bounds", "R's variances"),
            ("prior_scale_bounds", "B's emission-factor variances"),
        ):
            lo_s, hi_s = getattr(self, name)
            if not 0 < lo_s <= 1 <= hi_s:
                raise ValueError(
                    f"{name} {[lo_s, hi_s]} must be [min, max] with 0 < min <= 1 <= max "
                    f"(factors on {what}), e.g. [0.25, 4]"
                )
        lo, hi = self.upwind_downwind_separation_km
        if not 0 <= lo < hi:
            raise ValueError(
                f"upwind_downwind_separation_km {[lo, hi]} must be [min, max] with "
                "0 <= min < max (km)"
            )
        if self.upwind_downwind != "off" and self.aggregation != "afternoon_mean":
            raise ValueError(
                f"upwind_downwind {self.upwind_downwind!r} differences afternoon means: set "
                f"aggregation 'afternoon_mean' (not {self.aggregation!r}), or keep "
                "upwind_downwind 'off'"
            )
        return self


class TransportConfig(_Section):
    """The Gaussian-plume observation operator H."""

    max_distance_km: float = Field(50.0, gt=0, description="truncation distance")
    max_travel_hours: float = Field(2.0, gt=0, description="truncation travel time")
    lateral_sigmas: float = Field(3.0, gt=0, description="lateral truncation in sigma_y")
    subcells: int = Field(5, ge=1, le=25, description="sub-cell quadrature per axis (far cells)")
    subcells_near: int = Field(
        15,
        ge=1,
        le=51,
        description="sub-cell quadrature per axis in the station's own and neighbouring cells",
    )
    calm_floor_m_s: float = Field(1.0, gt=0, description="wind speeds are floored here")
    calm_exclude_m_s: float = Field(0.5, ge=0, description="hours below this are not assimilated")
    lid_uniform_factor: float = Field(
        1.6, gt=0, description="classes A-D mix uniformly below the lid once sigma_z > f * z_i"
    )
    urban_fraction_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="source cells with at least this urban fraction use Briggs urban",
    )
    area_source_height_m: float = Field(10.0, ge=0, description="release height of area sources")
    point_plume_direction_sd_deg: float = Field(
        30.0,
        ge=0,
        lt=60,
        description="1-sigma hourly wind-direction uncertainty (typical reanalysis 10 m "
        "wind-direction error, as errors.model_error_wind_direction_deg) folded into the point-source "
        "plumes of H, which then predict the expected concentration (sigma_y^2 += (x sd)^2); "
        "0 = narrow plumes of the given wind",
    )

    @model_validator(mode="after")
    def _check(self) -> TransportConfig:
        if self.calm_exclude_m_s > self.calm_floor_m_s:
            raise ValueError("calm_exclude_m_s must not exceed calm_floor_m_s")
        return self


class ChemistryConfig(_Section):
    """The reactive species (NOx decay, NO2/NOx ratio) and the conversion of modelled mass
    concentrations to mixing ratios."""

    reactive_species: str = Field(
        "NOx",
        description="the species that decays with nox_lifetime_day_h/night_h and whose NO2 "
        "share (no2_*) stations observe; '' for none",
    )
    nox_lifetime_day_h: float = Field(4.0, gt=0, description="NOx e-folding lifetime by day")
    nox_lifetime_night_h: float = Field(12.0, gt=0, description="NOx e-folding lifetime at night")
    no2_primary_fraction: float = Field(0.1, ge=0, le=1, description="NO2/NOx at emission")
    no2_equilibrium_fraction: float = Field(
        0.75, ge=0, le=1, description="NO2/NOx reached by an aged plume (photostationary)"
    )
    no2_conversion_time_h: float = Field(
        0.5, gt=0, description="e-folding time of NO -> NO2 conversion towards the equilibrium"
    )
    voc_molar_mass_per_carbon: float = Field(
        14.0, gt=0, description="NMVOC mass per mole of carbon, g/mol (ppbC conversion)"
    )
    model_temperature_K: float = Field(298.15, gt=0, description="T of model ppm/ppb conversion")
    model_pressure_kPa: float = Field(101.325, gt=0, description="p of model ppm/ppb conversion")
    model_conversion_state: Literal["reference", "ambient"] = Field(
        "reference",
        description="state of the air in which modelled ug/m3 become mixing ratios: "
        "'reference' = model_temperature_K and model_pressure_kPa for every hour (the "
        "synthetic default); 'ambient' = each station-hour's 2 m temperature (t2m) and the "
        "pressure at the inlet — ERA5 surface pressure (sp) carried up the inlet height "
        "hypsometrically, or the standard atmosphere at the station's elevation plus inlet "
        "height when the met has no sp (the real-data setting; ~7 % at 278 K, ~19 % more at "
        "1,500 m)",
    )
    nox_lifetime_day_by_season: bool = Field(
        False,
        description="daytime NOx lifetime by meteorological season of the Beijing month "
        "(DJF 12 h, MAM 7 h, JJA 4 h, SON 7 h; Shah et al. 2020 and Lange et al. 2022 "
        "reconciled in gridcarbon.inversion.chemistry) instead of nox_lifetime_day_h all "
        "year (the real-data setting)",
    )


class SolverConfig(_Section):
    """How the posterior is computed, and what is done with negative factors."""

    method: Literal["auto", "dense", "cg", "cg-state"] = Field(
        "auto",
        description="'dense' exact; 'cg' Lanczos-CG in B^1/2 space carried out in its "
        "restricted observation-space form (vectors of length m); 'cg-state' the same with "
        "state-space vectors (length n); 'auto' dense up to dense_max_state, else 'cg'",
    )
    dense_max_state: int = Field(6000, ge=1, description="'auto' uses dense up to this size")
    cg_tol: float = Field(1e-6, gt=0, description="CG stops at this relative gradient norm")
    lanczos_max_vectors: int = Field(
        500, ge=2, description="Lanczos vectors at most (CG iterations), bounding memory and time"
    )
    lanczos_min_vectors: int = Field(
        500,
        ge=1,
        description="Lanczos iterations done even after CG converged: they refine "
        "the posterior standard deviations (the mean is converged long before)",
    )
    negative_factors: Literal["keep", "clip"] = Field(
        "clip",
        description="posterior grids: keep negative factors or clip them at 0 "
        "(they are counted and reported either way)",
    )


#: Where each key of the earlier flat layout of the section lives now.
MOVED_KEYS: dict[str, str] = {
    **{
        name: f"{section}.{name}"
        for section, model in (
            ("state", StateConfig),
            ("errors", ErrorsConfig),
            ("transport", TransportConfig),
            ("chemistry", ChemistryConfig),
        )
        for name in model.model_fields
    },
    **{name: f"solver.{name}" for name in SolverConfig.model_fields if name != "method"},
    "solver": "solver.method",
}


class ColumnsConfig(_Section):
    """Satellite Level-2 files assimilated with (or instead of) the station observations
    (``docs/satellites.md``).  A file is one overpass; a pattern (``*``, ``?``) is expanded."""

    tropomi_no2: list[Path] = Field(
        default_factory=list,
        description="TROPOMI/S5P L2 NO2 files (or glob patterns): tropospheric NO2 columns of "
        "the NOx emissions, qa_value > 0.75",
    )
    oco_lite: list[Path] = Field(
        default_factory=list,
        description="OCO-2/OCO-3 Lite (or CO2M-like) XCO2 files (or glob patterns): dry-air "
        "mole fractions of CO2, xco2_quality_flag = 0; needs water_vapour_column_kg_m2",
    )
    water_vapour_column_kg_m2: float | None = Field(
        None,
        gt=0,
        le=100,
        description="total column water vapour at the soundings (kg m-2, e.g. the period's "
        "mean ERA5 tcwv over the region) for the dry-air column of XCO2",
    )
    with_stations: bool = Field(
        True,
        description="assimilate the columns with the station observations of "
        "inversion.observations (joint); false: the columns alone",
    )
    superobservation_km: float = Field(
        9.0, gt=0, description="edge of the squares the pixels of an overpass are averaged into"
    )
    truncation_km: float = Field(
        150.0,
        ge=150.0,
        le=2000.0,
        description="how far downwind (km) the column operator follows each plume (at least "
        "150 km: a city's column plume is visible that far); what reaches a pixel from "
        "further upwind is left to its overpass's plane, which takes up only the smooth part "
        "of it, and an inert tracer's column plume keeps its line density Q/u at any "
        "distance. Also the OSSE's simulated overpasses. min_upwind_fetch_km defaults to it",
    )
    no2_conversion: Literal["ramp", "photostationary"] = Field(
        "ramp",
        description="the NO2/NOx ratio of the NO2 columns' plumes: 'ramp' (the default, as "
        "the stations' operator) from chemistry.no2_primary_fraction to "
        "no2_equilibrium_fraction with the e-folding time no2_conversion_time_h; "
        "'photostationary' the equilibrium fraction from the source on (NO titrated by "
        "ozone within minutes; the constant NOx/NO2 of the TROPOMI source studies, Beirle et "
        "al. 2019). no2_conversion_check tells from the columns' innovations which one the "
        "data hold. Also the OSSE's simulated overpasses",
    )
    no2_conversion_check: bool = Field(
        False,
        description="after the inversion, fit the NO2 columns' prior innovations (whitened, "
        "free of each overpass's plane) as a x (the modelled enhancement) + b x (the other "
        "no2_conversion's enhancement less it) and report a, b and b's 95 % interval "
        "(robust to errors shared within an overpass) in inversion_metrics.json "
        "(columns.no2_conversion), with a warning when the columns hold the other "
        "conversion (b >= 0.5, interval above 0, at least 5 overpasses). No truth is used. "
        "Costs a second build of the NO2 column operator",
    )
    truncation_check_km: float | None = Field(
        None,
        description="after the inversion, build the column operator again following the "
        "plumes this far downwind (km, more than truncation_km; e.g. 300) on the same pixels "
        "and report, per column quantity in inversion_metrics.json (columns.truncation), the "
        "share of the longer operator's prior enhancement that lies beyond truncation_km, "
        "its size after the overpasses' planes in units of R, and the innovations' fit "
        "a x (the modelled enhancement) + b x (the part beyond), with a warning when the "
        "part beyond is a quarter or more of the enhancement or the columns hold it (b >= "
        "0.5, interval above 0). No truth is used. None (the default): no check",
    )
    lifetime_check_factor: float | None = Field(
        None,
        gt=0,
        le=5,
        description="after the inversion, build the column operator of the reactive species "
        "again with its plumes' lifetime times this factor (e.g. 0.5 or 1.5; not 1) on the "
        "same pixels and report in inversion_metrics.json (columns.lifetime) the innovations' "
        "fit a x (the modelled enhancement) + b x (what the other lifetime changes), b's 95 % "
        "interval and a first-order reading 1 + b (factor - 1) of how far the columns' plumes "
        "decay, in units of the operator's decay length (plume-depth wind x lifetime: the "
        "columns cannot tell the two apart), with a warning when the interval excludes 0 (at "
        "least 5 overpasses). No truth is used. Not with the state's lifetime scale "
        "(state.column_transport_unknowns with 'lifetime_scale'), which estimates it. None "
        "(the default): no check",
    )
    stack_pixels_km: float = Field(
        0.0,
        ge=0,
        description="pixels within this distance (km) of a point source with its own unknowns "
        "(state.n_point_unknowns) stay rows of their own instead of being averaged into a "
        "square, so a stack's plume is not mixed with its surroundings; 0 (the default): none. "
        "Also the OSSE's simulated overpasses",
    )
    min_upwind_fetch_km: float | None = Field(
        None,
        ge=0,
        description="pixels closer than this to the grid's upwind edge are not used; None = the "
        "column operator's truncation (150 km)",
    )
    amf_error_rel: float = Field(
        0.15,
        ge=0,
        lt=1,
        description="1-σ air-mass-factor error of a vertical column (NO2) as a fraction of the "
        "column, correlated within an overpass (0.15: the structural AMF uncertainty of "
        "TROPOMI NO2 over polluted scenes, van Geffen et al. 2022). Also the OSSE's simulated "
        "overpasses",
    )
    amf_correlation_km: float = Field(
        50.0,
        gt=0,
        description="length of that error's correlation, km (e-folding distance of the "
        "exponential, standard deviation of the Gaussian). Read it off the innovations with "
        "benchmarks/column_innovation_correlation.py",
    )
    amf_correlation_shape: Literal["exponential", "gaussian"] = Field(
        "exponential",
        description="form of that correlation: exponential exp(-d/L) or the smoother "
        "Gaussian exp(-d²/2L²)",
    )

    @property
    def active(self) -> bool:
        """Whether any file is configured."""
        return bool(self.tropomi_no2 or self.oco_lite)

    @model_validator(mode="after")
    def _truncation_check(self) -> ColumnsConfig:
        if self.truncation_check_km is not None and not (
            self.truncation_check_km > self.truncation_km
        ):
            raise ValueError(
                f"columns.truncation_check_km = {self.truncation_check_km!r} must exceed "
                f"columns.truncation_km = {self.truncation_km!r}: the check compares the "
                "operator with one that follows the plumes further"
            )
        return self

    @model_validator(mode="after")
    def _lifetime_check(self) -> ColumnsConfig:
        if self.lifetime_check_factor == 1:
            raise ValueError(
                "columns.lifetime_check_factor = 1 compares the lifetime with itself; give "
                "another factor (e.g. 0.5 or 1.5) or null for no check"
            )
        return self

    @model_validator(mode="after")
    def _water(self) -> ColumnsConfig:
        if self.oco_lite and self.water_vapour_column_kg_m2 is None:
            raise ValueError(
                "columns.oco_lite needs columns.water_vapour_column_kg_m2 (kg m-2, e.g. the "
                "ERA5 tcwv at the soundings, about 5-60 over eastern China) for the dry-air "
                "column of XCO2"
            )
        return self


class CrossValidationConfig(_Section):
    """Leave-stations-out cross-validation after the inversion
    (:mod:`gridcarbon.inversion.cross_validation`; ``cross_validation.csv``)."""

    enabled: bool = Field(
        False,
        description="withhold about `fraction` of the stations at a time, invert the rest and "
        "score the prediction of the withheld observations (costs ceil(1/fraction) more solves)",
    )
    fraction: float = Field(
        0.1, gt=0, le=0.5, description="share of the stations withheld in each fold"
    )
    seed: int = Field(0, description="seed of the split of the stations into folds")


class InversionConfig(_Section):
    """Settings of the inversion stage; every field has a documented default."""

    enabled: bool = Field(True, description="run this stage in `gridcarbon run`")
    max_period_days: int = Field(
        92,
        ge=1,
        description="longest period inverted in one run: the state, H and the Lanczos vectors "
        "grow with the period (about 2.5 GB of memory per month on the default), so a year is "
        "inverted month by month (one run per month) or with the stage disabled",
    )
    seed: int = Field(20230, description="seed of synthetic met, network noise and solvers")

    stations: Path | None = Field(
        None, description="station table (CSV/Parquet); None = embedded synthetic default network"
    )
    observations: Path | None = Field(
        None,
        description="observation table (long CSV/Parquet); None = synthetic OSSE observations",
    )
    observation_time_zone: str | None = Field(
        None,
        description="time zone of observation time stamps written without a UTC offset: 'UTC' "
        "or 'Asia/Shanghai' (Beijing time); null = every stamp must carry its offset "
        "(2023-01-02 13:00+08:00), and a stamp without one is refused rather than guessed",
    )
    observation_magnitude_check: Literal["refuse", "warn"] = Field(
        "refuse",
        description="a station's median far outside the plausible range of its species (e.g. "
        "NO2 below 0.25 ppb: mg/m3 read as ug/m3) is refused; 'warn' accepts it with a warning "
        "(a genuinely clean remote site)",
    )
    meteorology: Path | None = Field(
        None, description="ERA5-style NetCDF (u10, v10, blh, tcc or sshf); None = synthetic"
    )
    n_micro_stations: int = Field(82, ge=0, description="micro stations in the default network")

    state: StateConfig = Field(default_factory=StateConfig, description="the state vector and B")
    errors: ErrorsConfig = Field(
        default_factory=ErrorsConfig, description="what is assimilated, and R"
    )
    transport: TransportConfig = Field(
        default_factory=TransportConfig, description="the plume operator H"
    )
    chemistry: ChemistryConfig = Field(
        default_factory=ChemistryConfig, description="reactive species and unit conversion"
    )
    solver: SolverConfig = Field(default_factory=SolverConfig, description="the solver")
    osse: OSSEConfig = Field(default_factory=OSSEConfig)
    columns: ColumnsConfig = Field(
        default_factory=ColumnsConfig,
        description="satellite column files to assimilate (none by default)",
    )
    cross_validation: CrossValidationConfig = Field(
        default_factory=CrossValidationConfig,
        description="leave-stations-out cross-validation (off by default)",
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_flat_keys(cls, data: object) -> object:
        if isinstance(data, dict):
            for key, value in data.items():
                moved = MOVED_KEYS.get(str(key))
                if moved is None or (key == "solver" and not isinstance(value, str)):
                    continue
                raise ValueError(
                    f"inversion.{key} has moved to inversion.{moved}; write it there "
                    f"(`gridcarbon config` shows the sections)"
                )
        return data

    @model_validator(mode="after")
    def _lifetime_check_without_its_unknown(self) -> InversionConfig:
        state = self.state
        if (
            self.columns.lifetime_check_factor is not None
            and state.column_transport_unknowns
            and "lifetime_scale" in state.column_transport_terms
        ):
            raise ValueError(
                "columns.lifetime_check_factor compares two fixed lifetimes, but "
                "state.column_transport_unknowns with 'lifetime_scale' estimates the lifetime "
                "(its posterior is column_lifetime_scale); drop one of the two"
            )
        return self

    @field_validator("observation_time_zone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"observation_time_zone {v!r} is not a time zone; use 'UTC' or 'Asia/Shanghai' "
                "(Beijing time), or null when every stamp carries its UTC offset"
            ) from None
        return v
