"""A report as a list of blocks (headings, paragraphs, bullet lists, tables, figures), rendered twice by Jinja2
templates (``templates/``): to self-contained HTML (CSS inline, figures embedded as base64 PNG, no external
resources) and to Markdown (figures as PNG files beside it). Imports the leaves only."""

from __future__ import annotations

import base64
import html
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from matplotlib.figure import Figure

from ..runs.rundir import slug
from ..storage import save_figure

__all__ = ["Document", "as_int", "inline_html", "md_cell", "slug", "truthy"]


def inline_html(text: str) -> Markup:
    """Escape, then turn ``code`` and **bold** into tags (the only markup the report's sentences use)."""
    out = html.escape(str(text), quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return Markup(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out))


def md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def as_int(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return 0


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    try:
        return bool(value) and not (isinstance(value, float) and math.isnan(value))
    except (TypeError, ValueError):
        return False


_ENV = Environment(loader=PackageLoader("visualstreams.report", "templates"),
                   autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
                   trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
_ENV.filters.update(inline=inline_html, md_cell=md_cell)


class Document:
    """The blocks of one report; figures are saved as PNGs in ``out`` as they are added."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.blocks: list[dict[str, Any]] = []
        self.figure_files: list[str] = []

    def heading(self, level: int, text: str) -> None:
        self.blocks.append({"kind": "heading", "level": level, "text": text, "anchor": slug(text.lower())})

    def para(self, text: str, cls: str = "") -> None:
        self.blocks.append({"kind": "para", "text": text, "cls": cls})

    def bullets(self, items: Sequence[str], flags: Sequence[bool] | None = None) -> None:
        flags = list(flags) if flags is not None else [False] * len(items)
        self.blocks.append({"kind": "bullets", "items": list(zip(items, flags, strict=True))})

    def table(self, df: pd.DataFrame, highlight: Sequence[bool] | None = None, caption: str = "") -> None:
        highlight = list(highlight) if highlight is not None else [False] * len(df)
        rows = [(flag, [str(v) for v in row]) for flag, row in zip(highlight, df.itertuples(index=False), strict=True)]
        self.blocks.append({"kind": "table", "columns": [str(c) for c in df.columns], "rows": rows,
                            "caption": caption})

    def figures(self, items: Sequence[tuple[Figure | Path, str, str]]) -> None:
        """Side by side in HTML: each item is (figure or an existing PNG, file name, caption)."""
        figs = []
        for fig, name, caption in items:
            target = self.out / name
            if isinstance(fig, Figure):
                save_figure(target, fig, dpi=100)
            else:
                target = Path(fig)
                name = os.path.relpath(target, self.out)
            self.figure_files.append(name)
            figs.append({"data": base64.b64encode(target.read_bytes()).decode("ascii"),
                         "path": Path(name).as_posix(), "caption": caption})
        self.blocks.append({"kind": "figures", "items": figs})

    def render_html(self, title: str) -> str:
        css = (Path(__file__).parent / "templates" / "report.css").read_text()
        return _ENV.get_template("report.html.j2").render(title=title, css=Markup(css), blocks=self.blocks)

    def render_md(self) -> str:
        return _ENV.get_template("report.md.j2").render(blocks=self.blocks).rstrip() + "\n"
