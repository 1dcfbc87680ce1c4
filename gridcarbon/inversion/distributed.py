"""The month-by-month inversion of a streamed run on ``dask.distributed``: a task per month.

Each month of a streamed run is inverted on its own (the months are independent: each is seeded
from itself), so each month is one task (:func:`inversion_month_task`).  The worker reads the
month's prior from the run's ``prior.zarr`` **by path**, inverts it with the function the
single-process path uses (handed in as ``invert``: the pipeline's ``invert_month``), writes the
month's posterior into its region of ``posterior.zarr`` and the month's files into
``inversion/YYYY-MM/``, and returns their paths with the month's small record (its row of
``inversion_months.csv``, the posterior variance of every unit's month total).  The process that
runs the stage writes each month's completion marker when its task has returned
(:func:`invert_months_on_workers`): markers stay the only proof that a month is done.

The scenario and the units' overlay are shared with the workers as tasks the scheduler can run
again (:func:`gridcarbon.io.cluster.share_with_workers`).  The store is created
by the first task to finish its inversion (under a cluster-wide lock); its global attributes are
set to those of the period's first month before that month's marker, so the store equals the
single-process path's.

Memory: a task holds one month's prior, observation system, posterior covariance factor and
posterior grids, as the single-process path does for each month; numba's allocations are not
seen by Dask's spilling, so a month is submitted only when its estimated peak is at most
:data:`WORKER_SHARE` of the workers' memory limit (:func:`check_worker_memory`); otherwise the
months are inverted by the process that runs the stage (:func:`months_fit_workers`).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gridcarbon.io.cluster import shared_with_workers, task_result
from gridcarbon.io.resources import ResourceError

__all__ = [
    "WORKER_SHARE",
    "check_worker_memory",
    "months_fit_workers",
    "invert_months_on_workers",
    "inversion_month_task",
    "warm_up",
    "warm_workers",
]

log = logging.getLogger(__name__)

#: The share of a worker's memory limit one month's inversion may take at its peak.
WORKER_SHARE = 0.6


def check_worker_memory(client: Any, needed_bytes: float) -> None:
    """Refuse (:class:`~gridcarbon.io.resources.ResourceError`) to submit a month's inversion
    whose estimated peak ``needed_bytes`` exceeds :data:`WORKER_SHARE` of the smallest memory
    limit among ``client``'s workers; workers without a limit (or none yet) are not checked.

    The message names the memory a month needs and the worker memory limit that would take it.
    """
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    limits = [int(w["memory_limit"]) for w in workers if w.get("memory_limit")]
    if not limits:
        log.info(
            "the workers have no memory limit: a month's inversion needs about %.2f GB",
            needed_bytes / 1e9,
        )
        return
    limit = min(limits)
    if needed_bytes <= WORKER_SHARE * limit:
        return
    want = math.ceil(needed_bytes / WORKER_SHARE / 2**30 * 4) / 4  # GiB, in quarters
    raise ResourceError(
        f"a month's inversion needs about {needed_bytes / 1e9:.2f} GB on a worker, more than "
        f"{WORKER_SHARE:.0%} of the workers' memory limit ({limit / 2**30:.2f} GiB, of which "
        f"{WORKER_SHARE * limit / 1e9:.2f} GB may be used by one task: numba's arrays are "
        f"invisible to Dask's spilling); give --worker-memory {want:g}GiB or more (on a "
        f"running cluster: dask worker --memory-limit {want:g}GiB), run without --workers, or "
        "use a coarser grid (grid.cell_size_m)"
    )


def months_fit_workers(client: Any, needed_bytes: float) -> bool:
    """Whether a month's inversion (estimated peak ``needed_bytes``) may run on ``client``'s
    workers (:func:`check_worker_memory`).  When it may not, the reason and the fix are logged
    as a warning and False is returned: the months are then inverted by the process that runs
    the stage, as without workers, while the prior and the zones still run on the workers.
    A task that would outgrow its worker is never submitted; a run that fits the driver is
    not refused for it."""
    try:
        check_worker_memory(client, needed_bytes)
    except ResourceError as too_big:
        log.warning("%s. The months are inverted in this process instead.", too_big)
        return False
    return True


def inversion_month_task(
    invert: Callable[..., tuple[Any, dict[str, Any], dict[str, Any]]],
    prior_store: str,
    store: str,
    hours: np.ndarray,
    label: str,
    span: tuple[int, int],
    month_config: Any,
    scenario: Any,
    overlay: Any,
    month_dir: str,
    codec: str,
) -> dict[str, Any]:
    """On a worker: invert one month and write its posterior and its files.

    Parameters
    ----------
    invert : callable
        ``invert(month_config, part, scenario, label, overlay) → (grids, documents, record)``:
        the single-process path's inversion of a month (the pipeline's ``invert_month``).
    prior_store, store : str
        Paths of ``prior.zarr`` (read) and ``posterior.zarr`` (created if missing, then written
        in the month's region).
    hours : ndarray of datetime64
        The period's hours (UTC, hour-beginning): the time axis of a store created here.
    label : str
        The month, ``YYYY-MM``.
    span : (start, stop)
        The month's hours, positions along the stores' time axis.
    month_config : RunConfig
        The configuration of the month alone.
    scenario : Scenario
    overlay : Overlay or None
    month_dir : str
        The folder of the month's files (``inversion/YYYY-MM``).
    codec : {"lz4-noshuffle", "lz4", "zstd"}
        The compressor of a store created here.

    Returns
    -------
    dict
        ``label``, ``hours`` (the span), ``store``, ``files`` (the month's files by name, paths
        as str), ``record`` (the month's record) and ``attrs`` (the global attributes the store
        has when this month creates it).
    """
    from distributed import Lock

    from gridcarbon.io import open_grids
    from gridcarbon.io.outputs import write_documents
    from gridcarbon.io.runfolder import deferred_signals
    from gridcarbon.io.year_store import create_store, store_attrs, write_month

    prior = open_grids(prior_store, chunked=False)
    try:
        with deferred_signals():
            part = prior.isel(time=slice(*span)).load()
    finally:
        prior.close()
    grids, docs, record = invert(month_config, part, scenario, label, overlay)
    del part
    if not Path(store).exists():  # the first month to finish creates the whole store
        with Lock(f"gridcarbon-create-{store}"):
            if not Path(store).exists():
                create_store(grids, hours, store, attrs=grids.attrs, codec=codec)
    write_month(store, grids, span[0])
    attrs = store_attrs(grids, grids.attrs)
    del grids
    folder = Path(month_dir)
    folder.mkdir(parents=True, exist_ok=True)
    files = write_documents(docs, folder, overwrite=True)
    return {
        "label": label,
        "hours": tuple(span),
        "store": str(store),
        "files": {name: str(path) for name, path in files.items()},
        "record": record,
        "attrs": attrs,
    }


def invert_months_on_workers(
    client: Any,
    invert: Callable[..., tuple[Any, dict[str, Any], dict[str, Any]]],
    months: Sequence[tuple[str, slice, Any]],
    done: Mapping[str, tuple[int, int]],
    *,
    prior_store: Path,
    store: Path,
    hours: np.ndarray,
    scenario: Any,
    overlay: Any,
    folder: Path,
    fingerprint: dict[str, Any],
    months_folder: str,
    marker: str,
    codec: str,
    needed_bytes: float,
) -> list[dict[str, Any]]:
    """Invert the months of a streamed run as tasks (:func:`inversion_month_task`); returns
    every month's record in month order.

    Months whose marker (``marker.format(label)``) is in ``done`` are read back from their
    ``month.json``; the others are submitted at once, the scenario and the overlay shared with
    the workers, after :func:`check_worker_memory` with ``needed_bytes``.  Each month's
    marker is written here when its task has returned (after setting the store's attributes to
    the first month's, for that month).  A failed month does not stop the others: they run to
    the end and keep their markers, so a resumed run inverts only the months that failed; then
    the first failure's error is raised.  Whether a month finished never depends on how soon
    another's failure was seen.
    """
    import json

    from distributed import as_completed

    from gridcarbon.io import year_store

    records: dict[str, dict[str, Any]] = {}
    pending = []
    for label, sl, month_config in months:
        if done.get(marker.format(label)) == (sl.start, sl.stop):
            log.info("inversion %s: done in an earlier run", label)
            path = folder / months_folder / label / "month.json"
            records[label] = json.loads(path.read_text(encoding="utf-8"))
        else:
            pending.append((label, sl, month_config))
    if pending:
        check_worker_memory(client, needed_bytes)
        first = months[0][0]
        shared = shared_with_workers(client, scenario=scenario, overlay=overlay)
        with shared as remote:
            token = uuid.uuid4().hex[:8]
            futures = {
                client.submit(
                    inversion_month_task,
                    invert,
                    str(prior_store),
                    str(store),
                    hours,
                    label,
                    (sl.start, sl.stop),
                    month_config,
                    remote["scenario"],
                    remote["overlay"],
                    str(folder / months_folder / label),
                    codec,
                    key=f"invert-month-{label}-{token}",
                    pure=False,
                ): (label, sl)
                for label, sl, month_config in pending
            }
            failed: Exception | None = None
            try:
                for future in as_completed(futures):
                    label, sl = futures[future]
                    try:
                        out = task_result(future, f"inversion {label}")  # the worker's error
                    except Exception as error:  # re-raised once the other months are done
                        log.error("inversion %s: failed (%s); the other months go on", label, error)
                        failed = failed or error
                        continue
                    if label == first:  # the store's attributes are the first month's
                        year_store.put_store_attrs(store, out["attrs"])
                    records[label] = out["record"]
                    year_store.write_marker(
                        folder, marker.format(label), (sl.start, sl.stop), fingerprint
                    )
                    log.info("inversion %s: inverted by a worker", label)
            finally:
                client.cancel(list(futures))
        if failed is not None:
            raise failed
    return [records[label] for label, _, _ in months]


def warm_up() -> str:
    """On a worker: import the inversion's modules and load its numba kernels (from numba's
    cache when it holds them) on tiny arrays, so the first month's task does not pay for them.
    Returns ``"warm"``."""
    from gridcarbon.inversion import (  # noqa: F401  (imported: the point)
        assimilation,
        operator,
        outputs,
        posterior,
        stage,
        system,
    )
    from gridcarbon.kernels.covariance import ar1_cholesky_apply
    from gridcarbon.kernels.plume import csr_hourly_adjoint, csr_hourly_forward, csr_row_dot

    rng = np.random.default_rng(0)
    for transpose in (False, True):
        ar1_cholesky_apply(rng.random((2, 4, 3)), 0.5, transpose)
    # a 2-row CSR of 3 columns over 2 hours, in the operator's dtypes
    ptr = np.array([0, 2, 3], np.int64)
    idx = np.array([0, 2, 1], np.int32)
    val = rng.random(3).astype(np.float32)
    hour = np.array([0, 1], np.int64)
    out = np.zeros(2)
    for E in (rng.random((2, 3)), rng.random((2, 3)).astype(np.float32)):
        csr_hourly_forward(ptr, idx, val, hour, E, out)
    csr_hourly_adjoint(ptr, idx, val, hour, rng.random(2), np.zeros((2, 3)))
    csr_row_dot(ptr, idx, val, rng.random(3), out)
    return "warm"


def warm_workers(client: Any) -> list[Any]:
    """Start :func:`warm_up` on every worker of ``client`` (one task each, not waited for);
    returns the futures."""
    workers = list(client.scheduler_info(n_workers=-1)["workers"])
    token = uuid.uuid4().hex[:8]
    return [
        client.submit(warm_up, workers=[w], key=f"inversion-warm-up-{i}-{token}", pure=False)
        for i, w in enumerate(workers)
    ]
