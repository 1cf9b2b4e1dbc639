"""A function's docstring must be its first statement: a string after an import is an expression that Python
discards, so ``help()`` and the API reference would show nothing (what moving imports into functions did once)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "visualstreams"


def displaced_docstrings(source: str) -> list[str]:
    """Functions and classes whose first three statements hold a bare string that is not the first statement."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for stmt in node.body[1:3]:
                if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
                        and isinstance(stmt.value.value, str)):
                    found.append(f"{node.name} (line {node.lineno})")
    return found


def test_the_check_sees_a_docstring_after_an_import():
    code = 'def f():\n    import os\n    """Doc."""\n    return os\n\ndef g():\n    """Doc."""\n    import os\n'
    assert displaced_docstrings(code) == ["f (line 1)"]


def test_no_function_of_the_package_has_its_docstring_after_a_statement():
    bad = {str(p.relative_to(SRC)): d for p in sorted(SRC.rglob("*.py")) if (d := displaced_docstrings(p.read_text()))}
    assert not bad, bad
