"""Pollution–carbon synergy analytics on top of gridcarbon's grids, posterior and zone tallies.

The synergy index (减污降碳协同指数), Tapio decoupling and coupling coordination, co-control
analysis, cap allocation, an enterprise red/yellow/green rating, a top-down cross-check of
reported emissions and carbon-peak scenarios. Every output is an unofficial calculation
(非官方测算). See ``docs/synergy.md``. Names are imported lazily (PEP 562: this package's own
import loads no numba, xarray or geopandas).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "IndexResult",
    "SynergyConfig",
    "allocate",
    "carbon_account",
    "change_table",
    "cocontrol_analysis",
    "constant_price_gdp",
    "coupling_coordination",
    "crosscheck",
    "departure_correlation",
    "distribution_table",
    "facility_indicators",
    "html_fragment",
    "model_carbon_intensity",
    "peak_svg",
    "project_scenarios",
    "rate_facilities",
    "rating_features",
    "synergy_index",
    "tapio_state",
    "tapio_table",
    "trend_table",
]


def __getattr__(name: str) -> Any:
    # Each branch imports one module on first use; the names are then cached in globals() (the
    # export ``crosscheck`` thereby stands for the function, not its module).  The names are
    # imported from their modules, never through this package (which would call this again).
    if name == "SynergyConfig":
        from gridcarbon.config.synergy import SynergyConfig as value
    elif name == "synergy_index":
        from gridcarbon.synergy.index import synergy_index as value
    elif name == "IndexResult":
        from gridcarbon.synergy.index import IndexResult as value
    elif name in (
        "tapio_state",
        "tapio_table",
        "coupling_coordination",
        "constant_price_gdp",
        "model_carbon_intensity",
    ):
        from gridcarbon.synergy import decoupling

        value = getattr(decoupling, name)
    elif name in ("change_table", "trend_table", "departure_correlation", "distribution_table"):
        from gridcarbon.synergy import cocontrol

        value = getattr(cocontrol, name)
    elif name in ("allocate", "carbon_account"):
        from gridcarbon.synergy import allocation

        value = getattr(allocation, name)
    elif name in ("facility_indicators", "rate_facilities"):
        from gridcarbon.synergy import rating

        value = getattr(rating, name)
    elif name == "crosscheck":
        from gridcarbon.synergy.crosscheck import crosscheck as value
    elif name in ("project_scenarios", "peak_svg"):
        from gridcarbon.synergy import peak

        value = getattr(peak, name)
    elif name in ("cocontrol_analysis", "html_fragment", "rating_features"):
        from gridcarbon.synergy import sections

        value = getattr(sections, name)
    else:
        raise AttributeError(f"module 'gridcarbon.synergy' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
