"""Kills, interrupts and faults: every output is complete or absent, the previous result survives,
and a rerun gives what an uninterrupted run gives.

The runs are real ``python -m gridcarbon.cli run`` processes on a small configuration; each is
stopped when a given file appears in its temporary folder (polled), bounded by the test's own
timeout, never by a clock in an assertion.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.runs import assert_same_outputs, file_hashes, write_run_config

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 600  # seconds for one run on a loaded 2-core machine


def _interruptible() -> None:
    """In the child: Ctrl-C at its default, as in a terminal (a test suite started in the
    background, e.g. `cmd &` in a script, passes SIGINT on ignored, and the run would then
    rightly ignore it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: The CLI with the CSV and GeoTIFF writers holding each finished temporary file whose name
#: starts with ``sys.argv[1]`` for two seconds before it is published: a small table or raster
#: lives only milliseconds in the temporary folder, too briefly for a poll to catch it on a fast
#: machine, or on a loaded one whose poll sleeps longer than the file lives.
_SLOW_WRITE = """
import contextlib, sys, time
import gridcarbon.io.grids as grids
import gridcarbon.io.tables as tables
publish, prefix = tables.atomic_path, sys.argv.pop(1)

@contextlib.contextmanager
def held(path, overwrite=False):
    with publish(path, overwrite=overwrite) as tmp:
        yield tmp
        if tmp.name.startswith(prefix):
            time.sleep(2.0)

tables.atomic_path = held
grids.atomic_path = held
from gridcarbon.cli import main
main()
"""


def _start(cwd: Path, *args: str, hold: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = ["-m", "gridcarbon.cli"] if hold is None else ["-c", _SLOW_WRITE, hold]
    return subprocess.Popen(
        [sys.executable, *cli, "run", "--config", "run.yaml", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_interruptible,
    )


def _temps(cwd: Path, out: str = "out") -> list[Path]:
    return sorted(cwd.glob(f".{out}.tmp-*"))


def _stop_when(
    proc: subprocess.Popen,
    cwd: Path,
    pattern: str,
    signum: int,
    min_bytes: int = 0,
    may_finish: bool = False,
) -> str | None:
    """Send ``signum`` as soon as ``pattern`` matches inside the run's temporary folder (and
    holds at least ``min_bytes``: a file part-written); returns what matched.  With
    ``may_finish`` (a file that lives only milliseconds before the folder is published) a run
    that ends successfully before it is seen returns None instead of failing the test."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        for tmp in _temps(cwd):
            hits = [p for p in sorted(tmp.glob(pattern)) if _size(p) >= min_bytes]
            if hits:
                proc.send_signal(signum)
                return hits[0].name
        if proc.poll() is not None:
            if may_finish and proc.returncode == 0:
                return None
            pytest.fail(f"the run ended before {pattern} appeared: {proc.communicate()}")
        time.sleep(0.005)
    proc.kill()
    pytest.fail(f"{pattern} did not appear within {TIMEOUT} s")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # renamed into place meanwhile
        return -1


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the run did not end after the signal (hang)")
    return proc.returncode, err


def _run(cwd: Path, *args: str) -> None:
    rc, err = _finish(_start(cwd, *args))
    assert rc == 0, err


#: Points at which runs are killed: each stage boundary, mid-write of the first grids, and the
#: publishing of the folder (in run order).
KILL_POINTS = [
    ".prior.nc.tmp-*",  # the prior grids being written
    "config.yaml",  # prior stage → inversion
    ".posterior.nc.tmp-*",  # the posterior being written
    "inversion_metrics.csv",  # inversion → zoning
    ".zone_units.gpkg.tmp-*",  # the zone GeoPackage being written
    "zone_units_qa.json",  # zoning → maps
    "map.html",  # maps done, the folder not yet published
    ".gridcarbon-manifest.json",  # publishing
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted run."""
    cwd = tmp_path_factory.mktemp("reference")
    write_run_config(cwd)
    _run(cwd, "--out", "out")
    return cwd / "out"


def test_sigkill_at_every_stage_leaves_no_output_and_a_rerun_matches(tmp_path, reference):
    write_run_config(tmp_path)
    for point in KILL_POINTS:
        proc = _start(tmp_path, "--out", "out")
        last = point == KILL_POINTS[-1]
        seen = _stop_when(proc, tmp_path, point, signal.SIGKILL, may_finish=last)
        rc, _ = _finish(proc)
        assert rc == (0 if seen is None else -signal.SIGKILL)
        if (tmp_path / "out").exists():  # killed after the rename: then the folder is whole
            assert point == ".gridcarbon-manifest.json"
            assert_same_outputs(tmp_path / "out", reference)
            break
        # the killed run's temporary folder is left; the next run removes it
        assert len(_temps(tmp_path)) == 1, point
    rc, err = _finish(_start(tmp_path, "--out", "out", "--overwrite"))
    assert rc == 0, err
    assert _temps(tmp_path) == []
    assert_same_outputs(tmp_path / "out", reference)


#: Where an overwriting run is killed: while it writes its first file, with every stage done
#: and the folder not yet swapped in, and during the swap.  The previous folder is untouched
#: until the swap, so the stage boundaries between add nothing here; that no stage writes into
#: the output folder itself, the fresh run killed at every stage shows (test above).
OVERWRITE_KILL_POINTS = [KILL_POINTS[0], "map.html", ".gridcarbon-manifest.json"]


def test_sigkill_during_overwrite_keeps_the_previous_result(tmp_path, reference):
    write_run_config(tmp_path)
    shutil.copytree(reference, tmp_path / "out")  # the previous result: a whole run's folder
    before = file_hashes(tmp_path / "out")
    for point in OVERWRITE_KILL_POINTS:
        proc = _start(tmp_path, "--out", "out", "--overwrite")
        last = point == OVERWRITE_KILL_POINTS[-1]
        seen = _stop_when(proc, tmp_path, point, signal.SIGKILL, may_finish=last)
        assert _finish(proc)[0] == (0 if seen is None else -signal.SIGKILL)
        after = file_hashes(tmp_path / "out")
        if after != before:  # only a kill after the swap may change it, and then it is whole
            assert point == ".gridcarbon-manifest.json"
            assert_same_outputs(tmp_path / "out", reference)
    _run(tmp_path, "--out", "out", "--overwrite")
    assert _temps(tmp_path) == [] and sorted(p.name for p in tmp_path.glob(".out.*")) == []
    assert_same_outputs(tmp_path / "out", reference)


@pytest.mark.parametrize(
    ("pattern", "kind"),
    [
        (".prior.nc.tmp-*", "NetCDF"),
        (".prior_totals.tif.tmp-*", "GeoTIFF"),
        (".station_stats.csv.tmp-*", "CSV"),
        (".zone_units.gpkg.tmp-*", "GeoPackage"),
        (".zone_report.xlsx.tmp-*", "Excel"),
    ],
)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_while_a_file_is_written_ends_the_run_cleanly(tmp_path, pattern, kind, signum):
    write_run_config(tmp_path)
    hold = pattern.split(".tmp-")[0] if kind in ("CSV", "GeoTIFF") else None
    proc = _start(tmp_path, "--out", "out", hold=hold)
    _stop_when(proc, tmp_path, pattern, signum)
    rc, err = _finish(proc)
    assert rc == {signal.SIGINT: 130, signal.SIGTERM: 143}[signum], err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] in (
        "gridcarbon: interrupted; nothing was written",
        "gridcarbon: terminated; nothing was written",
    )
    left = {p.name for p in tmp_path.iterdir()}
    assert {"run.yaml", "units.geojson"} <= left <= {"cache", "run.yaml", "units.geojson"}
    assert list(tmp_path.glob(".*")) == []  # no temporary folder, no lock file


def test_ctrl_c_in_the_middle_of_a_netcdf_write_does_not_hang(tmp_path):
    """xarray's file manager dead-locked when KeyboardInterrupt hit inside its writer; the
    interrupt now waits for the end of the write step."""
    from gridcarbon.config import RunConfig

    cfg = RunConfig.validate_dict(
        {
            "period": {"start": "2023-01-01", "end": "2023-01-10"},  # 3 km grid, 240 hours
            "inversion": {"enabled": False},
            "zoning": {"enabled": False},
            "maps": {"enabled": False},
        }
    )
    (tmp_path / "run.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
    proc = _start(tmp_path, "--out", "out")
    _stop_when(proc, tmp_path, ".prior.nc.tmp-*", signal.SIGINT, min_bytes=1 << 20)
    rc, err = _finish(proc)
    assert rc == 130, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml"]
