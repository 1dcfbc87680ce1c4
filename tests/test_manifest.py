"""data_manifest.yaml stays true: files exist with their checksums, packages import, and every
entry states its licence, source and whether it is synthetic."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from gridcarbon.io.provenance import sha256_file
from gridcarbon.scenario.zhejiang import PACKAGE_DATA_FILES

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = yaml.safe_load((ROOT / "data_manifest.yaml").read_text(encoding="utf-8"))
ENTRIES = MANIFEST["datasets"]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_entry(entry):
    assert entry["kind"] in {"file", "package", "builtin", "generated"}
    for key in ("licence", "source"):
        assert str(entry.get(key, "")).strip(), f"{entry['id']} lacks {key}"
    assert isinstance(entry.get("synthetic"), bool), f"{entry['id']} lacks a synthetic flag"
    assert entry.get("used_by"), f"{entry['id']} does not say what uses it"
    if entry["kind"] == "package":
        importlib.import_module(entry["import"])
        return
    path = ROOT / entry["path"]
    assert path.exists(), f"{entry['id']}: {path} does not exist"
    if "sha256" in entry:
        assert sha256_file(path) == entry["sha256"], f"{entry['id']}: checksum changed"
    if entry["kind"] == "file":
        assert "sha256" in entry, f"{entry['id']}: shipped files need a sha256"
    for symbol in str(entry.get("symbol", "")).replace(" ", "").split(","):
        if symbol:
            module = ".".join(Path(entry["path"]).with_suffix("").parts)
            assert hasattr(importlib.import_module(module), symbol), f"{module}.{symbol} missing"


def test_every_shipped_file_is_listed():
    listed = {e["path"] for e in ENTRIES if e["kind"] == "file"}
    data_dir = ROOT / "gridcarbon" / "data"
    shipped = {f"gridcarbon/data/{p.name}" for p in data_dir.iterdir() if p.is_file()}
    assert shipped <= listed, f"unlisted data files: {sorted(shipped - listed)}"
    assert {f"gridcarbon/data/{n}" for n in PACKAGE_DATA_FILES} <= listed
