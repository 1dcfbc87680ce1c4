"""The OSSE's honest scores: what each replicate adds to :func:`~gridcarbon.inversion.osse.
score_replicate`, and the summary of all replicates with 95 % intervals.

Per replicate and species (everything SYNTHETIC):

* **species-specific distance bands** — the distance of each cell to the nearest station that
  measures the species (18 stations measure VOC, 116 CO2): RMSE reduction of the area-source
  cell totals (kg; ``own_rmse_reduction_<band>``) and of the unweighted per-cell factors
  (``own_factor_reduction_<band>``) in the bands 0–5, 5–10, 10–20, 20–30 km (``osse.
  distance_bands_km``) and ``far``, and within ``osse.station_radius_km`` (``near``);
* the **far field at coarser scales**: the RMSE reduction of its area-source totals summed in
  square blocks of ``osse.far_field_block_km`` (``own_far_block_rmse_reduction_<side>km``), and
  the relative error of its whole total, prior and posterior (``own_far_total_rel_error``,
  ``…_prior``);
* **coverage** of 1σ and 2σ intervals (``hits`` and ``n`` so that replicates can be pooled) on
  the constrained cells (uncertainty reduction of the period total ≥ 20 %), on the 9 km state
  blocks (all, and those constrained), on the counties and on the city totals (counties and
  cities with their point sources);
* the city totals' error over their posterior σ (``city_<code>_post_z``), the correlation of
  the posterior errors of each pair of cities (``city_error_correlation_<a>_<b>``) and of each
  big point source's factor with the area emissions of its host state block (median and
  minimum, ``big_point_host_block_correlation_*``);
* the **DOFS of each city's total** (``city_<code>_dofs``, :func:`city_total_dofs`);
* the **innovation χ²** ``mean d²/(HBHᵀ + R)`` of the species' observations, per station class
  and of each class over all species (the default B only), and with ``errors.
  point_dominated_pairs: elevated_plume`` of the readmitted observations (those with a
  point-dominated hour) and of the others.

:func:`interval_summary` gives every score of a table of replicates with a percentile-bootstrap
95 % interval over the replicates (fixed seed) and every proportion with its Wilson interval.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridcarbon.inversion import scores
from gridcarbon.inversion.observations import station_species
from gridcarbon.inversion.posterior import (
    big_point_host_correlation,
    cell_period_stats,
    city_error_correlation,
    unit_period_stats,
)
from gridcarbon.inversion.upwind_downwind import DIFFERENCE_KIND

__all__ = [
    "CONSTRAINED_REDUCTION",
    "ScoreContext",
    "score_context",
    "honest_scores",
    "city_total_dofs",
    "interval_summary",
    "SURFACE_TARGETS",
    "STACK_TARGETS",
    "judge_targets",
    "NEAR_BAND_FLOOR",
    "PERFECT_TWIN_SHARE",
    "near_band_target_rows",
    "OBSERVATION_SETS",
    "JOINT_NO_WORSE",
    "BIG_POINT_SHARE",
    "satellite_target_rows",
    "satellite_targets",
    "far_field_scale_rows",
    "imager_target_rows",
    "mixing_height_target_rows",
    "MIXING_HEIGHT_ERROR_SHARE",
]

#: Cells (and blocks) whose posterior σ of the period total is at least this much below the
#: prior's are "constrained" (the issue's 20 %).
CONSTRAINED_REDUCTION = 0.20

#: Coverage intervals scored, in σ.
_SIGMAS = (1, 2)


@dataclass
class ScoreContext:
    """What the honest scores need besides a replicate: per-species distances, the block and
    county coverage matrices, and the cached diagonal of H B Hᵀ."""

    species_distance_km: dict[str, np.ndarray]
    edges_km: list[float]
    radius_km: float
    blocks: sp.csr_matrix
    counties: sp.csr_matrix | None
    #: the far field's block labels (:func:`~gridcarbon.inversion.scores.block_labels`) by
    #: block side in km (``osse.far_field_block_km`` rounded to whole cells)
    far_blocks: dict[float, np.ndarray] = field(default_factory=dict)
    _hbh: dict[str, np.ndarray] = field(default_factory=dict)
    _last_result: tuple[weakref.ref, np.ndarray] | None = None

    def result_hbh_variance(self, res: Any) -> np.ndarray:
        """diag(H B Hᵀ) of the rows an inversion result assimilated; the last result's is
        kept, since its species are scored one after the other (stacking the columns' blocks
        and hashing them is the cost, not B)."""
        if self._last_result is not None and self._last_result[0]() is res:
            return self._last_result[1]
        # the system the solve used (a view of ``system`` with the stations' R estimated under
        # errors.transport_error_estimate; the same H), so the kinds keep their matches
        H = sp.vstack(
            [sp.csr_matrix(k.jacobian_block(res.system)) for k in res.kinds], format="csr"
        )
        hbh = self.hbh_variance(res.covariance.B, H)
        self._last_result = (weakref.ref(res), hbh)
        return hbh

    def hbh_variance(self, B: Any, H: sp.csr_matrix) -> np.ndarray:
        """diag(H B Hᵀ) of the assimilated rows (cached: the same H in every replicate)."""
        h = hashlib.sha1()
        for a in (H.indptr, H.indices, H.data):
            h.update(np.ascontiguousarray(a).tobytes())
        key = f"{id(B)}-{h.hexdigest()}"
        if key not in self._hbh:
            self._hbh[key] = B.aggregate_var(H)
        return self._hbh[key]


def score_context(system: Any, cfg: Any, counties: Any = None) -> ScoreContext:
    """The context of :func:`honest_scores` for an observation system.

    ``counties``: a lon/lat GeoDataFrame of county polygons (the scenario's
    ``boundaries["county"]``), or None to skip the county scores.
    """
    g = system.grid
    xx, yy = np.meshgrid(g.x, g.y)
    st = system.stations
    sp_of = station_species(st)
    measures = {}
    for s in system.species:
        quantities = {q for q, v in system.observed.items() if v.name == s}
        measures[s] = np.array([bool(quantities & set(sp_of[sid])) for sid in st["station_id"]])
    dist = scores.species_distance_km(
        xx.ravel(), yy.ravel(), st["x"].to_numpy(), st["y"].to_numpy(), measures
    )
    L = system.layout
    cb = L.cell_block()
    region = np.flatnonzero(system.region_fraction > 0)
    used, row = np.unique(cb[region], return_inverse=True)
    blocks = sp.csr_matrix((np.ones(region.size), (row, region)), shape=(used.size, system.ncell))
    county_w = None
    if counties is not None and len(counties):
        from gridcarbon.grids.coverage import coverage_matrix
        from gridcarbon.grids.gridspec import to_projected

        geoms = [to_projected(geom, g.crs) for geom in counties.geometry]
        county_w = coverage_matrix(g, geoms)
    far_blocks = {}
    for side_km in cfg.osse.far_field_block_km:
        k = max(1, round(side_km * 1000.0 / g.cell_size))
        far_blocks[k * g.cell_size / 1000.0] = scores.block_labels(g.shape, k)
    return ScoreContext(
        dist,
        list(cfg.osse.distance_bands_km),
        cfg.osse.station_radius_km,
        blocks,
        county_w,
        far_blocks,
    )


def _coverage(rec: dict, name: str, truth, est, std, mask) -> None:
    for k in _SIGMAS:
        hits, n = scores.coverage_count(truth, est, std, mask, k)
        rec[f"cov{k}_{name}_hits"] = hits
        rec[f"coverage_{k}sigma_{name}"] = hits / n if n else np.nan
    rec[f"n_{name}"] = int(np.count_nonzero(mask))


def city_total_dofs(prior_std: float, posterior_std: float) -> float:
    """Degrees of freedom for signal of one total (a city's, in kg): ``1 − σ²_post/σ²_prior``.

    For a single linear function ``cᵀx`` of the state, the Gaussian posterior's averaging
    kernel of that number is this scalar: 0 when the data leave the total at its prior
    uncertainty, 1 when they fix it.  It is the city's DOFS in this sense only: the trace of
    the averaging kernel over the city's cells would need ``B^(−1/2)``, which the state
    covariance (applied as ``B^(1/2)``) does not provide.  NaN when ``prior_std`` is 0.
    """
    if not prior_std > 0:
        return float("nan")
    return float(1.0 - (posterior_std / prior_std) ** 2)


def honest_scores(
    ctx: ScoreContext,
    system: Any,
    truth: Any,
    res: Any,
    si: int,
    cities: sp.csr_matrix | None = None,
    city_codes: list[str] | None = None,
    with_chi2: bool = True,
) -> dict:
    """The honest scores of species ``si`` for one replicate (see the module docstring)."""
    s = system.species[si]
    rec: dict = {}
    region = system.region_fraction > 0
    st = cell_period_stats(system, res.covariance, res.x_post, si, include_points=False)
    tt = truth.cell_totals(system, si, include_points=False)
    pr, po, sd, sd0 = st["prior"], st["posterior"], st["posterior_std"], st["prior_std"]
    ok = region & (pr > 0)
    # -- species-specific distance bands ------------------------------------------------------
    dist = ctx.species_distance_km[s]
    masks = scores.band_masks(dist, ctx.edges_km)
    masks["near"] = dist <= ctx.radius_km
    for label, m in masks.items():
        rec[f"own_rmse_reduction_{label}"] = scores.rmse_reduction(pr, po, tt, ok & m)
        rec[f"own_factor_reduction_{label}"] = scores.factor_rmse_reduction(pr, po, tt, ok & m)
        rec[f"own_n_cells_{label}"] = int(np.count_nonzero(ok & m))
    rec["own_rmse_change_far"] = -rec["own_rmse_reduction_far"]
    # -- the far field at coarser scales, and its total: does the columns' harm to the far
    # field's cells cancel in larger blocks (a plume put a few cells off) or not (mass put in
    # the wrong place or in the wrong amount)?
    far = ok & masks["far"]
    for side_km, labels in ctx.far_blocks.items():
        rec[f"own_far_block_rmse_reduction_{side_km:g}km"] = scores.block_rmse_reduction(
            pr, po, tt, far, labels
        )
    total = tt[far].sum()
    if total > 0:
        rec["own_far_total_rel_error_prior"] = float(pr[far].sum() / total - 1.0)
        rec["own_far_total_rel_error"] = float(po[far].sum() / total - 1.0)
    # -- coverage: constrained cells, blocks, counties ----------------------------------------
    with np.errstate(invalid="ignore", divide="ignore"):
        ur = np.where(sd0 > 0, 1 - sd / sd0, 0.0)
    _coverage(rec, "cells_ur20", tt, po, sd, ok & (ur >= CONSTRAINED_REDUCTION))
    b = unit_period_stats(system, res.covariance, res.x_post, si, ctx.blocks, False)
    bt = ctx.blocks @ tt
    bok = b["prior"] > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        bur = np.where(b["prior_std"] > 0, 1 - b["posterior_std"] / b["prior_std"], 0.0)
    _coverage(rec, "blocks", bt, b["posterior"], b["posterior_std"], bok)
    _coverage(
        rec,
        "blocks_ur20",
        bt,
        b["posterior"],
        b["posterior_std"],
        bok & (bur >= CONSTRAINED_REDUCTION),
    )
    tt_pts = None
    if ctx.counties is not None:
        tt_pts = truth.cell_totals(system, si, include_points=True)
        c = unit_period_stats(system, res.covariance, res.x_post, si, ctx.counties, True)
        _coverage(
            rec,
            "counties",
            ctx.counties @ tt_pts,
            c["posterior"],
            c["posterior_std"],
            c["prior"] > 0,
        )
    if cities is not None and city_codes:
        tt_pts = truth.cell_totals(system, si, include_points=True) if tt_pts is None else tt_pts
        c = unit_period_stats(system, res.covariance, res.x_post, si, cities, True)
        ct = cities @ tt_pts
        for k, code in enumerate(city_codes):
            if ct[k] > 0:
                rec[f"city_{code}_post_z"] = (c["posterior"][k] - ct[k]) / c["posterior_std"][k]
                rec[f"city_{code}_post_std_rel"] = c["posterior_std"][k] / ct[k]
            rec[f"city_{code}_dofs"] = city_total_dofs(c["prior_std"][k], c["posterior_std"][k])
        corr = city_error_correlation(system, res.covariance, si, cities)
        for a, b in zip(*np.triu_indices(len(city_codes), 1), strict=True):
            rec[f"city_error_correlation_{city_codes[a]}_{city_codes[b]}"] = float(corr[a, b])
        host = big_point_host_correlation(system, res.covariance, si)
        if host.size:
            rec["big_point_host_block_correlation_median"] = float(np.nanmedian(host))
            rec["big_point_host_block_correlation_min"] = float(np.nanmin(host))
    # -- innovation chi2 -------------------------------------------------------------------------
    if with_chi2:
        obs = res.obs
        hbh = ctx.result_hbh_variance(res)
        d = (obs["observed"] - obs["prior"]).to_numpy(float)
        r_var = obs["r_std"].to_numpy(float) ** 2
        emitted = np.array([system.observed[q].name for q in obs["species"]])
        kind = obs["kind"].astype(str).to_numpy() if "kind" in obs else np.full(len(obs), "")
        mine = emitted == s
        if mine.any():
            chi = scores.innovation_chi2(d[mine], hbh[mine], r_var[mine], np.zeros(mine.sum()))
            rec["innovation_chi2"] = chi[0.0][0]
            for k, (v, n) in scores.innovation_chi2(
                d[mine], hbh[mine], r_var[mine], kind[mine]
            ).items():
                rec[f"innovation_chi2_{k}"] = v
                rec[f"n_obs_{k}"] = n
            if "n_point_dominated" in obs:
                # errors.point_dominated_pairs 'elevated_plume': the readmitted observations
                # (with a point-dominated hour) and the others
                readmitted = obs["n_point_dominated"].fillna(0).to_numpy(float) > 0
                for tag, part in (("readmitted", readmitted), ("not_readmitted", ~readmitted)):
                    sel = mine & part
                    if sel.any():
                        chi = scores.innovation_chi2(
                            d[sel], hbh[sel], r_var[sel], np.zeros(sel.sum())
                        )
                        rec[f"innovation_chi2_{tag}"] = chi[0.0][0]
                    rec[f"n_obs_{tag}"] = int(sel.sum())
        for k, (v, _) in scores.innovation_chi2(d, hbh, r_var, kind).items():
            rec[f"innovation_chi2_class_{k}"] = v
    return rec


# -- summary with intervals -----------------------------------------------------------------------

#: Per-replicate columns summarised by their bootstrap mean (prefixes).
_MEAN_PREFIXES = (
    "rmse_reduction",
    "rmse_change",
    "own_",
    "expected_rmse_reduction",
    "coverage_",
    "innovation_chi2",
    "reduced_chi2",
    "point_factor_rmse",
    "expected_point_factor_rmse",
    "dofs",
)


def _interval(est_lo_hi: tuple[float, float, float], n: int) -> dict:
    e, lo, hi = est_lo_hi
    return {"estimate": e, "low": lo, "high": hi, "replicates": n}


def _species_intervals(g: pd.DataFrame, seed: int, n_resamples: int) -> dict:
    out: dict = {}
    n = int(g["replicate"].nunique()) if "replicate" in g else len(g)
    differences = f"n_obs_{DIFFERENCE_KIND}"
    if differences in g and g[differences].notna().any():
        # errors.upwind_downwind: the differences assimilated (mean per replicate)
        out[f"{differences}_mean"] = float(g[differences].mean())
    boot = {"seed": seed, "n_resamples": n_resamples}
    for c in g.columns:
        if c.startswith(_MEAN_PREFIXES) and pd.api.types.is_numeric_dtype(g[c]):
            out[c] = _interval(scores.percentile_bootstrap(g[c].to_numpy(float), **boot), n)
    if "own_rmse_change_far" in g:
        p90 = scores.percentile_bootstrap(
            g["own_rmse_change_far"].to_numpy(float),
            lambda b: np.percentile(b, 90, axis=1),
            **boot,
        )
        out["own_rmse_change_far_p90"] = _interval(p90, n)
    for c in [c for c in g.columns if c.startswith("cov") and c.endswith("_hits")]:
        k, name = c[3:-5].split("_", 1)
        ncol = f"n_{name}"
        hits = g[c].to_numpy(float)
        cnt = g[ncol].to_numpy(float)
        ok = np.isfinite(hits) & np.isfinite(cnt)
        pooled = scores.percentile_bootstrap(
            np.column_stack([hits[ok], cnt[ok]]),
            lambda b: b[..., 0].sum(axis=1) / np.maximum(b[..., 1].sum(axis=1), 1),
            **boot,
        )
        w = scores.wilson_interval(int(hits[ok].sum()), int(cnt[ok].sum()))
        out[f"coverage_{k}sigma_{name}_pooled"] = {
            **_interval(pooled, n),
            "wilson_low": w[1],
            "wilson_high": w[2],
            "hits": int(hits[ok].sum()),
            "n": int(cnt[ok].sum()),
        }
        out[f"n_{name}_mean"] = float(np.mean(cnt[ok])) if ok.any() else np.nan
    return out


def _city_intervals(g: pd.DataFrame, seed: int, n_resamples: int) -> dict:
    """Per city: mean bias, RMS error posterior/prior, the share within 10 % (Wilson), the DOFS
    of the city total, and the calibration RMS(error/σ) and 1σ/2σ coverage of the city
    totals."""
    boot = {"seed": seed, "n_resamples": n_resamples}
    out: dict = {}
    n = int(g["replicate"].nunique())
    zs = []
    for c in [c for c in g.columns if c.startswith("city_") and c.endswith("_prior_err")]:
        code = c[len("city_") : -len("_prior_err")]
        pe = g[c].to_numpy(float)
        ae = g[f"city_{code}_post_err"].to_numpy(float)
        rec = {
            "prior_bias": _interval(scores.percentile_bootstrap(pe, **boot), n),
            "posterior_bias": _interval(scores.percentile_bootstrap(ae, **boot), n),
            "rms_error_ratio": _interval(
                scores.percentile_bootstrap(
                    np.column_stack([pe, ae]),
                    lambda b: np.sqrt(
                        (b[..., 1] ** 2).mean(axis=1) / (b[..., 0] ** 2).mean(axis=1)
                    ),
                    **boot,
                ),
                n,
            ),
        }
        ok = np.isfinite(ae)
        within = int(np.count_nonzero(np.abs(ae[ok]) <= 0.10))
        w = scores.wilson_interval(within, int(ok.sum()))
        rec["fraction_within_10pct"] = {
            **_interval(scores.percentile_bootstrap((np.abs(ae[ok]) <= 0.10) * 1.0, **boot), n),
            "wilson_low": w[1],
            "wilson_high": w[2],
        }
        dc = f"city_{code}_dofs"
        if dc in g:
            rec["dofs"] = _interval(scores.percentile_bootstrap(g[dc].to_numpy(float), **boot), n)
        zc = f"city_{code}_post_z"
        if zc in g:
            z = g[zc].to_numpy(float)
            zs.append(z)
            rec["calibration_rms"] = _interval(
                scores.percentile_bootstrap(z, lambda b: np.sqrt((b**2).mean(axis=1)), **boot), n
            )
            zok = z[np.isfinite(z)]
            for k in _SIGMAS:
                hits = int(np.count_nonzero(np.abs(zok) <= k))
                w = scores.wilson_interval(hits, zok.size)
                rec[f"coverage_{k}sigma"] = {
                    "estimate": w[0],
                    "wilson_low": w[1],
                    "wilson_high": w[2],
                    "n": int(zok.size),
                }
        out[code] = rec
    if zs:
        Z = np.column_stack(zs)  # replicates × cities: resample replicates, pool the cities
        out["all_cities_calibration_rms"] = _interval(
            scores.percentile_bootstrap(
                Z, lambda b: np.sqrt(np.nanmean(b**2, axis=(1, 2))), **boot
            ),
            n,
        )
    return out


def interval_summary(
    table: pd.DataFrame,
    focus_species: str | None = None,
    *,
    seed: int = 12345,
    n_resamples: int = 9999,
) -> dict:
    """Every score of a table of replicates (one row per replicate, species and ``label``)
    with its percentile-bootstrap 95 % interval over the replicates (fixed ``seed``), pooled
    coverages with their Wilson intervals, and the city scores of ``focus_species``.

    Returns ``{label: {species: {score: {estimate, low, high, replicates, …}}, "cities": …}}``.
    """
    out: dict = {}
    for label, t in table.groupby("label", sort=False):
        rec: dict = {}
        for s, g in t.groupby("species", sort=False):
            rec[s] = _species_intervals(g, seed, n_resamples)
        if focus_species is not None and label == "default":
            f = t[t["species"] == focus_species]
            if len(f) and any(c.startswith("city_") for c in f.columns):
                rec["cities"] = _city_intervals(f, seed, n_resamples)
        out[str(label)] = rec
    return out


#: The targets of the surface-network OSSE (inversion issue, second round) that have a score
#: here: ``(name, species — None for every species, "focus" for the focus species — score key,
#: low, high)``; a city target
#: names the score under each city (``city:<score>``) — ``-inf``/``inf`` for open bands.
SURFACE_TARGETS: tuple[tuple[str, str | None, str, float, float], ...] = (
    ("chi2 per species in [0.7, 1.4]", None, "innovation_chi2", 0.7, 1.4),
    ("chi2 per station class in [0.7, 1.4]", None, "innovation_chi2_class_*", 0.7, 1.4),
    (
        "1σ coverage 68 ± 7 % on constrained cells",
        None,
        "coverage_1sigma_cells_ur20_pooled",
        0.61,
        0.75,
    ),
    ("1σ coverage 68 ± 7 % on 9 km blocks", None, "coverage_1sigma_blocks_ur20_pooled", 0.61, 0.75),
    ("1σ coverage 68 ± 7 % on counties", None, "coverage_1sigma_counties_pooled", 0.61, 0.75),
    (
        "unweighted factor gain of the focus species within 30 km ≥ +10 %",
        "focus",
        "own_factor_reduction_near",
        0.10,
        np.inf,
    ),
    ("far field mean no worse than +2 %", None, "own_rmse_change_far", -np.inf, 0.02),
    (
        "far field 90th percentile no worse than +5 %",
        None,
        "own_rmse_change_far_p90",
        -np.inf,
        0.05,
    ),
    ("city mean bias within ±5 %", None, "city:posterior_bias", -0.05, 0.05),
    ("city RMS error ≤ 0.6 × the prior's", None, "city:rms_error_ratio", -np.inf, 0.6),
    ("city within 10 % in ≥ 80 % of replicates", None, "city:fraction_within_10pct", 0.80, np.inf),
    ("city RMS(error/σ) in [0.7, 1.4]", None, "city:calibration_rms", 0.7, 1.4),
)


#: The targets of the issue's "stacks back in" (``errors.point_dominated_pairs:
#: elevated_plume``), in the form of :data:`SURFACE_TARGETS`.
STACK_TARGETS: tuple[tuple[str, str | None, str, float, float], ...] = (
    (
        "big-point factor RMSE ≤ 0.8 × the prior's",
        "focus",
        "point_factor_rmse_ratio",
        -np.inf,
        0.8,
    ),
    (
        "chi2 of the readmitted observations in [0.7, 1.4]",
        None,
        "innovation_chi2_readmitted",
        0.7,
        1.4,
    ),
)


def _verdict(rec: dict, low: float, high: float) -> tuple[float, float, float, bool]:
    """Estimate, interval (Wilson for proportions, else the bootstrap's) and the pass rule:
    the point estimate in the band and the 95 % interval overlapping it."""
    e = float(rec["estimate"])
    lo = float(rec.get("wilson_low", rec.get("low", e)))
    hi = float(rec.get("wilson_high", rec.get("high", e)))
    return e, lo, hi, bool(low <= e <= high and lo <= high and hi >= low)


def _target_row(
    name: str,
    place: str,
    score: str,
    low: float,
    high: float,
    estimate: float,
    lo: float,
    hi: float,
    passes: bool | None,
) -> dict:
    """One row of a targets table (None in ``passes``: not measured)."""
    return {
        "target": name,
        "for": place,
        "score": score,
        "band_low": low,
        "band_high": high,
        "estimate": estimate,
        "low": lo,
        "high": hi,
        "passes": passes,
    }


def _judged_row(
    name: str,
    place: str,
    score: str,
    low: float,
    high: float,
    estimate: tuple[float, float, float],
    extra_ok: bool = True,
) -> dict:
    """A targets row judged by the pass rule: the point estimate in ``[low, high]``, its 95 %
    interval overlapping the band, and ``extra_ok``; not measured (None) without an estimate."""
    e, lo, hi = (float(v) for v in estimate)
    ok = None
    if np.isfinite(e):
        ok = bool(low <= e <= high and lo <= high and hi >= low and extra_ok)
    return _target_row(name, place, score, low, high, e, lo, hi, ok)


def judge_targets(
    label_summary: dict, targets: tuple = SURFACE_TARGETS, focus_species: str | None = None
) -> pd.DataFrame:
    """Each target of ``targets`` judged on one label of :func:`interval_summary`
    (``summary["default"]``): one row per target and species (or city) with ``estimate``,
    ``low``, ``high`` (the 95 % interval: Wilson for proportions), the band and ``passes``
    (point estimate in the band and interval overlapping it).  A score not in the summary
    gives a row with ``passes`` None (not measured), and so does a score whose estimate is not
    finite (e.g. the χ² of a species without an observation of that group).  A target of ``"focus"`` is judged on
    ``focus_species`` (the species whose city totals are scored; the issue's targets name the
    carbon species)."""
    rows = []
    species = [k for k in label_summary if k != "cities"]
    cities = {
        k: v
        for k, v in label_summary.get("cities", {}).items()
        if k != "all_cities_calibration_rms"
    }
    for name, only, key, low, high in targets:
        if key.startswith("city:"):
            score = key.split(":", 1)[1]
            places = [(code, rec.get(score)) for code, rec in cities.items()] or [("cities", None)]
        elif key.endswith("*"):  # one score per station class, the same for every species
            first = label_summary.get(species[0], {}) if species else {}
            places = [(k[len(key) - 1 :], v) for k, v in first.items() if k.startswith(key[:-1])]
        else:
            wanted = [focus_species if only == "focus" else only] if only else species
            places = [(s, label_summary.get(s, {}).get(key)) for s in wanted]
        for place, rec in places:
            if rec is None or not np.isfinite(float(rec.get("estimate", np.nan))):
                rows.append(_target_row(name, place, key, low, high, np.nan, np.nan, np.nan, None))
                continue
            rows.append(_target_row(name, place, key, low, high, *_verdict(rec, low, high)))
    return pd.DataFrame(rows)


# -- near-station gains against the perfect-transport twin (issue 13) ----------------------------

#: The near bands, each of which must gain at least :data:`NEAR_BAND_FLOOR` and
#: :data:`PERFECT_TWIN_SHARE` × the perfect-transport twin's gain.  The issue's "0–10 km" is
#: judged band by band: the replicate rows keep each band's RMSE reduction, not the RMSEs they
#: would have to be pooled from.
NEAR_BANDS: tuple[str, ...] = ("0-5km", "5-10km")

#: The issue's floor of the near-station RMSE gain for the carbon species and NOx.
NEAR_BAND_FLOOR = 0.20

#: The share of the perfect-transport twin's gain the near bands must reach.
PERFECT_TWIN_SHARE = 0.7


def _band_gains(table: pd.DataFrame, species: str, band: str) -> pd.Series:
    """``own_rmse_reduction_<band>`` of ``species`` (label ``default``) per replicate."""
    t = table[(table["label"] == "default") & (table["species"] == species)]
    score = f"own_rmse_reduction_{band}"
    if score not in t:
        return pd.Series(dtype=float)
    return t.groupby("replicate")[score].first().astype(float)


def near_band_target_rows(
    table: pd.DataFrame,
    perfect: pd.DataFrame | None = None,
    *,
    species: Sequence[str],
    outer_floors: Mapping[str, Mapping[str, float]] | None = None,
    seed: int = 12345,
    n_resamples: int = 9999,
) -> pd.DataFrame:
    """The near-station gain targets of issue 13 for ``species`` (the issue's: the carbon
    species and NOx), species-specific masks.

    * each near band (:data:`NEAR_BANDS`) gains ≥ :data:`NEAR_BAND_FLOOR` (mean RMSE reduction
      of the area-source cell totals over the replicates of ``table``);
    * each near band gains ≥ :data:`PERFECT_TWIN_SHARE` × the perfect-transport twin's gain
      (``perfect``, the replicate rows of ``--mode perfect``): the ratio of the mean gains,
      bootstrapped over the replicates the two tables share (resampled as pairs), or over each
      table apart when they share none;
    * the outer bands gain at least ``outer_floors[species][band]`` (the issue's: 3 points
      below the means of the randomised run on the day it was written).

    Intervals: percentile bootstrap (fixed ``seed``); pass: the point estimate in the band and
    the 95 % interval overlapping it.  Without ``perfect`` (or a band it lacks) the ratio rows
    say "not measured".

    Returns
    -------
    DataFrame
        One row per target and place, the columns of :func:`judge_targets`.
    """
    boot = {"seed": seed, "n_resamples": n_resamples}
    rows: list[dict] = []
    nan3 = (np.nan, np.nan, np.nan)
    for name in species:
        for band in NEAR_BANDS:
            gains = _band_gains(table, name, band)
            est = scores.percentile_bootstrap(gains.to_numpy(), **boot) if len(gains) else nan3
            rows.append(
                _judged_row(
                    f"gain ≥ +{NEAR_BAND_FLOOR:.0%} near the species' stations",
                    f"{name} {band}",
                    f"own_rmse_reduction_{band}",
                    NEAR_BAND_FLOOR,
                    np.inf,
                    est,
                )
            )
            ceiling = _band_gains(perfect, name, band) if perfect is not None else pd.Series()
            ratio = nan3
            if len(gains) and len(ceiling):
                both = gains.index.intersection(ceiling.index)
                if len(both):
                    pair = np.column_stack([gains[both], ceiling[both]])
                    ratio = scores.percentile_bootstrap(
                        pair, lambda b: b[..., 0].mean(axis=1) / b[..., 1].mean(axis=1), **boot
                    )
                else:
                    g = scores.percentile_bootstrap(gains.to_numpy(), **boot)
                    c = scores.percentile_bootstrap(ceiling.to_numpy(), **boot)
                    ratio = (g[0] / c[0], g[1] / c[2], g[2] / c[1])
            rows.append(
                _judged_row(
                    f"gain ≥ {PERFECT_TWIN_SHARE:g} × the perfect-transport twin's",
                    f"{name} {band}",
                    "gain_over_perfect_twin",
                    PERFECT_TWIN_SHARE,
                    np.inf,
                    ratio,
                )
            )
        for band, floor in (outer_floors or {}).get(name, {}).items():
            gains = _band_gains(table, name, band)
            est = scores.percentile_bootstrap(gains.to_numpy(), **boot) if len(gains) else nan3
            rows.append(
                _judged_row(
                    "gain no more than 3 points below the issue's means",
                    f"{name} {band}",
                    f"own_rmse_reduction_{band}",
                    floor,
                    np.inf,
                    est,
                )
            )
    return pd.DataFrame(rows)


# -- satellites in the OSSE: surface only, column only, joint ---------------------------------------

#: The observation sets of an OSSE with satellite columns (``observations`` column of the table):
#: the inversions of a satellite OSSE replicate; ``joint_no2`` (surface + the NO2 columns only)
#: is run when the imager flies too, so that both of the issue's joints are scored.
OBSERVATION_SETS: tuple[str, ...] = ("surface", "column", "joint", "joint_no2")

#: Relative RMSE of the joint inversion allowed in every band and species (issue 14: ≤ 1.02 ×
#: the surface-only inversion's).
JOINT_NO_WORSE = 1.02


#: The stacks' target of issue 14: the factor RMSE of the largest point sources (the state's
#: own, ``state.n_point_unknowns``, 20 by CO2) with columns ≤ this × the prior's (30 % below).
BIG_POINT_SHARE = 0.7


def _paired(table: pd.DataFrame, score: str, species: str) -> pd.DataFrame:
    """``score`` of ``species`` (label ``default``) with one row per replicate and one column
    per observation set."""
    t = table[(table["label"] == "default") & (table["species"] == species)]
    if score not in t:
        return pd.DataFrame()
    return t.pivot_table(index="replicate", columns="observations", values=score, aggfunc="first")


def satellite_target_rows(
    table: pd.DataFrame,
    focus_species: str,
    far_species: str,
    *,
    joint: str = "joint",
    seed: int = 12345,
    n_resamples: int = 9999,
) -> pd.DataFrame:
    """The targets of satellites in the OSSE (issue 14 point 5), judged on paired replicates
    (the three inversions of a replicate share its truth).

    * city RMS error of ``focus_species`` with the columns (joint) ≤ 0.9 × surface only:
      ``sqrt(mean e_joint² / mean e_surface²)`` over replicates, per city;
    * far-field RMSE gain of ``far_species`` ≥ +10 % with the lower 95 % bound > 0: per
      replicate ``1 − RMSE_far(joint) / RMSE_far(surface)`` (area-source cell totals beyond
      the last distance band of the stations measuring the species), averaged;
    * joint no worse than surface only in every distance band and species: per replicate
      ``RMSE(joint) / RMSE(surface)`` (the same prior, so ``(1 − r_joint)/(1 − r_surface)``
      of the bands' RMSE reductions), averaged, ≤ :data:`JOINT_NO_WORSE`;
    * the factor RMSE of the largest point sources (the state's own, 20 by CO2) of
      ``focus_species`` and ``far_species`` with the columns ≤ :data:`BIG_POINT_SHARE` × the
      prior's: ``sqrt(mean post² / mean prior²)`` over replicates;
    * at least one usable overpass (assimilated, with a used superobservation over the city)
      per city and month: the fewest over the replicates.

    Intervals: percentile bootstrap over replicates (fixed ``seed``).  Pass: the point estimate
    in the band and the 95 % interval overlapping it, and for the far-field gain also its lower
    bound above 0.  One replicate gives a zero-width interval.

    Returns
    -------
    DataFrame
        One row per target and place: ``target``, ``for``, ``score``, ``band_low``,
        ``band_high``, ``estimate``, ``low``, ``high``, ``passes`` (None: not measured),
        ``observations`` (``joint``).
    """
    boot = {"seed": seed, "n_resamples": n_resamples}
    rows: list[dict] = []

    def add(*args, **kwargs):
        rows.append(_judged_row(*args, **kwargs))

    d = table[table["label"] == "default"] if "observations" in table else table.iloc[:0]
    f = d[d["species"] == focus_species]
    codes = [c[len("city_") : -len("_post_err")] for c in f.columns if c.endswith("_post_err")]
    for code in sorted(codes):
        p = _paired(d, f"city_{code}_post_err", focus_species)
        if not {"surface", joint} <= set(p.columns):
            continue
        pair = p[["surface", joint]].to_numpy(float)
        est = scores.percentile_bootstrap(
            pair,
            lambda b: np.sqrt((b[..., 1] ** 2).mean(axis=1) / (b[..., 0] ** 2).mean(axis=1)),
            **boot,
        )
        add(
            f"city {focus_species} RMS error ≤ 0.9 × surface only",
            code,
            "city_rms_error_joint_over_surface",
            -np.inf,
            0.9,
            est,
        )
    p = _paired(d, "own_rmse_reduction_far", far_species)
    if {"surface", joint} <= set(p.columns):
        gain = 1.0 - (1.0 - p[joint].to_numpy(float)) / (1.0 - p["surface"].to_numpy(float))
        est = scores.percentile_bootstrap(gain, **boot)
        add(
            f"{far_species} far-field RMSE gain ≥ +10 %, lower 95 % bound > 0",
            far_species,
            "far_rmse_gain_joint_vs_surface",
            0.10,
            np.inf,
            est,
            extra_ok=bool(est[1] > 0),
        )
    bands = sorted(
        {c[len("own_rmse_reduction_") :] for c in d.columns if c.startswith("own_rmse_reduction_")}
        - {"near"},
        key=lambda b: (b == "far", float(b.split("-")[0]) if b != "far" else 0.0),
    )
    for s in sorted(d["species"].unique()):
        for b in bands:
            p = _paired(d, f"own_rmse_reduction_{b}", s)
            if not {"surface", joint} <= set(p.columns):
                continue
            ratio = (1.0 - p[joint].to_numpy(float)) / (1.0 - p["surface"].to_numpy(float))
            add(
                f"joint RMSE ≤ {JOINT_NO_WORSE:g} × surface only",
                f"{s} {b}",
                "band_rmse_joint_over_surface",
                -np.inf,
                JOINT_NO_WORSE,
                scores.percentile_bootstrap(ratio, **boot),
            )
    for s in (focus_species, far_species):
        post = _paired(d, "point_factor_rmse_post", s)
        prior = _paired(d, "point_factor_rmse_prior", s)
        if joint not in post or joint not in prior:
            continue
        pair = np.column_stack([post[joint].to_numpy(float), prior[joint].to_numpy(float)])
        add(
            f"big-point factor RMSE ≤ {BIG_POINT_SHARE:g} × the prior's with columns",
            s,
            "point_factor_rmse_ratio",
            -np.inf,
            BIG_POINT_SHARE,
            scores.percentile_bootstrap(
                pair,
                lambda b: np.sqrt((b[..., 0] ** 2).mean(axis=1) / (b[..., 1] ** 2).mean(axis=1)),
                **boot,
            ),
        )
    for c in sorted(c for c in d.columns if c.startswith("city_") and c.endswith("_overpasses")):
        counts = d[d["observations"] == joint].groupby("replicate")[c].first()
        if counts.empty:
            continue
        fewest = float(counts.min())
        add(
            "≥ 1 usable overpass per city-month (fewest over replicates)",
            c[len("city_") : -len("_overpasses")],
            "usable_overpasses",
            1.0,
            np.inf,
            (fewest, fewest, float(counts.max())),
        )
    return pd.DataFrame(rows).assign(observations=joint) if rows else pd.DataFrame(rows)


def far_field_scale_rows(
    table: pd.DataFrame,
    species: str,
    *,
    joint: str = "joint",
    seed: int = 12345,
    n_resamples: int = 9999,
) -> pd.DataFrame:
    """The far-field gain of ``joint`` over surface only at every scale the replicates scored
    (a diagnostic of issue 14's far-field target, not a target): per replicate
    ``1 − RMSE(joint) / RMSE(surface)`` of the far field's cells (``cells``, the target's
    score) and of its block totals (``own_far_block_rmse_reduction_<side>km``), averaged; of
    its whole total ``1 − RMS(e_joint) / RMS(e_surface)`` over the replicates (``e`` its
    relative error); each with a percentile-bootstrap 95 % interval over the paired
    replicates; and the mean relative error of the far field's total, prior, surface only and
    joint.

    Returns
    -------
    DataFrame
        One row per scale: ``scale``, ``gain``, ``low``, ``high``, ``replicates``; then one
        row ``total relative error (mean)`` with the prior's, surface only's and the joint's
        means (fractions of the truth's total) in ``prior``, ``surface``, ``joint``.  Empty
        when the table holds no block scores (a cache from before them).
    """
    boot = {"seed": seed, "n_resamples": n_resamples}
    d = table[table["label"] == "default"] if "observations" in table else table.iloc[:0]
    prefix = "own_far_block_rmse_reduction_"
    sides = sorted(
        (c[len(prefix) : -len("km")] for c in d.columns if c.startswith(prefix)), key=float
    )
    rows = []

    def gain_row(scale: str, gain: np.ndarray) -> None:
        gain = gain[np.isfinite(gain)]
        est = scores.percentile_bootstrap(gain, **boot) if gain.size else (np.nan,) * 3
        rows.append(
            {"scale": scale, "gain": est[0], "low": est[1], "high": est[2], "replicates": gain.size}
        )

    if not sides:
        return pd.DataFrame(rows)
    for scale, score in [
        ("cells", "own_rmse_reduction_far"),
        *((f"{side} km blocks", f"{prefix}{side}km") for side in sides),
    ]:
        p = _paired(d, score, species)
        if {"surface", joint} <= set(p.columns):
            gain_row(
                scale, 1.0 - (1.0 - p[joint].to_numpy(float)) / (1.0 - p["surface"].to_numpy(float))
            )
    p = _paired(d, "own_far_total_rel_error", species)
    if {"surface", joint} <= set(p.columns):
        e_s, e_j = p["surface"].to_numpy(float), p[joint].to_numpy(float)
        # one number a replicate, so pooled as the cities' totals are: a ratio of two RMS
        # errors over the replicates (one replicate's |e_surface| can be near 0)
        est = scores.percentile_bootstrap(
            np.column_stack([e_s, e_j]),
            lambda b: 1.0 - np.sqrt((b[..., 1] ** 2).mean(axis=1) / (b[..., 0] ** 2).mean(axis=1)),
            **boot,
        )
        rows.append(
            {
                "scale": "whole far field (RMS over replicates)",
                "gain": est[0],
                "low": est[1],
                "high": est[2],
                "replicates": len(e_s),
            }
        )
        prior = _paired(d, "own_far_total_rel_error_prior", species)["surface"].to_numpy(float)
        rows.append(
            {
                "scale": "total relative error (mean)",
                "prior": float(np.mean(prior)),
                "surface": float(np.mean(e_s)),
                "joint": float(np.mean(e_j)),
                "replicates": len(e_s),
            }
        )
    return pd.DataFrame(rows)


def satellite_targets(table: pd.DataFrame, focus_species: str, far_species: str) -> pd.DataFrame:
    """:func:`satellite_target_rows` of every joint inversion in ``table``: ``joint`` and, when
    the imager flies beside TROPOMI, ``joint_no2`` (the issue's "TROPOMI NO2 + surface")."""
    present = set(table["observations"]) if "observations" in table else set()
    parts = [
        satellite_target_rows(table, focus_species, far_species, joint=j)
        for j in ("joint", "joint_no2")
        if j in present
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


#: The mixing-height target of issue 14, on the days with an overpass: RMS(δ̂ − δ) ≤ this share
#: of the prior σ of δ, per city and day.
MIXING_HEIGHT_ERROR_SHARE = 0.5


def mixing_height_target_rows(
    table: pd.DataFrame, *, seed: int = 12345, n_resamples: int = 9999
) -> pd.DataFrame:
    """The mixing-height targets of issue 14 (a truth δ per city and day,
    ``osse.truth_mixing_height_by_city``, and the state's daily δ), per observation set present:

    * on overpass days RMS(δ̂ − δ) ≤ :data:`MIXING_HEIGHT_ERROR_SHARE` × the prior σ of δ;
    * on overpass days RMS(z) in [0.7, 1.4], z = (δ̂ − δ) / posterior σ.

    The replicates' city-days are pooled: ``sqrt(Σ_r d_r s_r² / Σ_r d_r)`` of each replicate's
    RMS score ``s_r`` over its ``d_r`` overpass days (``mixing_height_*_overpass`` of the table,
    made by ``osse.mixing_height_scores``).  The surface-only inversion is scored on the same
    days as the joints.  Beside each set, the prior's own (δ̂ = 0) error ratio is given as a
    reference row with no band (``passes`` None).

    Intervals: percentile bootstrap over replicates (fixed ``seed``); pass rule as
    :func:`judge_targets`'s.
    """
    boot = {"seed": seed, "n_resamples": n_resamples}
    rows: list[dict] = []
    if "mixing_height_rms_error_ratio_overpass" not in table:
        return pd.DataFrame(rows)
    d = table[table["label"] == "default"] if "label" in table else table

    def pooled(b: np.ndarray) -> np.ndarray:
        return np.sqrt((b[..., 1] * b[..., 0] ** 2).sum(axis=-1) / b[..., 1].sum(axis=-1))

    present = set(d["observations"]) if "observations" in d else set()
    sets = [o for o in OBSERVATION_SETS if o in present] or [None]
    for obs in sets:
        t = d if obs is None else d[d["observations"] == obs]
        per = t.groupby("replicate")[
            [
                "mixing_height_rms_error_ratio_overpass",
                "mixing_height_rms_z_overpass",
                "mixing_height_rms_error_prior_overpass",
                "mixing_height_rms_error_overpass",
                "mixing_height_days_overpass",
            ]
        ].first()
        per = per[np.isfinite(per["mixing_height_rms_error_ratio_overpass"].astype(float))]
        if per.empty:
            continue
        days = per["mixing_height_days_overpass"].to_numpy(float)
        ratio = per["mixing_height_rms_error_ratio_overpass"].to_numpy(float)
        # the prior σ of each replicate, from its error and its ratio: δ̂ = 0 in the same units
        sigma = per["mixing_height_rms_error_overpass"].to_numpy(float) / ratio
        prior_ratio = per["mixing_height_rms_error_prior_overpass"].to_numpy(float) / sigma
        where = obs or "all"
        rows.append(
            _judged_row(
                f"RMS(δ̂ − δ) on overpass days ≤ {MIXING_HEIGHT_ERROR_SHARE:g} × prior σ",
                where,
                "mixing_height_rms_error_ratio_overpass",
                -np.inf,
                MIXING_HEIGHT_ERROR_SHARE,
                scores.percentile_bootstrap(np.column_stack([ratio, days]), pooled, **boot),
            )
        )
        rows.append(
            _judged_row(
                "RMS(z) of δ on overpass days in [0.7, 1.4]",
                where,
                "mixing_height_rms_z_overpass",
                0.7,
                1.4,
                scores.percentile_bootstrap(
                    np.column_stack([per["mixing_height_rms_z_overpass"].to_numpy(float), days]),
                    pooled,
                    **boot,
                ),
            )
        )
        e = scores.percentile_bootstrap(np.column_stack([prior_ratio, days]), pooled, **boot)
        rows.append(
            _target_row(
                "reference: the prior's δ̂ = 0, RMS(δ) ÷ prior σ",
                where,
                "mixing_height_rms_error_prior_ratio_overpass",
                -np.inf,
                np.inf,
                *(float(v) for v in e),
                None,
            )
        )
    return pd.DataFrame(rows)


def imager_target_rows(
    table: pd.DataFrame,
    focus_species: str,
    *,
    seed: int = 12345,
    n_resamples: int = 9999,
) -> pd.DataFrame:
    """The city targets of the CO2M-like imager with the surface network (issue 14: "plus the
    CO2M-like imager"), per city, on the joint inversion's city totals of ``focus_species``:

    * mean bias ``|mean e_joint| ≤ 3 %``;
    * RMS error ≤ 0.6 × surface only (paired replicates, as :func:`satellite_target_rows`);
    * within 10 % of the truth in ≥ 90 % of the replicates, the Wilson lower bound ≥ 0.8;
    * calibration ``RMS(error / σ)`` in [0.7, 1.4] (``city_<code>_post_z``).

    Intervals: percentile bootstrap over replicates (fixed ``seed``); the share within 10 %
    carries its Wilson interval.  Pass rule as :func:`judge_targets`'s.
    """
    boot = {"seed": seed, "n_resamples": n_resamples}
    rows: list[dict] = []

    def add(*args, **kwargs):
        rows.append(_judged_row(*args, **kwargs))

    d = table[table["label"] == "default"] if "observations" in table else table.iloc[:0]
    f = d[d["species"] == focus_species]
    codes = sorted(
        c[len("city_") : -len("_post_err")] for c in f.columns if c.endswith("_post_err")
    )
    for code in codes:
        p = _paired(d, f"city_{code}_post_err", focus_species)
        if not {"surface", "joint"} <= set(p.columns):
            continue
        joint = p["joint"].to_numpy(float)
        add(
            f"city {focus_species} |bias| ≤ 3 % (joint)",
            code,
            "city_bias_joint",
            -0.03,
            0.03,
            scores.percentile_bootstrap(joint, **boot),
        )
        add(
            f"city {focus_species} RMS error ≤ 0.6 × surface only",
            code,
            "city_rms_error_joint_over_surface",
            -np.inf,
            0.6,
            scores.percentile_bootstrap(
                p[["surface", "joint"]].to_numpy(float),
                lambda b: np.sqrt((b[..., 1] ** 2).mean(axis=1) / (b[..., 0] ** 2).mean(axis=1)),
                **boot,
            ),
        )
        ok = np.isfinite(joint)
        w = scores.wilson_interval(int(np.count_nonzero(np.abs(joint[ok]) <= 0.10)), int(ok.sum()))
        add(
            f"city {focus_species} within 10 % in ≥ 90 % of replicates, Wilson lower ≥ 0.8",
            code,
            "city_within_10pct_joint",
            0.90,
            1.0,
            w,
            extra_ok=bool(w[1] >= 0.8),
        )
        z = _paired(d, f"city_{code}_post_z", focus_species)
        if "joint" in z:
            add(
                f"city {focus_species} RMS(error / σ) in [0.7, 1.4] (joint)",
                code,
                "city_calibration_rms_joint",
                0.7,
                1.4,
                scores.percentile_bootstrap(
                    z["joint"].to_numpy(float), lambda b: np.sqrt((b**2).mean(axis=1)), **boot
                ),
            )
    return pd.DataFrame(rows)
