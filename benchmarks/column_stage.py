"""The column stage of issue 14's frozen configuration, alone, and the column twin's error
parts, for the diagnostics (``column_match_dump.py``, ``column_turn_fit.py``,
``column_speed_term.py``, ``column_speed_scales.py``) — SYNTHETIC."""

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


def quiet_errors(inversion: Any) -> Any:
    """``inversion`` (an InversionConfig) without the columns' transport terms in R
    (direction, mixing height, wind speed): what is left is the retrieval,
    representativeness and air-mass-factor error — the noise a twin draws."""
    return inversion.model_copy(
        update={
            "errors": inversion.errors.model_copy(
                update={
                    "column_wind_direction_error": False,
                    "column_mixing_height_error": False,
                    "column_wind_speed_error": False,
                }
            )
        }
    )


def with_column_settings(kinds: list, inversion: Any) -> list:
    """The column types of ``kinds`` with the column settings of ``inversion`` (other types
    as they are)."""
    from gridcarbon.inversion.columns import ColumnObservations
    from gridcarbon.pipeline import osse_column_settings

    xco2, no2 = osse_column_settings(inversion)
    return [
        with_settings(k, no2 if k.quantity == "vertical_column" else xco2)
        if isinstance(k, ColumnObservations)
        else k
        for k in kinds
    ]


def with_settings(kind: Any, settings: Any) -> Any:
    """The column type ``kind`` (ColumnObservations) with the column settings ``settings``."""
    from gridcarbon.inversion.columns import ColumnObservations

    return ColumnObservations(
        kind.pixels, kind.species, kind.quantity, kind.meteorology, settings, name=kind.name
    )


def twin_error_parts(system: Any, inversion: Any, truth: Any, kinds: list, seed: int) -> tuple:
    """The column twin's parts of each superobservation (``osse.satellite_columns:
    operator_perturbed``) for the column types ``kinds`` (their error covariance that of the
    noise, e.g. :func:`quiet_errors`): the operator's model of the truth's emissions with
    the model's own met, the transport error (the same with the replicate's perturbed met,
    less it) and a draw of the noise from each used overpass's C (stream ``[seed, 7]``, in
    the order of ``kinds``).

    Returns
    -------
    dict, OSSESettings
        Type name → ``(model, transport, noise)`` for the types with a used overpass; the
        replicate's transport-error settings.
    """
    import numpy as np

    from gridcarbon.inversion.columns import ColumnObservations
    from gridcarbon.inversion.osse import operator_columns, replicate_transport_settings

    errors = replicate_transport_settings(inversion, "randomised", seed)[0]
    own = operator_columns(system, truth, kinds, None)
    perturbed = operator_columns(
        system, truth, kinds, None, errors, np.random.default_rng([seed, 2_000_004])
    )
    noise_rng = np.random.default_rng([seed, 7])
    parts = {}
    for k, a, b in zip(kinds, own, perturbed, strict=True):
        if not isinstance(k, ColumnObservations) or not k.match(system).blocks:
            continue
        m = k.match(system)
        model = a.match(system).superobs["observed"].to_numpy(float)
        transport = b.match(system).superobs["observed"].to_numpy(float) - model
        noise = np.zeros(model.size)
        for (idx, _), C in zip(m.blocks, m.covariance.values(), strict=True):
            noise[idx] = np.linalg.cholesky(C) @ noise_rng.standard_normal(idx.size)
        parts[k.name] = (model, transport, noise)
    return parts, errors
