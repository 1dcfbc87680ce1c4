"""Configuration of the inversion stage (a section of :class:`gridcarbon.config.RunConfig`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class InversionConfig(BaseModel):
    """Settings of the inversion stage; every field has a documented default."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(True, description="run this stage in `gridcarbon run`")
