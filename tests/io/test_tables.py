"""The CSV and Excel writers: no cell is a formula, every text comes back as it went in."""

from __future__ import annotations

import csv
import zipfile

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from gridcarbon.errors import InputDataError, InputFileError, OutputExistsError
from gridcarbon.io.tables import (
    csv_safe_text,
    csv_text_value,
    excel_safe_text,
    read_csv_table,
    read_point_sources,
    write_csv,
    write_excel,
)
from gridcarbon.names import NameCleanedWarning
from tests.payloads import FORMULAS, payloads


def _csv_rows(path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1+2", "'-1+2"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\0x", "'\0x"),
        ("'=1", "''=1"),  # a text starting with the guard keeps it, so reading back is exact
        ("'", "''"),
        ("-1.5", "-1.5"),  # a negative number stays a number
        ("-2e-05", "-2e-05"),
        ("-inf", "'-inf"),
        ("a=1", "a=1"),
        ("", ""),
    ],
)
def test_csv_guard_and_its_inverse(text, cell):
    assert csv_safe_text(text) == cell
    assert csv_text_value(cell) == text


def test_csv_text_value_leaves_other_cells_alone():
    assert csv_text_value("'abc") == "'abc"  # not written by the guard: kept
    assert csv_text_value(3.5) == 3.5 and csv_text_value(None) is None


def test_write_csv_guards_text_and_leaves_numbers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    texts = [*payloads(tmp_path), "plain, with comma", 'quote " inside', "line\nbreak", "\0=1"]
    df = pd.DataFrame(
        {
            "name": texts,
            "value": -np.arange(len(texts), dtype=float) - 0.5,  # negative numbers
            "count": np.arange(len(texts)) - 3,
            "flag": [i % 2 == 0 for i in range(len(texts))],
        }
    )
    df["=header"] = "x"
    path = write_csv(df, tmp_path / "t.csv")
    rows = _csv_rows(path)
    assert rows[0] == ["name", "value", "count", "flag", "'=header"]
    assert len(rows) == len(texts) + 1  # RFC 4180 quoting keeps the line break in its cell
    for text, row in zip(texts, rows[1:], strict=True):
        cell = row[0]
        assert cell[0] not in "=+-@\t\r\0", f"{cell!r} starts a formula"
        assert csv_text_value(cell) == text
    # numeric columns are written as numbers, unguarded
    assert [float(r[1]) for r in rows[1:]] == df["value"].tolist()
    assert [int(r[2]) for r in rows[1:]] == df["count"].tolist()
    assert rows[1][1] == "-0.5" and rows[1][2] == "-3"
    back = read_csv_table(path)
    assert back["name"].tolist() == texts
    assert back.columns.tolist() == df.columns.tolist()
    assert back["value"].tolist() == df["value"].tolist()


