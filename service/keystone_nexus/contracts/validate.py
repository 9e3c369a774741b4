"""Record validation against the registry's JSON Schemas, compiled once per version.

fastjsonschema turns a schema into Python code, several times faster than
interpreting it per record; compiled validators are cached by schema text.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import fastjsonschema
import orjson

Validator = Callable[[Any], Any]


class RecordInvalid(ValueError):
    """A record that does not satisfy its schema; the message says which rule failed."""


@lru_cache(maxsize=512)
def compiled(definition: str) -> Validator:
    validator: Validator = fastjsonschema.compile(orjson.loads(definition))
    return validator


def check(definition: str, record: Any) -> None:
    """Raise RecordInvalid with a readable reason when `record` fails `definition`."""
    try:
        compiled(definition)(record)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise RecordInvalid(_reason(exc)) from None


def _reason(exc: Any) -> str:
    path = ".".join(str(p) for p in (exc.path or [])[1:])
    message = str(exc.message).replace("data.", "", 1) if exc.message else "invalid"
    if path and path not in message:
        return f"{path}: {message}"
    return message
