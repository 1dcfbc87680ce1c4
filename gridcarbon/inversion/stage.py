"""The inversion stage: the prior, the scenario and the inversion section in, an
:class:`~gridcarbon.contracts.InversionResult` out — no file is read or written here.

Without observations the stage inverts SYNTHETIC ones — one perturbed-transport OSSE replicate
at the scenario's network — and scores the posterior against their synthetic truth; every output
says it is synthetic.  Observations given as a table are checked and converted
(:func:`~gridcarbon.inversion.observations.normalise_observations`) against the scenario's
stations; an :class:`~gridcarbon.contracts.ObservationSet` is assimilated as it is, all its
observation types together.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time

import pandas as pd
import xarray as xr

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.contracts import InversionResult, ObservationSet, Scenario
from gridcarbon.errors import ConfigError
from gridcarbon.inversion.assimilation import AssimilationResult, assimilate
from gridcarbon.inversion.column_checks import operator_checks
from gridcarbon.inversion.cross_validation import cross_validate
from gridcarbon.inversion.observation_types import StationHourObservations
from gridcarbon.inversion.observations import normalise_observations, validate_stations
from gridcarbon.inversion.osse import score_against_truth, synthetic_observation_set
from gridcarbon.inversion.posterior import TotalsCovariance
from gridcarbon.inversion.system import ObservationSystem

__all__ = ["run_inversion", "check_period", "observation_set", "column_fit", "overpass_r_factors"]

log = logging.getLogger(__name__)

#: What the posterior's ``synthetic_components`` adds for synthetic observations and inputs.
_SYNTHETIC_OBSERVATIONS = "observations (synthetic OSSE: perturbed transport, synthetic truth)"
_SYNTHETIC_INPUTS = "station network and/or meteorology"


def check_period(start: dt.date, end: dt.date, config: InversionConfig) -> None:
    """Refuse, before any work, a period longer than ``inversion.max_period_days``."""
    days = (end - start).days + 1
    limit = config.max_period_days
    if days > limit:
        raise ConfigError(
            f"the period {start} .. {end} has {days} days, but the "
            f"inversion handles at most inversion.max_period_days = {limit} days in one run "
            "(its memory grows by about 2.5 GB per month); invert month by month "
            "(--start/--end), or set inversion.enabled: false for the prior, zones and map of "
            "the whole period, or raise inversion.max_period_days on a larger machine"
        )


def observation_set(
    table: pd.DataFrame, scenario: Scenario, config: InversionConfig, qa: dict | None = None
) -> ObservationSet:
    """Station-hour observations as an :class:`~gridcarbon.contracts.ObservationSet`: a long
    table (``time``, ``station_id``, ``species``, ``value``, ``unit``, ``uncertainty``) checked
    and converted against the scenario's stations, or a normalised one with its reading ``qa``
    (what :func:`~gridcarbon.inversion.observations.read_observations` counted)."""
    if qa is None:
        table = normalise_observations(
            table,
            validate_stations(scenario.stations, known_species=scenario.species),
            config.observation_time_zone,
            config.chemistry.voc_molar_mass_per_carbon,
            magnitude_check=config.observation_magnitude_check,
            known_species=scenario.species,
        )
        qa = table.attrs.get("observation_qa", {})
    return ObservationSet(
        kinds=(StationHourObservations(table),),
        stations=scenario.stations,
        synthetic=False,
        qa=dict(qa),
    )


def run_inversion(
    prior: xr.Dataset,
    scenario: Scenario,
    config: InversionConfig,
    observations: ObservationSet | pd.DataFrame | None = None,
    *,
    progress: bool = False,
) -> InversionResult:
    """Invert observations against a prior.

    Parameters
    ----------
    prior : xr.Dataset
        The prior emission Dataset of the period, on the scenario's grid.
    scenario : Scenario
        Species, stations, meteorology, land cover, neighbouring regions, inventory and cities.
    config : InversionConfig
        The inversion section.
    observations : ObservationSet, DataFrame or None
        An observation set (all its types are assimilated together), a long table of
        station-hour observations (checked and converted by :func:`observation_set`), or None:
        SYNTHETIC observations (one perturbed-transport OSSE replicate, seed
        ``osse.seed``), scored against their synthetic truth.
    progress : bool
        Log the steps at INFO level.

    Returns
    -------
    InversionResult
        Posterior grids with σ, σ of emission totals (``covariance``), station tables,
        metrics; ``details`` is the :class:`~gridcarbon.inversion.assimilation.AssimilationResult`.
    """
    t0 = time.perf_counter()
    level = logging.INFO if progress else logging.DEBUG
    system = ObservationSystem(prior, scenario, config)
    log.log(level, "observation system: %s", system.info())
    for s in system.species_values:
        if s.observed_as not in set(system.pairs["obs_species"]):
            log.info(
                "no station measures %s (%s): its posterior is its prior, with σ from B",
                s.observed_as,
                s.name,
            )
    truth = None
    table = None
    if observations is None:
        observations, truth = synthetic_observation_set(system, scenario, config)
        table = observations.kinds[0].table()
    elif isinstance(observations, pd.DataFrame):
        observations = observation_set(observations, scenario, config)
    res = assimilate(system, observations)
    log.log(level, "assimilated %d observations", res.metrics["n_observations"])
    synthetic_obs = bool(observations.synthetic)
    # the network (a `synthetic` column of the stations) or the meteorology
    synthetic_inputs = bool(res.metrics["synthetic_network"] or scenario.meteorology.synthetic)
    if not synthetic_obs:  # what the readers counted: missing markers, matched headers, ...
        res.metrics["observation_qa"] = dict(observations.qa)
    res.metrics["synthetic_observations"] = synthetic_obs
    res.metrics["synthetic"] = bool(
        synthetic_obs or synthetic_inputs or prior.attrs.get("synthetic") == "true"
    )
    if truth is not None:
        res.metrics["osse_scores_vs_synthetic_truth"] = score_against_truth(
            system, scenario, config, truth, res
        )
    columns = column_fit(res, res.kinds)
    if columns is not None:
        res.metrics["columns"] = columns[2]
    validation = None
    if config.cross_validation.enabled:
        cv = config.cross_validation
        validation = cross_validate(
            system, observations, fraction=cv.fraction, seed=cv.seed
        ).summary
        log.log(level, "cross-validated: %d folds of withheld stations", math.ceil(1 / cv.fraction))
        res.metrics["cross_validation"] = {
            "fraction": cv.fraction,
            "seed": cv.seed,
            **{
                row.species: {
                    "rmse_ratio": row.rmse_ratio,
                    "prior_chi2": row.prior_chi2,
                    "posterior_chi2": row.posterior_chi2,
                    "n_observations": row.n_observations,
                }
                for row in validation[validation["station_class"] == "all"].itertuples()
            },
        }
    res.metrics["stage_seconds"] = time.perf_counter() - t0
    _label(res, synthetic_obs, synthetic_inputs)
    return InversionResult(
        posterior=res.posterior,
        covariance=TotalsCovariance(system, res.covariance),
        stations=res.stations,
        station_stats=res.station_stats,
        station_series=res.station_series,
        metrics=res.metrics,
        label="posterior of synthetic observations" if synthetic_obs else "posterior",
        details=res,
        extras=res.extras,
        observations=table,
        column_observations=None if columns is None else columns[0],
        overpass_stats=None if columns is None else columns[1],
        cross_validation=validation,
        innovation_statistics=res.innovation_statistics,
    )


def column_fit(
    result: AssimilationResult, kinds: tuple
) -> tuple[pd.DataFrame, pd.DataFrame, dict] | None:
    """The fit of the observation types that report one per overpass (an ``overpass_fit``
    member, e.g. :class:`~gridcarbon.inversion.columns.ColumnObservations`): their
    superobservations, the statistics of each overpass and the metrics' ``columns`` section;
    None when no type does (station data alone: nothing is added)."""
    fitted = [k for k in kinds if callable(getattr(k, "overpass_fit", None))]
    if not fitted or result.system is None:
        return None
    from gridcarbon.inversion.column_fit import column_summary, persistence_warnings

    increment = result.x_post - result.x_prior
    parts = [
        k.overpass_fit(
            result.system, increment, result.covariance, overpass_r_factors(result.obs, k.name)
        )
        for k in fitted
    ]
    superobs = pd.concat([p[0] for p in parts if len(p[0])] or [parts[0][0]], ignore_index=True)
    stats = pd.concat([p[1] for p in parts if len(p[1])] or [parts[0][1]], ignore_index=True)
    counts = [k.match(result.system).counts for k in fitted]
    summary = column_summary(superobs, stats, counts)
    for message in persistence_warnings(summary, result.system.layout.column_terms):
        log.warning(message)
    summary.update(operator_checks(result.system, fitted))
    return superobs, stats, summary


def overpass_r_factors(obs: pd.DataFrame, name: str) -> dict[str, float]:
    """Overpass label → the factor the assimilation applied to its whitened rows' unit error
    variance (``r_std²``; 1 unless R was tuned), for the observation type ``name``, whose
    rows' ``station_id`` is ``<name>:<overpass>``."""
    rows = obs[obs["observation_type"] == name]
    if rows.empty:
        return {}
    labels = rows["station_id"].astype(str).str.slice(len(name) + 1)
    variance = (rows["r_std"].astype(float) ** 2).groupby(labels.to_numpy()).mean()
    return {str(label): float(v) for label, v in variance.items()}


def _label(result: AssimilationResult, synthetic_obs: bool, synthetic_inputs: bool) -> None:
    ds = result.posterior
    parts = [p for p in str(ds.attrs.get("synthetic_components", "")).split(";") if p.strip()]
    if synthetic_obs:
        parts.append(_SYNTHETIC_OBSERVATIONS)
    if synthetic_inputs:
        parts.append(_SYNTHETIC_INPUTS)
    if synthetic_obs or synthetic_inputs:
        ds.attrs["synthetic"] = "true"
    ds.attrs["synthetic_components"] = ";".join(p.strip() for p in parts)
