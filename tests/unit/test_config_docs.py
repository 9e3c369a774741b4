"""docs/configuration.md is generated from the settings model and must be current."""

from __future__ import annotations

from pathlib import Path

from keystone_nexus.config import Settings
from keystone_nexus.config_docs import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_committed_configuration_reference_is_what_the_model_generates() -> None:
    assert DOC.read_text() == render(), (
        "docs/configuration.md is stale: run `nexus config docs --out docs/configuration.md`"
    )


def test_every_setting_has_a_row_named_by_its_variable() -> None:
    text = render()
    for section, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type)
        for name in model.model_fields:
            assert f"| `NEXUS_{section.upper()}__{name.upper()}` |" in text
