"""Generate the Python stubs for protos/ into a directory (default: service/).

The generated modules are committed so the package installs without a protobuf
compiler; tests/unit/test_contracts_codegen.py regenerates them into a temporary
directory and fails if anything differs, so they can never go stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
# Only ingestion.proto defines a service; the others would get empty *_grpc.py files.
SERVICE_PROTOS = {"ingestion.proto"}
INIT = '"""Generated from protos/ by scripts/gen_protos.py; do not edit."""\n'


def generate(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    include = str(Path(protoc.__file__).parent / "_proto")
    sources = sorted(PROTOS.rglob("*.proto"))
    for source in sources:
        rel = str(source.relative_to(PROTOS))
        args = [
            "protoc",
            f"-I{PROTOS}",
            f"-I{include}",
            f"--python_out={out}",
            f"--pyi_out={out}",
        ]
        if source.name in SERVICE_PROTOS:
            args.append(f"--grpc_python_out={out}")
        if protoc.main([*args, rel]) != 0:
            raise SystemExit(f"protoc failed on {rel}")
    package = out / "keystone"
    for directory in [package, *[p for p in package.rglob("*") if p.is_dir()]]:
        if directory.name != "__pycache__":
            (directory / "__init__.py").write_text(INIT)
    return sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "service")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path.relative_to(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
