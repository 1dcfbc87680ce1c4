"""The column stage of issue 14's frozen configuration, alone, for the diagnostics that run it
without an inversion (``column_match_dump.py``, ``column_turn_fit.py``,
``column_speed_term.py``) — SYNTHETIC."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

#: The satellite OSSE of the column twin with transport errors (``inversion.osse``).
PERTURBED_TWIN = {"satellite": "tropomi_no2+co2m_xco2", "satellite_columns": "operator_perturbed"}
#: The frozen configuration's column error settings (``inversion.errors``).
FROZEN_COLUMN_ERRORS = {
    "column_wind_direction_error": True,
    "column_mixing_height_error": True,
    "column_auxiliary_sampling": "coarse",
}


def column_stage(month: int, days: int, osse: dict, errors: dict | None = None) -> tuple:
    """The inversion settings, observation system and OSSE column simulator of the default
    scenario for the first ``days`` days of ``month`` of 2023 with the satellite OSSE settings
    ``osse``
    and the frozen column errors updated by ``errors`` (``inversion.errors``), the state with
    mixing-height unknowns.

    Returns
    -------
    InversionConfig, ObservationSystem, callable
        ``simulate(system, truth, seed)`` (:func:`gridcarbon.pipeline.osse_column_simulator`).
    """
    from gridcarbon.config import RunConfig
    from gridcarbon.inversion.system import ObservationSystem
    from gridcarbon.pipeline import build_prior, inversion_inputs, osse_column_simulator

    start = date(2023, month, 1)
    settings: dict[str, Any] = {
        "period": {"start": str(start), "end": str(start + timedelta(days=days - 1))},
        "inversion": {
            "osse": osse,
            "state": {"mixing_height_unknowns": True},
            "errors": {**FROZEN_COLUMN_ERRORS, **(errors or {})},
        },
    }
    config = RunConfig.validate_dict(settings)
    prior = build_prior(config)
    scenario, _ = inversion_inputs(config, prior, with_observations=False)
    ic = config.inversion
    return ic, ObservationSystem(prior, scenario, ic), osse_column_simulator(scenario, ic)
