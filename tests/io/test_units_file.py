"""Reading control-unit files: the field table, DBF encodings and cut names, and one clear error
(the file named, what to do) for every file that cannot be read."""

import shutil
import subprocess
import zipfile

import geopandas as gpd
import pyogrio
import pytest
import shapely

from gridcarbon.errors import InputFileError
from gridcarbon.io.units_file import detect_dbf_encoding, field_table, read_units_file

OGR2OGR = shutil.which("ogr2ogr")
needs_ogr2ogr = pytest.mark.skipif(
    OGR2OGR is None, reason="ogr2ogr (GDAL command-line tools, Debian gdal-bin) is not installed"
)
FIX = "export the layer again (QGIS: right-click the layer > Export > Save Features As)"


def dbf_forms(name: str) -> dict[str, set[str]]:
    """A field name as a Shapefile export stores it: cut at 10 bytes (a character split by the
    cut dropped), and GDAL's renames of a repeated cut name (8 bytes + _1, _2, _3)."""
    if name.isascii():
        return {"dbf_ascii": {name[:10]}} if len(name) > 10 else {}
    out = {}
    for codec, label in (("gbk", "gbk"), ("utf-8", "utf8")):
        raw = name.encode(codec)
        if len(raw) > 10:
            out[f"dbf_{label}"] = {raw[:10].decode(codec, errors="ignore")}
            stem = raw[:8].decode(codec, errors="ignore")
            out[f"dbf_{label}_renamed"] = {f"{stem}_{k}" for k in (1, 2, 3)}
    return out


def polygons(fields: dict, n: int = 1, crs="EPSG:4490") -> gpd.GeoDataFrame:
    geoms = [shapely.box(120.2 + 0.1 * i, 30.0, 120.3 + 0.1 * i, 30.1) for i in range(n)]
    return gpd.GeoDataFrame(fields, geometry=geoms, crs=crs)


def test_field_table_forms_follow_the_dbf_rule():
    table = field_table()
    assert set(table["form"]) <= {
        "name",
        "dbf_ascii",
        "dbf_gbk",
        "dbf_gbk_renamed",
        "dbf_utf8",
        "dbf_utf8_renamed",
    }
    assert not table.duplicated(["column", "field"]).any()
    pairs = set(zip(table["column"], table["field"], strict=True))
    for row in table[table["form"] != "name"].itertuples():
        assert row.source == "gdal" and row.field in dbf_forms(row.of)[row.form], row
    for row in table[table["form"] == "name"].itertuples():
        assert row.source in {
            "gridcarbon",
            "spec_service",
            "spec_pattern",
            "local_official",
            "local_variant",
            "generic",
        }
        for names in dbf_forms(row.field).values():
            assert {(row.column, n) for n in names} <= pairs, row.field
    assert set(table["certain"]) == {"yes", "no"}


@needs_ogr2ogr
@pytest.mark.parametrize("encoding", ["GBK", "UTF-8"])
def test_ogr2ogr_cuts_are_in_the_table(tmp_path, encoding):
    """The names GDAL really writes for the official long names (and their repeats)."""
    fields = {
        "环境管控单元编码": ["ZH33010910001"],
        "环境管控单元名称": ["甲"],
        "管控单元类别": ["优先保护单元"],
        "管控单元分类": ["生态保护红线"],
        "环境综合管控单元编码": ["ZH33010910001"],
        "县级行政区划代码": ["330109"],
    }
    src = tmp_path / "src.gpkg"
    polygons(fields).to_file(src)
    out = tmp_path / "out.shp"
    subprocess.run(
        [OGR2OGR, "-f", "ESRI Shapefile", "-lco", f"ENCODING={encoding}", str(out), str(src)],
        check=True,
        capture_output=True,
    )
    written = [c for c in read_units_file(out).frame.columns if c != "geometry"]
    table = field_table()
    pairs = set(zip(table["column"], table["field"], strict=True))
    expected_columns = [
        "unit_code",
        "unit_name",
        "category",
        "category",
        "unit_code",
        "county_code",
    ]
    for name, column in zip(written, expected_columns, strict=True):
        assert (column, name) in pairs, (name, column)
    if encoding == "GBK":
        assert written[:4] == ["环境管控单", "环境管控_1", "管控单元类", "管控单元分"]
    else:
        assert written[:4] == ["环境管", "环境_1", "管控单", "管控_1"]


