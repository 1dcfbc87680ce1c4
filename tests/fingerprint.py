"""A frozen fingerprint of the default run's outputs, and the comparison against it.

The fingerprint (``tests/data/default_fingerprint.json``) was recorded once, from main at the
commit it names, before the architecture redesign; it is never regenerated.  Later code must
reproduce it: floats to ``|a - b| <= 1e-6 * max|ref|`` per compared vector (whole-variable
statistics, marginal sums along each dimension, and a fixed sample of values), integers, flags,
bins, times and text exactly.

What is compared, per file type:

- NetCDF / Zarr: every variable and coordinate (dims, shape, dtype, attributes), and the data;
  global attributes.  Provenance attributes (version, config, checksums, history) are left out.
- GeoTIFF: CRS, transform, band descriptions, tags and data.
- CSV / Excel sheets / GeoPackage layers: every column (numeric or text) and, for geometries,
  each feature's area and centroid; an Excel sheet named ``provenance`` is provenance.
- JSON: every leaf, except timings, versions, paths and the config.
- HTML and YAML: presence only.  The HTML files present the data of the files above (which are
  compared in full); the trust and output issues change their escaping, language and number
  formats on purpose.  ``config.yaml`` changes shape with the config's sections.

Additions are allowed (a new variable, attribute, column or file does not break the
fingerprint); everything the reference holds must still be there and equal.

Record (once; kept here so the recipe is visible)::

    python -m tests.fingerprint record tests/data/default_fingerprint.json
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
import sys
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from tests import user_environment

REL_TOL = 1e-6
N_SAMPLES = 256
MAX_MARGINAL = 5000

#: Attributes and JSON keys that hold provenance or timings, not results.
_SKIP_KEY = re.compile(
    r"(?:version|config|checksum|history|seconds|per_second|timings?|_s$|path|date_created|"
    r"out_dir|directory|units_source)",
    re.IGNORECASE,
)


# -- arrays -------------------------------------------------------------------------------------
def _sample_index(name: str, n: int) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(name.encode("utf-8")))
    return np.sort(rng.choice(n, size=min(N_SAMPLES, n), replace=False))


def _sha(values: Any) -> str:
    if isinstance(values, np.ndarray):
        values = np.ascontiguousarray(values)
        return hashlib.sha256(values.tobytes()).hexdigest()
    return hashlib.sha256(str(values).encode("utf-8")).hexdigest()


def _clean_floats(values: list[float]) -> list[float | None]:
    return [None if not math.isfinite(v) else float(v) for v in values]


def array_fingerprint(name: str, arr: np.ndarray) -> dict[str, Any]:
    """Fingerprint one array: exact hash for ints/bools/times/text, statistics for floats."""
    arr = np.asarray(arr)
    fp: dict[str, Any] = {"shape": list(arr.shape), "dtype": str(arr.dtype)}
    kind = arr.dtype.kind
    if kind in "iub":
        fp["sha256"] = _sha(arr.astype(np.int64))
        return fp
    if kind == "M":
        fp["sha256"] = _sha(arr.astype("datetime64[ns]").astype(np.int64))
        return fp
    if kind == "m":
        fp["sha256"] = _sha(arr.astype("timedelta64[ns]").astype(np.int64))
        return fp
    if kind != "f":  # text / objects
        fp["sha256"] = _sha("\x1f".join(str(v) for v in arr.ravel().tolist()))
        return fp
    a = arr.astype(np.float64)
    finite = np.isfinite(a)
    fp["nan_count"] = int((~finite).sum())
    fp["nan_sha256"] = _sha(finite.ravel().astype(np.int64))
    z = np.where(finite, a, 0.0)
    fp["stats"] = [
        float(z.sum()),
        float(np.abs(z).sum()),
        float(z.min()) if z.size else 0.0,
        float(z.max()) if z.size else 0.0,
    ]
    marg = {}
    for axis in range(z.ndim):
        if 1 < z.shape[axis] <= MAX_MARGINAL and z.ndim > 1:
            other = tuple(i for i in range(z.ndim) if i != axis)
            marg[str(axis)] = z.sum(axis=other).tolist()
    fp["marginals"] = marg
    if z.size:
        idx = _sample_index(name, z.size)
        fp["samples"] = _clean_floats(a.ravel()[idx].tolist())
    return fp


def _compare_vec(where: str, ref: list, new: list, scale: float | None = None) -> list[str]:
    r = np.array([np.nan if v is None else v for v in ref], dtype=np.float64)
    n = np.array([np.nan if v is None else v for v in new], dtype=np.float64)
    if r.shape != n.shape:
        return [f"{where}: length {n.shape} != {r.shape}"]
    if not np.array_equal(np.isnan(r), np.isnan(n)):
        return [f"{where}: missing values differ"]
    ok = ~np.isnan(r)
    if not ok.any():
        return []
    if scale is None:
        scale = float(np.abs(r[ok]).max())
    tol = REL_TOL * scale + 1e-300
    err = np.abs(r[ok] - n[ok])
    if (err > tol).any():
        i = int(np.argmax(err))
        return [
            f"{where}: max |a-b| = {err.max():.3g} > {tol:.3g} (ref {r[ok][i]!r}, new {n[ok][i]!r})"
        ]
    return []


def compare_array(where: str, ref: dict, new: dict) -> list[str]:
    """Problems between two array fingerprints (empty when they match)."""
    if ref["shape"] != new["shape"]:
        return [f"{where}: shape {new['shape']} != {ref['shape']}"]
    if ref["dtype"] != new["dtype"]:
        return [f"{where}: dtype {new['dtype']} != {ref['dtype']}"]
    if "sha256" in ref:
        return [] if ref["sha256"] == new.get("sha256") else [f"{where}: values differ (exact)"]
    problems = []
    if ref["nan_sha256"] != new["nan_sha256"]:
        problems.append(f"{where}: positions of missing values differ")
    rs, ns = ref["stats"], new["stats"]
    vmax = max(abs(rs[2]), abs(rs[3]))
    problems += _compare_vec(f"{where} sum", rs[:2], ns[:2], scale=rs[1])
    problems += _compare_vec(f"{where} min/max", rs[2:], ns[2:], scale=vmax)
    for axis, values in ref["marginals"].items():
        if axis not in new["marginals"]:
            problems.append(f"{where}: marginal {axis} missing")
            continue
        problems += _compare_vec(f"{where} marginal {axis}", values, new["marginals"][axis])
    if "samples" in ref:
        problems += _compare_vec(f"{where} samples", ref["samples"], new["samples"], scale=vmax)
    return problems


# -- attributes and JSON -----------------------------------------------------------------------
def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    return v


def attrs_fingerprint(attrs: dict) -> dict:
    return {k: _jsonable(v) for k, v in attrs.items() if not _SKIP_KEY.search(k)}


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if _SKIP_KEY.search(str(k)):
                continue
            out.update(_flatten(v, f"{prefix}/{k}"))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(_flatten(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = _jsonable(obj)
    return out


def _compare_leaves(where: str, ref: dict, new: dict) -> list[str]:
    problems = []
    for key, r in ref.items():
        if key not in new:
            problems.append(f"{where}{key}: missing")
            continue
        n = new[key]
        if isinstance(r, bool) or r is None or isinstance(r, str):
            if r != n:
                problems.append(f"{where}{key}: {n!r} != {r!r}")
        elif isinstance(r, int | float):
            if not isinstance(n, int | float) or isinstance(n, bool):
                problems.append(f"{where}{key}: {n!r} != {r!r}")
            elif abs(n - r) > REL_TOL * abs(r) + 1e-12:
                problems.append(f"{where}{key}: {n!r} != {r!r}")
        elif r != n:
            problems.append(f"{where}{key}: {n!r} != {r!r}")
    return problems


# -- files --------------------------------------------------------------------------------------
# -- deliberate changes of outputs (each rule names its issue, files and variables) ----------------
#: Issue 12 (one time base): the Beijing-labelled bin axes of these files became UTC (the start
#: of the bin's first hour, with bounds and a beijing_date/beijing_month label), and their
#: long_name says so.  The reference holds the Beijing labels: the new axis is compared 8 hours
#: later.  (Full Beijing days and months in the default run: label = UTC start + 8 h.)
_UTC_BIN_AXES = {
    ("hotspots_hour.nc", "time"),
    ("hotspots_day.nc", "time"),
    ("hotspots_month.nc", "time"),
    ("zone_tally_daily.nc", "day"),
    ("zone_tally_daily.nc", "month"),
}
#: Issue 12 (CF labels): text labels of a dimension are written as CF character arrays, which
#: xarray reads back as object arrays, not fixed-width unicode; the values are compared exactly.
_CHARACTER_LABELS = {"unit", "species"}
#: Issue 12 (CF missing value): the emerging-hotspot codes carry _FillValue -1 (outside the
#: region), so xarray would mask them to float NaN; they are read raw, as the reference was.
_RAW_CODES = re.compile(r".+_emerging$")


def _dataset_fingerprint(path: Path) -> dict:
    import xarray as xr

    if path.is_dir():
        ds = xr.open_zarr(path, consolidated=None, decode_timedelta=True)
    else:
        ds = xr.open_dataset(path, decode_timedelta=True)
    raw = None
    if not path.is_dir() and any(_RAW_CODES.fullmatch(str(v)) for v in ds.variables):
        raw = xr.open_dataset(path, decode_timedelta=True, mask_and_scale=False)
    with ds:
        variables = {}
        for name, var in ds.variables.items():
            if raw is not None and _RAW_CODES.fullmatch(str(name)):
                var = raw[name]
            variables[name] = {
                "dims": list(var.dims),
                "attrs": attrs_fingerprint(var.attrs),
                "data": array_fingerprint(name, var.values),
            }
            if var.dtype.kind == "M":
                later = var.values + np.timedelta64(8, "h")
                variables[name]["data_plus_8h"] = array_fingerprint(name, later)
        if raw is not None:
            raw.close()
        return {"kind": "dataset", "attrs": attrs_fingerprint(ds.attrs), "variables": variables}


def _table_fingerprint(frame) -> dict:
    import pandas as pd

    cols = {}
    for col in frame.columns:
        s = frame[col]
        name = str(col)
        if _SKIP_KEY.search(name):
            continue
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            cols[name] = array_fingerprint(name, s.to_numpy())
        else:
            cols[name] = array_fingerprint(name, s.astype(str).to_numpy(dtype=object))
    return {"rows": len(frame), "columns": cols}


def _metric_value(v: Any) -> Any:
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def _csv_fingerprint(path: Path) -> dict:
    import pandas as pd

    frame = pd.read_csv(path)
    if {"metric", "value"} <= set(frame.columns):  # a long table of named figures
        keep = ~frame["metric"].astype(str).str.contains(_SKIP_KEY)
        return {
            "kind": "json",
            "leaves": {
                f"/{m}": _metric_value(v)
                for m, v in zip(frame["metric"][keep], frame["value"][keep], strict=True)
            },
        }
    return {"kind": "table", **_table_fingerprint(frame)}


#: Issue 12 (Excel labels): under the machine column names (row 1, unchanged) the zone report's
#: sheets have a row of labels with units in the report's language (row 2); the reference has
#: none, so that row is skipped and the data compared as before.
_LABEL_ROW_WORKBOOKS = {"zone_report.xlsx"}


def _excel_fingerprint(path: Path) -> dict:
    import pandas as pd

    skip = [1] if path.name in _LABEL_ROW_WORKBOOKS else None
    sheets = {}
    for name, frame in pd.read_excel(path, sheet_name=None, skiprows=skip).items():
        sheets[name] = _table_fingerprint(frame)
    return {"kind": "workbook", "sheets": sheets}


#: Issue 12 (QGIS style): zone_units.gpkg holds QGIS's layer_styles table (the units coloured
#: by category), an attribute table without geometry and not data; the reference has none.
_STYLE_TABLES = {"layer_styles"}


def _gpkg_fingerprint(path: Path) -> dict:
    import pyogrio

    layers = {}
    for layer, _ in pyogrio.list_layers(path):
        if layer in _STYLE_TABLES:
            continue
        gdf = pyogrio.read_dataframe(path, layer=layer)
        attrs = gdf.drop(columns=gdf.geometry.name)
        fp = _table_fingerprint(attrs)
        geom = gdf.geometry
        # planar area/centroid in the layer's own CRS: a fingerprint, not a measurement
        warnings.filterwarnings("ignore", "Geometry is in a geographic CRS", UserWarning)
        fp["crs"] = gdf.crs.to_wkt() if gdf.crs is not None else None
        fp["geometry"] = {
            "area": array_fingerprint("area", geom.area.to_numpy()),
            "cx": array_fingerprint("cx", geom.centroid.x.to_numpy()),
            "cy": array_fingerprint("cy", geom.centroid.y.to_numpy()),
            "type": array_fingerprint("type", geom.geom_type.to_numpy(dtype=object)),
        }
        layers[str(layer)] = fp
    return {"kind": "geopackage", "layers": layers}


def _tiff_fingerprint(path: Path) -> dict:
    import rasterio

    with rasterio.open(path) as src:
        bands = {}
        for i in range(1, src.count + 1):
            data = src.read(i)
            if src.nodatavals[i - 1] is not None and np.isnan(src.nodatavals[i - 1]):
                # issue 12: cells outside the region are nodata (NaN) now; the reference has 0
                data = np.where(np.isnan(data), np.float32(0), data)
            bands[str(i)] = {
                "description": src.descriptions[i - 1],
                "tags": attrs_fingerprint(src.tags(i)),
                "data": array_fingerprint(f"band{i}", data),
            }
        return {
            "kind": "geotiff",
            "crs": src.crs.to_wkt() if src.crs else None,
            "transform": list(src.transform)[:6],
            "tags": attrs_fingerprint(src.tags()),
            "bands": bands,
        }


def _json_fingerprint(path: Path) -> dict:
    return {"kind": "json", "leaves": _flatten(json.loads(path.read_text(encoding="utf-8")))}


def file_fingerprint(path: Path) -> dict:
    """Fingerprint one output file (or Zarr store) by its type."""
    suffix = path.suffix.lower()
    if suffix in (".nc", ".zarr"):
        return _dataset_fingerprint(path)
    if suffix == ".csv":
        return _csv_fingerprint(path)
    if suffix == ".xlsx":
        return _excel_fingerprint(path)
    if suffix == ".gpkg":
        return _gpkg_fingerprint(path)
    if suffix in (".tif", ".tiff"):
        return _tiff_fingerprint(path)
    if suffix == ".json":
        return _json_fingerprint(path)
    return {"kind": "present"}


def folder_fingerprint(folder: Path) -> dict[str, dict]:
    """Fingerprint every output in a run folder (hidden entries are ignored)."""
    return {
        p.name: file_fingerprint(p)
        for p in sorted(Path(folder).iterdir())
        if not p.name.startswith(".") and p.name != "MANIFEST"
    }


# -- comparison ---------------------------------------------------------------------------------
def _compare_attrs(where: str, ref: dict, new: dict) -> list[str]:
    return [
        f"{where} attribute {k!r}: {new.get(k)!r} != {v!r}"
        for k, v in ref.items()
        if k not in new or new[k] != v
    ]


def _compare_table(where: str, ref: dict, new: dict) -> list[str]:
    if ref["rows"] != new["rows"]:
        return [f"{where}: {new['rows']} rows != {ref['rows']}"]
    problems = []
    for col, fp in ref["columns"].items():
        if col not in new["columns"]:
            problems.append(f"{where}: column {col!r} missing")
        else:
            problems += compare_array(f"{where}[{col}]", fp, new["columns"][col])
    return problems


def compare_file(name: str, ref: dict, new: dict) -> list[str]:
    """Problems between two file fingerprints."""
    if ref["kind"] != new["kind"]:
        return [f"{name}: kind {new['kind']} != {ref['kind']}"]
    kind = ref["kind"]
    problems: list[str] = []
    if kind == "dataset":
        problems += _compare_attrs(name, ref["attrs"], new["attrs"])
        for var, fp in ref["variables"].items():
            if var not in new["variables"]:
                problems.append(f"{name}: variable {var!r} missing")
                continue
            nv = new["variables"][var]
            if fp["dims"] != nv["dims"]:
                problems.append(f"{name}:{var} dims {nv['dims']} != {fp['dims']}")
                continue
            ref_attrs, data = fp["attrs"], nv["data"]
            if (name, var) in _UTC_BIN_AXES and "data_plus_8h" in nv:
                ref_attrs = {k: v for k, v in ref_attrs.items() if k != "long_name"}
                data = nv["data_plus_8h"]
            if var in _CHARACTER_LABELS and fp["data"]["dtype"].startswith("<U"):
                data = {**data, "dtype": fp["data"]["dtype"]} if data["dtype"] == "object" else data
            problems += _compare_attrs(f"{name}:{var}", ref_attrs, nv["attrs"])
            problems += compare_array(f"{name}:{var}", fp["data"], data)
    elif kind == "table":
        problems += _compare_table(name, ref, new)
    elif kind == "workbook":
        for sheet, fp in ref["sheets"].items():
            if sheet == "provenance":  # paths, versions and checksums: provenance, not results
                continue
            if sheet not in new["sheets"]:
                problems.append(f"{name}: sheet {sheet!r} missing")
            else:
                problems += _compare_table(f"{name}!{sheet}", fp, new["sheets"][sheet])
    elif kind == "geopackage":
        for layer, fp in ref["layers"].items():
            if layer not in new["layers"]:
                problems.append(f"{name}: layer {layer!r} missing")
                continue
            nl = new["layers"][layer]
            problems += _compare_table(f"{name}:{layer}", fp, nl)
            if fp["crs"] != nl["crs"]:
                problems.append(f"{name}:{layer}: CRS differs")
            for key, g in fp["geometry"].items():
                problems += compare_array(f"{name}:{layer} {key}", g, nl["geometry"][key])
    elif kind == "geotiff":
        if ref["crs"] != new["crs"]:
            problems.append(f"{name}: CRS differs")
        problems += _compare_vec(f"{name} transform", ref["transform"], new["transform"])
        problems += _compare_attrs(name, ref["tags"], new["tags"])
        for band, fp in ref["bands"].items():
            nb = new["bands"].get(band)
            if nb is None:
                problems.append(f"{name}: band {band} missing")
                continue
            if fp["description"] != nb["description"]:
                problems.append(f"{name}: band {band} description differs")
            problems += _compare_attrs(f"{name} band {band}", fp["tags"], nb["tags"])
            problems += compare_array(f"{name} band {band}", fp["data"], nb["data"])
    elif kind == "json":
        problems += _compare_leaves(f"{name}:", ref["leaves"], new["leaves"])
    return problems


def compare_folder(ref: dict[str, dict], new: dict[str, dict]) -> list[str]:
    """Problems between a folder's fingerprint and the reference's."""
    problems = []
    for name, fp in ref.items():
        if name not in new:
            problems.append(f"{name}: missing")
        else:
            problems += compare_file(name, fp, new[name])
    return problems


# -- the commands fingerprinted -------------------------------------------------------------------
#: The commands fingerprinted beside ``run`` (:func:`run_commands`), each into ``work/<name>``.
STAGE_COMMANDS = ("grid", "invert", "zones", "map", "osse")


def run_default(out: Path) -> Path:
    """``gridcarbon run --out out`` with no configuration (the embedded default), in a process
    of its own that imports this checkout's package; returns ``out``."""
    _gridcarbon("run", "--out", str(out))
    return out


