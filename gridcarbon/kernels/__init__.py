"""The numeric core: numba kernels over plain arrays, with no I/O.

Every module here imports only numpy, numba, scipy and the standard library (and nothing of
gridcarbon except :mod:`gridcarbon.errors`); the stage modules around them translate
xarray/pandas/config objects into the arrays these kernels take.  Every kernel is compiled with
``cache=True``, so the compiled code is kept in ``gridcarbon/kernels/__pycache__``.

Modules, by topic:

* :mod:`.emissions` — the prior's weighted hourly sum of sector maps;
* :mod:`.dispersion` — ISC3/Briggs dispersion coefficients, wind-profile exponents, Briggs
  plume rise and their coefficient tables;
* :mod:`.plume` — Gaussian-plume footprints (counting, filling, compaction) and the sparse
  products ``H @ x``, ``H.T @ y`` and row dots;
* :mod:`.jacobian` — the Jacobian of the modelled observations, point-source shares;
* :mod:`.covariance` — the AR(1) Cholesky factor of the prior covariance;
* :mod:`.gistar` — disc window sums, Gi* z-scores, Benjamini–Hochberg bins;
* :mod:`.tally` — coverage-matrix products over time, point sums per unit;
* :mod:`.trend` — Mann–Kendall tests and emerging-hotspot categories;
* :mod:`.colocation` — toroidal-shift co-location counts;
* :mod:`.random_fields` — sums of Fourier modes (the synthetic satellite error fields);
* :mod:`.threads` — how many chunks a parallel kernel splits its work into.

Submodules are not imported here, so that importing one kernel loads only what it needs.
"""
