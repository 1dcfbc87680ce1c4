import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gridcarbon.grids.gridspec import GridSpec, default_crs  # noqa: E402


@pytest.fixture(scope="session")
def small_grid() -> GridSpec:
    """A 24 × 30 grid of 3 km cells over Hangzhou–Shaoxing (Albers/CGCS2000)."""
    crs = default_crs()
    import shapely

    from gridcarbon.grids.gridspec import to_projected

    c = to_projected(shapely.Point(120.3, 30.1), crs)
    x0 = np.floor(c.x / 3000) * 3000 - 45000
    y1 = np.floor(c.y / 3000) * 3000 + 36000
    return GridSpec(crs.to_wkt(), float(x0), float(y1), 3000.0, 30, 24)


@pytest.fixture(scope="session")
def tmp_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("coverage_cache")


@pytest.fixture(scope="session")
def boundaries() -> dict:
    """The embedded county and city boundaries (lon/lat), as a caller hands them to the stage."""
    from gridcarbon.scenario.geography import load_boundaries

    return {"counties": load_boundaries("county"), "cities": load_boundaries("city")}
