"""Names and codes from users' files: control characters, RTL overrides and length."""

from __future__ import annotations

import math

import pytest

from gridcarbon.errors import InputDataError
from gridcarbon.names import MAX_NAME_LENGTH, NameCleanedWarning, clean_text_values


def _line(i: int) -> str:
    return f"line {i + 2}"


def test_plain_values_pass_unchanged():
    values = ["杭州市区重点管控单元", "ZH33010220001", None, math.nan, "a\u200db"]
    assert (
        clean_text_values(values, field="name", kind="name", source="u.csv", location=_line)[:3]
        == values[:3]
    )


def test_names_are_cleaned_with_one_warning_naming_the_first_line():
    values = ["ok", "evil\x1b[31mred", "tab\there", "rtl\u202eexe.txt"]
    with pytest.warns(NameCleanedWarning, match=r"3 value\(s\).*'名称'.*line 3"):
        out = clean_text_values(values, field="名称", kind="name", source="u.csv", location=_line)
    assert out == ["ok", "evil[31mred", "tab here", "rtlexe.txt"]


def test_codes_with_control_characters_are_refused_naming_file_line_and_field():
    with pytest.raises(
        InputDataError, match=r"u\.csv, line 3: the code 'ZH1\\x00' in field 'code'"
    ):
        clean_text_values(
            ["ZH0", "ZH1\x00"], field="code", kind="code", source="u.csv", location=_line
        )


@pytest.mark.parametrize("kind", ["name", "code"])
def test_long_values_are_refused(kind):
    with pytest.raises(InputDataError, match=rf"line 2: the {kind} .* 1,000,000 characters long"):
        clean_text_values(["x" * 1_000_000], field="f", kind=kind, source="u.csv", location=_line)
    assert clean_text_values(
        ["x" * MAX_NAME_LENGTH], field="f", kind=kind, source="u", location=_line
    )
