"""Configuration of the zoning stage (a section of :class:`gridcarbon.config.RunConfig`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ZoningConfig(BaseModel):
    """Settings of the zoning stage; every field has a documented default."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(True, description="run this stage in `gridcarbon run`")
