"""Zoning: control units, exact overlay, zone tallies, co-located hotspots, zone reports.

The stage is a function of its inputs: :func:`run_zoning` takes the emission grids, the control
units, its configuration section, the species (values), and optionally the posterior covariance
(``contracts.PosteriorCovariance``), the region and the county and city boundaries, and returns a
``contracts.ZoningResult``; :func:`zoning_documents` turns that into the documents of the zone
report.  No file is read or written here.  Public API (see ``docs/zoning.md``):

* :func:`control_units`, :class:`UnitsQA` — normalise and check a unit table or file;
* :func:`unit_coverage`, :func:`assign_points`, :func:`overlay_units`, :class:`Overlay` — units
  on the grid;
* :func:`zone_tally`, :func:`tally_at`, :func:`period_table`, :func:`rollup`,
  :func:`diurnal_profile`, :func:`unit_total_std_from_covariance` — per-unit totals;
* :func:`gi_star`, :func:`fdr_bins`, :func:`hotspot_level`, :func:`unit_hotspot_table`,
  :func:`register_statistic`, :func:`statistic`, :func:`classify_emerging`,
  :func:`mann_kendall` — hotspots;
* :func:`run_zoning`, :func:`zoning_documents`; the CLI command is
  ``gridcarbon.zoning.cli.zones_command``.

Names load on first use (PEP 562), so that importing the run configuration (which holds
:class:`ZoningConfig`) loads none of geopandas, numba or xarray.
"""

from __future__ import annotations

from typing import Any

from gridcarbon.config.zoning import ZoningConfig

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
    "register_statistic",
    "statistic",
    "classify_emerging",
    "mann_kendall",
    "run_zoning",
    "zoning_documents",
]


def __getattr__(name: str) -> Any:
    # Each branch imports one module on first use; the name is then cached in globals().
    if name == "control_units":
        from gridcarbon.zoning import normalise as module
    elif name == "UnitsQA":
        from gridcarbon.zoning import qa as module
    elif name in ("unit_coverage", "assign_points", "overlay_units", "Overlay"):
        from gridcarbon.zoning import overlay as module
    elif name in (
        "zone_tally",
        "tally_at",
        "period_table",
        "rollup",
        "diurnal_profile",
        "unit_total_std_from_covariance",
    ):
        from gridcarbon.zoning import tally as module
    elif name in ("gi_star", "fdr_bins"):
        from gridcarbon.zoning import gistar as module
    elif name in ("hotspot_level", "unit_hotspot_table", "register_statistic", "statistic"):
        from gridcarbon.zoning import hotspots as module
    elif name in ("classify_emerging", "mann_kendall"):
        from gridcarbon.zoning import emerging as module
    elif name == "run_zoning":
        from gridcarbon.zoning import stage as module
    elif name == "zoning_documents":
        from gridcarbon.zoning import report as module
    else:
        raise AttributeError(f"module 'gridcarbon.zoning' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
