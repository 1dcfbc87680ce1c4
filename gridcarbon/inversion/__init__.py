"""The inverse model: stations and observations, meteorology, a Gaussian-plume observation
operator, a Bayesian inversion of prior scaling factors, and an OSSE harness.

The stage is :func:`run_inversion` (prior, scenario, configuration section, observations →
:class:`~gridcarbon.contracts.InversionResult`); :func:`inversion_documents` gives its files.
See ``docs/inversion.md``.  Names are imported on first use (PEP 562), so that importing the
package loads no numeric library.
"""

from __future__ import annotations

from typing import Any

_EXPORTS: dict[str, tuple[str, ...]] = {
    "stage": ("run_inversion", "observation_set", "check_period"),
    "osse": ("run_osse", "OSSEResult", "synthetic_observation_set"),
    "system": ("ObservationSystem",),
    "observation_types": ("StationHourObservations",),
    "columns": ("ColumnObservations", "ColumnPixels", "ColumnSettings"),
    "assimilation": ("assimilate", "AssimilationResult"),
    "posterior": ("TotalsCovariance",),
    "outputs": (
        "inversion_documents",
        "osse_documents",
        "inversion_file_names",
        "osse_file_names",
    ),
    "observations": (
        "normalise_observations",
        "validate_stations",
        "read_observations",
        "read_stations",
        "read_cnemc",
        "read_cnemc_sites",
    ),
    "meteorology": ("met_at_points", "with_cloud_cover"),
    "config": ("InversionConfig", "OSSEConfig"),
}

__all__ = sorted(name for names in _EXPORTS.values() for name in names)


def __getattr__(name: str) -> Any:
    # Each branch imports one module on first use; the names are then cached in globals().
    if name in _EXPORTS["stage"]:
        from gridcarbon.inversion import stage as module
    elif name in _EXPORTS["osse"]:
        from gridcarbon.inversion import osse as module
    elif name in _EXPORTS["system"]:
        from gridcarbon.inversion import system as module
    elif name in _EXPORTS["observation_types"]:
        from gridcarbon.inversion import observation_types as module
    elif name in _EXPORTS["columns"]:
        from gridcarbon.inversion import columns as module
    elif name in _EXPORTS["assimilation"]:
        from gridcarbon.inversion import assimilation as module
    elif name in _EXPORTS["posterior"]:
        from gridcarbon.inversion import posterior as module
    elif name in _EXPORTS["outputs"]:
        from gridcarbon.inversion import outputs as module
    elif name in _EXPORTS["observations"]:
        from gridcarbon.inversion import observations as module
    elif name in _EXPORTS["meteorology"]:
        from gridcarbon.inversion import meteorology as module
    elif name in _EXPORTS["config"]:
        from gridcarbon.config import inversion as module
    else:
        raise AttributeError(f"module 'gridcarbon.inversion' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
