"""Griffe extension for the docs' API reference (mkdocs.yml loads it): the docstrings cross-reference each other
with Sphinx roles (``:func:`compile_network```, ``:class:`~visualstreams.runs.CompareDir```), which Markdown
would print as they are. Each role becomes an optional autorefs link: a link where the target is in the
reference, plain code where it is not (a private helper, a constant), so a role never fails ``mkdocs --strict``.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|attr|data|obj|exc|const):`([^`]+)`")


def _target(obj: griffe.Object, name: str) -> str:
    """The full path ``name`` stands for where ``obj``'s docstring uses it (a relative name resolved in scope)."""
    if name.startswith("visualstreams."):
        return name
    scope = obj if obj.is_module or obj.is_class else obj.parent or obj
    try:
        return scope.resolve(name.lstrip("."))
    except Exception:  # noqa: BLE001 (griffe raises several kinds; an unresolved name stays as written)
        first, _, rest = name.lstrip(".").partition(".")
        try:
            return scope.resolve(first) + (f".{rest}" if rest else "")
        except Exception:  # noqa: BLE001
            return name.lstrip(".")


def _rewrite(obj: griffe.Object, text: str) -> str:
    def link(m: re.Match[str]) -> str:
        name = m.group(1).strip()
        shown = name.lstrip("~").rsplit(".", 1)[-1] if name.startswith("~") else name.lstrip(".")
        target = _target(obj, name.lstrip("~"))
        return f'<autoref identifier="{html.escape(target)}" optional><code>{html.escape(shown)}</code></autoref>'

    return ROLE.sub(link, text)


class SphinxRoles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if obj.docstring is not None:
                obj.docstring.value = _rewrite(obj, obj.docstring.value)
            stack.extend(m for m in obj.members.values() if not m.is_alias)
