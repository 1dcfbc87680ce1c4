"""gridcarbon: 3 km hourly CO2, NOx and VOC emission grids, station-based inversion, and
co-located hotspot tallies for environmental control units.

The public API is a handful of verbs; see the README and ``docs/architecture.md``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from gridcarbon.config import RunConfig, load_config  # noqa: E402
from gridcarbon.errors import GridcarbonError  # noqa: E402
from gridcarbon.grids.gridspec import GridSpec  # noqa: E402
from gridcarbon.grids.prior import build_prior, iter_prior  # noqa: E402
from gridcarbon.pipeline import RunResult, run  # noqa: E402

__all__ = [
    "__version__",
    "GridSpec",
    "GridcarbonError",
    "RunConfig",
    "RunResult",
    "build_prior",
    "iter_prior",
    "load_config",
    "run",
]
