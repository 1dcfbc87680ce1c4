"""How parallel kernels split their work across numba's threads."""

from __future__ import annotations

import numba

__all__ = ["chunk_count"]


def chunk_count(n_items: int, per_thread: int = 8) -> int:
    """Number of chunks to split ``n_items`` independent items into for a ``prange`` loop.

    Parameters
    ----------
    n_items : int
        Items to process (e.g. fields or time steps).
    per_thread : int
        Chunks per numba thread, so that uneven chunks still balance across threads.

    Returns
    -------
    int
        ``max(1, min(n_items, per_thread * numba.get_num_threads()))``.
    """
    return max(1, min(n_items, per_thread * numba.get_num_threads()))
