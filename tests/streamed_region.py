"""What the tests of streamed runs on Dask share: the small region's configuration over a
period that crosses a month, the zone files they compare, and a cluster in this process.

Everything is built in code (:mod:`tests.region`); nothing here reads a file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from gridcarbon.config import RunConfig

#: Twelve days across the January–February boundary.
PERIOD = {"start": "2023-01-25", "end": "2023-02-05"}

#: The zone files a streamed run writes whose values the tests compare.
ZONE_FILES = (
    "zone_tally_hourly.nc",
    "zone_tally_daily.nc",
    "zone_diurnal.nc",
    "hotspots_day.nc",
    "hotspots_month.nc",
)


def streamed_config(period: dict[str, str] = PERIOD, inversion: bool = False) -> RunConfig:
    """The small region's run: zones without hourly hotspots (19 toroidal shifts), no map, a
    GeoTIFF only; the inversion when asked."""
    return RunConfig.validate_dict(
        {
            "period": period,
            "inversion": {"enabled": inversion},
            "maps": {"enabled": False},
            "zoning": {"hourly_hotspots": False, "toroidal_shifts": 19},
            "output": {"formats": ["geotiff"]},
        }
    )


@contextlib.contextmanager
def threads_cluster() -> Iterator[Any]:
    """A client of two single-threaded workers in this process (no worker processes to
    start, so the region need not be importable by them)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
