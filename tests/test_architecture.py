"""The package's shape (docs/architecture.md): a drawing is validated once, no import circle, no big module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from digitlib import drawing as drawing_module
from digitlib.drawing import Drawing
from digitlib.examples import example_strokes
from digitlib.pad import DrawingPad

PACKAGE = Path(drawing_module.__file__).parent
MAX_LINES = 450


@pytest.fixture
def validations(monkeypatch) -> list[int]:
    """Counts the calls of the one validator, `digitlib.drawing._validate`."""
    calls = [0]
    validate = drawing_module._validate

    def counting(*args):
        calls[0] += 1
        return validate(*args)

    monkeypatch.setattr(drawing_module, "_validate", counting)
    return calls


def test_raw_strokes_are_validated_once_per_reading(recognizer, validations) -> None:
    recognizer.predict_strokes(example_strokes("7"), 280, 20)
    assert validations[0] == 1
    recognizer.predict_number_strokes(example_strokes("205", (420, 200)), (420, 200), 20)
    assert validations[0] == 2


def test_a_drawing_is_never_validated_again(recognizer, validations) -> None:
    number = Drawing(example_strokes("4071", (560, 200)), (560, 200), 20)
    assert validations[0] == 1
    reading = recognizer.predict_number_strokes(number)
    recognizer.predict_strokes(Drawing(example_strokes("3"), 280, 20))
    assert reading.text and validations[0] == 2  # the second Drawing only


def test_the_pad_checks_points_as_they_come_and_reads_without_checking_again(recognizer, validations) -> None:
    pad = DrawingPad(recognizer, mode="number", canvas_size=(420, 200))
    pad.add_strokes(example_strokes("47", (420, 200)))  # the strokes given, checked once as they enter
    entering = validations[0]
    assert entering <= 1
    pad.undo()
    pad.mode = "digit"
    pad.mode = "number"
    assert validations[0] == entering and pad.prediction is not None


def _imports(path: Path) -> set[str]:
    """The digitlib modules ``path`` imports, at any depth (a lazy import is an edge too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "digitlib":
            parts = node.module.split(".")
            found |= {parts[1]} if len(parts) > 1 else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("digitlib.")}
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    modules = {p.stem: p for p in PACKAGE.glob("*.py")}
    graph = {name: _imports(path) & set(modules) - {name} for name, path in modules.items()}
    assert graph["pad"] >= {"pad_state", "recognizer"}  # the parser sees imports
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError("import circle: " + " -> ".join([*path[path.index(name) :], name]))
        if name not in done:
            for imported in sorted(graph[name]):
                visit(imported, [*path, name])
            done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_no_module_is_over_450_lines() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert len(sizes) > 30
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
