"""Writes one benchmark's section of docs/benchmarks.md, leaving the others.

Each benchmark owns the text between `<!-- NAME:start -->` and
`<!-- NAME:end -->`; a section not there yet is appended.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nEach section is written by the script it names; rerun that script to refresh it.\n"


def write_section(name: str, text: str) -> Path:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{text.rstrip()}\n{end}\n"
    current = OUT.read_text() if OUT.exists() else HEADER
    if start in current and end in current:
        before = current[: current.index(start)]
        after = current[current.index(end) + len(end) :].lstrip("\n")
        current = before + block + ("\n" + after if after else "")
    else:
        current = current.rstrip("\n") + "\n\n" + block
    OUT.write_text(current)
    return OUT
