"""Inputs that the tasks of a streamed run share on Dask workers, and their results.

The scenario, the units' overlay and the units' table are needed by every task of a stage.
They are not scattered (``client.scatter``): the scheduler cannot compute scattered data again,
so once every worker holding it has died (a worker killed by its memory limit, then its
replacement or the other worker later) the tasks that need it are cancelled, and a year's run
would stop for an input the driver still holds (dask/distributed#3149).  Nor are they put into
a task's arguments, which the scheduler would hold as a second copy in the driver's process
(a province's scenario pickles to 14 MB, Dask warns from 10 MB; the mainland's is larger).
Each is pickled once into :data:`SHARED_FOLDER` of the run's folder, which the workers already
share (they write the stores there), and is the result of a small task that reads that file:
a worker that needs it fetches it from a peer, and when no worker holds it any more the
scheduler runs the reading task again.  :func:`shared_with_workers` removes the files when the
stage is done; a killed run's are removed by the next run (:func:`remove_leftovers`).

A task the cluster cancels (one whose workers died more often than Dask's
``distributed.scheduler.allowed-failures``, a lost scheduler) has computed nothing:
:func:`task_result` turns the cancellation into :class:`TaskCancelledError`, which the stages
count as their month's failure, so a run never ends with a month silently missing.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

from gridcarbon.errors import GridcarbonError

__all__ = [
    "SHARED_FOLDER",
    "TaskCancelledError",
    "remove_leftovers",
    "shared_with_workers",
    "task_result",
]

#: The folder of a run's folder holding the pickled inputs its workers share.
SHARED_FOLDER = ".workers-shared"


class TaskCancelledError(GridcarbonError, RuntimeError):
    """A Dask task of a streamed run was cancelled by the cluster: its part was not computed."""


def _read_pickle(path: str) -> Any:
    with open(path, "rb") as file:
        return pickle.load(file)  # written by this run (shared_with_workers), not a user's file


@contextlib.contextmanager
def shared_with_workers(client: Any, folder: str | Path, **values: Any) -> Iterator[dict[str, Any]]:
    """Futures holding ``values`` on the workers, read again from their files if lost.

    Parameters
    ----------
    client : distributed.Client
        The run's client.
    folder : path
        The run's folder (or a scratch folder in it): on a file system the workers share.
        The values are pickled into its :data:`SHARED_FOLDER`, removed on leaving the block.
    **values
        What the tasks share, by a name for the task's key (``shared-{name}-…``, seen in
        Dask's dashboard and logs).  A value of None stays None (nothing is shared).

    Yields
    ------
    dict of str to distributed.Future
        By name; pass them to ``client.submit`` as arguments: tasks receive the values.
    """
    token = uuid.uuid4().hex[:8]
    shared = Path(folder) / SHARED_FOLDER
    shared.mkdir(parents=True, exist_ok=True)
    futures: dict[str, Any] = {}
    paths: list[Path] = []
    try:
        for name, value in values.items():
            if value is None:
                futures[name] = None
                continue
            path = shared / f"{name}-{token}.pickle"
            partial = path.with_name(f".{path.name}.tmp")
            paths.append(partial)  # removed below if the write fails (a full disk)
            with open(partial, "wb") as file:
                pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(partial, path)  # a task never reads half a file
            paths.append(path)
            futures[name] = client.submit(
                _read_pickle, str(path), key=f"shared-{name}-{token}", pure=False
            )
        yield futures
    finally:
        client.cancel([f for f in futures.values() if f is not None])
        for path in paths:
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # another stage's files may still be there
            shared.rmdir()


def remove_leftovers(folder: str | Path) -> None:
    """Remove the shared inputs a killed run left in ``folder`` (its run folder)."""
    shutil.rmtree(Path(folder) / SHARED_FOLDER, ignore_errors=True)


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
