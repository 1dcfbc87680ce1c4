"""What a run will need (memory, disk) and what the machine has, to refuse a run before its work.

What the machine has is read from the cgroup and ``/proc`` files, hence the module's place in
the io layer.  Light: standard library only, so the check costs nothing next to the run.

Calibration
-----------
The estimate is ``BASE + max(stage terms)``; a stage's term grows with the bytes of the prior
grids ``P = cells × hours × species × 4`` (float32) and, for the zones, with the per-unit tallies
``T = units × hours × species × 8`` (float64).  Measured peaks (maximum resident set, ``/usr/bin/time
-v``, 2 cores; Zhejiang default grid 157 × 163 = 25,591 cells, 3 species, 2,082 units):

=========================================== ======= ======= ========= =========
run                                          hours   P (GB)  measured  estimate
=========================================== ======= ======= ========= =========
default (January 2023, inversion, zones)        744   0.229    3.1 GB    3.1 GB
3 months with the inversion                   2,160   0.663    7.8 GB    7.8 GB
prior-only year 2023 with zones               8,760   2.690   13.4 GB   13.4 GB
=========================================== ======= ======= ========= =========

giving ``INVERSION_PER_PRIOR_BYTE`` (10.9: the Jacobian, the prior and posterior grids and the
solver's vectors per prior byte) and ``ZONES_PER_PRIOR_BYTE`` (4.27: the grids, their totals,
and the hourly Gi* fields), with ``ZONES_PER_TALLY_BYTE`` 3 (hourly, daily and merged tables).
The prior stage alone holds about 3 × P (the grids, their point-source table and the NetCDF
encoding buffers).  A streamed run (a year month by month through a store) holds one month of
grids and of the hourly tally, plus the period's daily fields (``days × cells × species × 16``):
the prior-only year 2023 with zones measured 1.86 GB against an estimate of 2.14 GB.  The estimate is a planning figure: it refuses runs that cannot fit, not runs
that nearly fit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gridcarbon.errors import GridcarbonError

__all__ = [
    "ResourceError",
    "MemoryEstimate",
    "estimate_memory",
    "estimate_output_bytes",
    "available_memory",
    "BASE_BYTES",
    "ZARR_PER_PRIOR_VALUE",
    "NETCDF_PER_PRIOR_VALUE",
]

#: Interpreter, libraries, geography and the synthetic scenario (bytes).
BASE_BYTES = 0.6e9
#: Peak bytes per byte of prior grids.
PRIOR_PER_PRIOR_BYTE = 3.0
INVERSION_PER_PRIOR_BYTE = 10.9
ZONES_PER_PRIOR_BYTE = 4.27
ZONES_PER_TALLY_BYTE = 3.0
#: Bytes on disk per value of the hourly grids (zlib level 4 with shuffle: the default prior.nc
#: takes 1.4, posterior.nc with its standard deviations 3.0; their mean) and of the hourly zone
#: tallies (5.8).  The default run writes 323 MB; the estimate gives 318 MB.
DISK_PER_GRID_VALUE = 2.2
DISK_PER_TALLY_VALUE = 5.8
#: Tables, reports, hotspot layers and the map of the default run (bytes).
DISK_FIXED = 40e6
#: Bytes on disk per value of the prior grids alone, measured on the default year 2023
#: (25,591 cells × 8,760 hours × 3 species, 2.69 GB as float32): the streamed run's Zarr store
#: (Blosc-LZ4, byte shuffle) 1.17 GB, its NetCDF copy (zlib) 0.92 GB (docs/scale.md).
ZARR_PER_PRIOR_VALUE = 1.17e9 / (25_591 * 8_760 * 3)
NETCDF_PER_PRIOR_VALUE = 0.92e9 / (25_591 * 8_760 * 3)
#: What a streamed zoning stage holds per day of the period and per cell and species: the day
#: totals and the daily area sums, float64 (the daily Gi* and the unit table need them whole).
ZONES_PER_DAY_CELL = 2 * 8


class ResourceError(GridcarbonError, MemoryError):
    """A run would need more memory or disk than the machine has; refused before any work."""


@dataclass(frozen=True)
class MemoryEstimate:
    """A run's estimated peak memory, in bytes, and the stage that sets it."""

    peak_bytes: float
    stage: str
    prior_bytes: float

    def describe(self) -> str:
        """``"about 7.8 GB (the inversion stage; prior grids 0.66 GB)"``."""
        return (
            f"about {self.peak_bytes / 1e9:.1f} GB (the {self.stage} stage; prior grids "
            f"{self.prior_bytes / 1e9:.2f} GB)"
        )


def estimate_memory(
    cells: int,
    hours: int,
    species: int = 3,
    units: int = 0,
    inversion: bool = False,
    zones: bool = False,
    tally_hours: int | None = None,
    days: int = 0,
) -> MemoryEstimate:
    """Estimated peak memory of a run (module docstring: the calibration).

    Parameters
    ----------
    cells : grid cells (ny × nx)
    hours : hours of grids in memory at once (the period; one month when streamed)
    species : species gridded
    units : control units tallied (0 without zones)
    inversion, zones : whether those stages run
    tally_hours : hours of the hourly zone tally held at once (default: ``hours``; one month
        when the grids are streamed, the tally written month by month)
    days : days of the period whose daily fields a streamed zoning stage holds (0: not
        streamed; the in-memory path's are within ``ZONES_PER_PRIOR_BYTE``)
    """
    prior = float(cells) * hours * species * 4
    tally = float(units) * (hours if tally_hours is None else tally_hours) * species * 8
    terms = {"prior": PRIOR_PER_PRIOR_BYTE * prior}
    if inversion:
        terms["inversion"] = INVERSION_PER_PRIOR_BYTE * prior
    if zones:
        daily = float(days) * cells * species * ZONES_PER_DAY_CELL
        terms["zoning"] = ZONES_PER_PRIOR_BYTE * prior + ZONES_PER_TALLY_BYTE * tally + daily
    stage = max(terms, key=terms.get)
    return MemoryEstimate(BASE_BYTES + terms[stage], stage, prior)


def estimate_output_bytes(
    cells: int, hours: int, species: int = 3, units: int = 0, grids: int = 1, reports: bool = True
) -> float:
    """Estimated bytes a run writes: ``grids`` hourly grid files (prior, posterior, Zarr copies),
    the hourly zone tallies, and (``reports``) the tables, zone report and map."""
    return (
        grids * float(cells) * hours * species * DISK_PER_GRID_VALUE
        + float(units) * hours * species * DISK_PER_TALLY_VALUE
        + (DISK_FIXED if reports else 0.0)
    )


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max" means no limit


def cgroup_limit() -> int | None:
    """The memory limit of this process's cgroup (v2, else v1), bytes; None when unlimited."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        value = _read_int(path)
        if value is not None and value < 1 << 60:  # v1 writes a huge number for "no limit"
            return value
    return None


def _meminfo(key: str) -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def available_memory() -> int | None:
    """Memory a new run can use, bytes: the cgroup limit less its usage, else ``MemAvailable``
    (the smaller of the two when both are known); None where neither can be read."""
    values = []
    limit = cgroup_limit()
    if limit is not None:
        used = _read_int("/sys/fs/cgroup/memory.current") or _read_int(
            "/sys/fs/cgroup/memory/memory.usage_in_bytes"
        )
        values.append(limit - (used or 0))
    avail = _meminfo("MemAvailable")
    if avail is not None:
        values.append(avail)
    if not values and hasattr(os, "sysconf"):
        try:
            values.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            pass
    return min(values) if values else None
