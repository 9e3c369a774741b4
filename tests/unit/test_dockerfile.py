"""The Dockerfile's structure (no Docker engine is needed): Ubuntu 24.04 stages that build
the Python service and the C++ server, a non-root user, a HEALTHCHECK on /healthz, and
COPY sources that exist in the build context."""

from __future__ import annotations

import fnmatch
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(text: str) -> list[Stage]:
    logical, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        current += " " + line.removesuffix("\\").strip()
        if not line.endswith("\\"):
            logical.append(current.strip())
            current = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        else:
            assert stages, f"{keyword} before FROM"
            stages[-1].instructions.append((keyword, args))
    return stages


STAGES = parse((ROOT / "Dockerfile").read_text())
FINAL = STAGES[-1]


def ignored(path: str) -> bool:
    patterns = [
        p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip() and p[0] != "#"
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatch(prefix, pattern) for pattern in patterns for prefix in prefixes)


def test_every_stage_is_ubuntu_24_04_and_the_build_stages_are_named() -> None:
    assert len(STAGES) >= 3
    assert {s.image for s in STAGES} == {"ubuntu:24.04"}
    names = {s.name for s in STAGES[:-1]}
    assert {"python-build", "cpp-build"} <= names


def test_copy_sources_exist_and_are_in_the_context() -> None:
    names = {s.name for s in STAGES if s.name}
    for stage in STAGES:
        for args in stage.all("COPY"):
            words = shlex.split(args)
            sources = [w for w in words if not w.startswith("--")][:-1]
            source_stage = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
            if source_stage is not None:
                assert source_stage in names, f"COPY --from={source_stage}: no such stage"
                producer = next(s for s in STAGES if s.name == source_stage)
                made = " ".join(producer.all("RUN"))
                for source in sources:
                    assert source in made, f"{source} is not made by stage {source_stage}"
                continue
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: missing from the repository"
                assert not ignored(source), f"COPY {source}: excluded by .dockerignore"


def test_the_python_stage_has_what_the_package_build_reads() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    stage = next(s for s in STAGES if s.name == "python-build")
    copied = {w for args in stage.all("COPY") for w in shlex.split(args)[:-1]}
    assert {"pyproject.toml", project["project"]["readme"]} <= copied
    for where in project["tool"]["setuptools"]["packages"]["find"]["where"]:
        assert where in copied
    assert any("pip install" in run and " ." in run for run in stage.all("RUN"))
    entry = shlex.split(FINAL.all("ENTRYPOINT")[-1].strip("[]").replace(",", " "))
    assert entry == ["nexus"] and "nexus" in project["project"]["scripts"]


def test_the_cpp_stage_builds_the_server_as_its_cmake_file_asks() -> None:
    stage = next(s for s in STAGES if s.name == "cpp-build")
    cmake = (ROOT / "ingestion_cpp" / "CMakeLists.txt").read_text()
    runs = " ".join(stage.all("RUN"))
    # The CMake file refuses to configure without the librdkafka to ship next to the binary.
    assert "RDKAFKA_LIBRARY" in cmake and "-DRDKAFKA_LIBRARY=" in runs
    target = re.search(r"add_executable\((\w+)", cmake).group(1)  # type: ignore[union-attr]
    assert f"--target {target}" in runs and f"/{target}" in runs
    # A local build directory in the context would carry a CMakeCache of another source path.
    assert ignored("ingestion_cpp/build")
    assert not ignored("ingestion_cpp/CMakeLists.txt") and not ignored("protos")


def test_the_image_runs_as_a_non_root_user_with_a_healthcheck_on_healthz() -> None:
    users = FINAL.all("USER")
    assert users, "the final stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    runs = " ".join(FINAL.all("RUN"))
    assert re.search(rf"useradd .*--uid {user}\b", runs) or f" {user}" in runs
    env = " ".join(FINAL.all("ENV"))
    port = re.search(r"NEXUS_HEALTH__PORT=(\d+)", env).group(1)  # type: ignore[union-attr]
    health = FINAL.all("HEALTHCHECK")
    assert len(health) == 1
    assert f"http://127.0.0.1:{port}/healthz" in health[0] and " CMD " in f" {health[0]}"
    assert "NEXUS_HEALTH__HOST=0.0.0.0" in env  # reachable from outside the container's loopback
    assert port in " ".join(FINAL.all("EXPOSE"))
    # The user is set after the last RUN that needs root.
    keywords = [kw for kw, _ in FINAL.instructions]
    assert max(i for i, kw in enumerate(keywords) if kw == "RUN") < keywords.index("USER")
