"""Inputs that the tasks of a streamed run share on Dask workers, and their results.

The scenario, the units' overlay and the units' table are needed by every task of a stage.
They are not scattered (``client.scatter``): the scheduler cannot compute scattered data again,
so once every worker holding it has died (a worker killed by its memory limit, then its
replacement or the other worker later) the tasks that need it are cancelled, and a year's run
would stop for an input the driver still holds (dask/distributed#3149).  Each is instead the
result of a small task whose specification the scheduler keeps: a worker that needs it fetches
it from a peer, and when no worker holds it any more the scheduler runs that task again.

A task the cluster cancels (one whose workers died more often than Dask's
``distributed.scheduler.allowed-failures``, a lost scheduler) has computed nothing:
:func:`task_result` turns the cancellation into :class:`TaskCancelledError`, which the stages
count as their month's failure, so a run never ends with a month silently missing.
"""

from __future__ import annotations

import uuid
from concurrent.futures import CancelledError
from typing import Any

from gridcarbon.errors import GridcarbonError

__all__ = ["TaskCancelledError", "share_with_workers", "task_result"]


class TaskCancelledError(GridcarbonError, RuntimeError):
    """A Dask task of a streamed run was cancelled by the cluster: its part was not computed."""


def _identity(value: Any) -> Any:
    return value


def share_with_workers(client: Any, value: Any, name: str) -> Any:
    """A future holding ``value`` on the workers, computed again if it is lost.

    Parameters
    ----------
    client : distributed.Client
        The run's client.
    value : object
        What the tasks share (pickled once into the task's specification, held by the
        scheduler while the future is referenced).
    name : str
        A word for the task's key (``shared-{name}-…``), seen in Dask's dashboard and logs.

    Returns
    -------
    distributed.Future
        Pass it to ``client.submit`` as an argument; tasks receive ``value``.
    """
    return client.submit(_identity, value, key=f"shared-{name}-{uuid.uuid4().hex[:8]}", pure=False)


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
            f"{what}: Dask cancelled its task {future.key!r} ({error}), so its month is not "
            "written; the months that finished are kept: run the same command with --resume "
            "to compute the rest"
        ) from None
