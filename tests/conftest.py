"""Shared fixtures: small configurations that run in seconds."""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from gridcarbon.config import RunConfig

# Property tests draw the same examples on every run (CI included): reproducible, and a failure
# seen once is seen again. `--hypothesis-profile explore` searches afresh.
settings.register_profile("default", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile("default")


def made_once(tmp_path_factory, name: str, make: Callable[[Path], object]) -> Path:
    """``make(folder)`` done once in the whole test session, whichever pytest-xdist workers ask
    for it: the first makes it under a lock, the others wait for it and read it.  Returns the
    folder (removed at the end of the session, :func:`pytest_sessionfinish`).  Read it, never
    write into it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above each worker's own
    folder = root / f"{SHARED_PREFIX}{name}"
    with open(root / f"{SHARED_PREFIX}{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (folder / ".made").exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed attempt left
            folder.mkdir()
            make(folder)
            (folder / ".made").touch()
    return folder


#: The names of :func:`made_once`'s folders start with this.
SHARED_PREFIX = "made-once-"


def pytest_sessionfinish(session) -> None:
    """The folders :func:`made_once` filled (hundreds of MB) are not left in the temporary
    folder: removed by the process that ran the session (with xdist, after every worker)."""
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller removes them
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or factory._basetemp is None:  # no temporary folder was made
        return
    for path in factory.getbasetemp().glob(f"{SHARED_PREFIX}*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests of the default run first, together: pytest-xdist's ``load`` schedule hands
    each worker a first chunk of consecutive tests (a quarter of its share), so one worker makes
    the run (the suite's longest setup, started first) and serves all of them while the others
    run the rest, rather than waiting at :func:`made_once`'s lock."""
    items.sort(key=lambda item: "default_run" not in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def default_run(tmp_path_factory) -> Path:
    """The folder of ``gridcarbon run`` with no configuration (the embedded default, the files
    the frozen fingerprint holds), made once in the session."""
    from tests.fingerprint import run_default

    return made_once(tmp_path_factory, "default-run", lambda f: run_default(f / "run")) / "run"


@pytest.fixture(autouse=True)
def _cli_process_settings_do_not_leak():
    """The CLI sets process-wide things a command owns (the gridcarbon logger's level from
    -v/-q, how warnings print); commands invoked in the test process must not pass them on to
    the next test (a `-q` left the logger at ERROR and hid a later test's warnings)."""
    logger = logging.getLogger("gridcarbon")
    level, show = logger.level, warnings.showwarning
    yield
    logger.setLevel(level)
    warnings.showwarning = show


def small_config(**overrides) -> RunConfig:
    """The default scenario on a coarse grid and a short period (fast for tests)."""
    data = {
        "grid": {"cell_size_m": 30000.0},
        "period": {"start": dt.date(2023, 1, 20), "end": dt.date(2023, 1, 22)},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return RunConfig.validate_dict(data)


@pytest.fixture
def small_cfg() -> RunConfig:
    return small_config()
