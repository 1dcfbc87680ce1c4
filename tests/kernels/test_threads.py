"""How parallel kernels split their work into chunks."""

import numba

from gridcarbon.kernels.threads import chunk_count


def test_chunk_count_bounds():
    threads = numba.get_num_threads()
    assert chunk_count(0) == 1  # a kernel always gets at least one chunk
    assert chunk_count(1) == 1
    assert chunk_count(5, per_thread=1) == min(5, threads)
    assert chunk_count(10**6) == 8 * threads
    assert chunk_count(10**6, per_thread=2) == 2 * threads
