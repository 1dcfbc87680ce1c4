"""The Examples sections of the public entry points run as written (``doctest``).

Every module of the package whose docstrings hold an example (``>>>``) is found and run, so a
new example is checked without being listed here.  Examples build small objects in memory: no
whole run inside a docstring.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gridcarbon"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>> " in path.read_text(encoding="utf-8"):
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = _modules_with_examples()


def test_the_main_entry_points_have_examples():
    assert {
        "gridcarbon.config",
        "gridcarbon.grids.gridspec",
        "gridcarbon.inversion.observations",
        "gridcarbon.zoning.normalise",
    } <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_examples_run_as_written(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} example(s) of {name} failed (output above)"
