"""The satellite columns' air-mass-factor error read off their own innovations
(``errors.column_amf_error_estimate``), with no truth, so it runs unchanged on real data.

An overpass's superobservations carry an air-mass-factor (AMF) error correlated over the scene
(:func:`gridcarbon.inversion.columns.retrieval_covariance`): ``σ_i σ_j ρ(d)``, σ a fraction of
the column.  How far that error stays correlated decides how much of a scene-wide pattern the
inversion reads as emissions; the product's documentation gives its size, not its spatial
form.  The form is read here from the innovations as Hollingsworth & Lönnberg (1986, Tellus
38A:111) read the radiosondes' errors: per overpass the innovations ``d = y − H x_b`` lose the
overpass's background plane (``r = P d``, generalised least squares under the overpass's
covariance C, as the inversion marginalises it); their covariance should be
``P (H B Hᵀ + C) Pᵀ``.  Pairs of one overpass are binned by separation
(:func:`~gridcarbon.inversion.innovations.distance_binned_covariance`) and C's AMF term is
replaced by each candidate ``ρ`` — exponential ``exp(−d/L)`` or Gaussian ``exp(−d²/2L²)`` of
the lengths :data:`AMF_LENGTHS_KM` — with its variance scaled freely; the candidate whose
binned covariance is nearest the innovations' wins
(:func:`~gridcarbon.inversion.innovations.fit_correlation_length`).  The prior's part is taken
as B says: a correlated error of the prior that B does not allow is read as AMF error, as it
would be of real data — R then carries it, whatever its cause.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from gridcarbon.errors import ConfigError
from gridcarbon.inversion.columns import (
    AMF_CORRELATION_SHAPES,
    ColumnMatch,
    ColumnObservations,
    amf_correlation,
    plane_design,
)
from gridcarbon.inversion.innovations import distance_binned_covariance, fit_correlation_length

__all__ = [
    "AMF_EDGES_KM",
    "AMF_LENGTHS_KM",
    "MAX_AMF_ERROR_REL",
    "amf_innovation_sums",
    "estimate_column_amf_errors",
]

log = logging.getLogger(__name__)

#: Separation bins of the pairs of superobservations, km.
AMF_EDGES_KM = (0.0, 15.0, 30.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0)
#: The candidate correlation lengths, km.
AMF_LENGTHS_KM = (10.0, 25.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0)
#: The largest AMF error the estimate may give, as a fraction of the column (a 100 % error
#: is no longer an air-mass-factor error but a missing model); an estimate there is flagged.
MAX_AMF_ERROR_REL = 1.0
#: Superobservation pairs below which a product's estimate is not made.
MIN_PAIRS = 200


def amf_innovation_sums(
    match: ColumnMatch, B: Any, settings: Any, chunk: int = 128
) -> dict[Any, np.ndarray]:
    """The binned sums of one column type's used overpasses (:data:`AMF_EDGES_KM`).

    Parameters
    ----------
    match : ColumnMatch
        The columns matched to the system (their superobservations, H and each overpass's C).
    B : PriorCovariance
        The prior covariance of the state H acts on.
    settings : ColumnSettings
        The columns' settings (the AMF term of C: ``amf_error_rel``, ``amf_correlation_km``,
        ``amf_correlation_shape``).
    chunk : int
        Superobservations whose ``B Hᵀ`` columns are formed at a time (memory: 8 × state size
        × chunk bytes, twice).

    Returns
    -------
    dict
        ``empirical`` (the residuals' ``r rᵀ``), ``model`` (``P (H B Hᵀ + C) Pᵀ``), ``hbh``
        (its prior part), ``fixed`` (the model without C's AMF term), ``(shape, L)`` (each
        candidate AMF term at the columns' σ_amf), each normalised by the model's standard
        deviations, and ``counts`` (superobservations, then pairs per bin); empty without a
        used overpass or without an AMF term (σ_amf all 0: a mole fraction).
    """
    tab = match.superobs
    if not match.blocks or not (tab["sigma_amf"].to_numpy(float) > 0).any():
        return {}
    edges = np.asarray(AMF_EDGES_KM) * 1000.0
    sums: dict[Any, np.ndarray] = {}

    def add(key: Any, Q: np.ndarray, x, y, s) -> np.ndarray:
        b, c = distance_binned_covariance(x, y, Q, s, edges)
        sums[key] = sums.get(key, 0.0) + b
        return c

    x_all, y_all = tab["x"].to_numpy(float), tab["y"].to_numpy(float)
    d_all = (tab["observed"] - tab["prior"]).to_numpy(float)
    sig_all = tab["sigma_amf"].to_numpy(float)
    counts: Any = 0
    for (idx, _), C in zip(match.blocks, match.covariance.values(), strict=True):
        x, y, sig = x_all[idx], y_all[idx], sig_all[idx]
        X = plane_design(x, y)
        Ci_X = np.linalg.solve(C, X)
        P = np.eye(idx.size) - X @ np.linalg.solve(X.T @ Ci_X, Ci_X.T)
        Hi = match.H[idx]
        hbh = np.empty((idx.size, idx.size))
        for start in range(0, idx.size, chunk):
            cols = Hi[start : start + chunk].T.toarray()
            hbh[:, start : start + chunk] = Hi @ B.sqrt_apply(B.sqrt_apply(cols, True))
        hbh = P @ (0.5 * (hbh + hbh.T)) @ P.T
        dist = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
        amf = np.outer(sig, sig)
        own = amf * amf_correlation(
            dist, settings.amf_correlation_km * 1000.0, settings.amf_correlation_shape
        )
        model = hbh + P @ C @ P.T
        s = np.sqrt(np.diag(model))
        r = P @ d_all[idx]
        counts = counts + add("empirical", np.outer(r, r), x, y, s)
        add("model", model, x, y, s)
        add("hbh", hbh, x, y, s)
        add("fixed", model - P @ own @ P.T, x, y, s)
        for shape in AMF_CORRELATION_SHAPES:
            for length in AMF_LENGTHS_KM:
                term = P @ (amf * amf_correlation(dist, length * 1000.0, shape)) @ P.T
                add((shape, length), term, x, y, s)
    sums["counts"] = counts
    return sums


#: match → (B, its sums): the sums depend on the superobservations, H, C and B only, so the
#: inversions of one OSSE replicate (column-only and joint) share them
_SUMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cached_sums(match: ColumnMatch, B: Any, settings: Any) -> dict[Any, np.ndarray]:
    found = _SUMS.get(match)
    if found is not None and found[0]() is B:
        return found[1]
    sums = amf_innovation_sums(match, B, settings)
    _SUMS[match] = (weakref.ref(B), sums)
    return sums


def _amf_settings(settings: Any) -> tuple:
    """The AMF error's settings of a column type: its size, length and form."""
    return (
        settings.amf_error_rel,
        settings.amf_correlation_km,
        settings.amf_correlation_shape,
    )


def _fit(sums: dict[Any, np.ndarray]) -> dict[str, Any]:
    """The best form, length and variance scale of the AMF term for pooled sums."""
    c = sums["counts"]
    fits = {
        shape: fit_correlation_length(
            sums["empirical"],
            sums["fixed"],
            {L: sums[(shape, L)] for L in AMF_LENGTHS_KM},
            c,
        )
        for shape in AMF_CORRELATION_SHAPES
    }
    shape = min(fits, key=lambda k: fits[k]["misfit"])
    ok = c > 0
    e = sums["empirical"][ok] / c[ok]
    configured = float(np.sum(c[ok] * (e - sums["model"][ok] / c[ok]) ** 2))
    return {"shape": shape, "fits": fits, "misfit_configured": configured}


def estimate_column_amf_errors(
    system: Any, kinds: Sequence[Any], B: Any
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``errors.column_amf_error_estimate: innovations``: each column product's AMF error —
    its form, correlation length and size — from the prior innovations of all its overpasses,
    put in the R of every overpass of it (:meth:`ColumnObservations.with_amf_error`).

    Parameters
    ----------
    system : ObservationSystem
    kinds : sequence of ObservationType
        The kinds to be assimilated; the column types of vertical columns (NO2) with a used
        overpass are estimated per product and replaced, the others left as they are.
    B : PriorCovariance

    Returns
    -------
    kinds : tuple
        The kinds with the estimate in the columns' R.
    estimate : dict
        Per product: ``amf_correlation_shape``, ``amf_correlation_km``, ``amf_error_rel`` and
        their configured values, ``amf_error_rel_at_bound`` (capped at
        :data:`MAX_AMF_ERROR_REL`), ``misfit`` and ``misfit_configured`` (the weighted sums of
        squares of the bins' mean normalised covariances, the estimate's and the configured
        model's), ``misfit_by_candidate``, ``n_superobservations``, ``n_pairs``, and per bin
        (``bins_km``) the innovations' mean normalised covariance (``innovations``) beside the
        configured model's (``model_configured``) and the estimate's (``model_estimated``);
        products with fewer than :data:`MIN_PAIRS` pairs keep their R (``estimated`` false).
    """
    groups: dict[str, list[int]] = {}
    for i, k in enumerate(kinds):
        if isinstance(k, ColumnObservations) and k.quantity == "vertical_column":
            groups.setdefault(str(k.pixels.product), []).append(i)
    out = list(kinds)
    report: dict[str, Any] = {}
    for product, members in groups.items():
        total: dict[Any, np.ndarray] = {}
        settings = kinds[members[0]].settings
        for i in members:
            k = kinds[i]
            if _amf_settings(k.settings) != _amf_settings(settings):
                raise ConfigError(
                    f"columns of {product} with different AMF error settings "
                    f"({_amf_settings(k.settings)} and {_amf_settings(settings)}): estimate "
                    "them one setting at a time"
                )
            for key, v in _cached_sums(k.match(system), B, k.settings).items():
                total[key] = total.get(key, 0) + v
        n_pairs = int(np.sum(total["counts"][1:])) if total else 0
        entry: dict[str, Any] = {
            "estimated": False,
            "amf_error_rel_configured": settings.amf_error_rel,
            "amf_correlation_km_configured": settings.amf_correlation_km,
            "amf_correlation_shape_configured": settings.amf_correlation_shape,
            "n_superobservations": int(total["counts"][0]) if total else 0,
            "n_pairs": n_pairs,
        }
        report[product] = entry
        if n_pairs < MIN_PAIRS:
            log.info(
                "column AMF error estimate: %s has %d pairs of superobservations (fewer than "
                "%d): its R keeps the configured AMF error",
                product,
                n_pairs,
                MIN_PAIRS,
            )
            continue
        fit = _fit(total)
        best = fit["fits"][fit["shape"]]
        length = float(best["length"])
        rel = settings.amf_error_rel * float(np.sqrt(best["scale"]))
        at_bound = rel > MAX_AMF_ERROR_REL
        rel = min(rel, MAX_AMF_ERROR_REL)
        c = total["counts"]
        ok = np.maximum(c, 1)
        scale = (rel / settings.amf_error_rel) ** 2
        estimated = total["fixed"] + scale * total[(fit["shape"], length)]
        entry.update(
            estimated=True,
            amf_correlation_shape=fit["shape"],
            amf_correlation_km=length,
            amf_error_rel=rel,
            amf_error_rel_at_bound=bool(at_bound),
            misfit=float(best["misfit"]),
            misfit_configured=fit["misfit_configured"],
            misfit_by_candidate={
                f"{shape} {L:g} km": float(fit["fits"][shape][f"misfit_{L:g}"])
                for shape in AMF_CORRELATION_SHAPES
                for L in AMF_LENGTHS_KM
            },
            bins_km=[[a, b] for a, b in zip(AMF_EDGES_KM[:-1], AMF_EDGES_KM[1:], strict=True)],
            n_in_bins=c.tolist(),
            innovations=(total["empirical"] / ok).tolist(),
            model_configured=(total["model"] / ok).tolist(),
            model_estimated=(estimated / ok).tolist(),
        )
        log.info(
            "column AMF error estimate: %s — %s correlation of %g km, σ %.3g of the column "
            "(configured: %s of %g km, σ %.3g); misfit %.3g against %.3g",
            product,
            fit["shape"],
            length,
            rel,
            settings.amf_correlation_shape,
            settings.amf_correlation_km,
            settings.amf_error_rel,
            entry["misfit"],
            entry["misfit_configured"],
        )
        for i in members:
            out[i] = kinds[i].with_amf_error(system, rel, length, fit["shape"])
    return tuple(out), report
