"""The demo report's model and its page: a :class:`Section` holds a title, one sentence,
figures (:class:`Figure`), numbers (:class:`Number`) and tables (:class:`Table`) whose
values are dotted paths into the run's results; :func:`write_report` writes those results
as ``results.json`` and the page as ``index.html``.

The page is plain HTML and inline CSS: no script, no external resource, relative image
paths, escaped text, alt text and sizes on every image.
"""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

__all__ = ["Figure", "Number", "Table", "Section", "lookup", "format_value", "render_html", "write_report"]


@dataclass(frozen=True)
class Figure:
    """An image in the report: ``path`` relative to the report's folder, its pixel size,
    alt text, a caption, and whether it is a sheet of tiny images (drawn pixelated)."""

    path: str
    width: int
    height: int
    alt: str
    caption: str = ""
    pixelated: bool = True


@dataclass(frozen=True)
class Number:
    """A measured number shown beside a figure: ``key`` is its dotted path in
    ``results.json`` (list items by index); the value is shown times ``scale`` followed by
    ``unit``."""

    label: str
    key: str
    scale: float = 1.0
    unit: str = ""


@dataclass(frozen=True)
class Table:
    """A table of measured numbers: ``rows`` of ``(row label, [dotted key per value
    column])``; ``columns`` names the label column and then each value column, and
    ``scales``/``units`` say how each value column is shown (see :class:`Number`)."""

    caption: str
    columns: Sequence[str]
    rows: Sequence[tuple[str, Sequence[str | None]]]
    scales: Sequence[float] | None = None  # one per value column (default 1)
    units: Sequence[str] | None = None


@dataclass
class Section:
    """One part of the report: a title, one sentence on what the figures show, the
    figures, and the numbers (and tables) measured in this run."""

    key: str
    title: str
    sentence: str
    figures: list[Figure] = field(default_factory=list)
    numbers: list[Number] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


def lookup(results: dict[str, Any], key: str) -> Any:
    """The value at dotted path ``key`` in ``results`` (list items by integer index).

    Raises:
        TypeError: ``key`` not a string.
        ValueError: no such path in ``results``.
    """
    if not isinstance(key, str) or not key:
        raise TypeError(f"key must be a non-empty string, got {key!r}")
    node: Any = results
    for part in key.split("."):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ValueError(f"results has no {key!r} (list index {part!r})")
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise ValueError(f"results has no {key!r} (at {part!r})")
    return node


def format_value(value: Any, scale: float = 1.0, unit: str = "") -> str:
    """How the report prints a measured number: 4 significant digits (1 decimal for
    percentages), ``–`` for a missing value, integers as they are."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)) and scale == 1.0:
        return f"{int(value)}{unit}"
    if isinstance(value, str):
        return value
    v = float(value) * scale
    if not math.isfinite(v):
        return "–"
    text = f"{v:.1f}" if unit == "%" else f"{v:.4g}"
    return text + unit


_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f6f6f4;color:#222}
header{background:#23303d;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:24px}header p{margin:4px 0 0;color:#c9d3dc}
nav{padding:8px 32px;background:#fff;border-bottom:1px solid #ddd;font-size:13px}
nav a{margin-right:12px;color:#2a5d8f;text-decoration:none}
main{padding:8px 32px 40px;max-width:1500px}
section{background:#fff;border:1px solid #e1e1dc;border-radius:6px;margin:18px 0;padding:14px 20px}
h2{margin:0 0 4px;font-size:19px}p.what{margin:0 0 12px;color:#444}
.row{display:flex;flex-wrap:wrap;gap:20px;align-items:flex-start}
.figs{display:flex;flex-wrap:wrap;gap:16px;flex:1 1 600px;min-width:0}
.row>table.nums{flex:0 1 440px;position:sticky;top:8px}
figure{margin:0;max-width:100%}figcaption{font-size:12px;color:#555;max-width:640px}
img{max-width:100%;height:auto;border:1px solid #ccc;background:#888;display:block}
img.pix{image-rendering:pixelated;image-rendering:crisp-edges}
img.plot{background:#fff}
table{border-collapse:collapse;font-size:13px;margin:4px 0 10px}
th,td{border-bottom:1px solid #e4e4e0;padding:3px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f0f0ec}
table.nums td{font-variant-numeric:tabular-nums;font-weight:600}table.nums{max-width:760px}table.nums th{white-space:nowrap}
caption{text-align:left;font-weight:600;padding:2px 0 4px}
table.nums td.text{font-weight:400;text-align:left;min-width:14em}
footer{padding:0 32px 30px;color:#777;font-size:12px}
"""


