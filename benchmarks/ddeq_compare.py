"""Benchmark-only anchor comparison with ddeq 1.1 (Empa; issue 14 point 6): the cross-sectional
flux (CSF) method of ddeq against gridcarbon's column-only inversion on the same simulated
TROPOMI NO2 scenes of the January OSSE.  Everything is SYNTHETIC.

ddeq is NOT a dependency of gridcarbon; it lives in its own environment and is run as a
subprocess (this script with ``--ddeq-side``), data exchanged through the S5P-layout NetCDF
files and JSON/npz files in ``--out``:

    python -m venv /tmp/sat-ddeq
    /tmp/sat-ddeq/bin/pip install ddeq "xarray<2025.6" "pandas<3"   # ddeq 1.1 fails on xarray 2026.9
    python benchmarks/ddeq_compare.py --part example --out ddeq-compare
    python benchmarks/ddeq_compare.py --part osse --replicates 10 --seed 40000 --out ddeq-compare

``--part example`` (ddeq side only): (a) ddeq's shipped CSF example
(``ddeq/data/SMARTCARB_CSF_example.nc``: ddeq's CSF estimates of SMARTCARB images beside the
true emissions) summarised as ddeq's own figures, and the one SMARTCARB scene the wheel ships
re-run through ddeq's CSF chain with its shipped winds, source list and true emissions (that
scene is not among the stored estimates' images); (b) the closed-form case: a Gaussian NO2 plume of known NOx emission, NO2/NOx
ratio and lifetime on TROPOMI-like pixels with TROPOMI-like noise, through the same ddeq chain as
the OSSE (plume detection, centre curve, plume coordinates, background, CSF with the ratio and
lifetime given): the emission ddeq gives back.

``--part osse``: per replicate (seed ``s``; the truth is the perturbed-transport truth that
``bench_osse.py`` draws with that seed):

1. gridcarbon side: one simulated TROPOMI NO2 file a day from the replicate's whole truth
   (its inventory, the neighbouring regions' inflow and the biogenic flux), made by
   ``gridcarbon.pipeline.osse_column_simulator`` itself and kept in ``--out`` (caches made
   before 2026-12-07 from the inventory alone are refused); the column-only
   inversion with a 100 % prior σ (``state.prior_error = state.point_prior_error = 1``);
   the sources: the 20 largest CO2 point sources with their own factors, merged when within 10 km
   (:func:`merge_within`), and the urban cores of Hangzhou and Ningbo; per usable overpass and
   source the truth, prior and posterior NOx emission at the overpass hour and the prior's
   plume-depth wind at the source (``kernels.column.plume_depth_wind`` on the prior met);
2. ddeq side: per overpass and source the file read by ``ddeq.sats.read_S5P`` (qa > 0.75),
   cropped to a ``--box-km`` square around the source, the plumes detected
   (``ddeq.dplume.detect_plumes``, all sources in the box given, so that overlapping plumes are
   rejected as ddeq does), the centre curve and plume coordinates, the background
   (``ddeq.background.estimate``), and the CSF (``ddeq.csf.estimate_emissions``, Gaussian line
   densities every ``--dx-km``) with gridcarbon's NO2/NOx ratio model and NOx lifetime given as
   ``f_model`` (NOx emitted per NO2 observed at the plume age t): NOx emission in kg/s;
3. scores: median absolute relative error of the overpass emissions of the sources ddeq could
   quantify (its yield), ddeq and gridcarbon on the same (source, overpass) pairs; the same
   pairs against each stack's site (``--site-radius-km``: the stack and every cell within that
   distance, area and points, :func:`site_disks`), which is what a CSF integrates and what
   TROPOMI-sized pixels can tell apart; gridcarbon's posterior/truth per source and per site.

``--part gauss`` (after ``--part osse``): ddeq's Gaussian-plume fit
(``ddeq.gauss.estimate_emissions``, the NO2 plume with first-order decay, NOx = the fitted NO2
emission / the equilibrium NO2/NOx ratio) per usable overpass for the isolated stacks (no other
compared source within 10 km, :func:`isolated_stacks`), on the same scenes, prior winds and
chemistry, started from (and bounded by ddeq to 0.1–1.9 ×) the prior NOx emission at the
overpass hour; scored like the CSF; and the closed-form plume through the same fit.

``--truth-chemistry`` (with ``--part osse``, into its own ``--out``): the diagnostic that
separates the chemistry's error from the methods' — each overpass's truth NOx lifetime and flat
NO2/NOx ratio (the synthetic file's ``truth_nox_lifetime_h`` and ``truth_no2_nox_ratio``) are
given to gridcarbon's column operator (as ``osse.satellite_truth_chemistry`` does) and to
ddeq's CSF and Gaussian fit in place of gridcarbon's lifetime and ratio model.

Every step is cached in ``--out`` (a finished replicate or ddeq job is skipped), so a long run
is done in chunks by running the same command again.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

#: merge distance of sources, km (issue 14: "merge sources within 10 km a priori")
MERGE_KM = 10.0
#: molar mass of NO2, g/mol (NOx is counted as NO2 mass everywhere in gridcarbon and ddeq)
M_NO2 = 46.0055
#: what the replicates' TROPOMI files are made from, recorded in gridcarbon.json: the OSSE's own
#: simulator on the truth's whole world (earlier caches were made from its inventory alone)
SATELLITE_FILES = "gridcarbon.pipeline.osse_column_simulator, whole truth"


# -- pure helpers (numpy only: importable in both environments) -----------------------------
def merge_within(x_km: np.ndarray, y_km: np.ndarray, radius_km: float = MERGE_KM) -> np.ndarray:
    """Group sources closer than ``radius_km`` (single linkage: a chain of sources each within
    the radius of the next is one group).

    Parameters
    ----------
    x_km, y_km : ndarray
        Projected positions, km.
    radius_km : float
        Merge distance, km (inclusive).

    Returns
    -------
    ndarray of int
        Group label of each source, 0..n_groups-1, numbered by the first source of each group.
    """
    x = np.asarray(x_km, float)
    y = np.asarray(y_km, float)
    n = x.size
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    d = np.hypot(x[:, None] - x[None], y[:, None] - y[None])
    for i, j in zip(*np.nonzero(np.triu(d <= radius_km, 1)), strict=True):
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([find(i) for i in range(n)])
    _, labels = np.unique(roots, return_inverse=True)
    return labels.astype(np.int64)


def isolated_stacks(
    table: list[dict],
    px_m: np.ndarray,
    py_m: np.ndarray,
    radius_km: float = MERGE_KM,
    counted: np.ndarray | None = None,
) -> list[str]:
    """Names of the stack sources of ``table`` with no other source within ``radius_km`` a
    priori: no point source of the inventory outside the group (of those ``counted``, default
    every one) and no city core (its disk) within the radius of any of the group's stacks.

    Parameters
    ----------
    table : list of dict
        Sources as written to ``sources.json`` (``kind``, ``points`` as indices into the
        inventory's point table, ``x``/``y`` and ``diameter_m`` of the city cores).
    px_m, py_m : ndarray
        Projected positions of every point source of the inventory, m.
    radius_km : float
        Isolation distance, km.
    counted : ndarray of bool, optional
        The point sources that count as other sources (default: all).

    Returns
    -------
    list of str
        The isolated stack sources, in ``table`` order.
    """
    px = np.asarray(px_m, float)
    py = np.asarray(py_m, float)
    counted = np.ones(px.size, bool) if counted is None else np.asarray(counted, bool)
    cities = [s for s in table if s["kind"] == "city"]
    names = []
    for src in table:
        if src["kind"] != "stack":
            continue
        own = np.zeros(px.size, bool)
        own[src["points"]] = True
        mx, my = px[own], py[own]
        other = ~own & counted
        d_pts = np.hypot(mx[:, None] - px[other][None], my[:, None] - py[other][None])
        near = d_pts.size and float(d_pts.min()) <= radius_km * 1e3
        for c in cities:
            edge = np.hypot(mx - c["x"], my - c["y"]) - c["diameter_m"] / 2
            near = near or float(edge.min()) <= radius_km * 1e3
        if not near:
            names.append(src["name"])
    return names


def nox_per_no2(t_s, tau_s: float, r0: float, req: float, tconv_s: float) -> np.ndarray:
    """NOx emitted per NO2 observed in a plume of age ``t_s`` (s): ``e^(t/τ) / r(t)`` with the
    NO2/NOx ratio ``r(t) = r_eq − (r_eq − r0) e^(−t/t_conv)`` (gridcarbon's
    ``kernels.plume.no2_weight`` inverted; NOx counted as NO2 mass)."""
    t = np.clip(np.asarray(t_s, float), 0.0, None)
    r = req - (req - r0) * np.exp(-t / tconv_s)
    return np.exp(t / tau_s) / r


def crop_window(
    lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float, half_km: float
) -> tuple[slice, slice] | None:
    """Index window (rows, columns) of a 2-D pixel array holding every pixel whose centre lies
    within ``half_km`` (east-west and north-south, local equirectangular) of (lon0, lat0); None
    when none does."""
    dx = (np.asarray(lon) - lon0) * 111.32 * math.cos(math.radians(lat0))
    dy = (np.asarray(lat) - lat0) * 110.57
    inside = (np.abs(dx) <= half_km) & (np.abs(dy) <= half_km)
    if not inside.any():
        return None
    rows = np.flatnonzero(inside.any(axis=1))
    cols = np.flatnonzero(inside.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


#: ddeq 1.1's Gaussian plume model convolves every scene row with a 50-point kernel
#: (``np.convolve(..., mode="same")``), which fails on a scene with fewer pixels across track
GAUSS_MIN_ACROSS = 50


def widen(window: slice, n_min: int, n_total: int) -> slice:
    """``window`` widened symmetrically to at least ``n_min`` indices within ``0..n_total``."""
    lo, hi = window.start, window.stop
    need = max(0, n_min - (hi - lo))
    lo = max(0, lo - (need + 1) // 2)
    hi = min(n_total, max(hi + need // 2, lo + n_min))
    lo = max(0, min(lo, hi - n_min))
    return slice(lo, hi)


def median_abs_rel_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Median of ``|estimate − truth| / truth`` over the finite pairs (NaN when none)."""
    e = np.asarray(estimate, float)
    t = np.asarray(truth, float)
    ok = np.isfinite(e) & np.isfinite(t) & (t > 0)
    return float(np.median(np.abs(e[ok] - t[ok]) / t[ok])) if ok.any() else float("nan")


def gaussian_plume_column(
    x_m: np.ndarray,
    y_m: np.ndarray,
    q_kg_s: float,
    u_m_s: float,
    tau_s: float,
    r0: float,
    req: float,
    tconv_s: float,
    sigma0_m: float = 2000.0,
    spread: float = 0.1,
) -> np.ndarray:
    """Closed-form NO2 column (kg m-2) of a NOx point source at the origin, wind along +x:
    line density ``Q r(t) e^(−t/τ) / u`` (t = x/u) spread crosswind as a Gaussian of
    ``σ = σ0 + spread·x``; zero upwind."""
    x = np.asarray(x_m, float)
    y = np.asarray(y_m, float)
    xp = np.clip(x, 0.0, None)
    t = xp / u_m_s
    line = q_kg_s / u_m_s / nox_per_no2(t, tau_s, r0, req, tconv_s)
    s = sigma0_m + spread * xp
    col = line * np.exp(-0.5 * (y / s) ** 2) / (math.sqrt(2 * math.pi) * s)
    return np.where(x > 0, col, 0.0)


# -- ddeq side (runs in the ddeq environment: numpy, xarray, ddeq, cartopy) -----------------
def _ddeq_sources(table: list[dict]):
    import xarray as xr

    names = [s["name"] for s in table]
    src = xr.Dataset(coords={"source": np.array(names)})
    src["lon"] = ("source", np.array([s["lon"] for s in table], float))
    src["lat"] = ("source", np.array([s["lat"] for s in table], float))
    src["diameter"] = ("source", np.array([s["diameter_m"] for s in table], float))
    src["diameter"].attrs["units"] = "m"
    src["label"] = ("source", np.array(names))
    return src


def _plume_signal_and_wind(ddeq, data, target: str, wind: dict):
    """ddeq's steps shared by the CSF and the Gaussian-plume fit once a plume is detected: the
    plume's centre curve, natural coordinates and area, the NO2 background and plume signal in
    ddeq's units, and gridcarbon's prior plume-depth wind at the source as ddeq's wind input."""
    import xarray as xr

    data = ddeq.curves.fit_to_detections(data)
    data = ddeq.curves.compute_natural_coords(data)
    data = ddeq.curves.compute_plume_areas(data)
    data = ddeq.background.estimate(data, "NO2")
    data = ddeq.emissions.compute_plume_signal(data, "NO2")
    ddeq.emissions.convert_units(data, "NO2", "NO2_minus_estimated_background")
    winds = xr.Dataset(
        {
            "speed": ("source", [wind["speed"]]),
            "speed_precision": ("source", [wind["speed_precision"]]),
            "direction": ("source", [wind["direction"]]),
        },
        coords={"source": [target]},
        attrs={"method": "prior plume-depth wind at the source (gridcarbon)"},
    )
    return data, winds


def _ddeq_setup(table: list[dict], target: str):
    """ddeq (its warnings silenced), the UTM projection (cartopy) of the zone holding
    ``target``'s source, and ddeq's table of the sources in ``table``."""
    import warnings

    import cartopy.crs as ccrs
    import ddeq

    warnings.filterwarnings("ignore")
    lon0 = float(next(s["lon"] for s in table if s["name"] == target))
    return ddeq, ccrs.UTM(int((lon0 + 180) // 6) + 1), _ddeq_sources(table)


def _detect_plume(ddeq, data, sources, target: str, opts: dict, crs):
    """ddeq's plume detection on NO2; returns the scene and "" when ``target`` has a plume of
    its own, else the reason why not."""
    data = ddeq.dplume.detect_plumes(
        data,
        sources,
        variable="NO2",
        variable_std="NO2_std",
        var_sys=opts["var_sys"],
        filter_type="gaussian",
        filter_size=0.5,
        q=0.99,
        crs=crs,
    )
    if "detected_plume" not in data or target not in data.source.values:
        return data, "source not in scene"
    if int(data["detected_plume"].sel(source=target).sum()) == 0:
        return data, "no plume detected"
    if ddeq.misc.has_multiple_sources(data, target):
        return data, "plume shared with another source"
    return data, ""


def _ddeq_csf(data, table: list[dict], target: str, wind: dict, chem: dict, opts: dict) -> dict:
    """ddeq's plume detection + CSF for ``target`` on a cropped scene; returns the NOx
    emission (kg/s) or the reason why none."""
    ddeq, crs, sources = _ddeq_setup(table, target)
    out = {
        "status": "",
        "NOx_emissions_kg_s": float("nan"),
        "NOx_emissions_precision_kg_s": float("nan"),
    }
    try:
        data, out["status"] = _detect_plume(ddeq, data, sources, target, opts, crs)
        if out["status"]:
            return out
        keep = [
            str(s) for s in data.source.values if int(data["detected_plume"].sel(source=s).sum())
        ]
        data = data.sel(source=keep)
        data, winds = _plume_signal_and_wind(ddeq, data, target, wind)

        def f_model(seconds):
            f = nox_per_no2(np.asarray(seconds, float), **chem)
            return f, np.zeros_like(f)

        res = ddeq.csf.estimate_emissions(
            data,
            winds,
            sources.sel(source=[target]),
            "NO2",
            crs=crs,
            dx=opts["dx_m"],
            f_model=f_model,
            decay_time=chem["tau_s"],
            variable="NO2_minus_estimated_background_mass",
        )
    except Exception as exc:  # noqa: BLE001 - ddeq's failures are part of its yield
        if os.environ.get("DDEQ_COMPARE_TRACEBACK"):
            traceback.print_exc()
        out["status"] = f"ddeq error: {type(exc).__name__}: {str(exc)[:120]}"
        return out
    if res is None or target not in res.source.values or "NOx_emissions" not in res:
        out["status"] = "CSF gave no estimate"
        return out
    r = res.sel(source=target)
    q = float(r["NOx_emissions"])
    out["NOx_emissions_kg_s"] = q
    out["NOx_emissions_precision_kg_s"] = float(r["NOx_emissions_precision"])
    if "NOx_flux" in r:
        fl = np.asarray(r["NOx_flux"], float)
        out["NOx_flux_median_kg_s"] = (
            float(np.nanmedian(fl)) if np.isfinite(fl).any() else float("nan")
        )
        out["n_polygons"] = int(np.isfinite(fl).sum())
    out["status"] = "ok" if np.isfinite(q) else "CSF fit failed"
    return out


def _patch_gauss_single_plume(ddeq) -> None:
    """ddeq 1.1's ``gauss.total_plume_model`` hands the array of all source positions to
    ``curves.BezierCurve``, which calls ``float()`` on it: a TypeError for every source with
    NumPy ≥ 2.4 (``float`` of a 1-element array, deprecated since 1.25).  For a single plume
    (the only case run here: overlapping plumes are skipped) the source's own position is passed
    instead; nothing else of ddeq is changed."""
    gauss = ddeq.gauss
    if getattr(gauss.total_plume_model, "_single_plume_shim", False):
        return
    original = gauss.total_plume_model

    def total_plume_model(params, x, y, x_source, y_source, numplumes, diameters):
        if numplumes != 1:
            raise ValueError(f"only single plumes are fitted here, got {numplumes}")
        xs = float(np.ravel(x_source)[0])
        ys = float(np.ravel(y_source)[0])
        return original(params, x, y, xs, ys, numplumes, diameters)

    total_plume_model._single_plume_shim = True
    gauss.total_plume_model = total_plume_model


def _ddeq_gauss(
    data, table: list[dict], target: str, wind: dict, chem: dict, prior_nox_kg_s: float, opts: dict
) -> dict:
    """ddeq's plume detection + Gaussian-plume fit (``ddeq.gauss.estimate_emissions``) for
    ``target`` on a cropped scene.

    ddeq fits the NO2 mass column with a Gaussian plume of emission ``Q`` (kg/s of NO2), the
    prior wind speed, first-order decay with ``chem["tau_s"]`` (fixed) and a fitted eddy
    diffusivity, centre curve and background; ``Q`` starts at the prior and ddeq bounds it to
    0.1–1.9 × the prior.  ddeq's plume model has no NO→NO2 conversion, so the prior is handed
    over as NO2 (``prior_nox_kg_s · r_eq``) and the fitted NO2 emission is returned as NOx
    (``Q / r_eq``), the equilibrium NO2/NOx ratio the plume reaches after ~1 h.

    Returns
    -------
    dict
        ``status``, ``NOx_emissions_kg_s`` (NaN when none), its precision and the fitted eddy
        diffusivity (m² s⁻¹).
    """
    ddeq, crs, sources = _ddeq_setup(table, target)
    out = {
        "status": "",
        "NOx_emissions_kg_s": float("nan"),
        "NOx_emissions_precision_kg_s": float("nan"),
        "prior_NOx_kg_s": prior_nox_kg_s,
    }
    req = chem["req"]
    _patch_gauss_single_plume(ddeq)
    try:
        data = data.copy()
        data["NO2"].attrs["noise_level"] = float(np.nanmedian(data["NO2_std"].values))
        data, out["status"] = _detect_plume(ddeq, data, sources, target, opts, crs)
        if out["status"]:
            return out
        data = data.sel(source=[target])
        data, winds = _plume_signal_and_wind(ddeq, data, target, wind)
        priors = {target: {"NO2": {"Q": prior_nox_kg_s * req, "tau": chem["tau_s"]}}}
        _, res = ddeq.gauss.estimate_emissions(
            data,
            winds,
            sources.sel(source=[target]),
            "NO2",
            priors=priors,
            fit_decay_times=False,
            skip_overlapping_plumes=True,
        )
    except Exception as exc:  # noqa: BLE001 - ddeq's failures are part of its yield
        if os.environ.get("DDEQ_COMPARE_TRACEBACK"):
            traceback.print_exc()
        out["status"] = f"ddeq error: {type(exc).__name__}: {str(exc)[:120]}"
        return out
    r = res.sel(source=target)
    q = float(r["NO2_emissions"])
    out["NOx_emissions_kg_s"] = q / req
    out["NOx_emissions_precision_kg_s"] = float(r["NO2_emissions_precision"]) / req
    key = "NO2_eddy_diffusivity_coefficient"
    out["eddy_diffusivity_m2_s"] = float(r[key]) if key in r else float("nan")
    out["status"] = "ok" if np.isfinite(q) else "Gaussian fit gave no reliable estimate"
    return out


def _read_scene(path: str):
    """A synthetic S5P file through ddeq's reader, with pixel-centre lon/lat from the file."""
    import ddeq
    import xarray as xr

    data = ddeq.sats.read_S5P(path, gas="NO2", qa_value=0.75)
    with xr.open_dataset(path, group="PRODUCT") as prod:
        data["lon"] = (("scanline", "ground_pixel"), prod["longitude"].values[0])
        data["lat"] = (("scanline", "ground_pixel"), prod["latitude"].values[0])
    for name in ("scanline", "ground_pixel", "layer"):
        if name in data.coords:
            data = data.drop_vars(name)
    keep = [
        "lon",
        "lat",
        "NO2",
        "NO2_std",
        "surface_pressure",
        "longitude_bounds",
        "latitude_bounds",
    ]
    data = data[keep]
    return data.assign_coords(lon=data["lon"], lat=data["lat"])


def _ddeq_scene(scene: dict, job: dict, method: str = "csf") -> list[dict]:
    """Every source of one overpass through ddeq's CSF (``method="csf"``) or its Gaussian-plume
    fit (``"gauss"``, the crop widened to ``GAUSS_MIN_ACROSS`` pixels across), each cropped
    around its source."""
    data = _read_scene(scene["file"])
    results = []
    for target in scene["targets"]:
        src = next(s for s in job["sources"] if s["name"] == target["name"])
        win = crop_window(
            data["lon"].values, data["lat"].values, src["lon"], src["lat"], job["box_km"] / 2
        )
        rec = {"file": Path(scene["file"]).name, "hour": scene["hour"], "name": target["name"]}
        if win is None:
            rec.update(status="source outside the swath", NOx_emissions_kg_s=float("nan"))
            results.append(rec)
            continue
        cols = (
            widen(win[1], GAUSS_MIN_ACROSS, data.sizes["ground_pixel"])
            if method == "gauss"
            else win[1]
        )
        crop = data.isel(scanline=win[0], ground_pixel=cols)
        # the other sources in the box (their plumes may overlap the target's)
        lo, la = crop["lon"].values, crop["lat"].values
        inbox = [
            s
            for s in job["sources"]
            if np.nanmin(lo) <= s["lon"] <= np.nanmax(lo)
            and np.nanmin(la) <= s["lat"] <= np.nanmax(la)
        ]
        if not np.isfinite(crop["NO2"].values).any() or src not in inbox:
            rec.update(status="no usable pixels at the source", NOx_emissions_kg_s=float("nan"))
            results.append(rec)
            continue
        t0 = time.perf_counter()
        name, wind, opts = target["name"], target["wind"], job["opts"]
        chem = scene.get("chem", job["chem"])  # the truth's, per overpass, with --truth-chemistry
        if method == "gauss":
            rec.update(_ddeq_gauss(crop, inbox, name, wind, chem, target["prior_nox_kg_s"], opts))
        else:
            rec.update(_ddeq_csf(crop, inbox, name, wind, chem, opts))
        rec["seconds"] = time.perf_counter() - t0
        results.append(rec)
    return results


def ddeq_jobs(job_path: str, out_path: str, method: str = "csf") -> None:
    """Run under the ddeq environment: every (overpass, source) job of ``job_path`` with
    ddeq's CSF (``method="csf"``, cached in ``<job folder>/ddeq_scenes/``) or its Gaussian-plume
    fit (``"gauss"``, in ``<job folder>/ddeq_gauss/``).  Each overpass is claimed with a lock
    file, so several of these processes can share a job (each waits for the others' overpasses,
    then writes ``out_path``; after a crash remove the ``.lock`` files left without their
    ``.json``)."""
    job = json.loads(Path(job_path).read_text())
    default = "ddeq_scenes" if method == "csf" else "ddeq_gauss"
    folder = Path(job_path).parent / job.get("cache_folder", default)
    folder.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    for scene in job["scenes"]:
        done = folder / (Path(scene["file"]).stem + ".json")
        lock = done.with_suffix(".lock")
        if done.exists():
            continue
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            continue  # another process has it
        part = done.with_suffix(".part")
        part.write_text(json.dumps(_ddeq_scene(scene, job, method)))
        part.rename(done)
    files = [folder / (Path(sc["file"]).stem + ".json") for sc in job["scenes"]]
    while not all(f.exists() for f in files):  # another process is on the rest
        time.sleep(10)
    results = [r for f in files for r in json.loads(f.read_text())]
    Path(out_path).write_text(
        json.dumps({"results": results, "seconds": time.perf_counter() - t0}, indent=1)
    )


def _smartcarb_rerun() -> dict:
    """ddeq's shipped SMARTCARB scene (CO2M-like, 2015-04-23 11 UTC, orbit 1670) through its CSF
    chain with its shipped winds and source list (NO2 converted with ddeq's default factor
    1.32); each estimate beside the SMARTCARB true emission of that hour."""
    import warnings

    import cartopy.crs as ccrs
    import ddeq
    import pandas as pd
    import xarray as xr

    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    when = pd.Timestamp("2015-04-23 11:00")
    path = Path(ddeq.DATA_PATH) / "Sentinel_7_CO2_2015042311_o1670_l0483.nc"
    sources = ddeq.sources.read_smartcarb(time=xr.DataArray(when))
    data = ddeq.smartcarb.read_level2(
        str(path), co2_noise_scenario="medium", no2_noise_scenario="high"
    )
    winds = ddeq.wind.read_smartcarb(when, sources.lon, sources.lat, data_path=ddeq.DATA_PATH)
    crs = ccrs.UTM(33)
    data = ddeq.dplume.detect_plumes(
        data, sources, variable="NO2", variable_std="NO2_std", var_sys=(0.5e15) ** 2, crs=crs
    )
    found = [str(s) for s in data.source.values if int(data["detected_plume"].sel(source=s).sum())]
    data = data.sel(source=found)
    data = ddeq.curves.fit_to_detections(data)
    data = ddeq.curves.compute_natural_coords(data)
    data = ddeq.curves.compute_plume_areas(data)
    for gas in ("CO2", "NO2"):
        data = ddeq.background.estimate(data, gas)
        data = ddeq.emissions.compute_plume_signal(data, gas)
        ddeq.emissions.convert_units(data, gas, f"{gas}_minus_estimated_background")
    rows = []
    for name in found:  # one source at a time (ddeq's concatenation of sources can fail)
        try:
            res = ddeq.csf.estimate_emissions(
                data,
                winds,
                sources.sel(source=[name]),
                ["CO2", "NO2"],
                crs=crs,
                dx=10e3,
                f_model=1.32,
                decay_time=4 * 3600.0,  # used only for a plume with one line density
            )
        except Exception as exc:  # noqa: BLE001 - reported
            rows.append({"source": name, "status": f"{type(exc).__name__}: {str(exc)[:100]}"})
            continue
        s = sources.sel(source=name)
        row = {
            "source": name,
            "status": "no estimate" if res is None else "ok",
            "CO2_truth_kg_s": float(s["true_CO2_emissions"]),
            "NOx_truth_kg_s": float(s["true_NOx_emissions"]),
        }
        if res is not None:
            r = res.sel(source=name)
            for gas in ("CO2", "NOx"):
                key = f"{gas}_emissions"
                row[f"{gas}_estimate_kg_s"] = float(r[key]) if key in r else float("nan")
        rows.append(row)
    return {
        "scene": path.name,
        "sources_in_scene": int(data.source.size),
        "plumes_detected": found,
        "estimates": rows,
        "seconds": time.perf_counter() - t0,
    }


#: chemistry of the closed-form cases (gridcarbon's defaults: 4 h lifetime, NO2/NOx 0.1 at the
#: stack rising to 0.75 with a 30 min e-folding time)
CLOSED_FORM_CHEM = {"tau_s": 4 * 3600.0, "r0": 0.1, "req": 0.75, "tconv_s": 1800.0}


def _closed_form_scene(q: float, u: float, chem: dict, direction_to: float, k: int, nx: int = 40):
    """A closed-form Gaussian NO2 plume (:func:`gaussian_plume_column`) of NOx emission ``q``
    (kg/s) on TROPOMI-like pixels (3.5 × 5.5 km²) around a source at 121 °E, 30 °N, wind
    ``u`` (m/s) blowing to ``direction_to`` (degrees), ``nx`` pixels across track and 26 along;
    draw ``k`` > 0 adds slant-column noise
    (8.6 µmol m⁻² / AMF 1.5, seed ``k``).  Returns the ddeq-ready scene, source table and wind."""
    import xarray as xr

    lon0, lat0 = 121.0, 30.0
    ny, dxp, dyp = 26, 3500.0, 5500.0
    xe = (np.arange(nx + 1) - nx / 2) * dxp
    ye = (np.arange(ny + 1) - ny / 2) * dyp
    kx = 111.32e3 * math.cos(math.radians(lat0))
    ky = 110.57e3
    xc, yc = 0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1])
    X, Y = np.meshgrid(xc, yc)
    th = math.radians(direction_to)
    along = X * math.sin(th) + Y * math.cos(th)
    cross = -X * math.cos(th) + Y * math.sin(th)
    kg = gaussian_plume_column(along, cross, q, u, **chem)
    mol = kg / (M_NO2 * 1e-3)
    rng = np.random.default_rng(k)
    noise_sd = 0.0 if k == 0 else 8.6e-6 / 1.5  # slant noise / a typical tropospheric AMF
    bg = 2e-5
    no2 = bg + mol + rng.normal(0.0, max(noise_sd, 1e-12), mol.shape)
    corners_x = np.stack([X - dxp / 2, X + dxp / 2, X + dxp / 2, X - dxp / 2], axis=-1)
    corners_y = np.stack([Y - dyp / 2, Y - dyp / 2, Y + dyp / 2, Y + dyp / 2], axis=-1)
    data = xr.Dataset(
        {
            "NO2": (
                ("scanline", "ground_pixel"),
                no2,
                {"units": "mol m-2", "noise_level": max(noise_sd, 1e-7)},
            ),
            "NO2_std": (
                ("scanline", "ground_pixel"),
                np.full(mol.shape, max(noise_sd, 1e-7)),
                {"units": "mol m-2"},
            ),
            "surface_pressure": (("scanline", "ground_pixel"), np.full(mol.shape, 101325.0)),
            "longitude_bounds": (("scanline", "ground_pixel", "corner"), lon0 + corners_x / kx),
            "latitude_bounds": (("scanline", "ground_pixel", "corner"), lat0 + corners_y / ky),
        },
        coords={
            "lon": (("scanline", "ground_pixel"), lon0 + X / kx),
            "lat": (("scanline", "ground_pixel"), lat0 + Y / ky),
        },
    )
    data.attrs["time"] = "2023-01-15T05:30:00"
    table = [{"name": "closed_form", "lon": lon0, "lat": lat0, "diameter_m": 1000.0}]
    wind = {"speed": u, "speed_precision": 0.0, "direction": (direction_to + 180.0) % 360}
    return data, table, wind


def gauss_example(out_path: str, n_noise: int) -> None:
    """Run under the ddeq environment: the closed-form Gaussian plume through ddeq's
    Gaussian-plume fit (:func:`_ddeq_gauss`), starting from a prior of 0.6, 1.0 and 1.5 × the
    true emission (ddeq bounds the estimate to 0.1–1.9 × its prior)."""
    q, u, chem = 0.5, 4.0, dict(CLOSED_FORM_CHEM)
    cases = []
    for direction_to in (90.0, 30.0):
        for prior_factor in (0.6, 1.0, 1.5):
            for k in range(n_noise + 1):
                data, table, wind = _closed_form_scene(
                    q, u, chem, direction_to, k, nx=GAUSS_MIN_ACROSS + 6
                )
                res = _ddeq_gauss(
                    data,
                    table,
                    "closed_form",
                    wind,
                    chem,
                    prior_factor * q,
                    {"var_sys": (8.3e-6) ** 2 if k else 0.0},
                )
                cases.append(
                    {
                        "direction_to_deg": direction_to,
                        "prior_factor": prior_factor,
                        "noise_draw": k,
                        **res,
                    }
                )
    rep = {"q_true_kg_s": q, "wind_m_s": u, **chem, "cases": cases}
    Path(out_path).write_text(json.dumps(rep, indent=1))


def print_gauss_example(rep: dict) -> None:
    q = rep["q_true_kg_s"]
    print(
        f"closed-form Gaussian plume through ddeq.gauss.estimate_emissions: Q = {q} kg/s NOx, "
        f"u = {rep['wind_m_s']} m/s, tau = {rep['tau_s'] / 3600:.1f} h, r0 = {rep['r0']}, "
        f"r_eq = {rep['req']}; NOx = fitted NO2 emission / r_eq"
    )
    cases = rep["cases"]
    for d in sorted({c["direction_to_deg"] for c in cases}):
        for f in sorted({c["prior_factor"] for c in cases}):
            cs = [c for c in cases if c["direction_to_deg"] == d and c["prior_factor"] == f]
            clean = next(c for c in cs if c["noise_draw"] == 0)
            noisy = [c for c in cs if c["noise_draw"] > 0]
            est = np.array([c["NOx_emissions_kg_s"] for c in noisy], float)
            ok = np.isfinite(est)
            med = float(np.median(est[ok] / q)) if ok.any() else float("nan")
            print(
                f"  wind to {d:.0f} deg, prior {f:.1f} x truth: noise-free Q/Q_true = "
                f"{clean['NOx_emissions_kg_s'] / q:.3f} ({clean['status']}); with noise: "
                f"{int(ok.sum())}/{len(noisy)} quantified, median Q/Q_true {med:.3f}, median "
                f"|rel. error| {median_abs_rel_error(est, np.full(est.shape, q)):.3f}"
            )


def ddeq_example(out_path: str, n_noise: int) -> None:
    """Run under the ddeq environment: (a) the shipped CSF example's own figures, (b) the
    closed-form Gaussian plume through ddeq's chain."""
    import importlib.metadata

    import ddeq
    import xarray as xr

    rep: dict = {"ddeq_version": importlib.metadata.version("ddeq")}
    # (a) the shipped example: ddeq's CSF estimates of the SMARTCARB images and the truth
    ex = xr.open_dataset(Path(ddeq.DATA_PATH) / "SMARTCARB_CSF_example.nc")
    shipped = {}
    for gas in ("CO2", "NOx"):
        est = ex[f"{gas}_estimates"].values
        tru = ex[f"{gas}_truth"].values
        ok = np.isfinite(est) & np.isfinite(tru) & (tru > 0)
        rel = (est[ok] - tru[ok]) / tru[ok]
        shipped[gas] = {
            "n_estimates": int(ok.sum()),
            "n_source_images": int(est.size),
            "median_abs_rel_error": float(np.median(np.abs(rel))),
            "median_rel_error": float(np.median(rel)),
            "per_source_median_abs_rel_error": {
                str(s): float(np.median(np.abs((e[o] - t[o]) / t[o]))) if o.any() else float("nan")
                for s, e, t, o in zip(ex.source.values, est, tru, ok, strict=True)
            },
        }
    rep["shipped_csf_example"] = shipped
    rep["shipped_files"] = sorted(p.name for p in Path(ddeq.DATA_PATH).iterdir())
    rep["missing_for_rerun"] = [
        f
        for f in ("sources-smartcarb.csv", "sources.csv")
        if not (Path(ddeq.DATA_PATH) / f).exists()
    ]
    rep["smartcarb_rerun"] = _smartcarb_rerun()
    # (b) closed form: TROPOMI-like pixels (3.5 km across x 5.5 km along track) around a source
    q, u, chem = 0.5, 4.0, dict(CLOSED_FORM_CHEM)
    cases = []
    for direction_to in (90.0, 30.0):
        for k in range(n_noise + 1):
            data, table, wind = _closed_form_scene(q, u, chem, direction_to, k)
            res = _ddeq_csf(
                data,
                table,
                "closed_form",
                wind,
                chem,
                {"var_sys": (8.3e-6) ** 2 if k else 0.0, "radius_m": 25e3, "dx_m": 10e3},
            )
            cases.append({"direction_to_deg": direction_to, "noise_draw": k, **res})
    rep["closed_form"] = {"q_true_kg_s": q, "wind_m_s": u, **chem, "cases": cases}
    Path(out_path).write_text(json.dumps(rep, indent=1))


def _run_ddeq(ddeq_python: str, args: list[str]) -> None:
    subprocess.run([ddeq_python, __file__, "--ddeq-side", *args], check=True)


def print_example(rep: dict) -> None:
    print(f"ddeq version {rep['ddeq_version']}")
    for gas, s in rep["shipped_csf_example"].items():
        print(
            f"shipped SMARTCARB_CSF_example.nc, {gas}: {s['n_estimates']} CSF estimates of "
            f"{s['n_source_images']} source-images; median |rel. error| "
            f"{s['median_abs_rel_error']:.3f}, median rel. error {s['median_rel_error']:+.3f}"
        )
    if rep["missing_for_rerun"]:
        print(f"not shipped (needed to re-run the SMARTCARB example): {rep['missing_for_rerun']}")
    sc = rep["smartcarb_rerun"]
    print(
        f"re-run of the shipped SMARTCARB scene {sc['scene']} ({sc['seconds']:.0f} s): "
        f"{sc['sources_in_scene']} sources in the swath, NO2 plumes detected for "
        f"{len(sc['plumes_detected'])}"
    )
    print(f"  {'source':16s} {'CO2 est/true':>13s} {'NOx est/true':>13s}  status")
    for r in sc["estimates"]:
        ratio = {
            g: r.get(f"{g}_estimate_kg_s", float("nan")) / r[f"{g}_truth_kg_s"]
            for g in ("CO2", "NOx")
            if f"{g}_truth_kg_s" in r
        }
        print(
            f"  {r['source']:16s} {ratio.get('CO2', float('nan')):13.2f} "
            f"{ratio.get('NOx', float('nan')):13.2f}  {r['status']}"
        )
    for g in ("CO2", "NOx"):
        est = np.array([r.get(f"{g}_estimate_kg_s", np.nan) for r in sc["estimates"]], float)
        tru = np.array([r.get(f"{g}_truth_kg_s", np.nan) for r in sc["estimates"]], float)
        print(
            f"  {g}: {int(np.isfinite(est).sum())} estimates, median |rel. error| "
            f"{median_abs_rel_error(est, tru):.3f}"
        )
    cf = rep["closed_form"]
    print(
        f"closed-form Gaussian plume: Q = {cf['q_true_kg_s']} kg/s NOx, u = {cf['wind_m_s']} m/s, "
        f"tau = {cf['tau_s'] / 3600:.1f} h, r0 = {cf['r0']}, r_eq = {cf['req']}"
    )
    for d in sorted({c["direction_to_deg"] for c in cf["cases"]}):
        cs = [c for c in cf["cases"] if c["direction_to_deg"] == d]
        clean = cs[0]
        noisy = np.array([c["NOx_emissions_kg_s"] for c in cs[1:]], float)
        ok = np.isfinite(noisy)
        print(
            f"  wind to {d:.0f} deg: noise-free Q/Q_true = "
            f"{clean['NOx_emissions_kg_s'] / cf['q_true_kg_s']:.3f} ({clean['status']}); "
            f"with noise: {ok.sum()}/{noisy.size} quantified, median Q/Q_true "
            f"{np.median(noisy[ok]) / cf['q_true_kg_s'] if ok.any() else float('nan'):.3f}, "
            f"median |rel. error| {median_abs_rel_error(noisy, np.full(noisy.size, cf['q_true_kg_s'])):.3f}"
        )


# -- gridcarbon side -------------------------------------------------------------------------
def _config(month: int, extra: list[str], truth_chemistry: bool = False):
    """The comparison's run configuration: the month, a 100 % prior σ, the OSSE's simulated
    TROPOMI NO2 files (with ``truth_chemistry`` the diagnostic that hands each file's truth
    chemistry to the column operator) and the ``--set`` items."""
    import datetime as dt

    import pandas as pd
    import yaml

    from gridcarbon.config import RunConfig

    start = dt.date(2023, month, 1)
    end = (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
    inversion: dict = {
        "state": {"prior_error": 1.0, "point_prior_error": 1.0},
        "osse": {"satellite": "tropomi_no2", "satellite_truth_chemistry": truth_chemistry},
    }
    for item in extra:
        key, _, value = item.partition("=")
        group, name = key.split(".", 1)
        inversion.setdefault(group, {})[name] = yaml.safe_load(value)
    return RunConfig.validate_dict(
        {"period": {"start": str(start), "end": str(end)}, "inversion": inversion}
    )


def _source_table(system, scenario, met_source, city_radius_cap_km: float) -> list[dict]:
    """The 20 largest CO2 stacks (own factors) merged within 10 km, and the urban cores of the
    scenario's cities: name, lon/lat, ddeq diameter, stack height, and the members."""
    from gridcarbon.inversion.osse import city_matrix

    g = system.grid
    L = system.layout
    pts = system.points.iloc[L.point_index]
    labels = merge_within(pts["x"].to_numpy() / 1e3, pts["y"].to_numpy() / 1e3)
    table = []
    for k in np.unique(labels):
        idx = L.point_index[labels == k]
        own = np.flatnonzero(labels == k)
        p = system.points.iloc[idx]
        co2 = system.Ep[system.species.index("CO2")][:, idx].sum(axis=0)
        w = co2 / co2.sum()
        x, y = float(np.dot(w, p["x"])), float(np.dot(w, p["y"]))
        lon, lat = g.unproject(x, y)
        spread = float(np.max(np.hypot(p["x"] - x, p["y"] - y))) if len(p) > 1 else 0.0
        table.append(
            {
                "name": "stack_" + "+".join(str(i) for i in p["point_id"]),
                "kind": "stack",
                "lon": float(lon),
                "lat": float(lat),
                "x": x,
                "y": y,
                "diameter_m": max(1000.0, 2 * spread),
                "release_height_m": float(np.dot(w, p["height"])),
                "points": [int(i) for i in idx],
                "own": [int(i) for i in own],
                "n_merged": len(idx),
            }
        )
    codes = list(scenario.cities)
    cover = city_matrix(system, scenario.boundaries["city"], codes)
    nox = system.species.index("NOx")
    ex, ey = np.meshgrid(g.x, g.y)
    ex, ey = ex.ravel(), ey.ravel()
    for r, code in enumerate(codes):
        frac = np.asarray(cover[r].todense()).ravel()
        urban = (frac > 0.5) & system.urban
        e = system.E[nox][:, urban].mean(axis=0, dtype=np.float64)
        x = float(np.dot(e, ex[urban]) / e.sum())
        y = float(np.dot(e, ey[urban]) / e.sum())
        radius = min(math.sqrt(urban.sum() * g.cell_area / math.pi), city_radius_cap_km * 1e3)
        cells = np.flatnonzero(np.hypot(ex - x, ey - y) <= radius)
        lon, lat = g.unproject(x, y)
        table.append(
            {
                "name": f"city_{scenario.cities[code]}",
                "kind": "city",
                "lon": float(lon),
                "lat": float(lat),
                "x": x,
                "y": y,
                "diameter_m": 2 * radius,
                "release_height_m": 10.0,
                "cells": [int(c) for c in cells],
            }
        )
    return table


def site_disks(system, stacks: list[dict], radius_km: float) -> list[dict]:
    """Per stack source, its site: every cell within ``radius_km`` of it (area and point
    emissions of those cells), scored for gridcarbon alone.  At TROPOMI's 3.5 × 5.5 km pixels a
    stack and the area sources of its own and the next cells have nearly the same columns, so
    the site's total is what the columns can tell; the split inside it is the prior's."""
    g = system.grid
    ex, ey = np.meshgrid(g.x, g.y)
    ex, ey = ex.ravel(), ey.ravel()
    return [
        {
            "name": "site_" + src["name"].removeprefix("stack_"),
            "kind": "site",
            "cells": [
                int(c)
                for c in np.flatnonzero(np.hypot(ex - src["x"], ey - src["y"]) <= radius_km * 1e3)
            ],
        }
        for src in stacks
        if src["kind"] == "stack"
    ]


def _emission_at_hour(system, x: np.ndarray, src: dict, hour: int, truth=None) -> float:
    """NOx emission (kg/h) of a source at ``hour``: prior × factors ``x`` (or the truth)."""
    si = system.species.index("NOx")
    L = system.layout
    if src["kind"] == "stack":
        if truth is not None:
            return float(truth.points[si][hour, src["points"]].sum())
        cols = L.segments["points"].start + si * L.point_index.size + np.array(src["own"])
        return float(np.dot(system.Ep[si][hour, src["points"]], x[cols]))
    cells = np.array(src["cells"])
    in_cells = np.isin(system.point_cells, cells)
    if truth is not None:
        pc = truth.point_cells(system)
        return float(
            truth.area[si][hour, cells].sum(dtype=np.float64)
            + truth.points[si][hour, np.isin(pc, cells)].sum(dtype=np.float64)
        )
    w = L.hour_window()[hour]
    cb = L.cell_block()
    area = np.dot(system.E[si][hour, cells].astype(np.float64), x[L.grid_col(si, w, cb[cells])])
    own = np.full(len(system.points), -1)
    own[L.point_index] = np.arange(L.point_index.size)
    pts = np.flatnonzero(in_cells)
    cols = np.where(
        own[pts] >= 0,
        L.segments["points"].start + si * L.point_index.size + own[pts],
        L.grid_col(si, w, cb[system.point_cells[pts]]),
    )
    return float(area + np.dot(system.Ep[si][hour, pts].astype(np.float64), x[cols]))


def _prior_wind(system, scenario, src: dict, when) -> dict:
    """The prior's plume-depth mean wind at the source at ``when`` (speed, direction from)."""
    import pandas as pd

    from gridcarbon.inversion.columns import ColumnSettings
    from gridcarbon.inversion.meteorology import met_at_points
    from gridcarbon.kernels.column import plume_depth_wind

    cfg = system.config
    t = pd.DatetimeIndex([when])
    met = scenario.meteorology.for_hours(pd.date_range(t[0].floor("h"), periods=2, freq="h"))
    pm = met_at_points(met, t, np.array([src["lon"]]), np.array([src["lat"]]))
    u10 = max(float(pm.speed[0, 0]), cfg.transport.calm_floor_m_s)
    cell = system.cells_of(np.array([src["x"]]), np.array([src["y"]]))[0]
    u = plume_depth_wind(
        u10,
        int(pm.stability[0, 0]),
        bool(system.urban[cell]),
        src["release_height_m"],
        ColumnSettings().plume_depth_m,
    )
    return {"speed": float(u), "speed_precision": 0.0, "direction": float(pm.direction_from[0, 0])}


def gridcarbon_replicate(ctx: dict, seed: int, rep_dir: Path) -> dict:
    """Truth, simulated TROPOMI files (kept), column-only inversion and the per-source table of
    one replicate; written to ``rep_dir/gridcarbon.json``."""
    import pandas as pd

    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.osse import make_truth
    from gridcarbon.pipeline import osse_column_simulator
    from gridcarbon.scenario import satellite_synthetic as ss

    system, scenario, cfg, area_shares = ctx["system"], ctx["scenario"], ctx["cfg"], ctx["shares"]
    truth_chemistry = bool(ctx["truth_chemistry"])
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    truth = make_truth(system, rng, "perturbed", cfg, area_shares)
    # the satellite files of gridcarbon's OSSE, made by its own simulator from the replicate's
    # whole truth (its --set errors.* switches and, with --truth-chemistry, the diagnostic
    # osse.satellite_truth_chemistry included) and kept for ddeq; a killed replicate's files
    # (this script's own) are made again
    rep_dir.mkdir(parents=True, exist_ok=True)
    for old in rep_dir.glob("S5P_SYNT_L2__NO2____*.nc"):
        old.unlink()
    simulation = osse_column_simulator(scenario, cfg, files_dir=rep_dir)(system, truth, seed)
    factor = float(simulation.info["satellite_lifetime_factor"])
    times = pd.DatetimeIndex(system.times)
    kinds, scenes = [], []
    for kind in simulation.kinds:
        if not len(kind.assimilated(system)):
            continue
        day = pd.Timestamp(kind.name.removeprefix("s5p_"))
        when = ss.tropomi_overpass_time(system.grid, day)
        hour = int(np.floor((when - times[0]) / pd.Timedelta(hours=1)))
        kinds.append(kind)
        path = rep_dir / ss.tropomi_file_name(day)
        scene = {"file": str(path), "hour": hour, "time": str(when), "day": f"{day:%Y-%m-%d}"}
        if truth_chemistry:  # ddeq gets the same: the truth's lifetime and flat NO2/NOx ratio
            ratio = float(kind.settings.no2_ratio)
            scene["chem"] = {
                **ctx["chem"],
                "tau_s": float(kind.settings.lifetime_h) * 3600.0,
                "r0": ratio,
                "req": ratio,
            }
        scenes.append(scene)
    t_sim = time.perf_counter() - t0
    res = assimilate(system, kinds, build_posterior=False)
    t_inv = time.perf_counter() - t0 - t_sim
    xb = system.layout.xb()
    rows = []
    for sc in scenes:
        for src in ctx["sources"]:
            rows.append(
                {
                    "name": src["name"],
                    "kind": src["kind"],
                    "hour": sc["hour"],
                    "file": Path(sc["file"]).name,
                    "truth_kg_h": _emission_at_hour(system, xb, src, sc["hour"], truth),
                    "prior_kg_h": _emission_at_hour(system, xb, src, sc["hour"]),
                    "posterior_kg_h": _emission_at_hour(system, res.x_post, src, sc["hour"]),
                }
            )
    sites = site_disks(system, ctx["sources"], ctx["site_radius_km"])
    site_rows = [
        {
            "name": site["name"],
            "hour": sc["hour"],
            "truth_kg_h": _emission_at_hour(system, xb, site, sc["hour"], truth),
            "prior_kg_h": _emission_at_hour(system, xb, site, sc["hour"]),
            "posterior_kg_h": _emission_at_hour(system, res.x_post, site, sc["hour"]),
        }
        for sc in scenes
        for site in sites
    ]
    out = {
        "seed": seed,
        "lifetime_factor": factor,
        "scenes": scenes,
        "rows": rows,
        "site_radius_km": ctx["site_radius_km"],
        "site_rows": site_rows,
        "seconds_simulation": t_sim,
        "seconds_inversion": t_inv,
        "n_overpasses_used": len(kinds),
        "truth_chemistry": truth_chemistry,
        "settings": ctx["settings"],
        "satellite_files": SATELLITE_FILES,
    }
    (rep_dir / "gridcarbon.json").write_text(json.dumps(out, indent=1))
    return out


def _ddeq_job(ctx: dict, g: dict, rep_dir: Path, args) -> Path:
    """The ddeq job of a replicate: every usable overpass × source with the prior wind."""
    import pandas as pd

    chem = ctx["chem"]
    scenes = []
    for sc in g["scenes"]:
        when = pd.Timestamp(sc["time"])
        targets = [
            {"name": s["name"], "wind": _prior_wind(ctx["system"], ctx["scenario"], s, when)}
            for s in ctx["sources"]
        ]
        scene = {"file": sc["file"], "hour": sc["hour"], "targets": targets}
        if "chem" in sc:
            scene["chem"] = sc["chem"]
        scenes.append(scene)
    job = {
        "scenes": scenes,
        "sources": [
            {k: s[k] for k in ("name", "lon", "lat", "diameter_m")} for s in ctx["sources"]
        ],
        "chem": chem,
        "box_km": args.box_km,
        "opts": {"var_sys": (8.3e-6) ** 2, "radius_m": 25e3, "dx_m": args.dx_km * 1e3},
    }
    path = rep_dir / "ddeq_job.json"
    path.write_text(json.dumps(job, indent=1))
    return path


def _gauss_suffix(prior_factor: float) -> str:
    """File-name suffix of a Gaussian-plume run started from ``prior_factor`` × the prior."""
    return "" if prior_factor == 1.0 else f"_x{prior_factor:g}"


def _gauss_job(rep_dir: Path, isolated: list[str], prior_factor: float = 1.0) -> Path:
    """The Gaussian-plume job of a replicate, from its CSF job (scenes, prior winds, chemistry)
    and its gridcarbon rows (``prior_factor`` × the prior NOx emission at the overpass hour,
    ddeq's starting value and bounds): every usable overpass × isolated stack."""
    job = json.loads((rep_dir / "ddeq_job.json").read_text())
    g = json.loads((rep_dir / "gridcarbon.json").read_text())
    prior = {(r["name"], r["hour"]): r["prior_kg_h"] / 3600.0 for r in g["rows"]}
    for sc in job["scenes"]:
        sc["targets"] = [
            {**t, "prior_nox_kg_s": prior_factor * prior[(t["name"], sc["hour"])]}
            for t in sc["targets"]
            if t["name"] in isolated
        ]
    suffix = _gauss_suffix(prior_factor)
    job["cache_folder"] = f"ddeq_gauss{suffix}"
    path = rep_dir / f"gauss_job{suffix}.json"
    path.write_text(json.dumps(job, indent=1))
    return path


def _isolated(args, out: Path) -> dict:
    """The isolated stacks (:func:`isolated_stacks`), cached in ``--out``/isolated.json:
    ``strict`` counts every point source of the inventory as another source, ``isolated`` (the
    ones fitted) only the comparison's sources (the 20 largest stacks and the city cores);
    ``neighbour_nox_share`` is, per stack source, the prior NOx of the inventory's other point
    sources within the radius over the source's own."""
    path = out / "isolated.json"
    if not path.exists():
        from gridcarbon.inversion.system import ObservationSystem
        from gridcarbon.pipeline import build_prior, inversion_inputs

        config = _config(1, args.set)
        prior = build_prior(config)
        scenario, _ = inversion_inputs(config, prior, with_observations=False)
        system = ObservationSystem(prior, scenario, config.inversion)
        table = json.loads((out / "sources.json").read_text())
        px, py = system.points["x"].to_numpy(), system.points["y"].to_numpy()
        top = np.zeros(px.size, bool)
        top[system.layout.point_index] = True
        nox = system.Ep[system.species.index("NOx")].mean(axis=0, dtype=np.float64)
        share = {}
        for src in table:
            if src["kind"] != "stack":
                continue
            own = np.zeros(px.size, bool)
            own[src["points"]] = True
            d = np.hypot(px[:, None] - px[own][None], py[:, None] - py[own][None]).min(axis=1)
            near = ~own & (d <= MERGE_KM * 1e3)
            share[src["name"]] = float(nox[near].sum() / nox[own].sum())
        rep = {
            "radius_km": MERGE_KM,
            "strict": isolated_stacks(table, px, py),
            "isolated": isolated_stacks(table, px, py, counted=top),
            "neighbour_nox_share": share,
        }
        path.write_text(json.dumps(rep, indent=1))
    return json.loads(path.read_text())


def run_gauss_part(args, out: Path) -> None:
    """ddeq's Gaussian-plume fit for the isolated stacks of every replicate whose CSF job is
    written (several of these processes can share the overpasses)."""
    iso = _isolated(args, out)
    isolated = iso["isolated"]
    print(
        f"stacks with no other point source of the inventory within {MERGE_KM:.0f} km: "
        f"{len(iso['strict'])}; with no other compared source (20 largest stacks, city cores) "
        f"within {MERGE_KM:.0f} km: {len(isolated)} (fitted), prior NOx of the smaller point "
        "sources within that distance / the stack's own:"
    )
    for name in isolated:
        print(f"  {name:60s} {iso['neighbour_nox_share'][name]:.2f}")
    for seed in range(args.seed, args.seed + args.replicates):
        rep_dir = out / f"seed{seed}"
        done = rep_dir / f"ddeq_gauss{_gauss_suffix(args.gauss_prior_factor)}.json"
        if done.exists() or not (rep_dir / "ddeq_job.json").exists():
            continue
        t1 = time.perf_counter()
        job = _gauss_job(rep_dir, isolated, args.gauss_prior_factor)
        part = done.with_name(f"{done.name}.{os.getpid()}")
        _run_ddeq(args.ddeq_python, ["gauss", str(job), str(part)])
        if part.exists():
            part.rename(done)
        print(f"seed {seed}: ddeq Gaussian plume {time.perf_counter() - t1:.0f} s", flush=True)


def run_osse_part(args, out: Path) -> None:
    from gridcarbon.inversion.osse import area_sector_shares
    from gridcarbon.inversion.system import ObservationSystem
    from gridcarbon.pipeline import build_prior, inversion_inputs

    seeds = list(range(args.seed, args.seed + args.replicates))
    t_start = time.perf_counter()
    ctx: dict | None = None
    for seed in seeds:
        rep_dir = out / f"seed{seed}"
        if (rep_dir / "ddeq.json").exists():
            continue
        if time.perf_counter() - t_start > args.budget_minutes * 60:
            print(f"budget of {args.budget_minutes} min spent; run again to continue", flush=True)
            break
        if ctx is None:
            t0 = time.perf_counter()
            config = _config(1, args.set, args.truth_chemistry)
            prior = build_prior(config)
            scenario, _ = inversion_inputs(config, prior, with_observations=False)
            system = ObservationSystem(prior, scenario, config.inversion)
            chem = config.inversion.chemistry
            ctx = {
                "system": system,
                "scenario": scenario,
                "cfg": config.inversion,
                "shares": area_sector_shares(scenario.inventory, system),
                "chem": {
                    "tau_s": chem.nox_lifetime_day_h * 3600.0,
                    # ddeq is given the conversion gridcarbon's column operator uses
                    # (inversion.columns.no2_conversion): the ramp from the primary fraction,
                    # or the photostationary fraction from the source on
                    "r0": chem.no2_equilibrium_fraction
                    if config.inversion.columns.no2_conversion == "photostationary"
                    else chem.no2_primary_fraction,
                    "req": chem.no2_equilibrium_fraction,
                    "tconv_s": chem.no2_conversion_time_h * 3600.0,
                },
                "truth_chemistry": args.truth_chemistry,
                "settings": list(args.set),
                "site_radius_km": args.site_radius_km,
            }
            ctx["sources"] = _source_table(system, scenario, None, args.city_radius_km)
            (out / "sources.json").write_text(json.dumps(ctx["sources"], indent=1))
            print(f"prior, scenario and system {time.perf_counter() - t0:.1f} s", flush=True)
        g_path = rep_dir / "gridcarbon.json"
        if g_path.exists():
            g = json.loads(g_path.read_text())
            if bool(g.get("truth_chemistry", False)) != args.truth_chemistry:
                raise SystemExit(
                    f"{g_path} was made with truth_chemistry = {g.get('truth_chemistry', False)}; "
                    "give --truth-chemistry as it was, or another --out"
                )
            if g.get("satellite_files") != SATELLITE_FILES:
                raise SystemExit(
                    f"{g_path} was made from files of the truth's inventory alone (before "
                    "2026-12-07: no neighbouring regions' inflow, no biogenic flux); use another "
                    "--out"
                )
            if g.get("settings", []) != list(args.set):
                raise SystemExit(
                    f"{g_path} was made with --set {g.get('settings', [])}, not {args.set}; "
                    "give the same --set, or another --out"
                )
        else:
            g = gridcarbon_replicate(ctx, seed, rep_dir)
            print(
                f"seed {seed}: {g['n_overpasses_used']} overpasses; simulation "
                f"{g['seconds_simulation']:.0f} s, column-only inversion "
                f"{g['seconds_inversion']:.0f} s",
                flush=True,
            )
        job = rep_dir / "ddeq_job.json"
        if not job.exists():
            _ddeq_job(ctx, g, rep_dir, args)
        if args.no_inline_ddeq:
            continue
        t1 = time.perf_counter()
        _ddeq_replicate(args, rep_dir)
        print(f"seed {seed}: ddeq {time.perf_counter() - t1:.0f} s", flush=True)


def _ddeq_replicate(args, rep_dir: Path) -> None:
    part = rep_dir / f"ddeq.json.{os.getpid()}"
    _run_ddeq(args.ddeq_python, ["jobs", str(rep_dir / "ddeq_job.json"), str(part)])
    if part.exists():
        part.rename(rep_dir / "ddeq.json")


def run_ddeq_worker(args, out: Path) -> None:
    """Run the ddeq jobs of the replicates whose gridcarbon side is done (beside the
    gridcarbon process; overpasses are shared through lock files) until none is left and no
    replicate is pending longer than ``--worker-wait-minutes``."""
    seeds = list(range(args.seed, args.seed + args.replicates))
    idle_since = time.perf_counter()
    while True:
        todo = [
            out / f"seed{s}"
            for s in seeds
            if (out / f"seed{s}" / "ddeq_job.json").exists()
            and not (out / f"seed{s}" / "ddeq.json").exists()
        ]
        if todo:
            _ddeq_replicate(args, todo[0])
            idle_since = time.perf_counter()
            continue
        if all((out / f"seed{s}" / "ddeq.json").exists() for s in seeds):
            return
        if time.perf_counter() - idle_since > args.worker_wait_minutes * 60:
            return
        time.sleep(20)


def _scored_estimates(
    out: Path, seeds: list[int], folder: str, column: str, label: str, with_lifetime: bool = False
):
    """One method's estimates (``seed*/<folder>/*.json``) joined to gridcarbon's rows of each
    finished replicate, with ``<column>_kg_h``, ``ok`` and the absolute relative errors of the
    method, the posterior and the prior; None when no replicate has any."""
    import pandas as pd

    frames = []
    for seed in seeds:
        rep_dir = out / f"seed{seed}"
        scenes = sorted((rep_dir / folder).glob("*.json"))
        if not (rep_dir / "gridcarbon.json").exists() or not scenes:
            continue
        g = json.loads((rep_dir / "gridcarbon.json").read_text())
        d = pd.DataFrame([r for f in scenes for r in json.loads(f.read_text())])
        if d.empty:
            continue
        rows = pd.DataFrame(g["rows"])
        if "site_rows" in g:  # each stack's site beside it (the same hour)
            site = pd.DataFrame(g["site_rows"]).rename(
                columns={c: f"site_{c}" for c in ("truth_kg_h", "prior_kg_h", "posterior_kg_h")}
            )
            site["name"] = "stack_" + site["name"].str.removeprefix("site_")
            rows = rows.merge(site, on=["name", "hour"], how="left")
        m = rows.merge(d[["name", "hour", "status", "NOx_emissions_kg_s"]], on=["name", "hour"])
        lifetime = (
            f" (lifetime factor of the truth {g['lifetime_factor']:.2f})" if with_lifetime else ""
        )
        print(
            f"seed {seed}: {label} has done {len(scenes)} of {len(g['scenes'])} overpasses{lifetime}"
        )
        frames.append(m.assign(seed=seed, complete=len(scenes) == len(g["scenes"])))
    if not frames:
        return None
    t = pd.concat(frames, ignore_index=True)
    t[f"{column}_kg_h"] = t["NOx_emissions_kg_s"] * 3600.0
    t["ok"] = t["status"].eq("ok") & np.isfinite(t[f"{column}_kg_h"])
    for col in (column, "posterior", "prior"):
        t[f"{col}_abs_rel"] = (t[f"{col}_kg_h"] - t["truth_kg_h"]).abs() / t["truth_kg_h"]
    return t


def _median_difference(q, column: str) -> str:
    """The method's median |rel. error| minus gridcarbon's on the same source-overpasses, with
    its 95 % bootstrap interval (2,000 resamples, seed 0), as printed."""
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(q), (2000, len(q)))
    a, b = q[f"{column}_abs_rel"].to_numpy(), q["posterior_abs_rel"].to_numpy()
    diff = np.median(a[idx], axis=1) - np.median(b[idx], axis=1)
    return (
        f"median |rel. error|: {np.median(a) - np.median(b):+.3f} "
        f"[{np.percentile(diff, 2.5):+.3f}, {np.percentile(diff, 97.5):+.3f}] "
        "(95 % bootstrap over source-overpasses)"
    )


def _replicates(t: pd.DataFrame) -> str:
    """How many replicates a method's table holds, and how many of them only in part (a run
    stopped during a replicate's overpasses)."""
    done = t.groupby("seed")["complete"].first()
    partial = int((~done).sum())
    return f"{done.size}" + (f" ({partial} of them only in part)" if partial else "")


def summarise(out: Path, seeds: list[int]) -> None:
    import pandas as pd

    t = _scored_estimates(out, seeds, "ddeq_scenes", "ddeq", "ddeq", with_lifetime=True)
    if t is None:
        print("no finished replicate")
        return
    t.to_csv(out / "ddeq_compare_table.csv", index=False)
    n_rep = _replicates(t)
    n_ov = t.groupby("seed")["hour"].nunique().sum()
    print(
        f"replicates {n_rep}, overpasses scored {n_ov} (all usable; gridcarbon's column-only "
        f"inversion assimilates all of them), source-overpasses {len(t)}"
    )
    print("ddeq outcome of the source-overpasses:")
    for status, n in t["status"].str.slice(0, 60).value_counts().items():
        print(f"  {n:5d}  {status}")
    print("median |rel. error| at the overpass hour over the source-overpasses ddeq quantified")
    print(f"{'sources':10s} {'ddeq yield':>12s} {'ddeq':>8s} {'gridcarbon':>11s} {'prior':>8s}")
    for kind in ("stack", "city", "all"):
        s = t if kind == "all" else t[t["kind"] == kind]
        q = s[s["ok"]]
        print(
            f"{kind:10s} {len(q):5d}/{len(s):<6d} {q['ddeq_abs_rel'].median():8.3f} "
            f"{q['posterior_abs_rel'].median():11.3f} {q['prior_abs_rel'].median():8.3f}"
        )
    if t["ok"].any():
        q = t[t["ok"]]
        by_rep = q.groupby("seed")[["ddeq_abs_rel", "posterior_abs_rel"]].median()
        wins = int((by_rep["posterior_abs_rel"] < by_rep["ddeq_abs_rel"]).sum())
        print(
            f"median estimate/truth there: ddeq {(q['ddeq_kg_h'] / q['truth_kg_h']).median():.2f}, "
            f"gridcarbon {(q['posterior_kg_h'] / q['truth_kg_h']).median():.2f}, prior "
            f"{(q['prior_kg_h'] / q['truth_kg_h']).median():.2f}"
        )
        print(
            f"per replicate: gridcarbon's median below ddeq's in {wins}/{len(by_rep)} replicates; "
            f"paired (same source-overpass) gridcarbon closer in "
            f"{int((q['posterior_abs_rel'] < q['ddeq_abs_rel']).sum())}/{len(q)}"
        )
        print(f"ddeq minus gridcarbon {_median_difference(q, 'ddeq')}")
        _print_site_scores(q, "ddeq")
    print(
        f"all source-overpasses scored (ddeq or not): gridcarbon "
        f"{t['posterior_abs_rel'].median():.3f}, prior {t['prior_abs_rel'].median():.3f}"
    )
    done = [
        json.loads((out / f"seed{s}" / "gridcarbon.json").read_text())
        for s in seeds
        if (out / f"seed{s}" / "gridcarbon.json").exists()
    ]
    g_all = pd.concat([pd.DataFrame(g["rows"]) for g in done])
    for kind in ("stack", "city"):
        k = g_all[g_all["kind"] == kind]
        err = (k["posterior_kg_h"] - k["truth_kg_h"]).abs() / k["truth_kg_h"]
        ratio = (k["posterior_kg_h"] / k["truth_kg_h"]).median()
        print(
            f"gridcarbon column-only, every overpass of the {g_all['hour'].nunique()} hours of "
            f"the replicates done, {kind} sources: median |rel. error| {err.median():.3f}, median "
            f"posterior/truth {ratio:.2f}"
        )
    # per source: a monthly factor far from 1, or below 0, shows where the column-only
    # inversion trades one source against its neighbours
    _print_per_source(g_all, "source")
    _print_wind_agreement(out, seeds)
    sites = [pd.DataFrame(g["site_rows"]) for g in done if "site_rows" in g]
    if sites:
        radius = {g["site_radius_km"] for g in done if "site_rows" in g}
        _print_per_source(
            pd.concat(sites), f"stack's site (all cells within {'/'.join(map(str, radius))} km)"
        )
    summarise_gauss(out, seeds, t)


def _print_wind_agreement(out: Path, seeds: list[int]) -> None:
    """Per source, the prior's plume-depth wind handed to ddeq (``ddeq_job.json``) against the
    writer's overpass wind (the file's ``truth_wind_u_v_m_s``): median over the overpasses of
    the speed ratio and of the absolute direction difference."""
    import pandas as pd

    from gridcarbon.io.satellite import read_global_attributes

    rows = []
    for seed in seeds:
        job_path = out / f"seed{seed}" / "ddeq_job.json"
        if not job_path.exists():
            continue
        for scene in json.loads(job_path.read_text())["scenes"]:
            u, v = map(float, read_global_attributes(scene["file"])["truth_wind_u_v_m_s"].split())
            truth_from = math.degrees(math.atan2(-u, -v)) % 360.0  # direction the wind is from
            for target in scene["targets"]:
                w = target["wind"]
                rows.append(
                    {
                        "name": target["name"],
                        "speed_ratio": w["speed"] / math.hypot(u, v),
                        "direction_deg": abs((w["direction"] - truth_from + 180.0) % 360.0 - 180.0),
                    }
                )
    if not rows:
        return
    by = pd.DataFrame(rows).groupby("name")[["speed_ratio", "direction_deg"]].median()
    print(
        "prior plume-depth wind at the source against the writer's overpass wind, median over "
        "the overpasses (speed ratio; |direction difference| deg):"
    )
    for name, row in by.iterrows():
        short = name.removeprefix("stack_").replace("ZJ-", "")
        print(f"  {short:60s} {row['speed_ratio']:.2f}; {row['direction_deg']:.1f}")


def _print_site_scores(q: pd.DataFrame, column: str) -> None:
    """The same source-overpasses scored against each stack's site (all cells within the site
    radius): the method's estimate and gridcarbon's site posterior against the site's truth.
    A plume-integrating method sees the site, not the stack alone; nothing is printed for
    replicates made before sites were scored."""
    if "site_truth_kg_h" not in q or q["site_truth_kg_h"].isna().all():
        return
    s = q[q["site_truth_kg_h"].notna() & (q["kind"] == "stack")]
    if s.empty:
        return
    truth = s["site_truth_kg_h"]
    est, post = s[f"{column}_kg_h"], s["site_posterior_kg_h"]
    print(
        f"against the stack's site ({len(s)} source-overpasses; site truth / stack truth median "
        f"{(truth / s['truth_kg_h']).median():.2f}): median |rel. error| {column} "
        f"{((est - truth).abs() / truth).median():.3f}, gridcarbon's site "
        f"{((post - truth).abs() / truth).median():.3f}, prior's site "
        f"{((s['site_prior_kg_h'] - truth).abs() / truth).median():.3f}; median estimate/site "
        f"truth {column} {(est / truth).median():.2f}, gridcarbon {(post / truth).median():.2f}"
    )


def _print_per_source(rows: pd.DataFrame, what: str) -> None:
    """gridcarbon's column-only estimates per source: median over the overpasses of
    posterior/truth and prior/truth, and the share of negative posteriors."""
    rows = rows.assign(
        post=rows["posterior_kg_h"] / rows["truth_kg_h"],
        prior=rows["prior_kg_h"] / rows["truth_kg_h"],
    )
    by_source = rows.groupby("name").agg(
        post=("post", "median"),
        prior=("prior", "median"),
        negative=("post", lambda r: (r < 0).mean()),
    )
    print(
        f"gridcarbon column-only per {what}, median over the overpasses of posterior/truth "
        "(prior/truth; share of overpasses with a negative posterior):"
    )
    for name, row in by_source.sort_values("post").iterrows():
        short = name.removeprefix("stack_").removeprefix("site_").replace("ZJ-", "")
        print(f"  {short:60s} {row['post']:+.2f} ({row['prior']:.2f}; {row['negative']:.0%})")


def summarise_gauss(out: Path, seeds: list[int], csf: pd.DataFrame) -> None:
    """The Gaussian-plume fit of the isolated stacks, scored like the CSF (``csf``: the CSF
    table of :func:`summarise`, for the CSF on the same source-overpasses)."""
    import pandas as pd

    t = _scored_estimates(out, seeds, "ddeq_gauss", "gauss", "ddeq's Gaussian-plume fit")
    if t is None:
        print("no Gaussian-plume fit done")
        return
    c = csf[["seed", "name", "hour", "ok", "ddeq_kg_h", "ddeq_abs_rel"]].rename(
        columns={"ok": "csf_ok"}
    )
    t = t.merge(c, on=["seed", "name", "hour"], how="left")
    t.to_csv(out / "ddeq_gauss_table.csv", index=False)
    print(
        f"ddeq Gaussian-plume fit, isolated stacks: replicates {_replicates(t)}, "
        f"sources {t['name'].nunique()}, source-overpasses {len(t)}"
    )
    for status, n in t["status"].str.slice(0, 60).value_counts().items():
        print(f"  {n:5d}  {status}")
    q = t[t["ok"]]
    print(
        f"yield {len(q)}/{len(t)}; median |rel. error| at the overpass hour there: ddeq Gaussian "
        f"plume {q['gauss_abs_rel'].median():.3f}, gridcarbon {q['posterior_abs_rel'].median():.3f}, "
        f"prior {q['prior_abs_rel'].median():.3f}"
    )
    if q.empty:
        return
    ratio = q["gauss_kg_h"] / q["prior_kg_h"]
    print(
        f"median estimate/truth there: ddeq Gaussian plume "
        f"{(q['gauss_kg_h'] / q['truth_kg_h']).median():.2f}, gridcarbon "
        f"{(q['posterior_kg_h'] / q['truth_kg_h']).median():.2f}, prior "
        f"{(q['prior_kg_h'] / q['truth_kg_h']).median():.2f}; estimates at ddeq's bounds "
        f"(0.1 or 1.9 x its prior): {int(((ratio < 0.101) | (ratio > 1.899)).sum())}/{len(q)}"
    )
    by_rep = q.groupby("seed")[["gauss_abs_rel", "posterior_abs_rel"]].median()
    wins = int((by_rep["posterior_abs_rel"] < by_rep["gauss_abs_rel"]).sum())
    print(
        f"per replicate: gridcarbon's median below the Gaussian fit's in {wins}/{len(by_rep)} "
        f"replicates; paired gridcarbon closer in "
        f"{int((q['posterior_abs_rel'] < q['gauss_abs_rel']).sum())}/{len(q)}"
    )
    print(f"Gaussian fit minus gridcarbon {_median_difference(q, 'gauss')}")
    _print_site_scores(q, "gauss")
    both = q[q["csf_ok"].fillna(False).astype(bool)]
    print(
        f"where the CSF also quantified ({len(both)}): median |rel. error| Gaussian plume "
        f"{both['gauss_abs_rel'].median():.3f}, CSF {both['ddeq_abs_rel'].median():.3f}, "
        f"gridcarbon {both['posterior_abs_rel'].median():.3f}"
    )
    est = q.set_index(["seed", "name", "hour"])["gauss_kg_h"]
    for folder in sorted({p.name for p in out.glob("seed*/ddeq_gauss_x*") if p.is_dir()}):
        rows = []
        for seed in seeds:
            for f in sorted((out / f"seed{seed}" / folder).glob("*.json")):
                rows += [{**r, "seed": seed} for r in json.loads(f.read_text())]
        if not rows:
            continue
        x = pd.DataFrame(rows).merge(
            t[["seed", "name", "hour", "truth_kg_h"]], on=["seed", "name", "hour"]
        )
        x["kg_h"] = x["NOx_emissions_kg_s"] * 3600.0
        ok = x["status"].eq("ok") & np.isfinite(x["kg_h"])
        xk = x[ok].set_index(["seed", "name", "hour"])
        common = xk.index.intersection(est.index)
        print(
            f"started from {folder.removeprefix('ddeq_gauss_x')} x the prior "
            f"({x['seed'].nunique()} replicates, {len(x)} source-overpasses): yield "
            f"{int(ok.sum())}, median |rel. error| "
            f"{median_abs_rel_error(xk['kg_h'].to_numpy(), xk['truth_kg_h'].to_numpy()):.3f}, "
            f"median estimate/truth {(xk['kg_h'] / xk['truth_kg_h']).median():.2f}; on the "
            f"{len(common)} also quantified from the prior, median estimate / the one from the "
            f"prior {(xk.loc[common, 'kg_h'] / est.loc[common]).median():.2f}"
        )
    print(
        "by source (Gaussian-plume estimates): "
        + ", ".join(
            f"{n.removeprefix('stack_ZJ-')} {k}" for n, k in q["name"].value_counts().items()
        )
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--part",
        choices=["example", "osse", "ddeq-worker", "gauss", "summary", "all"],
        default="all",
    )
    p.add_argument(
        "--no-inline-ddeq",
        action="store_true",
        help="osse: only the gridcarbon side (leave the ddeq jobs to --part ddeq-worker)",
    )
    p.add_argument("--worker-wait-minutes", type=float, default=30.0)
    p.add_argument("--out", default="ddeq-compare")
    p.add_argument("--ddeq-python", default="/tmp/sat-ddeq/bin/python")
    p.add_argument("--replicates", type=int, default=10)
    p.add_argument("--seed", type=int, default=40000)
    p.add_argument("--budget-minutes", type=float, default=600.0)
    p.add_argument("--box-km", type=float, default=100.0, help="crop square around a source")
    p.add_argument("--dx-km", type=float, default=10.0, help="CSF polygon length along the plume")
    p.add_argument("--city-radius-km", type=float, default=15.0, help="cap of a city core radius")
    p.add_argument(
        "--site-radius-km",
        type=float,
        default=5.0,
        help="radius of a stack's site (its own and nearby cells, area and points), scored for "
        "gridcarbon alone",
    )
    p.add_argument("--noise-draws", type=int, default=20, help="closed-form case: noisy draws")
    p.add_argument(
        "--gauss-prior-factor",
        type=float,
        default=1.0,
        help="gauss: start ddeq's Gaussian-plume fit from this factor x the prior (sensitivity)",
    )
    p.add_argument(
        "--truth-chemistry",
        action="store_true",
        help="osse: hand the truth's NOx lifetime and flat NO2/NOx ratio of each overpass (the "
        "synthetic files' attributes) to gridcarbon's column operator and to ddeq's CSF and "
        "Gaussian fit alike, separating the chemistry's error from the methods' (use its own "
        "--out)",
    )
    p.add_argument(
        "--set", action="append", default=[], help="an inversion setting group.name=value"
    )
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.part in ("example", "all"):
        path = out / "example.json"
        if not path.exists():
            _run_ddeq(args.ddeq_python, ["example", str(path), str(args.noise_draws)])
        print_example(json.loads(path.read_text()))
    if args.part in ("osse", "all"):
        run_osse_part(args, out)
    if args.part == "ddeq-worker":
        run_ddeq_worker(args, out)
    if args.part in ("gauss", "all"):
        run_gauss_part(args, out)
        path = out / "gauss_example.json"
        if not path.exists():
            _run_ddeq(args.ddeq_python, ["gauss-example", str(path), str(args.noise_draws)])
        print_gauss_example(json.loads(path.read_text()))
    if args.part in ("osse", "gauss", "summary", "all"):
        summarise(out, list(range(args.seed, args.seed + args.replicates)))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--ddeq-side":
        if sys.argv[2] == "jobs":
            ddeq_jobs(sys.argv[3], sys.argv[4])
        elif sys.argv[2] == "gauss":
            ddeq_jobs(sys.argv[3], sys.argv[4], "gauss")
        elif sys.argv[2] == "gauss-example":
            gauss_example(sys.argv[3], int(sys.argv[4]))
        else:
            ddeq_example(sys.argv[3], int(sys.argv[4]))
    else:
        main()
