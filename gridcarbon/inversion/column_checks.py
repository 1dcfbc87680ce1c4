"""Checks of the column operator against the columns' own innovations, with no truth
(``inversion.columns.no2_conversion_check``, ``truncation_check_km`` and
``lifetime_check_factor``): the operator is built a second time on the same pixels with one
approximation changed — the other NO2/NOx conversion of the plumes, a longer truncation, or
another lifetime of the reactive species (which the columns see as another decay length) —
and the prior innovations of every file,
pooled, are fitted as ``a × the modelled enhancement + b × what the other operator adds``
(:func:`gridcarbon.inversion.column_fit.innovation_evidence`): ``b`` near 1 says the columns
hold it, near 0 that they do not.  The results go to the ``columns`` section of
``inversion_metrics.json``; a check that finds the other operator better logs a warning
naming the setting to change.  They report and never change a setting by themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from gridcarbon.errors import ConfigError
from gridcarbon.inversion.column_fit import innovation_evidence
from gridcarbon.inversion.system import ObservationSystem

__all__ = [
    "conversion_check",
    "lifetime_check",
    "truncation_check",
    "operator_checks",
    "TRUNCATION_SHARE_WARN",
]

log = logging.getLogger(__name__)

#: Share of the longer operator's prior enhancement beyond ``truncation_km`` from which the
#: truncation check warns whatever the innovations say: a quarter of the signal is an
#: approximation too large to leave to R.
TRUNCATION_SHARE_WARN = 0.25


def operator_checks(system: ObservationSystem, kinds: Sequence) -> dict[str, Any]:
    """The checks that ``system.config.columns`` asks for, on the column types ``kinds``:
    ``{"no2_conversion": ..., "truncation": ..., "lifetime": ...}`` with the checks that gave
    a result (:func:`conversion_check`, :func:`truncation_check`, :func:`lifetime_check`),
    each logged."""
    columns = system.config.columns
    out: dict[str, Any] = {}
    if columns.no2_conversion_check:
        found = conversion_check(system, kinds)
        if found is not None:
            out["no2_conversion"] = found
            _log_conversion(found)
    if columns.truncation_check_km is not None:
        found = truncation_check(system, kinds, columns.truncation_check_km)
        if found:
            out["truncation"] = found
            for quantity, entry in found.items():
                _log_truncation(quantity, entry)
    if columns.lifetime_check_factor is not None:
        found = lifetime_check(system, kinds, columns.lifetime_check_factor)
        if found is not None:
            out["lifetime"] = found
            _log_lifetime(found)
    return out


def conversion_check(system: ObservationSystem, kinds: Sequence) -> dict[str, Any] | None:
    """What the NO2 columns' prior innovations say of their NO2/NOx conversion, pooled over
    every NO2 observation type of ``kinds`` (each file is one; their ``conversion_rows``).

    Returns
    -------
    dict or None
        :func:`~gridcarbon.inversion.column_fit.innovation_evidence` with ``in_use`` and
        ``other`` (``"ramp"``, ``"photostationary"``), ``observed`` and ``emitted`` (the
        species seen and emitted) and ``observation_types``; None when no type gives rows or
        the fit is not defined.
    """
    parts = _rows(kinds, lambda k: k.conversion_rows(system), "conversion_rows")
    if not parts:
        return None
    in_use = {rows.attrs["in_use"] for rows in parts.values()}
    if len(in_use) > 1:
        raise ConfigError(
            f"the reactive species' column types {sorted(parts)} use different conversions "
            f"of their plumes ({sorted(in_use)}); the conversion check pools them, so give "
            "them one"
        )
    first = next(iter(parts.values()))
    fit = _pooled(parts)
    if fit is None:
        return None
    names = {key: first.attrs[key] for key in ("in_use", "other", "observed", "emitted")}
    return {**names, **fit}


def truncation_check(
    system: ObservationSystem, kinds: Sequence, longer_km: float
) -> dict[str, dict[str, Any]]:
    """What the columns leave out beyond their truncation, per column quantity
    (``vertical_column``, ``dry_air_mole_fraction``), pooled over the observation types of
    ``kinds`` (their ``truncation_rows`` at ``longer_km``).

    Returns
    -------
    dict
        Quantity → :func:`~gridcarbon.inversion.column_fit.innovation_evidence` with
        ``truncation_km``, ``longer_km``, ``share_beyond`` (of the longer operator's prior
        enhancement summed over the used superobservations) and ``observation_types``; the
        quantities with rows and a defined fit.
    """
    by_quantity: dict[str, dict[str, pd.DataFrame]] = {}
    for name, rows in _rows(
        kinds, lambda k: k.truncation_rows(system, longer_km), "truncation_rows"
    ).items():
        by_quantity.setdefault(rows.attrs["quantity"], {})[name] = rows
    out = {}
    for quantity, parts in by_quantity.items():
        fit = _pooled(parts)
        if fit is None:
            continue
        prior = sum(rows.attrs["prior_sum"] for rows in parts.values())
        beyond = sum(rows.attrs["difference_sum"] for rows in parts.values())
        first = next(iter(parts.values()))
        out[quantity] = {
            "truncation_km": first.attrs["truncation_km"],
            "longer_km": first.attrs["longer_km"],
            "share_beyond": beyond / (prior + beyond) if prior + beyond != 0 else None,
            **fit,
        }
    return out


def lifetime_check(
    system: ObservationSystem, kinds: Sequence, factor: float
) -> dict[str, Any] | None:
    """What the reactive species' columns' prior innovations say of how far downwind its
    plumes decay, pooled over every such observation type of ``kinds`` (their
    ``lifetime_rows`` at ``factor`` × the lifetime in use).

    A plume decays as ``exp(−x / (ū τ))`` with the distance ``x``: the columns tell the decay
    length ``ū τ``, not the lifetime ``τ`` apart from the plume-depth wind ``ū`` (a wind too
    fast by some factor reads as a lifetime too long by it).  ``b`` near 1 says the columns
    look like plumes of ``factor`` × the decay length in use, near 0 like those in use; its
    interval below 0 that they lie the other way (``verdict`` ``"opposite"``).  The modelled
    columns are not linear in it, so ``implied_factor = 1 + b (factor − 1)`` (with
    ``implied_low``, ``implied_high`` from ``b``'s interval) is a first-order reading of the
    columns' decay length in units of the operator's, not an estimate; the plumes' other
    errors (their spread, truncation, direction) project onto it too.
    ``state.column_transport_unknowns`` estimates the lifetime (``'lifetime_scale'``) and the
    wind (the transport scales) in the state.

    Returns
    -------
    dict or None
        :func:`~gridcarbon.inversion.column_fit.innovation_evidence` with ``factor``,
        ``implied_factor``, ``implied_low``, ``implied_high``, ``observed`` and ``emitted``
        (the species seen and emitted) and ``observation_types``; None when no type gives
        rows or the fit is not defined.
    """
    parts = _rows(kinds, lambda k: k.lifetime_rows(system, factor), "lifetime_rows")
    if not parts:
        return None
    fit = _pooled(parts)
    if fit is None:
        return None
    if fit["verdict"] == "in use" and fit["b_high"] < 0:
        fit["verdict"] = "opposite"
    ends = sorted(1.0 + b * (factor - 1.0) for b in (fit["b_low"], fit["b_high"]))
    reactive = system.config.chemistry.reactive_species
    return {
        "factor": float(factor),
        "implied_factor": 1.0 + fit["b"] * (factor - 1.0),
        "implied_low": ends[0],
        "implied_high": ends[1],
        "observed": next(k.species.observed_as for k in kinds if k.name in parts),
        "emitted": reactive,
        **fit,
    }


def _rows(kinds: Sequence, rows_of: Callable, member: str) -> dict[str, pd.DataFrame]:
    """Type name → the rows of each type of ``kinds`` with a ``member`` method that gives
    some."""
    out = {}
    for k in kinds:
        if not callable(getattr(k, member, None)):
            continue
        rows = rows_of(k)
        if rows is not None and len(rows):
            if k.name in out:
                raise ConfigError(
                    f"two column observation types are named {k.name!r}; the checks pool "
                    "them by name, so name them apart"
                )
            out[k.name] = rows
    return out


def _pooled(parts: dict[str, pd.DataFrame]) -> dict[str, Any] | None:
    """:func:`innovation_evidence` of the rows of every type in ``parts``, with their names."""
    rows = pd.concat(parts.values(), ignore_index=True)
    fit = innovation_evidence(
        rows["enhancement"], rows["difference"], rows["innovation"], rows["overpass"]
    )
    return None if fit is None else {**fit, "observation_types": sorted(parts)}


def _figures(found: dict[str, Any], of_what: str) -> str:
    return (
        f"b = {found['b']:+.2f} [{found['b_low']:+.2f}, {found['b_high']:+.2f}] of {of_what} "
        f"(1: all of it, 0: none), {found['n_overpasses']} overpasses"
    )


def _log_conversion(found: dict[str, Any]) -> None:
    ratio = f"{found['observed']}/{found['emitted']}"
    figures = _figures(found, f"the difference to no2_conversion '{found['other']}'")
    if found["verdict"] == "other":
        log.warning(
            "the %s columns' innovations hold the other %s conversion: %s; consider "
            "inversion.columns.no2_conversion: %s",
            found["observed"],
            ratio,
            figures,
            found["other"],
        )
    else:
        log.info("%s conversion check (%s): %s", ratio, found["verdict"], figures)


def _log_truncation(quantity: str, found: dict[str, Any]) -> None:
    share = found["share_beyond"]
    figures = (
        f"{'an unknown share' if share is None else f'{share:.0%}'} of the prior enhancement to {found['longer_km']:g} km lies beyond "
        f"{found['truncation_km']:g} km, {found['rms_difference']:.2f} σ of R after the planes "
        f"against {found['rms_enhancement']:.2f} σ modelled; " + _figures(found, "the part beyond")
    )
    # a longer truncation only adds physics: any part the columns hold is worth taking
    if found["verdict"] in ("other", "partly") or (
        share is not None and share >= TRUNCATION_SHARE_WARN
    ):
        log.warning(
            "%s columns: the operator's truncation leaves out a part of the columns: %s; "
            "consider inversion.columns.truncation_km: %g",
            quantity,
            figures,
            found["longer_km"],
        )
    else:
        log.info("%s columns, truncation check (%s): %s", quantity, found["verdict"], figures)


def _log_lifetime(found: dict[str, Any]) -> None:
    figures = _figures(found, f"the difference to {found['factor']:g} x the lifetime") + (
        f"; first-order reading of the decay length (wind x lifetime) "
        f"{found['implied_factor']:.2f} x the operator's "
        f"[{found['implied_low']:.2f}, {found['implied_high']:.2f}]"
    )
    if found["verdict"] in ("other", "partly", "opposite"):
        log.warning(
            "the %s columns' innovations say their plumes decay over another distance than the "
            "operator's (the %s lifetime times the plume-depth wind): %s; check "
            "inversion.chemistry.nox_lifetime_day_h and the meteorology's wind, or estimate "
            "both with inversion.state.column_transport_unknowns",
            found["observed"],
            found["emitted"],
            figures,
        )
    else:
        log.info("%s decay-length check (%s): %s", found["emitted"], found["verdict"], figures)