def _gridcarbon(*args: str) -> None:
    root = str(Path(__file__).resolve().parents[1])
    # every core, as a user's shell runs it: the frozen figures also check the parallel kernels
    env = user_environment(PYTHONPATH=root)
    subprocess.run([sys.executable, "-m", "gridcarbon.cli", *args], check=True, env=env)


def run_commands(work: Path, run: Path | None = None) -> dict[str, Path]:
    """Run the fingerprinted commands into ``work``; return the output folder of each.

    ``run`` (the whole default pipeline, or the folder of one already made by
    :func:`run_default`); ``grid``; ``invert``, ``zones`` and ``map`` on the run's
    prior/posterior (each a stage alone, as a user chains them); one ``osse`` replicate.
    """
    run = run_default(work / "run") if run is None else run
    _gridcarbon("grid", "--out", str(work / "grid"))
    _gridcarbon("invert", "--prior", str(run / "prior.nc"), "--out", str(work / "invert"))
    _gridcarbon("zones", "--grids", str(run / "posterior.nc"), "--out", str(work / "zones"))
    (work / "map").mkdir()
    _gridcarbon("map", "--run-dir", str(run), "--out", str(work / "map" / "map.html"))
    _gridcarbon(
        "osse", "--prior", str(run / "prior.nc"), "--replicates", "1", "--out", str(work / "osse")
    )
    return {"run": run, **{name: work / name for name in STAGE_COMMANDS}}


def record(target: Path) -> None:
    """Record the reference fingerprint (done once; see the module docstring)."""
    import tempfile

    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        folders = run_commands(Path(tmp))
        fp = {name: folder_fingerprint(path) for name, path in folders.items()}
    doc = {
        "recorded_from_commit": commit,
        "recipe": "python -m tests.fingerprint record tests/data/default_fingerprint.json",
        "rel_tol": REL_TOL,
        "commands": fp,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, separators=(",", ":"), sort_keys=True), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "record":
        sys.exit("usage: python -m tests.fingerprint record OUT.json")
    record(Path(sys.argv[2]))
