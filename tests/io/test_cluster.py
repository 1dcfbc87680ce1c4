"""What the streamed stages share with Dask workers survives the workers that hold it."""

from __future__ import annotations

import os
import signal
import time

import pytest

from gridcarbon.io.cluster import TaskCancelledError, shared_with_workers, task_result

pytestmark = pytest.mark.slow  # a local cluster of two worker processes


def _length(value: bytes, extra: int) -> int:
    return len(value) + extra


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_a_shared_value_is_computed_again_when_every_worker_holding_it_died():
    """Killed twice, each time every holder: the next task still receives the value (scattered
    data would be lost for good, and the task cancelled); released after the block."""
    from gridcarbon.pipeline import dask_client

    value = b"x" * 1_000_000
    with (
        dask_client(workers=2) as client,
        shared_with_workers(client, test=value, nothing=None) as futures,
    ):
        shared = futures["test"]
        assert futures["nothing"] is None
        assert task_result(client.submit(_length, shared, 1, pure=False), "first") == 1_000_001
        for round_ in range(2):
            holders = client.who_has([shared])[shared.key]
            assert holders, "the shared value is held by no worker"
            pids = client.run(os.getpid)
            for address in holders:
                os.kill(pids[address], signal.SIGKILL)
            deadline = time.monotonic() + 120
            while set(holders) & set(client.scheduler_info()["workers"]):
                assert time.monotonic() < deadline, "the killed workers were never removed"
                time.sleep(0.05)
            again = client.submit(_length, shared, round_, pure=False)
            assert task_result(again, f"round {round_}") == 1_000_000 + round_
        assert shared.key.startswith("shared-test-")  # named in the dashboard and the logs
    assert shared.cancelled()  # released: the workers do not keep it after the stage


def test_a_large_shared_value_sends_no_large_graph_warning():
    """A province's scenario is over Dask's 10 MB warning: sharing it is the point, not a slip."""
    import warnings

    from gridcarbon.pipeline import dask_client

    with dask_client(workers=1) as client:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with shared_with_workers(client, big=b"x" * 12_000_000) as futures:
                again = client.submit(_length, futures["big"], 0, pure=False)
                assert task_result(again, "big") == 12_000_000
        with pytest.warns(UserWarning, match="large graph"):  # Dask's own, elsewhere
            client.submit(_length, b"x" * 12_000_000, 0, pure=False).result()


def test_a_task_cancelled_by_the_cluster_is_an_error_naming_what_it_computed():
    from gridcarbon.pipeline import dask_client

    with dask_client(workers=1) as client:
        future = client.submit(_sleep, 30.0, pure=False)
        client.cancel([future])
        with pytest.raises(TaskCancelledError, match=r"prior 2023-01: Dask cancelled its task"):
            task_result(future, "prior 2023-01")
        assert task_result(client.submit(_sleep, 0.0, pure=False), "a quick task") == 0.0
