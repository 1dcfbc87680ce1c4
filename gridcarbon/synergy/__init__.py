"""Pollution–carbon synergy analytics on top of gridcarbon's grids, posterior and zone tallies.

The synergy index (减污降碳协同指数), Tapio decoupling and coupling coordination, co-control
analysis, cap allocation, an enterprise red/yellow/green rating, a top-down cross-check of
reported emissions and carbon-peak scenarios. Every output is an unofficial calculation
(非官方测算). See ``docs/synergy.md``. Names are imported lazily (this package's own import loads
no numba, xarray or geopandas).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "SynergyConfig": "gridcarbon.config.synergy",
    "synergy_index": "gridcarbon.synergy.index",
    "IndexResult": "gridcarbon.synergy.index",
    "tapio_state": "gridcarbon.synergy.decoupling",
    "tapio_table": "gridcarbon.synergy.decoupling",
    "coupling_coordination": "gridcarbon.synergy.decoupling",
    "constant_price_gdp": "gridcarbon.synergy.decoupling",
    "model_carbon_intensity": "gridcarbon.synergy.decoupling",
    "change_table": "gridcarbon.synergy.cocontrol",
    "trend_table": "gridcarbon.synergy.cocontrol",
    "departure_correlation": "gridcarbon.synergy.cocontrol",
    "distribution_table": "gridcarbon.synergy.cocontrol",
    "allocate": "gridcarbon.synergy.allocation",
    "carbon_account": "gridcarbon.synergy.allocation",
    "facility_indicators": "gridcarbon.synergy.rating",
    "rate_facilities": "gridcarbon.synergy.rating",
    "crosscheck": "gridcarbon.synergy.crosscheck",
    "project_scenarios": "gridcarbon.synergy.peak",
    "peak_svg": "gridcarbon.synergy.peak",
    "cocontrol_analysis": "gridcarbon.synergy.sections",
    "html_fragment": "gridcarbon.synergy.sections",
    "rating_features": "gridcarbon.synergy.sections",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gridcarbon.synergy' has no attribute {name!r}")
