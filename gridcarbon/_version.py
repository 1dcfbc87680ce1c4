"""The version of gridcarbon: one place, read by the package root, the provenance of every
output and the build (``pyproject.toml``)."""

__version__ = "0.1.0"
