"""The suite's xdist workers size numba's and the BLAS's thread pools to their share of the
cores (``tests/__init__.py``): set too late — after numpy loaded — the sizes would do nothing."""

import os

import numba
import pytest
from threadpoolctl import threadpool_info

from tests import THREAD_POOL_VARIABLES, user_environment

pytestmark = pytest.mark.skipif(
    not os.environ.get("PYTEST_XDIST_WORKER_COUNT"), reason="the sizes are set for xdist workers"
)


def test_numba_and_blas_pools_hold_the_workers_share_of_the_cores():
    assert numba.config.NUMBA_NUM_THREADS == int(os.environ["NUMBA_NUM_THREADS"])
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas, "no BLAS library loaded"
    assert {pool["num_threads"] for pool in blas} == {int(os.environ["OPENBLAS_NUM_THREADS"])}


def test_a_users_environment_leaves_out_only_the_sizes_the_suite_set():
    env = user_environment(GRIDCARBON_CHECK="1")
    assert env["GRIDCARBON_CHECK"] == "1"
    assert not set(THREAD_POOL_VARIABLES) & set(env)
    assert {
        k: v for k, v in os.environ.items() if k not in THREAD_POOL_VARIABLES
    }.items() <= env.items()
