"""The CSV and Excel writers: no cell is a formula, every text comes back as it went in."""

from __future__ import annotations

import csv
import zipfile

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from gridcarbon.errors import OutputExistsError
from gridcarbon.io.tables import (
    csv_safe_text,
    csv_text_value,
    excel_safe_text,
    read_csv_table,
    write_csv,
    write_excel,
)
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
