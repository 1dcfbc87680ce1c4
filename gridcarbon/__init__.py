"""gridcarbon: 3 km hourly CO2, NOx and VOC emission grids, station-based inversion, and
co-located hotspot tallies for environmental control units.

The public API is a handful of verbs; see the README and ``docs/architecture.md``.  Inputs are
taken as files or as objects with the same checks: :func:`control_units` (a path or a
GeoDataFrame), :func:`read_stations` and :func:`read_observations` (a path or a DataFrame).  Names are
loaded on first use (PEP 562), so ``import gridcarbon`` stays light: it loads none of the
numeric or geographic libraries until a verb is called.
"""

from __future__ import annotations

from typing import Any

from gridcarbon._version import __version__
from gridcarbon.errors import GridcarbonError

__all__ = [
    "__version__",
    "GridSpec",
    "GridcarbonError",
    "RunConfig",
    "RunResult",
    "build_prior",
    "control_units",
    "default_scenario",
    "iter_prior",
    "load_config",
    "read_observations",
    "read_stations",
    "run",
]


def __getattr__(name: str) -> Any:
    # Each branch imports one module on first use; the names are then cached in globals().
    if name in ("RunConfig", "load_config"):
        from gridcarbon import config as module
    elif name == "GridSpec":
        from gridcarbon.grids import gridspec as module
    elif name in ("RunResult", "run", "build_prior", "iter_prior", "default_scenario"):
        from gridcarbon import pipeline as module
    elif name in ("read_observations", "read_stations"):
        from gridcarbon.inversion import observations as module
    elif name == "control_units":
        from gridcarbon.zoning import normalise as module
    else:
        raise AttributeError(f"module 'gridcarbon' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
