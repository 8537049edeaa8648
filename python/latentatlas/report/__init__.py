"""``latentatlas demo``: every figure and table of "Sampling Generative Networks" and of the
class-centroid interpolation blog post that the bundled data allows, computed on the
shipped checkpoints (``digits-vae``, ``digits-gan``, ``shapes-vae``), with a
self-contained ``index.html`` that shows each figure beside the numbers measured in the
same run, and ``results.json`` holding those numbers.

Nothing needs the network. Each step prints one line with the elapsed time on stderr;
every file is written atomically, ``index.html`` last. ``fast=True`` (``--fast``) keeps
every section but uses fewer samples, smaller grids and fewer walk cells (for CI).

- :mod:`.page`: the report model (:class:`Section`, :class:`Figure`, :class:`Number`,
  :class:`Table`) and the HTML and JSON writer;
- :mod:`.context`: what the sections share (models, data, sizes, the figure writer);
- :mod:`.sections`: the thirteen sections, grouped by the paper's and the blog's parts;
- :mod:`.runner`: :func:`run_demo`.
"""

from __future__ import annotations

from .page import Figure, Number, Section, Table, format_value, lookup, render_html, write_report
from .runner import run_demo

__all__ = ["run_demo", "write_report", "render_html", "Section", "Figure", "Number", "Table", "lookup",
           "format_value"]
