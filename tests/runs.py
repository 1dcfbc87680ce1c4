"""Small whole-pipeline configurations and helpers for the run-folder tests (fast, seeded)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import geopandas as gpd
import shapely

from tests.conftest import small_config


def write_units(path: Path, long_name: int = 0) -> Path:
    """Three control units near Hangzhou as GeoJSON (EPSG:4490); ``long_name`` characters in the
    first unit's name when > 0."""
    names = ["Xiaoshan protection 1", "Xiaoshan industrial park", "Xiaoshan general 1"]
    if long_name:
        names[0] = "x" * long_name
    gpd.GeoDataFrame(
        {
            "unit_code": ["ZH33010910001", "ZH33010920001", "ZH33010930001"],
            "unit_name": names,
            "category": ["priority_protection", "key_control", "general_control"],
            "subtype": ["ecological_red_line", "industrial_agglomeration", ""],
        },
        geometry=[
            shapely.box(120.0, 29.8, 120.4, 30.1),
            shapely.box(120.4, 29.8, 120.8, 30.1),
            shapely.box(120.0, 30.1, 120.8, 30.4),
        ],
        crs="EPSG:4490",
    ).to_file(path, driver="GeoJSON")
    return path


def write_run_config(folder: Path, inversion: bool = True, **overrides) -> Path:
    """A whole-pipeline configuration on the coarse test grid, its own units and coverage cache,
    written to ``folder/run.yaml``; paths are relative to ``folder`` (run it from there), so runs
    in two folders give identical outputs."""
    write_units(folder / "units.geojson")
    zoning = {
        "gi_radius_m": 65000.0,
        "units_path": "units.geojson",
        "cache_dir": "cache",
        "qa_region": "none",
    }
    cfg = small_config(
        inversion={"enabled": inversion},
        zoning={**zoning, **overrides.pop("zoning", {})},
        **overrides,
    )
    path = folder / "run.yaml"
    path.write_text(cfg.to_yaml(), encoding="utf-8")
    return path


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` by relative path."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


_CLOCK_WORDS = ("seconds", "timings", "_s", "per_second")


def _no_clock(obj):
    if isinstance(obj, dict):
        return {k: _no_clock(v) for k, v in obj.items() if not any(w in k for w in _CLOCK_WORDS)}
    if isinstance(obj, list):
        return [_no_clock(v) for v in obj]
    return obj


def assert_same_outputs(a: Path, b: Path) -> None:
    """The two run folders hold the same files with the same results (clocks and volatile
    element ids left out)."""
    import numpy as np
    import pandas as pd
    import pyogrio
    import rasterio
    import xarray as xr

    names_a = sorted(p.relative_to(a).as_posix() for p in a.rglob("*"))
    names_b = sorted(p.relative_to(b).as_posix() for p in b.rglob("*"))
    assert names_a == names_b
    for name in names_a:
        pa, pb = a / name, b / name
        if pa.is_dir():
            continue
        suffix = pa.suffix
        if suffix == ".nc":
            with xr.open_dataset(pa) as da, xr.open_dataset(pb) as db:
                xr.testing.assert_identical(da.load(), db.load())
        elif suffix == ".tif":
            with rasterio.open(pa) as ra, rasterio.open(pb) as rb:
                np.testing.assert_array_equal(ra.read(), rb.read())
                assert ra.tags() == rb.tags() and ra.crs == rb.crs
        elif suffix == ".gpkg":
            pd.testing.assert_frame_equal(pyogrio.read_dataframe(pa), pyogrio.read_dataframe(pb))
        elif suffix == ".xlsx":
            sa = pd.read_excel(pa, sheet_name=None)
            sb = pd.read_excel(pb, sheet_name=None)
            assert sa.keys() == sb.keys()
            for sheet in sa:
                pd.testing.assert_frame_equal(sa[sheet], sb[sheet])
        elif suffix == ".json":
            ja, jb = json.loads(pa.read_text()), json.loads(pb.read_text())
            assert _no_clock(ja) == _no_clock(jb), name
        elif name == "inversion_metrics.csv":  # the flattened metrics, with their clocks
            ma, mb = (pd.read_csv(p, dtype=str) for p in (pa, pb))
            keep = [not any(w in m for w in _CLOCK_WORDS) for m in ma["metric"]]
            assert ma["metric"].tolist() == mb["metric"].tolist()
            pd.testing.assert_frame_equal(ma[keep], mb[keep])
        elif suffix == ".html":
            ta, tb = pa.read_text(), pb.read_text()
            assert ta.rstrip().endswith("</html>") and tb.rstrip().endswith("</html>")
            assert abs(len(ta) - len(tb)) < 0.01 * len(ta), name  # element ids are random
        else:
            assert pa.read_bytes() == pb.read_bytes(), name
