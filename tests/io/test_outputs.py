"""Documents become files: each kind written by its writer, read back equal."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
from openpyxl import load_workbook

from gridcarbon.contracts import Document
from gridcarbon.errors import InputDataError, OutputExistsError
from gridcarbon.io.outputs import write_documents


def test_each_kind_is_written_and_reads_back(tmp_path):
    table = pd.DataFrame({"name": ["=HYPERLINK(1)", "杭州"], "kg": [1.5, -2.0]})
    layer = gpd.GeoDataFrame({"code": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326)
    ds = xr.Dataset({"v": (("unit", "day"), np.arange(6.0).reshape(2, 3))})
    docs = {
        "t.csv": Document("csv", table),
        "t.xlsx": Document("xlsx", {"units": table}),
        "u.gpkg": Document("gpkg", layer, attrs={"synthetic": "true"}, layer="units"),
        "d.nc": Document("netcdf", ds, attrs={"title": "x"}),
        "r.html": Document("html", "<p>hi</p>"),
        "m.json": Document("json", {"a": np.float32(1.5), "b": np.arange(2)}),
    }
    paths = write_documents(docs, tmp_path)
    assert sorted(p.name for p in paths.values()) == sorted(docs)
    back = pd.read_csv(paths["t.csv"])
    assert back["name"].tolist() == ["'=HYPERLINK(1)", "杭州"] and back["kg"].tolist() == [
        1.5,
        -2.0,
    ]
    assert load_workbook(paths["t.xlsx"])["units"]["A2"].data_type == "s"
    assert gpd.read_file(paths["u.gpkg"], layer="units")["code"].tolist() == ["a"]
    with xr.open_dataset(paths["d.nc"]) as got:
        assert got.attrs["title"] == "x" and float(got["v"].sum()) == 15.0
    assert paths["r.html"].read_text(encoding="utf-8") == "<p>hi</p>"
    assert json.loads(paths["m.json"].read_text(encoding="utf-8")) == {"a": 1.5, "b": [0, 1]}


def test_existing_files_are_not_replaced_and_unknown_kinds_refused(tmp_path):
    (tmp_path / "r.html").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputExistsError):
        write_documents({"r.html": Document("html", "new")}, tmp_path)
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == "mine"
    with pytest.raises(InputDataError, match="unknown document kind 'pdf'"):
        write_documents({"x.pdf": Document("pdf", b"")}, tmp_path)  # type: ignore[arg-type]
