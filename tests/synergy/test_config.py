"""SynergyConfig: defaults documented in docs/synergy.md and validated."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gridcarbon.config.synergy import SynergyConfig


def test_defaults_and_validation():
    cfg = SynergyConfig()
    assert cfg.index.method == "efficacy" and cfg.index.bounds == "cross_section"
    assert cfg.cocontrol.co2_unchanged == 0.005 and cfg.cocontrol.rho_min == 0.6
    assert cfg.crosscheck.min_uncertainty_reduction == 0.2
    assert SynergyConfig.model_validate(cfg.model_dump()) == cfg
    with pytest.raises(ValidationError, match="red_below must not exceed green_at"):
        SynergyConfig.model_validate({"rating": {"green_at": 0.3, "red_below": 0.5}})
    with pytest.raises(ValidationError, match="band"):
        SynergyConfig.model_validate({"peak": {"band": [95, 5]}})
    with pytest.raises(ValidationError):
        SynergyConfig.model_validate({"index": {"method": "topsis"}})
    with pytest.raises(ValidationError):
        SynergyConfig.model_validate({"unknown": 1})
