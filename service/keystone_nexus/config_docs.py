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

__all__ = ["render"]

_HEADER = """\
# Configuration reference

<!-- Generated from service/keystone_nexus/config.py by `nexus config docs`; do not edit by hand. -->

One settings model (`service/keystone_nexus/config.py`). Sources, highest priority first:
`NEXUS_*` environment variables (`__` separates the section from the field), a `.env` file
in the working directory, a TOML file given with `--config FILE` before or after the
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
    return "\n".join(out) + "\n"
