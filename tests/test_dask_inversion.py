"""The inversion's months of a streamed run as Dask tasks equal the single-process path's; a run
interrupted after one month's marker resumes with the other month alone; a month that fails on
its worker does not stop the other; a month's inversion that would exceed 60 % of a worker's
memory limit is refused before any work.

The small test region (:mod:`tests.region`) over four days across a month boundary (two
months) on a two-worker ``LocalCluster`` of worker processes (as ``--workers 2`` starts it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import gridcarbon.io.year_store
from gridcarbon.config import RunConfig
from gridcarbon.inversion.distributed import WORKER_SHARE, check_worker_memory
from gridcarbon.io.resources import ResourceError
from gridcarbon.pipeline import run_streamed
from tests.region import small_region_scenario
from tests.streamed_region import streamed_config

ROOT = Path(__file__).resolve().parents[1]
MONTHS = ("2023-01", "2023-02")


def _config() -> RunConfig:
    return streamed_config({"start": "2023-01-30", "end": "2023-02-02"}, inversion=True)


@pytest.fixture(scope="module")
def scenario():
    return small_region_scenario()


@pytest.fixture(scope="module")
def client():
    from gridcarbon.pipeline import dask_client

    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(ROOT)  # the worker processes unpickle the test region
    try:
        with dask_client(workers=2) as c:
            yield c
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = before


@pytest.fixture(scope="module")
def single(tmp_path_factory, scenario):
    out = tmp_path_factory.mktemp("single") / "out"
    run_streamed(_config(), out, resume=True, scenario=scenario)
    return out


@pytest.fixture(scope="module")
def on_workers(tmp_path_factory, scenario, client):
    out = tmp_path_factory.mktemp("workers") / "out"
    run_streamed(_config(), out, resume=True, scenario=scenario, client=client)
    return out


def _posterior(folder: Path) -> xr.Dataset:
    return xr.open_zarr(folder / "posterior.zarr", consolidated=True).load()


def _assert_same_metrics(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """The metrics tables equal, numbers to 1e-6 relative, timings (``*seconds*``,
    ``*per_second``) aside."""
    assert a["metric"].tolist() == b["metric"].tolist()
    timed = a["metric"].str.contains("second")
    assert timed.sum() >= 1
    a, b = a[~timed].reset_index(drop=True), b[~timed].reset_index(drop=True)
    x, y = (pd.to_numeric(t["value"], errors="coerce") for t in (a, b))
    text = x.isna()
    assert (a["value"][text] == b["value"][text]).all()
    np.testing.assert_allclose(x[~text], y[~text], rtol=1e-6, atol=1e-12)
    assert (a["synthetic"] == b["synthetic"]).all()


def _assert_same_attrs(a: dict, b: dict) -> None:
    """Equal attributes; the JSON-encoded ones (the inversion's summary) with their numbers to
    1e-9 relative, as a sum over rows may differ in its last bit between the two paths."""
    assert a.keys() == b.keys()
    for key, value in a.items():
        if key == "inversion":
            ja, jb = json.loads(value), json.loads(b[key])
            _assert_same_json(ja, jb, key)
        else:
            assert value == b[key], key


def _assert_same_json(a, b, where: str) -> None:
    """Equal JSON values: numbers to 1e-9 relative, text, booleans and nulls exactly, lists and
    objects item by item."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for name in a:
            _assert_same_json(a[name], b[name], f"{where}.{name}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same_json(x, y, f"{where}[{i}]")
    elif isinstance(a, (int, float)) and not isinstance(a, bool):
        assert isinstance(b, (int, float)) and not isinstance(b, bool), where
        assert a == pytest.approx(b, rel=1e-9, nan_ok=True), where
    else:
        assert a == b, where


def _assert_same_inversion(a: Path, b: Path) -> None:
    """posterior.zarr, inversion_months.csv, every month's files and the units' σ of ``a`` and
    ``b`` equal to 1e-6 relative (the workers' BLAS and numba run single-threaded, the
    single-process path's on every core: sums may differ in their last bits)."""
    pa, pb = _posterior(a), _posterior(b)
    _assert_same_attrs(pa.attrs, pb.attrs)
    xr.testing.assert_allclose(pa, pb, rtol=1e-6, atol=0)
    for name in pa.variables:
        assert pa[name].attrs == pb[name].attrs, name
        assert pa[name].dtype == pb[name].dtype, name
    ta, tb = (pd.read_csv(f / "inversion_months.csv") for f in (a, b))
    pd.testing.assert_frame_equal(ta, tb, check_exact=False, rtol=1e-6, atol=0)
    for month in MONTHS:
        da, db = a / "inversion" / month, b / "inversion" / month
        names = sorted(p.name for p in da.iterdir())
        assert names == sorted(p.name for p in db.iterdir())
        assert {"month.json", "posterior_maps.nc", "station_stats.csv"} <= set(names)
        for name in names:
            if name == "inversion_metrics.csv":
                _assert_same_metrics(pd.read_csv(da / name), pd.read_csv(db / name))
            elif name == "inversion_metrics.json":  # its flat copy is the CSV
                ja, jb = (json.loads((d / name).read_text()) for d in (da, db))
                assert ja.keys() == jb.keys()
            elif name.endswith(".csv"):
                pd.testing.assert_frame_equal(
                    pd.read_csv(da / name), pd.read_csv(db / name), rtol=1e-6, atol=0
                )
            elif name.endswith(".nc"):
                with xr.open_dataset(da / name) as x, xr.open_dataset(db / name) as y:
                    xr.testing.assert_allclose(x.load(), y.load(), rtol=1e-6, atol=0)
            elif name == "month.json":
                ra, rb = (json.loads((d / name).read_text()) for d in (da, db))
                assert ra["row"].keys() == rb["row"].keys() and ra.keys() == rb.keys()
                assert ra["units_digest"] == rb["units_digest"]
                pd.testing.assert_series_equal(
                    pd.Series(ra["row"]), pd.Series(rb["row"]), rtol=1e-6, atol=0
                )
                for sp, v in ra["unit_variance_kg2"].items():
                    np.testing.assert_allclose(v, rb["unit_variance_kg2"][sp], rtol=1e-6, atol=0)
    ua, ub = (pd.read_csv(f / "zone_units.csv") for f in (a, b))
    pd.testing.assert_frame_equal(ua, ub, check_exact=False, rtol=1e-6, atol=0)


@pytest.mark.slow  # a cluster of two worker processes and two streamed inversions
def test_inversion_months_on_two_workers_equal_the_single_process_run(single, on_workers):
    assert sorted(p.name for p in (on_workers / "_markers").iterdir()) == sorted(
        [f"{m}.json" for m in MONTHS] + [f"posterior-{m}.json" for m in MONTHS]
    )
    _assert_same_inversion(single, on_workers)
    post, single_post = _posterior(on_workers), _posterior(single)
    assert not (post["CO2"].values == xr.open_zarr(on_workers / "prior.zarr")["CO2"].values).all()
    # the period row: σ of the period = sqrt(Σ monthly variances), from the workers' records
    table = pd.read_csv(on_workers / "inversion_months.csv")
    months, period = table.iloc[:2], table.iloc[2]
    for sp in ("CO2", "NOx", "VOC"):
        sigma = np.sqrt((months[f"{sp}_posterior_std_t"] ** 2).sum())
        assert period[f"{sp}_posterior_std_t"] == pytest.approx(sigma, rel=1e-12)
    exact = all(
        np.array_equal(post[v].values, single_post[v].values, equal_nan=True)
        for v in post.data_vars
    )
    print(f"posterior.zarr bit for bit equal to the single-process run: {exact}")


@pytest.mark.slow
def test_inversion_on_workers_resumes_with_the_month_not_done(
    tmp_path, scenario, client, single, monkeypatch
):
    """A fault after the first posterior marker: the resumed run inverts the other month
    alone (the done month's files untouched) and equals the single-process run."""
    out = tmp_path / "out"
    real = gridcarbon.io.year_store.write_marker
    written: list[str] = []

    def fault(folder, month, hours, fingerprint):
        if month.startswith("posterior-") and written:
            raise RuntimeError(f"injected fault before the marker of {month}")
        if month.startswith("posterior-"):
            written.append(month[len("posterior-") :])
        return real(folder, month, hours, fingerprint)

    monkeypatch.setattr(gridcarbon.io.year_store, "write_marker", fault)
    with pytest.raises(RuntimeError, match="injected fault"):
        run_streamed(_config(), out, scenario=scenario, client=client)
    monkeypatch.setattr(gridcarbon.io.year_store, "write_marker", real)
    partial = Path(f"{out}.partial")
    (done,) = written
    (other,) = [m for m in MONTHS if m != done]
    markers = sorted(p.name for p in (partial / "_markers").iterdir())
    assert f"posterior-{done}.json" in markers and f"posterior-{other}.json" not in markers
    kept = {p: p.stat().st_mtime_ns for p in (partial / "inversion" / done).iterdir()}
    redone = partial / "inversion" / other / "month.json"
    before = redone.stat().st_mtime_ns if redone.exists() else None
    run_streamed(_config(), out, scenario=scenario, client=client, resume=True)
    assert out.is_dir() and not partial.exists()
    moved = {out / p.relative_to(partial): t for p, t in kept.items()}
    assert {p: p.stat().st_mtime_ns for p in (out / "inversion" / done).iterdir()} == moved
    assert (out / "inversion" / other / "month.json").stat().st_mtime_ns != before
    _assert_same_inversion(single, out)


def _invert_failing_in_january(month_config, part, scenario, label, overlay):
    """On a worker: the pipeline's month inversion, except that January fails at once."""
    import gridcarbon.pipeline

    if label == MONTHS[0]:
        raise RuntimeError(f"injected failure of {label}")
    return gridcarbon.pipeline.invert_month(month_config, part, scenario, label, overlay)


@pytest.mark.slow
def test_a_failed_month_on_workers_does_not_stop_the_other(
    tmp_path, scenario, client, single, monkeypatch
):
    """January fails at once on its worker: February still runs to the end and keeps its
    marker, the failure is raised after it, and the resumed run inverts January alone."""
    import gridcarbon.pipeline

    out = tmp_path / "out"
    monkeypatch.setattr(gridcarbon.pipeline, "invert_month", _invert_failing_in_january)
    with pytest.raises(RuntimeError, match="injected failure of 2023-01"):
        run_streamed(_config(), out, scenario=scenario, client=client)
    monkeypatch.undo()
    partial = Path(f"{out}.partial")
    markers = sorted(p.name for p in (partial / "_markers").iterdir())
    assert "posterior-2023-02.json" in markers and "posterior-2023-01.json" not in markers
    kept = {p: p.stat().st_mtime_ns for p in (partial / "inversion" / "2023-02").iterdir()}
    run_streamed(_config(), out, scenario=scenario, client=client, resume=True)
    assert out.is_dir() and not partial.exists()
    moved = {out / p.relative_to(partial): t for p, t in kept.items()}
    assert {p: p.stat().st_mtime_ns for p in (out / "inversion" / "2023-02").iterdir()} == moved
    _assert_same_inversion(single, out)


@pytest.mark.slow
def test_a_month_beyond_60_percent_of_the_worker_limit_is_inverted_in_this_process(
    tmp_path, scenario, client, single, monkeypatch, caplog
):
    """A month's inversion estimated above 60 % of the workers' limit is never submitted: the
    run warns, names the fix, inverts the months in this process, and equals the
    single-process run (the prior and the zones still on the workers)."""
    import gridcarbon.pipeline

    monkeypatch.setattr(gridcarbon.pipeline, "inversion_month_bytes", lambda *a: 1e15)
    limits = [w["memory_limit"] for w in client.scheduler_info()["workers"].values()]
    assert all(1e15 > WORKER_SHARE * x for x in limits)
    out = tmp_path / "out"
    with caplog.at_level("WARNING", logger="gridcarbon.inversion.distributed"):
        run_streamed(_config(), out, scenario=scenario, client=client)
    (warning,) = [r.getMessage() for r in caplog.records if "--worker-memory" in r.getMessage()]
    assert "needs about 1000000.00 GB" in warning and "inverted in this process" in warning
    _assert_same_inversion(single, out)


class _Cluster:
    def __init__(self, *limits: int | None) -> None:
        self.limits = limits

    def scheduler_info(self, n_workers: int = -1) -> dict:
        return {"workers": {f"w{i}": {"memory_limit": x} for i, x in enumerate(self.limits)}}


def test_worker_memory_check_takes_the_smallest_limit_and_names_the_fix():
    gib = 2**30
    check_worker_memory(_Cluster(8 * gib, 8 * gib), 0.6 * 8 * gib)  # at 60 %: submitted
    with pytest.raises(ResourceError) as refused:
        check_worker_memory(_Cluster(16 * gib, 4 * gib), 5e9)
    text = str(refused.value)
    assert "5.00 GB" in text and "4.00 GiB" in text
    assert "--worker-memory 8GiB" in text  # 5e9 / 0.6 = 7.76 GiB, in quarters of a GiB
    check_worker_memory(_Cluster(None, 0), 1e12)  # no limit: nothing to check
    check_worker_memory(_Cluster(), 1e12)  # no worker yet
