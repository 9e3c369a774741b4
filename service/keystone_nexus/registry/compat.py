"""BACKWARD compatibility between two JSON Schemas of the shape schemas.py generates.

BACKWARD: a consumer using the new schema can read every record valid under the old
one. For flat object schemas this means the new one must not require a property the
old one did not, must not drop a property while forbidding additional ones, and must
not narrow a property's types, enum or bounds. The Glue server enforces this itself;
the local registry (and a pre-flight check before Glue) use this module.
"""

from __future__ import annotations

from typing import Any

import orjson


def _types(prop: dict[str, Any]) -> set[str]:
    value = prop.get("type", [])
    return {value} if isinstance(value, str) else set(value)


def backward_problems(old_definition: str, new_definition: str) -> list[str]:
    """Why records valid under the old schema may fail the new one; empty when compatible."""
    old = orjson.loads(old_definition)
    new = orjson.loads(new_definition)
    problems: list[str] = []
    old_props: dict[str, Any] = old.get("properties", {})
    new_props: dict[str, Any] = new.get("properties", {})
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        problems.append(f"property {name!r} is newly required")
    if new.get("additionalProperties") is False:
        for name in sorted(set(old_props) - set(new_props)):
            problems.append(f"property {name!r} was removed while additional properties are forbidden")
    for name in sorted(set(old_props) & set(new_props)):
        before, after = old_props[name], new_props[name]
        lost = _types(before) - _types(after)
        if lost and not (lost == {"integer"} and "number" in _types(after)):
            problems.append(f"property {name!r} no longer accepts {sorted(lost)}")
        if "enum" in after:
            dropped = [v for v in before.get("enum", []) if v not in after["enum"]]
            if "enum" not in before or dropped:
                problems.append(f"property {name!r} enum narrowed (drops {dropped or 'free values'})")
        if after.get("minimum", float("-inf")) > before.get("minimum", float("-inf")):
            problems.append(f"property {name!r} minimum raised")
        if after.get("maximum", float("inf")) < before.get("maximum", float("inf")):
            problems.append(f"property {name!r} maximum lowered")
        if after.get("maxLength", 1 << 62) < before.get("maxLength", 1 << 62):
            problems.append(f"property {name!r} maxLength lowered")
        if "pattern" in after and after.get("pattern") != before.get("pattern"):
            problems.append(f"property {name!r} pattern changed")
    return problems
