"""The C++ server's sources stay small enough to read in one sitting: every file of
ingestion_cpp/src and the composition root under 400 lines."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CPP = ROOT / "ingestion_cpp"
MAX_LINES = 400


def test_every_cpp_source_is_under_400_lines() -> None:
    sources = sorted([*(CPP / "src").iterdir(), *CPP.glob("*.cc")])
    assert len(sources) > 30, "the sources were not found"
    lines = {p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines()) for p in sources}
    assert {path: n for path, n in lines.items() if n >= MAX_LINES} == {}
