"""The configuration reference, generated from the settings model (`nexus config docs`).

`docs/configuration.md` is this module's output; a unit test fails when the committed file
differs from what the model generates now (regenerate with
`nexus config docs --out docs/configuration.md`).
"""

from __future__ import annotations

import enum
import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from keystone_nexus.config import ENV_NESTED, ENV_PREFIX, Settings

__all__ = ["KAFKA_CONNECT", "render"]

# The Confluent Kafka Connect S3 sink's properties and what stands for them here, for an
# operator moving a connector's configuration over: (property, variable(s), how).
KAFKA_CONNECT: tuple[tuple[str, str, str], ...] = (
    ("topics, topics.regex", "NEXUS_KAFKA__TOPICS, NEXUS_KAFKA__TOPIC_PATTERN", "the same"),
    ("flush.size", "NEXUS_SINK__MAX_BATCH_RECORDS", "records per object, per partition"),
    (
        "rotate.interval.ms, rotate.schedule.interval.ms",
        "NEXUS_SINK__MAX_LATENCY_S, NEXUS_SINK__IDLE_FLUSH_S",
        "seconds, by the age of the oldest buffered record / a partition read to its end",
    ),
    ("(none: bytes per object)", "NEXUS_SINK__MAX_BATCH_BYTES", "also cuts a batch"),
    (
        "partitioner.class=TimeBasedPartitioner, path.format, partition.duration.ms",
        "(fixed)",
        "hourly `dt=YYYY-MM-DD/hr=HH` (Hive style), UTC",
    ),
    (
        "timestamp.extractor=Record | RecordField, timestamp.field",
        "NEXUS_SINK__TIME_FIELDS",
        "the Kafka timestamp by default; a payload field per topic",
    ),
    ("format.class=ParquetFormat, parquet.codec", "NEXUS_SINK__COMPRESSION", "snappy or zstd"),
    ("s3.bucket.name, topics.dir", "NEXUS_LAKE__URI", "`s3://bucket/prefix`"),
    ("s3.region, store.url", "NEXUS_AWS__REGION, NEXUS_AWS__ENDPOINT_URL", "the same"),
    (
        "errors.tolerance=all, errors.deadletterqueue.topic.name",
        "NEXUS_SINK__DEAD_LETTER_TOPIC",
        "invalid records always go to the lake's `dlq/` with their reason; also to this topic",
    ),
    (
        "errors.deadletterqueue.context.headers.enable",
        "(always)",
        "the reason and Kafka coordinates are columns of every dead letter",
    ),
    ("behavior.on.null.values=fail | ignore", "NEXUS_SINK__TOMBSTONES", "`dlq` (dead-letter) or `skip`"),
    (
        "value.converter=AWSKafkaAvroConverter (Glue)",
        "NEXUS_REGISTRY__KIND, NEXUS_REGISTRY__REGISTRY_NAME",
        "`glue`: every record validated against its version",
    ),
    ("consumer.override.isolation.level", "NEXUS_KAFKA__ISOLATION_LEVEL", "read_committed by default"),
    ("consumer.override.max.poll.records", "NEXUS_SINK__FETCH_MAX_RECORDS", "records per fetch"),
    ("exactly.once.support, s3 object locking", "(always)", "checkpoints with conditional writes"),
    ("tasks.max", "(instances)", "run more sinks with the same NEXUS_KAFKA__GROUP_ID"),
)

_HEADER = """\
# Configuration reference

<!-- Generated from service/keystone_nexus/config.py by `nexus config docs`; do not edit by hand. -->

One settings model (`service/keystone_nexus/config.py`). Sources, highest priority first:
`NEXUS_*` environment variables (`__` separates the section from the field), a `.env` file
in the working directory (read as python-dotenv reads it: quotes, inline comments, `export`;
its variables other than `NEXUS_*` are left alone), a TOML file given with `--config FILE` before or after the
command (`nexus --config FILE run`, `nexus run --config FILE`; sections as tables:
`[kafka]`, `[sink]`, ...), then the defaults below. A variable set empty (`NEXUS_X=`)
counts as unset, as the C++ server takes it. Unknown keys and bad values stop start-up
with an error naming the field and its variable. Any string setting may be written
`aws-secretsmanager:<secret id>[#json key]`; every `nexus` command resolves it at start.
"""


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(names) + (" or unset" if type(None) in args else "")
    if origin in (tuple, list):
        return f"list of {_type_name(args[0])} (comma-separated)"
    if origin is dict:
        return "JSON object"
    if annotation is SecretStr:
        return "secret string"
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return "path"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation)


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if value is None:
        return "unset"
    if isinstance(value, tuple | list):
        text = ",".join(str(v) for v in value)
        return f"`{text}`" if text else "empty"
    if isinstance(value, dict):
        return f"`{value}`" if value else "`{}`"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1 << 20 and value % (1 << 20) == 0:
        return f"`{value}` ({value >> 20} MiB)"
    return f"`{value}`"


def _cell(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("|", "\\|")).strip()


def _section_doc(model: type[BaseModel]) -> str:
    doc = model.__doc__ or ""
    if model.__doc__ == BaseModel.__doc__ or doc.startswith("Usage docs"):
        return ""
    return _cell(doc)


def render() -> str:
    """The Markdown reference of every setting: variable, type, default, meaning."""
    out = [_HEADER]
    for section, field in Settings.model_fields.items():
        model = field.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        out.append(f"\n## `{section}`\n")
        note = _section_doc(model)
        if note:
            out.append(f"{note}\n")
        out.append("| variable | type | default | meaning |")
        out.append("|---|---|---|---|")
        for name, info in model.model_fields.items():
            env = f"{ENV_PREFIX}{section.upper()}{ENV_NESTED}{name.upper()}"
            meaning = _cell(info.description or "")
            out.append(f"| `{env}` | {_type_name(info.annotation)} | {_default(info)} | {meaning} |")
    out.append("\n## Kafka Connect S3 sink counterparts\n")
    out.append(
        "For a configuration moving over from the Confluent S3 sink connector: each property and "
        "the setting that stands for it.\n"
    )
    out.append("| connector property | setting | here |")
    out.append("|---|---|---|")
    for prop, setting, how in KAFKA_CONNECT:
        names = ", ".join(
            f"`{s.strip()}`" if s.strip().startswith(ENV_PREFIX) else s for s in setting.split(",")
        )
        out.append(f"| `{prop}` | {names} | {_cell(how)} |")
    return "\n".join(out) + "\n"
