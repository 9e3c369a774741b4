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


def test_every_kafka_connect_counterpart_names_a_real_setting() -> None:
    from keystone_nexus.config import ENV_NESTED, ENV_PREFIX, Settings
    from keystone_nexus.config_docs import KAFKA_CONNECT

    known = {
        f"{ENV_PREFIX}{section.upper()}{ENV_NESTED}{name.upper()}"
        for section, field in Settings.model_fields.items()
        for name in getattr(field.annotation, "model_fields", {})
    }
    named = [s.strip() for _, setting, _ in KAFKA_CONNECT for s in setting.split(",")]
    assert [n for n in named if n.startswith(ENV_PREFIX) and n not in known] == []
    props = " ".join(prop for prop, _, _ in KAFKA_CONNECT)
    for required in (
        "flush.size",
        "rotate.interval.ms",
        "partitioner.class",
        "errors.deadletterqueue.topic.name",
    ):
        assert required in props
    assert "behavior.on.null.values" in props
