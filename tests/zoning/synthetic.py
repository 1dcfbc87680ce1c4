"""Synthetic emission Datasets for the zoning tests and benchmark (seeded, deterministic)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.grids.coverage import coverage_fraction_grid
from gridcarbon.grids.dataset import emission_dataset
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.species import DEFAULT_SPECIES


def _blobs(grid: GridSpec, rng, n: int, scale_cells: float) -> np.ndarray:
    yy, xx = np.mgrid[0 : grid.ny, 0 : grid.nx]
    out = np.zeros(grid.shape)
    for _ in range(n):
        r0, c0 = rng.uniform(0, grid.ny), rng.uniform(0, grid.nx)
        w = rng.uniform(0.5, 2.0)
        out += w * np.exp(-((yy - r0) ** 2 + (xx - c0) ** 2) / (2 * scale_cells**2))
    return out


def synthetic_grids(
    grid: GridSpec,
    start: str = "2023-01-01",
    days: int = 31,
    seed: int = 7,
    region_fraction: np.ndarray | None = None,
    n_points: int = 40,
    dtype=np.float32,
) -> xr.Dataset:
    """Hourly CO2/NOx/VOC with shared and species-specific sources and differing profiles.

    Times are UTC hours covering ``days`` Beijing days from ``start``.
    """
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start) - pd.Timedelta(hours=8)
    time = pd.date_range(t0, periods=24 * days, freq="h")
    shared = _blobs(grid, rng, 25, 3.0)  # combustion: CO2 + NOx
    solvent = _blobs(grid, rng, 20, 2.0)  # VOC only
    traffic = _blobs(grid, rng, 15, 4.0)
    hb = ((time.hour + 8) % 24).to_numpy()
    day = np.arange(time.size) / 24.0
    traffic_prof = 1 + 0.8 * np.sin((hb - 7) / 24 * 2 * np.pi)
    solvent_prof = np.where((hb >= 8) & (hb <= 18), 1.6, 0.5)
    flat = 1 + 0.1 * np.sin(day / days * 2 * np.pi)
    trend = 1 + 0.6 * day / days
    noise = lambda: rng.lognormal(0, 0.3, size=(time.size,) + grid.shape)  # noqa: E731
    co2 = (
        1e3
        * (shared[None] * flat[:, None, None] + 0.5 * traffic[None] * traffic_prof[:, None, None])
        * noise()
    )
    nox = (
        5.0
        * (
            shared[None] * flat[:, None, None] * trend[:, None, None]
            + 0.8 * traffic[None] * traffic_prof[:, None, None]
        )
        * noise()
    )
    voc = (
        3.0
        * (
            solvent[None] * solvent_prof[:, None, None]
            + 0.3 * traffic[None] * traffic_prof[:, None, None]
        )
        * noise()
    )
    if region_fraction is not None:
        m = (region_fraction > 0)[None]
        co2, nox, voc = co2 * m, nox * m, voc * m
    pts = None
    pe = None
    if n_points:
        lon, lat = grid.lonlat()
        rows = rng.integers(2, grid.ny - 2, n_points)
        cols = rng.integers(2, grid.nx - 2, n_points)
        x = grid.x[cols] + rng.uniform(-1400, 1400, n_points)
        y = grid.y[rows] + rng.uniform(-1400, 1400, n_points)
        plon, plat = grid.unproject(x, y)
        r, c = grid.xy_to_index(x, y)
        pts = pd.DataFrame(
            {
                "point_id": [f"P{i:03d}" for i in range(n_points)],
                "name": [f"synthetic #{i}" for i in range(n_points)],
                "sector": rng.choice(["power", "industry_chemical", "solvent_use"], n_points),
                "park": "",
                "lon": plon,
                "lat": plat,
                "row": r,
                "col": c,
                "stack_height_m": 60.0,
                "stack_diameter_m": 2.0,
                "exit_velocity_m_s": 10.0,
                "exit_temperature_K": 400.0,
            }
        )
        base = rng.lognormal(0, 1, n_points)
        pe = {
            "CO2": 5e4 * base[None] * flat[:, None],
            "NOx": 100 * base[None] * trend[:, None],
            "VOC": 30 * base[None] * solvent_prof[:, None],
        }
    return emission_dataset(
        grid,
        time,
        {"CO2": co2.astype(dtype), "NOx": nox.astype(dtype), "VOC": voc.astype(dtype)},
        points=pts,
        point_emissions=pe,
        region_fraction=region_fraction,
        attrs={"synthetic": "true", "synthetic_components": "test emission fields"},
    )


def default_region_fraction(grid: GridSpec) -> np.ndarray:
    from gridcarbon.scenario.geography import region_polygon

    return coverage_fraction_grid(grid, region_polygon(grid.crs))


class FactorCovariance:
    """A posterior covariance for the zoning stage's tests (``contracts.PosteriorCovariance``).

    Scaling factors of the cells of ``grids`` have covariance ``P`` (cells × cells); point
    sources are known exactly.  σ² of unit u's total is ``c_uᵀ P c_u`` with ``c_u = F_u ⊙ e``,
    ``e`` the period total of the species per cell (area sources), kg.  Every call is recorded.
    """

    def __init__(self, grids: xr.Dataset, P: np.ndarray):
        self.grids = grids
        self.P = P
        self.calls: list[tuple] = []

    def total_std(self, weights, species, point_unit=None, hours=None) -> np.ndarray:
        self.calls.append((weights, species, point_unit, hours))
        e = self.grids[species].values.astype(np.float64).sum(axis=0).ravel()
        c = weights.toarray() * e
        return np.sqrt(np.einsum("ij,jk,ik->i", c, self.P, c))


def zone_report(grids, units, config, out, *, species=DEFAULT_SPECIES, units_path=None, **kw):
    """Run the zoning stage and write its documents into ``out``, as the pipeline does.

    ``units_path``: the file the units came from (its checksum goes into the provenance).
    Returns the result and the files written, by name.
    """
    from gridcarbon.io.outputs import write_documents
    from gridcarbon.io.provenance import file_sha256
    from gridcarbon.zoning.report import provenance_record, zoning_documents
    from gridcarbon.zoning.stage import run_zoning

    result = run_zoning(grids, units, config, species=species, **kw)
    checksums = {} if units_path is None else {f"units:{units_path.name}": file_sha256(units_path)}
    provenance = provenance_record(
        grids.attrs,
        result.qa,
        config_text=config.model_dump_json(),
        version="test",
        checksums=checksums,
    )
    return result, write_documents(zoning_documents(result, config, provenance), out)
