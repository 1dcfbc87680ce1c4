"""Opening station and observation files: line numbers as an editor shows them, encodings,
Excel cells, and files that cannot be read."""

import numpy as np
import pandas as pd
import pytest

from gridcarbon.errors import GridcarbonError, InputDataError, InputFileError
from gridcarbon.io.observations_file import RowSources, SourceFile, read_table_file


def test_csv_physical_lines_count_header_blank_lines_and_quoted_newlines(tmp_path):
    p = tmp_path / "obs.csv"
    p.write_text(
        "\n"  # a blank line before the header
        "time,station_id,value\n"
        '2023-01-02 05:00,A,"1"\n'
        "\n"
        '2023-01-02 06:00,"A\nB",2\n'  # a quoted newline: the record spans lines 5-6
        "2023-01-02 07:00,A,3,,\n",  # trailing empty cells from a spreadsheet export
        encoding="utf-8",
    )
    table, rows = read_table_file(p, "observation table")
    assert list(table.columns) == ["time", "station_id", "value"]
    assert table["value"].tolist() == ["1", "2", "3"]  # text as written
    assert rows.number.tolist() == [3, 5, 7]
    assert rows.files[0].header_line == 2
    assert rows.where(2, "value") == f"{p}, line 7, column 'value'"
    assert rows.pair(0, 2) == f"{p}, lines 3 and 7"


def test_csv_encodings(tmp_path):
    p = tmp_path / "sites.csv"
    p.write_text("监测点编码,监测点名称\n1223A,滨江\n", encoding="gbk")
    table, _ = read_table_file(p)
    assert table.iloc[0].tolist() == ["1223A", "滨江"]
    p.write_text("监测点编码,监测点名称\n1223A,滨江\n", encoding="utf-8-sig")
    table, _ = read_table_file(p)
    assert list(table.columns) == ["监测点编码", "监测点名称"]


def test_csv_structure_errors_name_file_and_line(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("a,b,c\n1,2,3\n1,2,3,4\n", encoding="utf-8")
    with pytest.raises(InputDataError) as err:
        read_table_file(p)
    assert str(err.value) == (
        f"{p}, line 3: 4 cells, but the header (line 1) has 3; check for a missing or extra "
        "separator (a comma inside a value needs quotes)"
    )
    p.write_text("a,b,a\n1,2,3\n", encoding="utf-8")
    with pytest.raises(InputDataError) as err:
        read_table_file(p)
    assert str(err.value) == (
        f"{p}, line 1: the column 'a' appears twice (columns 1 and 3); rename or delete one"
    )
    p.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"has no rows, only a header \(line 1\)"):
        read_table_file(p, "station table")
    p.write_text("", encoding="utf-8")
    with pytest.raises(InputDataError, match="is empty: no header line"):
        read_table_file(p)


def test_unreadable_files_raise_gridcarbon_errors_naming_the_file(tmp_path):
    for name in ("obs.xlsx", "obs.parquet"):
        p = tmp_path / name
        p.write_bytes(b"\x00\x01 not what the suffix says")
        with pytest.raises(InputFileError, match=f"^cannot read observation table '{p}'"):
            read_table_file(p, "observation table")
    with pytest.raises(InputFileError, match="old-format .xls workbook"):
        (tmp_path / "old.xls").write_bytes(b"x")
        read_table_file(tmp_path / "old.xls")
    with pytest.raises(InputFileError, match=r"unsupported format '\.json'"):
        (tmp_path / "obs.json").write_text("{}")
        read_table_file(tmp_path / "obs.json")
    with pytest.raises(InputFileError, match="does not exist"):
        read_table_file(tmp_path / "nope.csv")
    p = tmp_path / "huge.csv"
    p.write_text('"a",b\n1,2\n3,' + "4" * 200_000 + "\n", encoding="utf-8")
    with pytest.raises(GridcarbonError, match=f"^{p}, line 3: not valid CSV"):
        read_table_file(p)


def test_excel_rows_and_cells(tmp_path):
    import datetime as dt

    import openpyxl

    p = tmp_path / "obs.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Hourly"
    ws["A2"], ws["B2"], ws["C2"] = "time", "station_id", "value"
    ws["A3"], ws["B3"], ws["C3"] = dt.datetime(2023, 1, 2, 5), "A", 1.5
    ws["A5"], ws["B5"], ws["C5"] = "2023-01-02 06:00", "A", None  # row 4 left blank
    wb.save(p)
    table, rows = read_table_file(p)
    assert rows.number.tolist() == [3, 5]
    assert table["time"].iloc[0] == pd.Timestamp("2023-01-02 05:00")
    assert table["value"].tolist() == [1.5, ""]
    assert rows.where(1, "value") == f"{p}, Hourly!C5"
    assert rows.where(1) == f"{p}, sheet 'Hourly', row 5"
    ws["E3"] = "stray"
    wb.save(p)
    with pytest.raises(InputDataError) as err:
        read_table_file(p)
    assert str(err.value) == (
        f"{p}, Hourly!E3: a value right of the last header (Hourly!C2); give the column a "
        "header or delete the value"
    )


def test_parquet_rows(tmp_path):
    p = tmp_path / "obs.parquet"
    pd.DataFrame({"value": [1.0, 2.0]}).to_parquet(p)
    table, rows = read_table_file(p)
    assert table["value"].tolist() == [1.0, 2.0]
    assert rows.where(1, "value") == f"{p}, row 2, column 'value'"


def test_row_sources_take_concat_and_wide_columns():
    a = RowSources.of_file(SourceFile("a.csv"), [2, 3, 4])
    b = RowSources(
        (SourceFile("b.csv"),),
        np.zeros(2, dtype=np.int64),
        np.array([5, 6]),
        np.array(["1223A", "1224A"], dtype=object),
        np.array(["date 20230102, hour 1", "date 20230102, hour 2"], dtype=object),
    )
    both = RowSources.concat([a.take([True, False, True]), b])
    assert [both.where(i) for i in range(4)] == [
        "a.csv, line 2",
        "a.csv, line 4",
        "b.csv, line 5",
        "b.csv, line 6",
    ]
    assert both.where(3, "value") == "b.csv, line 6, column '1224A'"  # the station's column
    assert both.pair(1, 2) == "a.csv, line 4 and b.csv, line 5"
    assert both.stamp.tolist() == [None, None, "date 20230102, hour 1", "date 20230102, hour 2"]
    assert RowSources.of_frame(3).pair(0, 2) == "DataFrame, rows 1 and 3"
