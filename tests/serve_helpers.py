"""Servers on 127.0.0.1 for the service tests: the command in a subprocess, or an app
from ``build_app`` under uvicorn on a thread (real sockets either way)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen | None = None, timeout: float = 90.0) -> list[int]:
    """Poll ``/readyz`` until 200; returns the statuses seen (connection refusals left out)."""
    seen = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            status = httpx.get(url + "/readyz", timeout=5).status_code
            seen.append(status)
            if status == 200:
                return seen
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the server at {url} was not ready in {timeout} s")


@contextlib.contextmanager
def serve_process(args: list[str], env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python -m latentatlas.cli serve ARGS --port P`` until the block ends (then SIGTERM)."""
    port = free_port()
    cmd = [sys.executable, "-m", "latentatlas.cli", "serve", *args, "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.communicate(timeout=30)  # also closes the pipes
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


@contextlib.contextmanager
def serve_thread(app) -> Iterator[str]:
    """``app`` under uvicorn on a thread, on a free port, until the block ends."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > end or not thread.is_alive():
            raise RuntimeError("the in-process server did not start")
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    head = f"{name}{{{want}}}" if want else name
    for line in text.splitlines():
        if line.startswith(head + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def write_inputs(folder: Path, model, digits) -> tuple[Path, Path]:
    """A vector file (three named vectors, one threshold) and a latent store of the digits."""
    import numpy as np

    import latentatlas as la
    from latentatlas.data import VectorSet

    rng = np.random.default_rng(0)
    vectors = VectorSet(rng.normal(size=(3, model.latent_dim)), ["smile", "bright", "large"],
                        {"thresholds": {"smile": 0.25}})
    vpath = vectors.save(folder / "vectors.npz")
    store = la.encode_dataset(model, digits, progress=False)
    spath = store.save(folder / "store.npz")
    return vpath, spath