@pytest.mark.parametrize("suffix", [".gpkg", ".shp", ".geojson", ".zip"])
def test_zero_byte_file(tmp_path, suffix):
    path = tmp_path / f"units{suffix}"
    path.touch()
    with pytest.raises(InputFileError) as err:
        read_units_file(path)
    assert str(err.value) == (
        f"control-unit file {str(path)!r} is empty (0 bytes): the export or copy did not "
        f"finish; {FIX}"
    )


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp"])
def test_damaged_file(tmp_path, suffix):
    path = tmp_path / f"units{suffix}"
    path.write_bytes(b"\x00\x01not a dataset at all" * 20)
    if suffix == ".shp":
        polygons({"a": [1]}).to_file(tmp_path / "ok.shp")
        (tmp_path / "ok.dbf").rename(path.with_suffix(".dbf"))
    with pytest.raises(InputFileError) as err:
        read_units_file(path)
    message = str(err.value)
    assert type(err.value) is InputFileError
    assert message.startswith(f"cannot read control units from {str(path)!r}: ")
    assert message.endswith(f"check that it is a complete {suffix} file (open it in QGIS) or {FIX}")


def test_truncated_zip(tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("units.geojson", polygons({"a": [1]}).to_json())
    path = tmp_path / "cut.zip"
    path.write_bytes(good.read_bytes()[:40])
    with pytest.raises(InputFileError, match=r"zip file .*cut\.zip' is damaged or not a zip"):
        read_units_file(path)


def test_zip_with_two_datasets(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.geojson", polygons({"a": [1]}).to_json())
        zf.writestr("b.geojson", polygons({"a": [2]}).to_json())
    with pytest.raises(InputFileError, match=r"holds 2 datasets \(\['a.geojson', 'b.geojson'\]\)"):
        read_units_file(path)


def test_zipped_gbk_shapefile_without_cpg(tmp_path):
    shp = tmp_path / "u.shp"
    polygons({"单元名称": ["萧山区优先保护单元1"]}).to_file(shp, encoding="GBK")
    path = tmp_path / "u.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for part in tmp_path.glob("u.*"):
            if part.suffix not in (".zip", ".cpg"):
                zf.write(part, f"export/{part.name}")
    read = read_units_file(path)
    assert read.encoding == "GB18030"
    assert read.frame["单元名称"].tolist() == ["萧山区优先保护单元1"]
    assert read.location(0) == "feature 1 (FID 0)"  # Shapefile FIDs start at 0


def test_cpg_code_page(tmp_path):
    shp = tmp_path / "u.shp"
    polygons({"单元名称": ["萧山区"]}).to_file(shp, encoding="GBK")
    shp.with_suffix(".cpg").write_text("936")
    assert detect_dbf_encoding(shp) == "cp936"
    assert read_units_file(shp).frame["单元名称"].tolist() == ["萧山区"]
    shp.with_suffix(".cpg").write_text("KLINGON-8")
    with pytest.raises(InputFileError, match=r"u\.cpg names the encoding 'KLINGON-8'"):
        read_units_file(shp)


def test_shapefile_without_dbf(tmp_path):
    shp = tmp_path / "u.shp"
    polygons({"a": [1]}).to_file(shp)
    shp.with_suffix(".dbf").unlink()
    with pytest.raises(InputFileError, match=r"has no \.dbf attribute file next to it"):
        read_units_file(shp)


def test_utf8_field_names_cut_inside_a_character(tmp_path):
    shp = tmp_path / "u.shp"
    polygons({"环境管控单元编码": ["ZH33010910001"]}).to_file(shp, encoding="UTF-8")
    with pytest.raises(UnicodeDecodeError):
        pyogrio.read_dataframe(shp)  # what the reader must survive
    read = read_units_file(shp)
    assert read.field_names_cut
    assert list(read.frame.columns) == ["环境管", "geometry"]
    assert read.frame["环境管"].tolist() == ["ZH33010910001"]


def test_geopackage_layers(tmp_path):
    path = tmp_path / "u.gpkg"
    polygons({"a": [1]}).to_file(path, layer="units")
    pts = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(120, 30)], crs="EPSG:4490")
    pts.to_file(path, layer="stations")
    read = read_units_file(path)
    assert read.layer == "units" and read.location(0) == "feature 1 (FID 1)"
    polygons({"a": [2]}).to_file(path, layer="units_2020")
    with pytest.raises(InputFileError, match="2 polygon layers .*zoning.units_layer"):
        read_units_file(path)
    assert read_units_file(path, layer="units_2020").frame["a"].tolist() == [2]


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "units.kml"
    path.write_text("<kml/>")
    with pytest.raises(InputFileError, match=r"has suffix '\.kml'; give a GeoPackage"):
        read_units_file(path)
