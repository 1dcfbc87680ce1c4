"""gridcarbon's test suite; its layout mirrors the package's.

With pytest-xdist each worker gets its share of the cores for numba's and the BLAS's thread
pools.  Pools sized to every core oversubscribe the machine (2 workers × 2 threads on 2 cores)
and OpenBLAS's idle threads spin: the suite ran about a quarter slower.  The sizes are set here
as environment variables, which the libraries loaded later and the CLI processes the tests start
read, and applied to the pools already loaded (a pytest plugin may have imported numpy before
this package); a variable the user set is left alone, and a single-process run (``-n 0``) keeps
the libraries' defaults.
"""

import os

from threadpoolctl import threadpool_limits

#: The thread-pool variables this suite set for its xdist workers; a test that must run a
#: process as a user's shell would (every core) removes them from the child's environment
#: (:func:`user_environment`).
THREAD_POOL_VARIABLES: tuple[str, ...] = ()

if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    _threads = max(1, (_cores or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    THREAD_POOL_VARIABLES = tuple(
        name
        for name in (
            "NUMBA_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS",
        )
        if name not in os.environ
    )
    os.environ.update(dict.fromkeys(THREAD_POOL_VARIABLES, str(_threads)))
    for _api, _name in (("blas", "OPENBLAS_NUM_THREADS"), ("openmp", "OMP_NUM_THREADS")):
        if _name in THREAD_POOL_VARIABLES:
            threadpool_limits(_threads, user_api=_api)


def user_environment(**extra: str) -> dict[str, str]:
    """This process's environment without the thread-pool sizes the suite set, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_POOL_VARIABLES}
    return {**env, **extra}
