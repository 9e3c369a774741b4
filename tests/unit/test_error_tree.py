"""errors.py's tree lists every error class the package defines, and every error class
is in the tree, or in the short list of those that never leave their module."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import keystone_nexus
from keystone_nexus import errors
from keystone_nexus.errors import NexusError

INTERNAL = {
    "WireFormatError",
    "RecordInvalid",
    "MalformedMessage",
    "StartupAborted",
    "_Unsupported",
    "_NotBulk",
}


def _defined_errors() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(keystone_nexus.__path__, "keystone_nexus."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[name] = value
    return found


def test_every_error_is_in_the_tree_or_stays_in_its_module() -> None:
    defined = _defined_errors()
    tree = errors.__doc__ or ""
    outside = sorted(n for n, cls in defined.items() if not issubclass(cls, NexusError) and n not in INTERNAL)
    assert not outside, f"errors that escape NexusError (a traceback at the command line): {outside}"
    missing = sorted(n for n, cls in defined.items() if issubclass(cls, NexusError) and f" {n} " not in tree)
    assert not missing, f"errors missing from the tree in errors.py: {missing}"
    stale = sorted(n for n in INTERNAL if n not in defined)
    assert not stale, f"listed as internal but not defined: {stale}"
    for name in INTERNAL:
        assert name in tree, f"{name} is not named in errors.py's list of internal errors"
