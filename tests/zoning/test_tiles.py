"""Gi* and Benjamini–Hochberg forced into 64 × 64 tiles after a global first pass give the
untiled z-scores and flags to the last bit: on the default grid (three days of the default
prior, hourly and daily fields), and on a small grid whose tiles are smaller than the disc."""

import numpy as np
import pytest

from gridcarbon.errors import ConfigError
from gridcarbon.zoning.gistar import fdr_bins, gi_star
from gridcarbon.zoning.tiles import global_pass, tile_bounds, tiled_hotspots


@pytest.fixture(scope="module")
def default_days():
    from gridcarbon.config import RunConfig
    from gridcarbon.pipeline import build_prior

    cfg = RunConfig()
    cfg.period.end = cfg.period.start.replace(day=cfg.period.start.day + 2)  # three days
    return cfg, build_prior(cfg)


@pytest.mark.slow
@pytest.mark.parametrize("level", ["hour", "day"])
def test_tiles_on_the_default_grid_equal_the_untiled_hotspots(default_days, level):
    from gridcarbon.zoning.hotspots import hotspot_level, region_mask, species_fields

    cfg, prior = default_days
    names = list(cfg.species)
    zoning = cfg.zoning.model_copy(update={"toroidal_shifts": 0})
    untiled = hotspot_level(prior, level, zoning, names)
    mask = region_mask(prior, zoning.region_min_fraction)
    assert mask.shape == (157, 163) and mask.sum() > 10_000  # the default grid and region
    assert len(list(tile_bounds(mask.shape, 64))) == 9  # edge tiles of 29 rows and 35 columns
    hot = []
    for s in names:
        fields, _ = species_fields(prior, s, level)
        z, bins = tiled_hotspots(fields, mask, zoning.gi_radius_m, 3000.0, zoning.fdr_levels, 64)
        np.testing.assert_array_equal(z, untiled[f"{s}_z"].values)  # NaN outside, bit for bit
        np.testing.assert_array_equal(bins, untiled[f"{s}_bin"].values)
        assert (bins >= 1).any()
        hot.append(bins >= zoning.hotspot_min_bin)
    coloc = np.logical_and.reduce(hot)
    assert coloc.any()
    np.testing.assert_array_equal(coloc, untiled["coloc_all"].values > 0)


def _fields(seed=3, nt=4, ny=41, nx=53):
    rng = np.random.default_rng(seed)
    mask = np.ones((ny, nx), bool)
    mask[:9, :14] = False
    mask[30:, 40:] = False
    mask[18:22, 20:25] = False  # a lake inside the region
    fields = rng.gamma(0.4, size=(nt, ny, nx)).astype(np.float32)
    fields[:, 12:18, 30:37] += 15.0  # a hot cluster across tile edges
    fields[1] = 2.0  # a constant field: z = 0, no bins
    return fields, mask


@pytest.mark.parametrize("tile", [7, 16, 64])
def test_tiles_smaller_than_the_disc_equal_the_untiled_hotspots(tile):
    fields, mask = _fields()
    z0 = gi_star(fields, mask, 13000.0, 3000.0, out=np.empty(fields.shape, np.float32))
    b0 = fdr_bins(z0, mask)
    z, b = tiled_hotspots(fields, mask, 13000.0, 3000.0, tile=tile)
    np.testing.assert_array_equal(z, z0)
    np.testing.assert_array_equal(b, b0)
    assert (b0[0] > 0).any() and not b0[1].any()


def test_a_tile_alone_standardises_by_the_whole_fields_moments():
    """The global pass is what makes tiles right: a tile's own mean and variance give other z."""
    from gridcarbon.zoning.tiles import tile_z

    fields, mask = _fields()
    gp = global_pass(fields, mask, 9500.0, 3000.0, tile=16)
    bounds = (16, 32, 16, 32, 1)
    z_global = tile_z(fields, gp, bounds)
    own = gi_star(fields[:, 16:32, 16:32], mask[16:32, 16:32], 9500.0, 3000.0)
    assert not np.allclose(z_global[0], own[0], equal_nan=True)
    np.testing.assert_array_equal(
        z_global, gi_star(fields, mask, 9500.0, 3000.0).astype(np.float32)[:, 16:32, 16:32]
    )


def test_tile_size_is_checked():
    fields, mask = _fields()
    with pytest.raises(ConfigError, match="tile"):
        global_pass(fields, mask, 9500.0, 3000.0, tile=0)
