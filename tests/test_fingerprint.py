"""The default run and the stage commands still reproduce the frozen fingerprint.

The reference (``tests/data/default_fingerprint.json``) was recorded from main before the
architecture redesign and is never regenerated: see ``tests/fingerprint.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import made_once
from tests.fingerprint import STAGE_COMMANDS, compare_folder, folder_fingerprint, run_commands

REFERENCE = Path(__file__).parent / "data" / "default_fingerprint.json"


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def command_outputs(tmp_path_factory, default_run) -> dict[str, Path]:
    """Every fingerprinted command's folder, made once in the session (the tests of this module
    may run on several xdist workers)."""
    made = made_once(tmp_path_factory, "fingerprint", lambda f: run_commands(f, run=default_run))
    return {"run": default_run, **{name: made / name for name in STAGE_COMMANDS}}


@pytest.mark.slow
@pytest.mark.parametrize("command", ["run", "grid", "invert", "zones", "map", "osse"])
def test_command_matches_frozen_fingerprint(command, reference, command_outputs):
    ref = reference["commands"][command]
    assert ref, f"the reference holds no files for {command}"
    problems = compare_folder(ref, folder_fingerprint(command_outputs[command]))
    assert not problems, "\n".join(problems[:40])


def test_comparison_catches_a_change():
    """The comparison is able to fail: a perturbed value, a flipped bin, a dropped file."""
    import numpy as np

    from tests.fingerprint import array_fingerprint, compare_array, compare_file

    a = np.linspace(1.0, 2.0, 1000).reshape(10, 100)
    ref = array_fingerprint("v", a)
    assert compare_array("v", ref, array_fingerprint("v", a * (1 + 1e-8))) == []
    assert compare_array("v", ref, array_fingerprint("v", a * (1 + 1e-5)))
    bins = np.zeros(100, dtype=np.int8)
    flipped = bins.copy()
    flipped[7] = 1
    assert compare_array("b", array_fingerprint("b", bins), array_fingerprint("b", flipped))
    assert compare_folder({"x.csv": {"kind": "present"}}, {})
    assert compare_file(
        "j", {"kind": "json", "leaves": {"/a": 1.0}}, {"kind": "json", "leaves": {"/a": 1.1}}
    )