def test_write_csv_is_atomic_and_refuses_overwrite(tmp_path):
    df = pd.DataFrame({"a": [1]})
    path = write_csv(df, tmp_path / "t.csv", bom=False)
    assert path.read_bytes() == b"a\n1\n"
    with pytest.raises(OutputExistsError):
        write_csv(df, path)
    write_csv(pd.DataFrame({"a": [2]}), path, overwrite=True)
    assert path.read_text(encoding="utf-8-sig") == "a\n2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]  # no temporary left
    assert write_csv(df, tmp_path / "b.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_write_csv_leaves_an_unchanged_frame_alone(tmp_path):
    df = pd.DataFrame({"name": ["a", "b"], "v": [-1.0, 2.0]})
    write_csv(df, tmp_path / "t.csv")
    assert df["name"].tolist() == ["a", "b"]  # the caller's frame is not modified
    df2 = pd.DataFrame({"name": ["=a"]})
    write_csv(df2, tmp_path / "u.csv")
    assert df2["name"].tolist() == ["=a"]


def test_write_excel_text_is_never_a_formula(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    texts = [*payloads(tmp_path), "\x00nul", "bell\x07", "ok"]
    df = pd.DataFrame(
        {"name": texts, "value": -np.arange(len(texts), dtype=float), "n": range(len(texts))}
    )
    df.loc[2, "value"] = np.nan
    df['=HYPERLINK("x")'] = "h"
    path = write_excel({"units": df, "=sheet": df.head(1)}, tmp_path / "t.xlsx")
    wb = load_workbook(path)
    ws = wb["units"]
    header = [c.value for c in ws[1]]
    assert header == ["name", "value", "n", '=HYPERLINK("x")']
    assert all(c.data_type == "s" for c in ws[1])
    for text, row in zip(texts, ws.iter_rows(min_row=2), strict=True):
        name = row[0]
        assert name.data_type == "s", f"{text!r} is written as {name.data_type!r}"
        assert name.value == excel_safe_text(text)  # only XML-illegal characters removed
    assert [r[2].value for r in ws.iter_rows(min_row=2)] == list(range(len(texts)))
    assert ws.cell(row=4, column=2).value is None  # NaN → empty
    assert ws.cell(row=3, column=2).value == -1.0 and ws.cell(row=3, column=2).data_type == "n"
    # no formula element anywhere in the file
    with zipfile.ZipFile(path) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert sheets and all(b"<f>" not in z.read(n) and b"<f " not in z.read(n) for n in sheets)


@pytest.mark.parametrize("text", FORMULAS)
def test_excel_keeps_formula_text_exactly(tmp_path, text):
    path = write_excel({"s": pd.DataFrame({"name": [text]})}, tmp_path / "f.xlsx")
    cell = load_workbook(path)["s"]["A2"]
    assert cell.value == text and cell.data_type == "s"


def test_excel_safe_text_removes_only_xml_illegal_characters():
    assert excel_safe_text("a\x1b[31mb\x00c\td\ne\rf\u202eg") == "a[31mbc\td\ne\rf\u202eg"


def test_write_excel_refuses_overwrite(tmp_path):
    path = write_excel({"s": pd.DataFrame({"a": [1]})}, tmp_path / "t.xlsx")
    with pytest.raises(OutputExistsError):
        write_excel({"s": pd.DataFrame({"a": [2]})}, path)
    assert load_workbook(path)["s"]["A2"].value == 1


def test_excel_writer_survives_control_characters(tmp_path):
    """A control character in a name once crashed the writer (IllegalCharacterError)."""
    names = ["\x1b[31mred\x1b[0m", "a\x00b", "\x07bell", "tab\tand\nnewline", "\u202eevil"]
    path = write_excel({"units": pd.DataFrame({"unit_name": names})}, tmp_path / "c.xlsx")
    got = [c.value for c in load_workbook(path)["units"]["A"][1:]]
    assert got == ["[31mred[0m", "ab", "bell", "tab\tand\nnewline", "\u202eevil"]


# -- the user's point-source table --------------------------------------------------------------
_POINT_HEADER = "point_id,name,sector,park,lon,lat,stack_height_m,CO2\n"


def _point_row(pid: str, name: str, park: str = "park A") -> str:
    cells = [pid, name, "power", park, "120.1", "30.2", "80", "1e9"]
    return ",".join('"' + c.replace('"', '""') + '"' for c in cells) + "\n"


def test_point_source_names_are_read_as_written_and_numbers_as_numbers(tmp_path):
    hostile = [p for p in payloads(tmp_path, control=False) if p == p.strip()]
    path = tmp_path / "points.csv"
    rows = [_point_row(f"P{k}", name, park=name[::-1]) for k, name in enumerate(hostile)]
    path.write_text(_POINT_HEADER + "".join(rows), encoding="utf-8")
    table = read_point_sources(path)
    assert table["name"].tolist() == hostile
    assert table["park"].tolist() == [h[::-1] for h in hostile]
    assert table["lon"].dtype == float and table["CO2"].tolist() == [1e9] * len(hostile)
    assert table["point_id"].tolist() == [f"P{k}" for k in range(len(hostile))]


def test_point_ids_keep_leading_zeros(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text(_POINT_HEADER + _point_row("007", "plant"), encoding="utf-8")
    assert read_point_sources(path)["point_id"].tolist() == ["007"]


def test_point_source_names_with_control_characters_are_cleaned_naming_the_line(tmp_path):
    path = tmp_path / "points.csv"
    body = (
        _point_row("P1", "plain")
        + _point_row("P2", "\x1b[31mred\x1b[0m")
        + _point_row("P3", "tab\there", park="\u202eevil")
    )
    path.write_text(_POINT_HEADER + body, encoding="utf-8")
    with pytest.warns(NameCleanedWarning) as record:
        table = read_point_sources(path)
    assert table["name"].tolist() == ["plain", "[31mred[0m", "tab here"]
    assert table["park"].tolist() == ["park A", "park A", "evil"]
    texts = [str(w.message) for w in record]
    assert any("2 value(s) of field 'name'" in t and "line 3" in t for t in texts)
    assert any("field 'park'" in t and "line 4" in t for t in texts)


@pytest.mark.parametrize("code", ["P\x1b[2J1", "P\u202e1", "P\x001"])
def test_point_ids_with_control_characters_are_refused_naming_file_and_line(tmp_path, code):
    path = tmp_path / "points.csv"
    path.write_text(_POINT_HEADER + _point_row("P0", "ok") + _point_row(code, "x"), "utf-8")
    with pytest.raises(InputDataError) as info:
        read_point_sources(path)
    message = str(info.value)
    assert message.startswith(f"{path}, line 3: the code {code!r} in field 'point_id'")
    assert "correct it in the file" in message


def test_point_source_names_over_200_characters_are_refused(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text(_POINT_HEADER + _point_row("P1", "x" * 201), encoding="utf-8")
    with pytest.raises(
        InputDataError, match=r"points.csv, line 2: the name in field 'name' is 201"
    ):
        read_point_sources(path)


def test_point_sources_in_gbk_are_read(tmp_path):
    path = tmp_path / "points.csv"
    path.write_bytes((_POINT_HEADER + _point_row("P1", "镇海炼化")).encode("gbk"))
    assert read_point_sources(path)["name"].tolist() == ["镇海炼化"]


def test_point_sources_without_rows_are_refused(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text(_POINT_HEADER, encoding="utf-8")
    with pytest.raises(InputDataError, match="has no rows"):
        read_point_sources(path)
    with pytest.raises(InputFileError, match="does not exist"):
        read_point_sources(tmp_path / "none.csv")


def test_a_bad_point_source_value_is_named_by_its_line_in_the_file(tmp_path):
    from gridcarbon.grids.inventory import validate_points

    path = tmp_path / "points.csv"
    bad = _point_row("P2", "plant").replace('"1e9"', '"-1e9"')
    path.write_text(_POINT_HEADER + _point_row("P1", "ok") + bad, encoding="utf-8")
    table = read_point_sources(path).assign(
        stack_diameter_m=3.0, exit_velocity_m_s=10.0, exit_temperature_K=400.0
    )
    with pytest.raises(InputDataError, match=r"points.csv line 3 \(P2\): CO2 = -1000000000.0"):
        validate_points(table, ["CO2"], source="points.csv")


def test_write_excel_label_row_under_the_machine_names(tmp_path):
    df = pd.DataFrame({"unit_code": ["001", "=1+2"], "CO2_kg": [1234.5, 2.0]})
    path = write_excel(
        {"units": df, "plain": df},
        tmp_path / "t.xlsx",
        labels={"units": ["Unit code", "CO₂ emission (kg)"]},
    )
    wb = load_workbook(path)
    ws = wb["units"]
    assert [c.value for c in ws[1]] == ["unit_code", "CO2_kg"]
    assert [c.value for c in ws[2]] == ["Unit code", "CO₂ emission (kg)"]
    assert ws.freeze_panes == "A3" and ws.auto_filter.ref == "A2:B4"
    assert wb["plain"].freeze_panes == "A2" and wb["plain"].auto_filter.ref == "A1:B3"
    back = pd.read_excel(path, sheet_name="units", skiprows=[1])
    assert list(back["unit_code"]) == ["001", "=1+2"]  # codes stay text, never a formula
    assert back["CO2_kg"].tolist() == [1234.5, 2.0]
    with pytest.raises(ValueError, match="1 labels for 2 columns"):
        write_excel({"units": df}, tmp_path / "u.xlsx", labels={"units": ["one"]})
