"""The inverse model: stations and observations, meteorology, a Gaussian-plume observation
operator, a Bayesian inversion of prior scaling factors, and an OSSE harness.

See ``docs/inversion.md``.  Names are imported lazily (``gridcarbon.config`` imports this
package's ``config`` module, so eager imports here would be circular).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "InversionConfig": "gridcarbon.config.inversion",
    "OSSEConfig": "gridcarbon.config.inversion",
    "InversionResult": "gridcarbon.inversion.assimilation",
    "invert": "gridcarbon.inversion.assimilation",
    "assimilate": "gridcarbon.inversion.assimilation",
    "unit_total_std": "gridcarbon.inversion.posterior",
    "ObservationSystem": "gridcarbon.inversion.system",
    "run_osse": "gridcarbon.inversion.osse",
    "OSSEResult": "gridcarbon.inversion.osse",
    "run_inversion_stage": "gridcarbon.inversion.stage",
    "run_osse_stage": "gridcarbon.inversion.stage",
    "read_observations": "gridcarbon.inversion.observations",
    "read_stations": "gridcarbon.inversion.observations",
    "read_cnemc": "gridcarbon.inversion.observations",
    "read_cnemc_sites": "gridcarbon.inversion.observations",
    "normalise_observations": "gridcarbon.inversion.observations",
    "validate_stations": "gridcarbon.inversion.observations",
    "read_era5": "gridcarbon.inversion.meteorology",
    "met_at_points": "gridcarbon.inversion.meteorology",
    "met_on_grid": "gridcarbon.inversion.meteorology",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gridcarbon.inversion' has no attribute {name!r}")
