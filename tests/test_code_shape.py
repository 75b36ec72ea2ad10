"""The shape of the code: no class over ~200 lines, no function over ~60 (the house rule)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tap_museumcms"
MAX_CLASS = 200
MAX_FUNCTION = 60


def _sizes() -> list[tuple[str, str, int]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                kind = "class" if isinstance(node, ast.ClassDef) else "function"
                length = node.end_lineno - node.lineno + 1
                where = f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"
                found.append((kind, where, length))
    return found


def test_no_class_over_200_lines_and_no_function_over_60():
    too_long = [
        f"{where} ({kind}, {length} lines)"
        for kind, where, length in _sizes()
        if length > (MAX_CLASS if kind == "class" else MAX_FUNCTION)
    ]
    assert too_long == []
