"""The rendering service behind ``latentatlas serve``: :func:`build_app` makes the ASGI
app (routes in :mod:`.app`), :mod:`.batcher` merges concurrent requests into model calls,
:mod:`.limits` checks what a request may ask for, :mod:`.metrics` counts it all."""

from .app import ServeConfig, build_app

__all__ = ["ServeConfig", "build_app"]
