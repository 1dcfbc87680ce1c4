"""Inputs that the tasks of a streamed run share on Dask workers, and their results.

The scenario, the units' overlay and the units' table are needed by every task of a stage.
They are not scattered (``client.scatter``): the scheduler cannot compute scattered data again,
so once every worker holding it has died (a worker killed by its memory limit, then its
replacement or the other worker later) the tasks that need it are cancelled, and a year's run
would stop for an input the driver still holds (dask/distributed#3149).  Each is instead the
result of a small task that returns it, given as the task's argument: the scheduler keeps the
task, so when no worker holds the value any more it runs the task again, and a worker that needs
the value fetches it from a peer.  The price is a copy held by the scheduler (in the driver's
process with local workers) while the stage runs: 5 MB for the default scenario, 14 MB for the
Yangtze River Delta's.  Dask's warning about graphs over 10 MB is silenced for these tasks
only: the size is the point.  Writing the values to files for the workers would avoid the copy
but needs pickle, which the package does not use (SECURITY.md, rule 5).

A task the cluster cancels (one whose workers died more often than Dask's
``distributed.scheduler.allowed-failures``, a lost scheduler) has computed nothing:
:func:`task_result` turns the cancellation into :class:`TaskCancelledError`, which the stages
count as their month's failure, so a run never ends with a month silently missing.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from concurrent.futures import CancelledError
from typing import Any

from gridcarbon.errors import GridcarbonError

__all__ = ["TaskCancelledError", "shared_with_workers", "task_result"]


class TaskCancelledError(GridcarbonError, RuntimeError):
    """A Dask task of a streamed run was cancelled by the cluster: its part was not computed."""


def _identity(value: Any) -> Any:
    return value


@contextlib.contextmanager
def shared_with_workers(client: Any, **values: Any) -> Iterator[dict[str, Any]]:
    """Futures holding ``values`` on the workers, computed again if every copy is lost.

    Parameters
    ----------
    client : distributed.Client
        The run's client.
    **values
        What the tasks share, by a name for the task's key (``shared-{name}-…``, seen in
        Dask's dashboard and logs).  A value of None stays None (nothing is shared).

    Yields
    ------
    dict of str to distributed.Future
        By name; pass them to ``client.submit`` as arguments: tasks receive the values.  They
        are released on leaving the block.
    """
    import dask

    token = uuid.uuid4().hex[:8]
    futures: dict[str, Any] = {}
    try:
        with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1TB"}):
            for name, value in values.items():
                futures[name] = (
                    None
                    if value is None
                    else client.submit(_identity, value, key=f"shared-{name}-{token}", pure=False)
                )
        yield futures
    finally:
        client.cancel([f for f in futures.values() if f is not None])


def task_result(future: Any, what: str) -> Any:
    """``future.result()``: the task's value, or the worker's error raised as it is.

    Parameters
    ----------
    future : distributed.Future
        A task of a streamed run's stage.
    what : str
        What the task computes (``"prior 2023-01"``), for the message.

    Raises
    ------
    TaskCancelledError
        The cluster cancelled the task (its message says why, when Dask says it).
    """
    try:
        return future.result()
    except CancelledError as error:
        raise TaskCancelledError(
            f"{what}: Dask cancelled its task {future.key!r} ({error}), so nothing of it was "
            "written; what finished is kept: run the same command with --resume to compute "
            "the rest"
        ) from None