def _img(fig: Figure) -> str:
    e = html.escape
    cls = "pix" if fig.pixelated else "plot"
    cap = f"<figcaption>{e(fig.caption)}</figcaption>" if fig.caption else ""
    return (f'<figure><img class="{cls}" src="{e(fig.path)}" alt="{e(fig.alt)}" width="{int(fig.width)}" '
            f'height="{int(fig.height)}" loading="eager">{cap}</figure>')


def _cell(results: dict[str, Any], key: str | None, scale: float, unit: str) -> str:
    if key is None:
        return "<td>–</td>"
    value = lookup(results, key)
    text = ' class="text"' if isinstance(value, str) else ""  # a list of names: wrap it as prose
    return (f'<td data-key="{html.escape(key)}" data-scale="{scale!r}"{text}>'
            f"{html.escape(format_value(value, scale, unit))}</td>")


def render_html(sections: Sequence[Section], results: dict[str, Any], *, title: str, subtitle: str,
                footer: str = "") -> str:
    """The report page for ``sections`` whose numbers come from ``results``. All text is
    escaped; every number cell carries ``data-key`` (its path in ``results``) so the page
    can be checked against ``results.json``."""
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
             f"<header><h1>{e(title)}</h1><p>{e(subtitle)}</p></header>", "<nav>"]
    parts += [f'<a href="#{e(s.key)}">{e(s.title)}</a>' for s in sections]
    parts.append("</nav><main>")
    for s in sections:
        parts.append(f'<section id="{e(s.key)}"><h2>{e(s.title)}</h2><p class="what">{e(s.sentence)}</p>')
        parts.append('<div class="row"><div class="figs">')  # numbers beside the figures when wide enough
        parts += [_img(f) for f in s.figures]
        parts.append("</div>")
        if s.numbers:
            parts.append('<table class="nums"><caption>measured in this run</caption><tbody>')
            for n in s.numbers:
                parts.append(f"<tr><th>{e(n.label)}</th>{_cell(results, n.key, n.scale, n.unit)}</tr>")
            parts.append("</tbody></table>")
        parts.append("</div>")
        for t in s.tables:
            parts.append(f'<table class="nums"><caption>{e(t.caption)}</caption><thead><tr>')
            parts += [f"<th>{e(c)}</th>" for c in t.columns]
            parts.append("</tr></thead><tbody>")
            scales = list(t.scales or [1.0] * (len(t.columns) - 1))
            units = list(t.units or [""] * (len(t.columns) - 1))
            for label, keys in t.rows:
                if not len(keys) == len(scales) == len(units) == len(t.columns) - 1:
                    raise ValueError(f"table {t.caption!r}: row {label!r} has {len(keys)} values for "
                                     f"{len(t.columns) - 1} value columns")
                parts.append(f"<tr><td>{e(label)}</td>"
                             + "".join(_cell(results, k, sc, u) for k, sc, u in zip(keys, scales, units)) + "</tr>")
            parts.append("</tbody></table>")
        parts.append("</section>")
    parts.append(f"</main><footer>{e(footer)}</footer></body></html>")
    return "\n".join(parts)


def write_report(out_dir: str | os.PathLike, sections: Sequence[Section], results: dict[str, Any], *,
                 title: str = "latentatlas demo", subtitle: str = "", footer: str = "") -> tuple[str, str]:
    """Writes ``results.json`` and then ``index.html`` (last) into ``out_dir``, atomically.

    Every figure path must be relative, inside ``out_dir`` and exist; every number key must
    resolve in ``results``. Returns ``(index path, results path)``.
    """
    from .._files import atomic_open, jsonable

    folder = os.fspath(out_dir)
    if not os.path.isdir(folder):
        raise ValueError(f"report folder {folder!r} does not exist")
    for s in sections:
        for f in s.figures:
            if os.path.isabs(f.path) or f.path.startswith("..") or "\\" in f.path:
                raise ValueError(f"figure path {f.path!r} must be relative to the report folder")
            if not os.path.isfile(os.path.join(folder, f.path)):
                raise ValueError(f"figure {f.path!r} of section {s.key!r} was not written")
    safe = jsonable(results)
    page = render_html(sections, safe, title=title, subtitle=subtitle, footer=footer)
    results_path = os.path.join(folder, "results.json")
    with atomic_open(results_path, "w") as fh:
        fh.write(json.dumps(safe, indent=2, allow_nan=False))
    index_path = os.path.join(folder, "index.html")
    with atomic_open(index_path, "w") as fh:
        fh.write(page)
    return index_path, results_path
