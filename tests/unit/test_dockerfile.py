"""The Dockerfile's structure (no Docker engine is needed): Ubuntu 24.04 stages, pinned by
digest, that build the Python service from its lock and the C++ server as the tests build it
(the confluent-kafka wheel's librdkafka, jemalloc), the built dashboard, a non-root user, a
HEALTHCHECK on /healthz, COPY sources that exist in the build context, and `make image`,
which builds and smoke-tests it (scripts/image.sh; not part of `make test`)."""

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


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """The global ARGs (name -> default) and the stages, `${ARG}` in FROM replaced by its default."""
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
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], parts[0])
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(image, name))
        elif not stages:
            assert keyword == "ARG", f"{keyword} before FROM"
            arg, _, default = rest.partition("=")
            args[arg] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


ARGS, STAGES = parse((ROOT / "Dockerfile").read_text())
FINAL = STAGES[-1]
PYTHON_STAGE = next(s for s in STAGES if s.name == "python-build")
CPP_STAGE = next(s for s in STAGES if s.name == "cpp-build")
# Sources in the build context that a make target builds (gitignored): path -> the target.
BUILT = {"dashboard/dist": "dashboard"}


def make_prerequisites(target: str) -> list[str]:
    rule = re.search(rf"^{target}:(.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert rule is not None, f"the Makefile has no {target} target"
    return rule.group(1).split()


def apt_packages(stage: Stage) -> set[str]:
    runs = " ".join(stage.all("RUN"))
    installs = re.findall(r"apt-get install ((?:[\w.+-]+\s*)+)", runs)
    return {w for words in installs for w in words.split() if not w.startswith("-")}


def ignored(path: str) -> bool:
    patterns = [
        p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip() and p[0] != "#"
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatch(prefix, pattern) for pattern in patterns for prefix in prefixes)


def test_every_stage_is_the_same_ubuntu_24_04_pinned_by_digest_and_the_build_stages_are_named() -> None:
    assert len(STAGES) >= 3
    images = {s.image for s in STAGES}
    assert len(images) == 1, f"the stages start from different images: {images}"
    (image,) = images
    # A tag of Ubuntu 24.04 (noble, or noble-YYYYMMDD) and the digest of the image it named.
    assert re.fullmatch(
        r"(docker\.io/library/)?ubuntu:(24\.04|noble(-\d{8}(\.\d+)?)?)@sha256:[0-9a-f]{64}", image
    ), f"the base image is not pinned by digest: {image}"
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
                assert not ignored(source), f"COPY {source}: excluded by .dockerignore"
                if source in BUILT:  # built before the image, by `make image`'s prerequisite
                    assert BUILT[source] in make_prerequisites("image")
                    assert f"/{source}/" in (ROOT / ".gitignore").read_text().splitlines()
                    continue
                assert (ROOT / source).exists(), f"COPY {source}: missing from the repository"


def test_the_python_stage_has_what_the_package_build_reads() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    stage = PYTHON_STAGE
    copied = {w for args in stage.all("COPY") for w in shlex.split(args)[:-1]}
    assert {"pyproject.toml", project["project"]["readme"]} <= copied
    for where in project["tool"]["setuptools"]["packages"]["find"]["where"]:
        assert where in copied
    assert any("pip install" in run and " ." in run for run in stage.all("RUN"))
    entry = shlex.split(FINAL.all("ENTRYPOINT")[-1].strip("[]").replace(",", " "))
    assert entry == ["nexus"] and "nexus" in project["project"]["scripts"]


def test_the_python_stage_installs_the_lock_with_hashes_and_the_project_without_dependencies() -> None:
    runs = PYTHON_STAGE.all("RUN")
    installs = [part for run in runs for part in run.split("&&") if "pip install" in part]
    from_lock = [i for i in installs if "-r requirements/service.lock" in i]
    assert from_lock and all("--require-hashes" in i for i in from_lock)
    project = [i for i in installs if i.rstrip().endswith(" .")]
    assert project and all("--no-deps" in i for i in project), "the project must not resolve anything"
    assert all(i in from_lock + project for i in installs), f"an unlocked install: {installs}"
    copied = [shlex.split(args)[0] for args in PYTHON_STAGE.all("COPY")]
    assert "requirements/service.lock" in copied
    # The lock is installed before the sources are copied: a source change keeps that layer.
    keywords = [(kw, args) for kw, args in PYTHON_STAGE.instructions]
    lock_run = next(i for i, (kw, a) in enumerate(keywords) if kw == "RUN" and "service.lock" in a)
    service_copy = next(i for i, (kw, a) in enumerate(keywords) if kw == "COPY" and a.startswith("service "))
    assert lock_run < service_copy


def test_the_cpp_stage_builds_the_server_as_its_cmake_file_asks() -> None:
    stage = CPP_STAGE
    cmake = (ROOT / "ingestion_cpp" / "CMakeLists.txt").read_text()
    runs = " ".join(stage.all("RUN"))
    # The CMake file refuses to configure without the librdkafka to ship next to the binary.
    assert "RDKAFKA_LIBRARY" in cmake and "-DRDKAFKA_LIBRARY=" in runs
    target = re.search(r"add_executable\((\w+)", cmake).group(1)  # type: ignore[union-attr]
    assert f"--target {target}" in runs and f"/{target}" in runs
    # A local build directory in the context would carry a CMakeCache of another source path.
    assert ignored("ingestion_cpp/build")
    assert not ignored("ingestion_cpp/CMakeLists.txt") and not ignored("protos")


def test_the_cpp_stage_builds_with_the_tests_librdkafka_and_jemalloc() -> None:
    build_cpp = (ROOT / "scripts" / "build_cpp.sh").read_text()
    packages = re.search(r"PACKAGES=\(([^)]*)\)", build_cpp).group(1).split()  # type: ignore[union-attr]
    # What the tests' build installs, but googletest (the image builds the server only).
    missing = set(packages) - {"libgtest-dev"} - apt_packages(CPP_STAGE)
    assert not missing, f"the C++ stage lacks what scripts/build_cpp.sh installs: {missing}"
    assert "libjemalloc-dev" in packages
    runs = " ".join(CPP_STAGE.all("RUN"))
    assert "-DNEXUS_USE_JEMALLOC=ON" in runs
    assert re.search(r"readelf -d \S*olist_ingestion_enterprise \| grep -q '?NEEDED.*libjemalloc", runs)
    # The tests' build takes librdkafka from the confluent-kafka wheel; so does the image.
    assert "confluent_kafka.libs/librdkafka" in build_cpp
    assert "confluent_kafka.libs/librdkafka" in " ".join(PYTHON_STAGE.all("RUN"))
    copies = [shlex.split(a) for a in CPP_STAGE.all("COPY") if a.startswith("--from=python-build")]
    assert copies, "the C++ stage takes no librdkafka from the Python stage"
    configure = runs.split("-DRDKAFKA_LIBRARY")[0]
    assert f"find {copies[0][-1]} " in configure, "-DRDKAFKA_LIBRARY is not the wheel's library"
    assert "librdkafka-dev" in apt_packages(CPP_STAGE)  # its headers only


def test_the_runtime_has_jemalloc_and_no_debian_librdkafka() -> None:
    runtime = apt_packages(FINAL)
    assert "libjemalloc2" in runtime
    assert not {p for p in runtime if p.startswith("librdkafka")}, "Debian's librdkafka must not ship"
    copied = {shlex.split(a)[-1] for a in FINAL.all("COPY") if a.startswith("--from=cpp-build")}
    assert "/opt/keystone-nexus/ingestion" in copied


def test_the_image_ships_the_built_dashboard_where_nexus_dashboard_looks() -> None:
    copies = [shlex.split(a) for a in FINAL.all("COPY") if not a.startswith("--from")]
    dist = next(words[-1] for words in copies if words[0] == "dashboard/dist")
    env = " ".join(FINAL.all("ENV"))
    assert f"NEXUS_DASHBOARD__STATIC_DIR={dist}" in env
    assert "static_dir" in (ROOT / "service/keystone_nexus/config.py").read_text()
    assert ignored("dashboard/node_modules") and not ignored("dashboard/dist")


def test_make_image_builds_and_smoke_tests_and_make_test_does_not_need_it() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^image:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe is not None and "scripts/image.sh" in recipe.group(1)
    assert "dashboard" in make_prerequisites("image")
    assert "image" not in make_prerequisites("test")
    script = (ROOT / "scripts" / "image.sh").read_text()
    for smoke in ("nexus --version", "olist_ingestion_enterprise --help", "/healthz", "nexus run"):
        assert smoke in script, f"scripts/image.sh does not smoke-test {smoke}"
    for builder in ("docker", "podman", "buildah"):
        assert builder in script


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
