"""The locks in requirements/ (scripts/locks.py): each covers what its source asks for, so a
lock gone stale (a dependency added or a range moved without `make lock`) fails here; every
pin carries its hashes; the image's lock keeps the versions the tests run with; and the
environments are installed from the locks with --require-hashes."""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from collections import defaultdict
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def _load_locks_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("locks", ROOT / "scripts" / "locks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["locks"] = module
    spec.loader.exec_module(module)
    return module


LOCKS = _load_locks_script().LOCKS
# name[extras]==version ; marker (uv keeps the extras a dependant asks for: pip's
# --require-hashes refuses `pkg[extra]` unless pinned as such)
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)\s*(?:;(?P<marker>[^\\]*))?"
)


def pins(path: str) -> dict[str, list[tuple[Version, str]]]:
    """name -> [(version, marker)] of a lock; a package pinned per Python version appears twice."""
    found: dict[str, list[tuple[Version, str]]] = defaultdict(list)
    for line in (ROOT / path).read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[canonicalize_name(match["name"])].append(
                (Version(match["version"]), (match["marker"] or "").strip())
            )
    return found


def entries(path: str) -> list[str]:
    """The lock's requirement entries, each with its continuation lines joined."""
    text = (ROOT / path).read_text().replace("\\\n", " ")
    return [line for line in text.splitlines() if PIN.match(line)]


def key(entry: str) -> str:
    """An entry's package, version and marker: `name==version ; marker`."""
    match = PIN.match(entry)
    assert match is not None
    marker = (match["marker"] or "").strip()
    return f"{canonicalize_name(match['name'])}=={match['version']}{f' ; {marker}' if marker else ''}"


def direct(source: str, extras: tuple[str, ...]) -> list[Requirement]:
    if source == "pyproject.toml":
        project = tomllib.loads((ROOT / source).read_text())["project"]
        lines = list(project["dependencies"])
        for extra in extras:
            lines += project["optional-dependencies"][extra]
    else:
        lines = [line.split("#", 1)[0].strip() for line in (ROOT / source).read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.path)
def test_the_lock_covers_every_direct_dependency_of_its_source(lock) -> None:
    pinned = pins(lock.path)
    wanted = direct(lock.source, lock.extras)
    assert wanted, f"{lock.source}: no requirements read"
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in pinned, f"{lock.path} has no {req.name} ({lock.source}); run make lock"
        for version, marker in pinned[name]:
            assert req.specifier.contains(version, prereleases=True), (
                f"{lock.path} pins {req.name}=={version}{f' ; {marker}' if marker else ''}, "
                f"outside {req.specifier} of {lock.source}; run make lock"
            )


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.path)
def test_every_pin_has_hashes_and_the_header_says_how_to_regenerate(lock) -> None:
    text = (ROOT / lock.path).read_text()
    assert "#    make lock" in text.splitlines()[1], f"{lock.path}: not written by make lock"
    lines = entries(lock.path)
    assert len(lines) >= 10
    for line in lines:
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", line), f"{lock.path}: no hash on {key(line)}"
        assert "-e " not in line and "file:" not in line, f"{lock.path}: a local path in {key(line)}"


def test_the_image_lock_keeps_the_versions_and_files_the_tests_run_with() -> None:
    by_path = {lock.path: lock for lock in LOCKS}
    service = by_path["requirements/service.lock"]
    assert service.within == "requirements/dev.lock" and service.source == "pyproject.toml"
    dev = {key(line): set(re.findall(r"sha256:\w+", line)) for line in entries(service.within)}
    for line in entries(service.path):
        pin = key(line)
        assert pin in dev, f"the image pins {pin}, which the tests' lock does not"
        assert set(re.findall(r"sha256:\w+", line)) == dev[pin], f"{pin}: other files than the tests'"


def test_the_runtime_pins_of_the_private_behaviour_the_code_relies_on_are_bounded() -> None:
    runtime = {str(canonicalize_name(r.name)): r for r in direct("pyproject.toml", ())}
    # keystone_nexus.kafka.fetch hooks aiokafka's fetcher; validate_batch relies on pyarrow.json's quirks.
    assert "aiokafka.consumer import fetcher" in (ROOT / "service/keystone_nexus/kafka/fetch.py").read_text()
    assert "pyarrow.json" in (ROOT / "service/keystone_nexus/contracts/validate_batch.py").read_text()
    for name in ("aiokafka", "pyarrow"):
        upper = [s for s in runtime[name].specifier if s.operator in ("<", "<=", "~=", "==")]
        assert upper, f"pyproject.toml: {name} needs an upper bound (the code uses its private behaviour)"


@pytest.mark.parametrize(
    ("script", "lock"),
    [
        ("scripts/bootstrap.sh", "requirements/dev.lock"),
        ("scripts/transform_env.sh", "requirements/transform.lock"),
        ("scripts/transform_env.sh", "requirements/airflow.lock"),
        ("Dockerfile", "requirements/service.lock"),
    ],
)
def test_each_environment_installs_from_its_lock_with_hashes_required(script: str, lock: str) -> None:
    text = (ROOT / script).read_text().replace("\\\n", " ")
    assert lock in text, f"{script} does not install {lock}"
    assert "--require-hashes" in text
    # Only the project itself is installed besides the lock, and without its dependencies.
    for install in re.findall(r"pip install[^\n]*", text):
        assert "--require-hashes" in install or "--no-deps" in install, f"{script}: {install}"


def test_make_lock_runs_the_lock_script() -> None:
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^lock:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert target is not None, "the Makefile has no lock target"
    assert "scripts/locks.py" in target.group(1)
