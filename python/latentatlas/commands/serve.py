"""The ``latentatlas serve`` subcommand: the rendering service over HTTP (see
:mod:`latentatlas.serve`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ._common import add_device_argument, add_model_argument, add_parser, load_store, positive_int


def _port(text: str) -> int:
    """argparse type: a TCP port 1..65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port in 1..65535, got {text!r}")
    return value


def _non_negative(text: str) -> float:
    """argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _positive(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand to an argparse subparsers object."""
    p = add_parser(
        subparsers, "serve", help="serve encode / edit / decode over HTTP with micro-batching",
        description="Run the rendering service: JSON routes /v1/encode, /v1/decode, /v1/edit, /v1/interpolate, "
                    "/v1/jdiagram, /v1/mine, /v1/score, /v1/neighbors and /v1/attributes, plus /healthz, /readyz "
                    "and Prometheus /metrics. Concurrent requests are merged into model calls of up to "
                    "--max-batch items; past --queue waiting items requests are refused with 429. SIGTERM "
                    "(or Ctrl-C) stops accepting, finishes the requests in flight and exits 0.",
        examples=["latentatlas serve --model digits-vae --vectors centroids.npz --port 8000",
                  "latentatlas serve -m digits-vae --vectors v.npz --store digits.npz --max-batch 64 --max-wait-ms 5",
                  "LATENTATLAS_TOKEN=secret latentatlas serve -m shapes-vae --vectors shapes_vectors.npz"])
    add_model_argument(p)
    p.add_argument("--vectors", type=Path, action="append", default=[], metavar="FILE",
                   help="vector file (.npz from atvec, or JSON vectors); repeat for more; each vector is "
                        "addressed by its name")
    p.add_argument("--store", type=Path, help="latent store for /v1/neighbors and /v1/mine")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    add_device_argument(p)
    p.add_argument("--max-batch", type=positive_int, default=64, help="items per model call (default 64)")
    p.add_argument("--max-wait-ms", type=_non_negative, default=5.0,
                   help="how long a batch may wait to fill, in ms (default 5)")
    p.add_argument("--queue", type=positive_int, default=1024,
                   help="most items admitted and unfinished per model stage; beyond it 429 (default 1024)")
    p.add_argument("--max-body-mb", type=_positive, default=8.0, help="largest request body in MiB (default 8)")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="torch CPU threads per model call (default 1: a service's small batches gain little "
                        "from more threads and lose much on a busy machine)")
    p.add_argument("--token", help="require 'Authorization: Bearer TOKEN' on every route but /healthz and "
                                   "/readyz (default: $LATENTATLAS_TOKEN when set)")
    p.add_argument("--log-level", default="warning", choices=("debug", "info", "warning", "error"),
                   help="server log level (default warning)")
    p.set_defaults(handler=run)


def _server_class() -> Any:
    """uvicorn's Server, except that SIGTERM and SIGINT end it with a normal exit: uvicorn
    re-raises a captured signal after its graceful shutdown, which would end the process
    by that signal instead of with status 0."""
    import contextlib
    import signal
    import threading

    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            signals = (signal.SIGINT, signal.SIGTERM)
            previous = {s: signal.signal(s, self.handle_exit) for s in signals}
            try:
                yield
            finally:
                for s, handler in previous.items():
                    signal.signal(s, handler)

    return Server


def run(args: argparse.Namespace) -> int:
    """Load the model, vectors and store, then serve until SIGTERM or Ctrl-C."""
    import uvicorn

    from ..serve import ServeConfig, build_app
    from ..serve.app import load_vectors
    from ._common import load_model

    for path in args.vectors + ([args.store] if args.store else []):
        if not path.is_file():
            raise ValueError(f"{path}: no such file")
    vectors, thresholds = load_vectors(args.vectors)
    store = load_store(args.store) if args.store is not None else None
    model = load_model(args)
    token = args.token if args.token is not None else (os.environ.get("LATENTATLAS_TOKEN") or None)
    config = ServeConfig(model=model, vectors=vectors, store=store, max_batch=args.max_batch,
                         max_wait_ms=args.max_wait_ms, queue=args.queue, max_body_mb=args.max_body_mb,
                         token=token, thresholds=thresholds, threads=args.threads)
    app = build_app(config)
    server = _server_class()(uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                                           access_log=False, timeout_graceful_shutdown=60, lifespan="on"))
    print(f"serving {args.model} on http://{args.host}:{args.port} (vectors: {len(vectors) if vectors else 0}, "
          f"store: {len(store) if store is not None else 'none'})", flush=True)
    server.run()
    if getattr(server, "started", True) is False:
        raise OSError(f"could not serve on {args.host}:{args.port} (is the port in use?)")
    return 0
