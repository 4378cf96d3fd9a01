"""The rooms of the package and what each may import (ARCHITECTURE.md).

Data flow one way: read -> condition/measure -> baseline -> alert -> report, with batch, review
and the command line on top. A room imports only the rooms below it; lazy imports inside
functions count as imports.
"""

import ast
from pathlib import Path

import iomon

SRC = Path(iomon.__file__).resolve().parent

#: What each room may import (besides itself and the package's ``__version__``).
ALLOWED = {
    "model": set(),
    # The output schema: what every column and key means; it imports nothing of iomon.
    "schema": set(),
    "processing": {"model"},
    # Readers call processing's pure detectors of mains hum and of the stimulus artefact.
    "io": {"model", "processing"},
    "case": {"model", "processing", "io"},
    "alerting": {"model", "processing", "case"},
    "results": {"model", "processing", "io", "case", "alerting", "schema"},
    "pipeline": {"model", "processing", "io", "case", "alerting", "results", "schema"},
    "agreement": {"model", "processing", "io", "case", "results", "pipeline", "schema"},
    "sim": {"model", "processing", "io", "case", "alerting", "results", "pipeline", "schema"},
    # The report presents results: it computes no finding, so it imports no alerting (the
    # result carries its alerts, thresholds, declines and notes, and its criteria the kinds).
    "report": {"model", "processing", "io", "case", "results", "pipeline", "schema"},
    "batch": {"model", "processing", "io", "case", "alerting", "results", "pipeline", "report",
              "schema", "bids"},
    # BIDS-EMG export sits beside batch, above the report (it writes each case's outputs into
    # the dataset's derivatives); batch and the command line call it.
    "bids": {"model", "processing", "io", "case", "alerting", "results", "pipeline", "report",
             "schema"},
    # The review server sits beside batch: above the report, whose content model it shows.
    "review": {"model", "processing", "io", "case", "alerting", "results", "pipeline",
               "report", "schema"},
    "cli": {"model", "processing", "io", "case", "alerting", "results", "pipeline", "report",
            "batch", "review", "sim", "schema", "bids"},
}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "iomon"


def _imports(path: Path):
    """(importing module, imported module) for every iomon import in one file."""
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    module, package = ".".join(parts), parts if is_package else parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1])
                targets = ([f"{base}.{node.module}"] if node.module
                           else [f"{base}.{a.name}" for a in node.names])
            elif (node.module or "").startswith("iomon"):
                targets = [node.module]
            else:
                continue
            yield from ((module, t) for t in targets)
        elif isinstance(node, ast.Import):
            yield from ((module, a.name) for a in node.names if a.name.startswith("iomon"))


def room_imports():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for source, target in _imports(path):
            a, b = _room(source), _room(target)
            if a != b and target not in ("iomon", "iomon.__version__"):
                found.append((a, b, source, target))
    return found


def test_every_room_is_listed():
    rooms = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    rooms |= {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    assert rooms == set(ALLOWED)


def test_rooms_import_only_the_rooms_below():
    wrong = [f"{source} imports {target} ({a} -> {b})"
             for a, b, source, target in room_imports()
             if b not in ALLOWED[a]]
    assert not wrong, "\n".join(wrong)


def test_the_graph_of_rooms_has_no_cycle():
    edges = {(a, b) for a, b, _, _ in room_imports()}
    order = []
    remaining = set(ALLOWED)
    while remaining:
        free = {r for r in remaining if not any(a == r and b in remaining for a, b in edges)}
        assert free, f"a cycle among {sorted(remaining)}"
        order += sorted(free)
        remaining -= free
