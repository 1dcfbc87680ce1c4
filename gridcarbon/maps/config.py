"""Configuration of the maps stage (a section of :class:`gridcarbon.config.RunConfig`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MapConfig(BaseModel):
    """Settings of the maps stage; every field has a documented default."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(True, description="run this stage in `gridcarbon run`")
