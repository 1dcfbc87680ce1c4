"""What the streamed stages share with Dask workers survives the workers that hold it."""

from __future__ import annotations

import os
import signal
import time

import pytest

from gridcarbon.io.cluster import (
    SHARED_FOLDER,
    TaskCancelledError,
    remove_leftovers,
    shared_with_workers,
    task_result,
)

pytestmark = pytest.mark.slow  # a local cluster of two worker processes


def _length(value: bytes, extra: int) -> int:
    return len(value) + extra


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_a_shared_value_is_read_again_when_every_worker_holding_it_died(tmp_path):
    """Killed twice, each time every holder: the next task still receives the value (scattered
    data would be lost for good, and the task cancelled); its file is gone after the block."""
    from gridcarbon.pipeline import dask_client

    value = b"x" * 1_000_000
    with (
        dask_client(workers=2) as client,
        shared_with_workers(client, tmp_path, test=value, nothing=None) as futures,
    ):
        shared = futures["test"]
        assert futures["nothing"] is None
        assert [p.name[:5] for p in (tmp_path / SHARED_FOLDER).iterdir()] == ["test-"]
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
    assert not (tmp_path / SHARED_FOLDER).exists()


def test_a_killed_runs_shared_inputs_are_removed(tmp_path):
    (tmp_path / SHARED_FOLDER).mkdir()
    (tmp_path / SHARED_FOLDER / "scenario-0123abcd.pickle").write_bytes(b"left by a kill")
    (tmp_path / "prior.zarr").mkdir()
    remove_leftovers(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["prior.zarr"]


def test_a_task_cancelled_by_the_cluster_is_an_error_naming_what_it_computed():
    from gridcarbon.pipeline import dask_client

    with dask_client(workers=1) as client:
        future = client.submit(_sleep, 30.0, pure=False)
        client.cancel([future])
        with pytest.raises(TaskCancelledError, match=r"prior 2023-01: Dask cancelled its task"):
            task_result(future, "prior 2023-01")
        assert task_result(client.submit(_sleep, 0.0, pure=False), "a quick task") == 0.0
