"""The exception hierarchy of gridcarbon.

Every error gridcarbon raises on purpose derives from :class:`GridcarbonError`, and also from the
built-in exception that fits (``ValueError`` for bad values, ``OSError`` for files), so callers can
catch either.  Messages name the bad value and say how to fix it.
"""

from __future__ import annotations


class GridcarbonError(Exception):
    """Base class of all gridcarbon errors."""


class ConfigError(GridcarbonError, ValueError):
    """A run configuration value is invalid (wrong type, out of range, inconsistent)."""


class InputDataError(GridcarbonError, ValueError):
    """An input table, file content or array is invalid (missing column, bad unit, NaN, ...)."""


class CRSError(GridcarbonError, ValueError):
    """A coordinate reference system is missing, unknown or unsuitable."""


class OutsideGridError(InputDataError):
    """A location lies outside the grid."""


class OutputExistsError(GridcarbonError, FileExistsError):
    """An output already exists and ``overwrite`` was not requested."""


class InputFileError(GridcarbonError, OSError):
    """An input file is missing, unreadable or of the wrong format."""
