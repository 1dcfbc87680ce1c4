"""Configuration of the synergy analytics (a section of a run configuration).

Light: pydantic only. Every field has a documented default; ``docs/synergy.md`` explains each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "SynergyConfig",
    "IndexSettings",
    "CocontrolSettings",
    "RatingSettings",
    "CrosscheckSettings",
    "PeakSettings",
    "ZoneAllocationSettings",
    "ZoneReportSettings",
]


class IndexSettings(BaseModel):
    """The synergy index (减污降碳协同指数)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["efficacy", "minmax", "target"] = Field(
        "efficacy", description="normalisation: efficacy coefficient (60–100), min–max, target"
    )
    bounds: Literal["cross_section", "base_period", "fixed"] = Field(
        "cross_section", description="where worst and best come from"
    )
    base_period: str | None = Field(
        None, description="YYYYQn the change is measured against; None = the earliest period"
    )
    renormalise: bool = Field(
        False, description="spread a parent's weight over its children present when some miss"
    )
    state_scores: dict[str, float] | None = Field(
        None,
        description="achievement in [0, 1] per Tapio state (indicator 8); None = the defaults",
    )


class CocontrolSettings(BaseModel):
    """Co-control analysis of CO2 and the pollutants."""

    model_config = ConfigDict(extra="forbid")

    co2_unchanged: float = Field(
        0.005, ge=0.0, lt=1.0, description="|ΔCO2/CO2| below this is 'CO2 unchanged'"
    )
    trend_resolution: Literal["auto", "daily", "monthly"] = Field(
        "auto", description="auto: daily up to 92 days, monthly beyond (hourly is never used)"
    )
    trend_alpha: float = Field(0.05, gt=0.0, lt=1.0, description="significance of the trend")
    rho_min: float = Field(0.6, ge=-1.0, le=1.0, description="Spearman ρ for a priority")
    q_max: float = Field(0.05, gt=0.0, lt=1.0, description="false-discovery rate for a priority")


class RatingSettings(BaseModel):
    """Enterprise red/yellow/green rating."""

    model_config = ConfigDict(extra="forbid")

    green_at: float = Field(
        2.0 / 3.0, ge=0.0, le=1.0, description="overall score (0–1) from which a facility is green"
    )
    red_below: float = Field(
        1.0 / 3.0, ge=0.0, le=1.0, description="overall score (0–1) below which it is red"
    )
    anonymise: bool = Field(False, description="hide enterprise names in every output")

    @model_validator(mode="after")
    def _order(self) -> RatingSettings:
        if self.red_below > self.green_at:
            raise ValueError("red_below must not exceed green_at")
        return self


class CrosscheckSettings(BaseModel):
    """Top-down cross-check of reported emissions."""

    model_config = ConfigDict(extra="forbid")

    min_uncertainty_reduction: float = Field(
        0.2, ge=0.0, lt=1.0, description="test only where the uncertainty reduction reaches this"
    )
    q_max: float = Field(
        0.05, gt=0.0, lt=1.0, description="Benjamini–Hochberg false-discovery rate"
    )
    evidence_radius_km: float = Field(
        30.0, gt=0.0, description="stations within this distance are listed as evidence"
    )
    evidence_hours: int = Field(5, ge=1, description="hours listed per evidence station")


class PeakSettings(BaseModel):
    """Peak scenarios (Kaya identity)."""

    model_config = ConfigDict(extra="forbid")

    n_draws: int = Field(1000, ge=0, le=100_000, description="Monte Carlo draws (0 = no band)")
    seed: int = Field(20240, description="seed of the Monte Carlo band")
    band: tuple[float, float] = Field((5.0, 95.0), description="percentiles of the band")

    @field_validator("band")
    @classmethod
    def _band(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0.0 <= v[0] < v[1] <= 100.0:
            raise ValueError("band must be two percentiles 0 <= low < high <= 100")
        return v


class ZoneAllocationSettings(BaseModel):
    """A CO2 cap allocated to the units, counties or cities of the run, with their carbon
    account against the posterior, in the zone report."""

    model_config = ConfigDict(extra="forbid")

    table: Path = Field(
        description="CSV/Excel: one row per entity (column id_column) with the method's inputs"
    )
    cap_t: float = Field(gt=0, description="the CO2 cap, whole tonnes")
    method: Literal["historical", "benchmark", "entropy"] = Field(
        description="historical (base_t), benchmark (activity × benchmark) or entropy weight"
    )
    level: Literal["unit", "county", "city"] = Field(
        "unit", description="what the entities are: unit, county or city codes"
    )
    id_column: str = Field("entity", description="the column of entity codes")
    base_column: str = Field("base_t", description="historical method: base emissions, t")
    activity_column: str = Field("activity", description="benchmark method: activity")
    benchmark_column: str = Field(
        "benchmark_t_per_unit", description="benchmark method: t CO2 per unit of activity"
    )
    indicators: dict[str, Literal["+", "-"]] = Field(
        default_factory=dict, description="entropy method: column → + (higher better) or -"
    )


class ZoneReportSettings(BaseModel):
    """The synergy sections of the zone report and layers of the map (off by default)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        False,
        description="add the co-control section (and the rating and allocation when their "
        "inputs are given) to the zone report and the map; needs the inversion and zoning",
    )
    level: Literal["unit", "county", "city"] = Field(
        "unit", description="entities of the co-control section"
    )
    base_run: Path | None = Field(
        None,
        description="a run folder of the base period or scenario on the same units: adds "
        "reduction rates, elasticities and quadrants",
    )
    facilities: Path | None = Field(
        None, description="facility table for the enterprise rating (docs/synergy.md §4)"
    )
    rating_thresholds: Path | None = Field(
        None, description="thresholds of the rating (default: terciles within each industry)"
    )
    rate_run_point_sources: bool = Field(
        False,
        description="without a facility table, rate the run's own point sources with "
        "SYNTHETIC attributes (labelled so)",
    )
    allocation: ZoneAllocationSettings | None = Field(
        None, description="a CO2 cap allocated to the run's entities"
    )


class SynergyConfig(BaseModel):
    """Settings of the synergy analytics; every field has a documented default."""

    model_config = ConfigDict(extra="forbid")

    index: IndexSettings = Field(default_factory=IndexSettings)
    cocontrol: CocontrolSettings = Field(default_factory=CocontrolSettings)
    rating: RatingSettings = Field(default_factory=RatingSettings)
    crosscheck: CrosscheckSettings = Field(default_factory=CrosscheckSettings)
    peak: PeakSettings = Field(default_factory=PeakSettings)
    zone_report: ZoneReportSettings = Field(default_factory=ZoneReportSettings)
    allow_synthetic_model_values: bool = Field(
        False,
        description="compute gridcarbon's own CO2 per unit GDP on synthetic grids (labelled so)",
    )
