"""The posterior emission Dataset (prior × factors, with σ and per-cell period statistics)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.inversion.posterior import cell_period_stats

if TYPE_CHECKING:  # pragma: no cover
    from gridcarbon.inversion.assimilation import InversionResult
    from gridcarbon.inversion.system import ObservationSystem

__all__ = ["posterior_dataset"]


def posterior_dataset(
    system: ObservationSystem, result: InversionResult, cfg: InversionConfig
) -> xr.Dataset:
    """Posterior emission Dataset (prior × factors) with per-cell posterior std."""
    from gridcarbon.grids.dataset import emission_dataset

    L = result.layout
    g = L.segments["grid"]
    xa = result.x_post
    fmean = xa[g].reshape(L.grid_shape)
    fstd = result.post_std[g].reshape(L.grid_shape)
    cb = L.cell_block()
    hw = L.hour_window()
    by, bx = np.divmod(cb, L.nbx)
    area, extra = {}, {}
    point_em = {}
    gs = system.grid
    for si, s in enumerate(L.species):
        f = fmean[si][hw][:, by, bx]  # (nt, ncell)
        fs = fstd[si][hw][:, by, bx]
        fpos = np.clip(f, 0, None) if cfg.solver.negative_factors == "clip" else f
        area[s] = (system.E[si] * fpos).reshape(system.nt, *gs.shape).astype(np.float32)
        extra[f"{s}_std"] = (system.E[si] * fs).reshape(system.nt, *gs.shape).astype(np.float32)
        if len(system.points):
            pcell = system.point_cells
            pf = fmean[si][hw][:, by[pcell], bx[pcell]]
            pfs = fstd[si][hw][:, by[pcell], bx[pcell]]
            if len(L.point_index):
                ps = (
                    L.segments["points"].start
                    + si * L.point_index.size
                    + np.arange(L.point_index.size)
                )
                pf[:, L.point_index] = xa[ps][None, :]
                pfs[:, L.point_index] = result.post_std[ps][None, :]
            pfp = np.clip(pf, 0, None) if cfg.solver.negative_factors == "clip" else pf
            point_em[s] = (system.Ep[si] * pfp).astype(np.float32)
            extra[f"{s}_point_std"] = (system.Ep[si] * pfs).astype(np.float32)
    pts = None
    if len(system.points) and system._prior_points is not None:
        pts = system._prior_points
    attrs = dict(system.prior_attrs)
    attrs.update(
        {
            "title": "gridcarbon posterior emission grids (prior x inversion scaling factors)",
            "inversion": json.dumps(
                {
                    "dofs": result.dofs,
                    "reduced_chi2": result.reduced_chi2,
                    "n_observations": result.metrics["n_observations"],
                    "state_size": L.n,
                    "n_negative_factors": result.n_negative,
                    "negative_factors": cfg.solver.negative_factors,
                }
            ),
            "inversion_config": json.dumps(cfg.model_dump(mode="json")),
        }
    )
    ds = emission_dataset(
        gs,
        system.times,
        area,
        points=pts,
        point_emissions=point_em if pts is not None else None,
        region_fraction=system.region_fraction.reshape(gs.shape),
        attrs=attrs,
    )
    for k, v in extra.items():
        dims = ("time", "y", "x") if v.ndim == 3 else ("time", "point")
        if dims[1] == "point" and "point" not in ds.dims:
            continue
        ds[k] = (
            dims,
            v,
            {
                "long_name": f"posterior 1-sigma of {k[:-4]}",
                "units": "kg h-1",
                "grid_mapping": "crs",
            }
            if dims[1] == "y"
            else {"long_name": f"posterior 1-sigma of {k[:-4]}", "units": "kg h-1"},
        )
    # per-cell period statistics
    for si, s in enumerate(L.species):
        st = cell_period_stats(system, result.covariance, xa, si)
        with np.errstate(invalid="ignore", divide="ignore"):
            ur = np.where(st["prior_std"] > 0, 1 - st["posterior_std"] / st["prior_std"], np.nan)
            fac = np.where(st["prior"] > 0, st["posterior"] / st["prior"], np.nan)
        ds[f"{s}_uncertainty_reduction"] = (
            ("y", "x"),
            ur.reshape(gs.shape).astype(np.float32),
            {
                "long_name": f"uncertainty reduction 1 - sigma_post/sigma_prior of the period total of {s}",
                "units": "1",
                "grid_mapping": "crs",
            },
        )
        ds[f"{s}_factor"] = (
            ("y", "x"),
            fac.reshape(gs.shape).astype(np.float32),
            {
                "long_name": f"posterior / prior period total of {s} (area + point sources)",
                "units": "1",
                "grid_mapping": "crs",
            },
        )
    return ds
