"""Figures for the reports: line plots (the norm along an interpolation path, classifier
probability along a walk), ROC curves and score histograms (AtDot), drawn with
matplotlib's object API (no pyplot state, safe to call from services) and written
atomically as PNG or SVG.

Every function checks its data (lengths agree, values finite, at least one series) and
raises ``ValueError`` naming the problem before anything is drawn or written.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._arrays import as_numpy, check_int
from ._files import atomic_open

__all__ = ["line_plot", "small_multiples", "roc_plot", "histogram_plot", "scatter_plot", "density_panels"]

_FORMATS = {".png": "png", ".svg": "svg"}


def _format_of(path: str | os.PathLike) -> str:
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in _FORMATS:
        raise ValueError(f"plot path {os.fspath(path)!r}: extension must be one of {sorted(_FORMATS)}, got {ext!r}")
    return _FORMATS[ext]


def _finite_numbers(values: Any, name: str, columns: int | None = None) -> np.ndarray:
    """``values`` as finite float64 numbers: ``(N,)``, or ``(N, columns)`` when given, N >= 1."""
    try:
        v = as_numpy(values, np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numbers, got {type(values).__name__}") from exc
    if columns is None and v.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {v.shape}")
    if columns is not None and (v.ndim != 2 or v.shape[1] != columns):
        raise ValueError(f"{name} must have shape (N, {columns}), got {v.shape}")
    if v.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or Inf")
    return v


def _series(x: Any, series: Mapping[str, Any], name: str = "series") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    xs = _finite_numbers(x, "x")
    if not isinstance(series, Mapping) or not series:
        raise ValueError(f"{name} must be a non-empty mapping of label -> values")
    out: dict[str, np.ndarray] = {}
    for label, ys in series.items():
        y = _finite_numbers(ys, f"{name}[{label!r}]")
        if y.size != xs.size:
            raise ValueError(f"{name}[{label!r}] has {y.size} values but x has {xs.size}")
        out[str(label)] = y
    return xs, out


def _new_figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # imported lazily: matplotlib is slow to import

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(fig: Any, path: str | os.PathLike) -> str:
    fmt = _format_of(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    with atomic_open(path, "wb") as fh:
        fh.write(buf.getvalue())
    return os.fspath(path)


def _style(ax: Any, title: str | None, xlabel: str | None, ylabel: str | None) -> None:
    if title:
        ax.set_title(title, fontsize=10)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)


def line_plot(x: Any, series: Mapping[str, Any], path: str | os.PathLike, *, title: str | None = None,
              xlabel: str | None = None, ylabel: str | None = None,
              hlines: Mapping[str, float] | None = None, size: tuple[float, float] = (5.0, 3.2)) -> str:
    """One axes with a line per entry of ``series`` (label -> y values, each as long as
    ``x``), optional labelled horizontal reference lines ``hlines`` (label -> y), a legend
    and a grid; written to ``path`` (``.png`` or ``.svg``). Returns the path."""
    xs, ys = _series(x, series)
    _format_of(path)
    refs = {str(k): float(v) for k, v in (hlines or {}).items()}
    for k, v in refs.items():
        if not math.isfinite(v):
            raise ValueError(f"hlines[{k!r}] is not finite")
    fig = _new_figure(*size)
    ax = fig.add_subplot()
    for label, y in ys.items():
        ax.plot(xs, y, marker="o" if xs.size <= 25 else None, markersize=3, label=label)
    for label, y in refs.items():
        ax.axhline(y, linestyle="--", linewidth=1, color="gray", label=label)
    _style(ax, title, xlabel, ylabel)
    ax.legend(fontsize=8)
    return _save(fig, path)


def small_multiples(x: Any, panels: Sequence[tuple[str, Mapping[str, Any]]], path: str | os.PathLike, *,
                    cols: int = 9, xlabel: str | None = None, ylabel: str | None = None,
                    ylim: tuple[float, float] | None = None, panel_size: tuple[float, float] = (1.6, 1.3)) -> str:
    """A grid of small line plots sharing ``x`` (and the y range ``ylim`` when given): one
    panel per ``(title, series)`` in ``panels``, ``cols`` panels a row, the legend of the
    first panel shown once for all. Used for the blog's 45 digit-pair walks. Returns the path."""
    _format_of(path)
    cols = check_int("cols", cols, 1)
    if not panels:
        raise ValueError("panels is empty")
    checked = []
    for i, item in enumerate(panels):
        if not (isinstance(item, tuple) and len(item) == 2):
            raise ValueError(f"panels[{i}] must be a (title, series) pair")
        xs, ys = _series(x, item[1], f"panels[{i}]")
        checked.append((str(item[0]), ys))
    if ylim is not None:
        lo, hi = (float(v) for v in ylim)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"ylim must be two finite numbers, low < high, got {ylim!r}")
    ncols = min(cols, len(checked))
    nrows = -(-len(checked) // ncols)
    fig = _new_figure(panel_size[0] * ncols, panel_size[1] * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=ylim is not None, squeeze=False)
    handles: list[Any] = []
    labels: list[str] = []
    for idx, ax in enumerate(axes.flat):
        if idx >= len(checked):
            ax.set_visible(False)
            continue
        title, ys = checked[idx]
        for label, y in ys.items():
            (line,) = ax.plot(xs, y, linewidth=1.2)
            if idx == 0:
                handles.append(line)
                labels.append(label)
        ax.set_title(title, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.grid(True, alpha=0.3)
        if ylim is not None:
            ax.set_ylim(*ylim)
    if xlabel:
        fig.supxlabel(xlabel, fontsize=9)
    if ylabel:
        fig.supylabel(ylabel, fontsize=9)
    fig.legend(handles, labels, loc="outside upper center", ncols=max(1, len(labels)), fontsize=8)
    return _save(fig, path)


def roc_plot(curves: Mapping[str, tuple[Any, Any]], path: str | os.PathLike, *, title: str | None = None,
             size: tuple[float, float] = (4.2, 4.0)) -> str:
    """ROC curves: ``curves`` maps a label (e.g. ``"smiling (AUC 0.93)"``) to ``(fpr, tpr)``
    arrays of equal length with values in [0, 1]; the chance diagonal is drawn for
    reference. Returns the path."""
    _format_of(path)
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty mapping of label -> (fpr, tpr)")
    checked = {}
    for label, pair in curves.items():
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"curves[{label!r}] must be an (fpr, tpr) pair")
        fpr = _finite_numbers(pair[0], f"curves[{label!r}] fpr")
        tpr = _finite_numbers(pair[1], f"curves[{label!r}] tpr")
        if fpr.size != tpr.size:
            raise ValueError(f"curves[{label!r}]: fpr has {fpr.size} values but tpr has {tpr.size}")
        if fpr.min() < 0 or fpr.max() > 1 or tpr.min() < 0 or tpr.max() > 1:
            raise ValueError(f"curves[{label!r}]: rates must lie in [0, 1]")
        checked[str(label)] = (fpr, tpr)
    fig = _new_figure(*size)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle=":", color="gray", linewidth=1)
    for label, (fpr, tpr) in checked.items():
        ax.plot(fpr, tpr, linewidth=1.5, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    _style(ax, title, "false positive rate", "true positive rate")
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def histogram_plot(edges: Any, counts: Mapping[str, Any], path: str | os.PathLike, *,
                   threshold: float | None = None, title: str | None = None, xlabel: str | None = "score",
                   size: tuple[float, float] = (5.0, 3.0)) -> str:
    """Overlaid histograms on shared bin ``edges`` (``len(edges) - 1`` counts per entry of
    ``counts``, label -> non-negative counts), with an optional vertical ``threshold`` line
    (the AtDot decision threshold). Returns the path."""
    e = _finite_numbers(edges, "edges")
    if e.size < 2 or np.any(np.diff(e) <= 0):
        raise ValueError("edges must be at least two strictly increasing values")
    if not isinstance(counts, Mapping) or not counts:
        raise ValueError("counts must be a non-empty mapping of label -> counts")
    checked = {}
    for label, c in counts.items():
        v = _finite_numbers(c, f"counts[{label!r}]")
        if v.size != e.size - 1:
            raise ValueError(f"counts[{label!r}] has {v.size} values but edges define {e.size - 1} bins")
        if v.min() < 0:
            raise ValueError(f"counts[{label!r}] has negative values")
        checked[str(label)] = v
    if threshold is not None and not math.isfinite(float(threshold)):
        raise ValueError("threshold is not finite")
    _format_of(path)
    fig = _new_figure(*size)
    ax = fig.add_subplot()
    widths = np.diff(e)
    for label, v in checked.items():
        ax.bar(e[:-1], v, width=widths, align="edge", alpha=0.5, label=label)
    if threshold is not None:
        ax.axvline(float(threshold), color="black", linestyle="--", linewidth=1, label=f"threshold {float(threshold):.3g}")
    _style(ax, title, xlabel, "count")
    ax.legend(fontsize=8)
    return _save(fig, path)


def scatter_plot(points: Any, classes: Any, path: str | os.PathLike, *, class_names: Sequence[str] | None = None,
                 title: str | None = None, xlabel: str | None = None, ylabel: str | None = None,
                 size: tuple[float, float] = (5.0, 4.4)) -> str:
    """2-D points coloured by integer class (a 2-D latent space coloured by digit, as in
    the blog), one legend entry per class present; ``class_names`` (indexed by class id)
    names them, else the ids are used. Returns the path."""
    _format_of(path)
    pts = _finite_numbers(points, "points", columns=2)
    cls = as_numpy(classes)
    if cls.shape != (pts.shape[0],):
        raise ValueError(f"classes must have shape ({pts.shape[0]},), got {cls.shape}")
    if cls.dtype.kind not in "iu" or cls.min() < 0:
        raise ValueError("classes must be non-negative integers")
    ids = np.unique(cls)
    if class_names is not None and len(class_names) <= int(ids.max()):
        raise ValueError(f"class_names has {len(class_names)} names but class ids go up to {int(ids.max())}")
    fig = _new_figure(*size)
    ax = fig.add_subplot()
    colours = [f"C{i}" for i in range(10)]
    for k, c in enumerate(ids):
        sel = cls == c
        name = str(class_names[int(c)]) if class_names is not None else str(int(c))
        ax.scatter(pts[sel, 0], pts[sel, 1], s=8, alpha=0.7, color=colours[k % 10],
                   marker="o" if k < 10 else "^", label=name, linewidths=0)
    _style(ax, title, xlabel, ylabel)
    ax.legend(fontsize=7, markerscale=1.5, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return _save(fig, path)


def density_panels(panels: Sequence[tuple[str, Any, Any, Any]], path: str | os.PathLike, *, cols: int = 3,
                   bins: int = 40, value_label: str = "encodings", reference_label: str = "prior",
                   xlabel: str | None = None, panel_size: tuple[float, float] = (2.6, 2.0)) -> str:
    """A grid of histograms, each against a reference density: one panel per
    ``(title, values, xs, density)`` where ``values`` are drawn as a density histogram
    (``bins`` bins) and ``density`` (as long as ``xs``) as a line over it: encoded
    coordinates against the prior's marginal, encoded norms against the chi density.
    Returns the path."""
    _format_of(path)
    cols = check_int("cols", cols, 1)
    bins = check_int("bins", bins, 1)
    if not panels:
        raise ValueError("panels is empty")
    checked = []
    for i, item in enumerate(panels):
        if not (isinstance(item, tuple) and len(item) == 4):
            raise ValueError(f"panels[{i}] must be a (title, values, xs, density) tuple")
        title, values, xs, density = item
        v = _finite_numbers(values, f"panels[{i}] values")
        x, ys = _series(xs, {reference_label: density}, f"panels[{i}] density")
        if ys[reference_label].min() < 0:
            raise ValueError(f"panels[{i}] density has negative values")
        checked.append((str(title), v, x, ys[reference_label]))
    ncols = min(cols, len(checked))
    nrows = -(-len(checked) // ncols)
    fig = _new_figure(panel_size[0] * ncols, panel_size[1] * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for idx, ax in enumerate(axes.flat):
        if idx >= len(checked):
            ax.set_visible(False)
            continue
        title, v, x, y = checked[idx]
        lo, hi = min(v.min(), x.min()), max(v.max(), x.max())
        ax.hist(v, bins=bins, range=(lo, hi) if hi > lo else None, density=True, alpha=0.55, color="C0",
                label=value_label)
        ax.plot(x, y, color="C3", linewidth=1.4, label=reference_label)
        ax.set_title(title, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.grid(True, alpha=0.3)
        if idx == 0:
            ax.legend(fontsize=6)
    if xlabel:
        fig.supxlabel(xlabel, fontsize=9)
    return _save(fig, path)
