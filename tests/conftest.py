"""Shared fixtures: small configurations that run in seconds."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from gridcarbon.config import RunConfig

# Property tests draw the same examples on every run (CI included): reproducible, and a failure
# seen once is seen again. `--hypothesis-profile explore` searches afresh.
settings.register_profile("default", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile("default")


#: The xdist group of the tests that read the default run (:func:`default_run`): with
#: ``--dist loadgroup`` (pyproject's addopts) they run on one worker, which makes the run once.
DEFAULT_RUN_GROUP = "default-run"


@pytest.fixture(scope="session")
def default_run(tmp_path_factory) -> Iterator[Path]:
    """The folder of ``gridcarbon run`` with no configuration (the embedded default, the files
    the frozen fingerprint holds), made once for the tests marked
    ``pytest.mark.xdist_group(DEFAULT_RUN_GROUP)``.  Read it, never write into it."""
    from tests.fingerprint import run_default

    work = tmp_path_factory.mktemp("default-run")
    yield run_default(work / "run")
    shutil.rmtree(work, ignore_errors=True)  # several GB: not left in the temporary folder


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
