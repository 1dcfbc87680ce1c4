"""Extensions defined outside the package, for the tests of the extension seams: an observation
type (a box mean), a hotspot statistic (a local excess) and a fourth species (SO2).

Each is written only against the public contracts (:mod:`gridcarbon.contracts`,
:class:`gridcarbon.species.Species`, :func:`gridcarbon.zoning.hotspots.register_statistic`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridcarbon.contracts import Scenario
from gridcarbon.species import Species

SO2 = Species(
    name="SO2",
    long_name="sulphur dioxide",
    mass_as="SO2",
    molar_mass_g_mol=64.066,
    observed_as="SO2",
    observed_unit="ppb",
    observed_molar_mass_g_mol=64.066,
    display_en="SO₂",
    display_zh="二氧化硫",
    colour="#7570b3",
)
#: SO2 of the test region: road transport kg per year, and each stack's share of its CO2 mass.
SO2_ROAD_KG = 3.0e6
SO2_POINT_SHARE = 0.002


def with_so2(scenario: Scenario) -> Scenario:
    """``scenario`` with SO2 emissions: road transport on its proxy, and every stack."""
    inventory = scenario.inventory
    area = inventory.area_totals.copy()
    area[SO2.name] = [SO2_ROAD_KG if s == "road_transport" else 0.0 for s in inventory.sectors]
    points = inventory.points.copy()
    points[SO2.name] = SO2_POINT_SHARE * points[scenario.species[0].name]
    return replace(
        scenario,
        species=(*scenario.species, SO2),
        inventory=replace(inventory, area_totals=area, points=points),
    )


class BoxMean:
    """The emission-weighted mean scaling factor of one species over a box of cells and some
    hours: ``y = Σ e_ch f_ch / Σ e_ch``, one exact row of H (an :class:`ObservationType`)."""

    name = "box_mean"

    def __init__(self, species, rows, cols, hours, value, uncertainty, box_id="box A"):
        self.species, self.rows, self.cols = species, rows, cols
        self.hours, self.value, self.uncertainty = hours, value, uncertainty
        self.box_id = box_id

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "time": [pd.NaT],
                "species": [self.species],
                "value": [self.value],
                "unit": ["1"],
                "uncertainty": [self.uncertainty],
            }
        )

    def _row(self, system) -> sp.csr_matrix:
        layout = system.layout
        si = system.species.index(self.species)
        cells = (np.asarray(self.rows)[:, None] * system.grid.nx + np.asarray(self.cols)).ravel()
        cols, weights = [], []
        for h in self.hours:
            cols.append(layout.grid_col(si, layout.hour_window()[h], layout.cell_block()[cells]))
            weights.append(system.E[si][h, cells].astype(float))
        w = np.concatenate(weights)
        row = sp.csr_matrix(
            (w / w.sum(), (np.zeros(w.size, int), np.concatenate(cols))), shape=(1, layout.n)
        )
        row.sum_duplicates()
        return row

    def assimilated(self, system) -> pd.DataFrame:
        prior = float((self._row(system) @ system.layout.xb())[0])
        return pd.DataFrame(
            {
                "station_id": [self.box_id],
                "species": [self.species],
                "kind": ["box"],
                "time": [system.times[self.hours[0]]],
                "observed": [self.value],
                "prior": [prior],
            }
        )

    def jacobian_block(self, system) -> sp.csr_matrix:
        return self._row(system)

    def error_variance(self, system) -> np.ndarray:
        return np.array([self.uncertainty**2])


def local_excess(fields, mask, radius_m, cell_size_m):
    """A toy hotspot statistic: each cell's departure from the mean of the region's cells in
    units of their standard deviation, per time step (NaN outside ``mask``)."""
    z = np.full(fields.shape, np.nan)
    inside = fields[:, mask].astype(np.float64)
    mean = inside.mean(axis=1, keepdims=True)
    std = inside.std(axis=1, keepdims=True)
    z[:, mask] = (inside - mean) / np.where(std > 0, std, 1.0)
    return z
