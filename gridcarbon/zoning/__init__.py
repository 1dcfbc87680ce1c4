"""Zoning: control units, exact overlay, zone tallies, co-located hotspots, zone reports.

Public API (see ``docs/zoning.md``):

* :func:`control_units` — read/normalise/QA a unit file (or the embedded synthetic units);
* :func:`unit_coverage`, :func:`assign_points`, :func:`overlay_units` — units on the grid;
* :func:`zone_tally`, :func:`tally_at`, :func:`period_table`, :func:`rollup`,
  :func:`diurnal_profile` — per-unit totals;
* :func:`gi_star`, :func:`fdr_bins`, :func:`hotspot_level`, :func:`classify_emerging`,
  :func:`mann_kendall` — hotspots;
* :func:`run_zoning` (in memory), :func:`zoning_documents` (its files, as documents),
  :class:`ZoningResult`; the CLI command is ``gridcarbon.zoning.cli.zones_command``.
"""

from importlib import import_module
from typing import Any

from gridcarbon.config.zoning import ZoningConfig

# Heavy submodules (geopandas, numba) load on first use, so that importing the run
# configuration (which holds ZoningConfig) stays light.
_LAZY = {
    "EMERGING_CATEGORIES": "emerging",
    "classify_emerging": "emerging",
    "mann_kendall": "emerging",
    "fdr_bins": "gistar",
    "gi_star": "gistar",
    "hotspot_level": "hotspots",
    "unit_hotspot_table": "hotspots",
    "Overlay": "overlay",
    "assign_points": "overlay",
    "unit_coverage": "overlay",
    "overlay_units": "overlay",
    "run_zoning": "stage",
    "zoning_documents": "report",
    "diurnal_profile": "tally",
    "period_table": "tally",
    "rollup": "tally",
    "tally_at": "tally",
    "unit_total_std_from_covariance": "tally",
    "zone_tally": "tally",
    "UnitsQA": "qa",
    "control_units": "control_units",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"gridcarbon.zoning.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'gridcarbon.zoning' has no attribute {name!r}")


__all__ = [
    "ZoningConfig",
    "control_units",
    "UnitsQA",
    "unit_coverage",
    "assign_points",
    "overlay_units",
    "Overlay",
    "zone_tally",
    "tally_at",
    "period_table",
    "rollup",
    "diurnal_profile",
    "unit_total_std_from_covariance",
    "gi_star",
    "fdr_bins",
    "hotspot_level",
    "unit_hotspot_table",
    "classify_emerging",
    "mann_kendall",
    "EMERGING_CATEGORIES",
    "run_zoning",
    "zoning_documents",
]
