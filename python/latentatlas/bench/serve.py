"""The rendering service under load: ``latentatlas serve`` in a subprocess on a free
loopback port, driven by an asynchronous HTTP client.

For each mode (micro-batching on; ``--max-batch 1``) and each concurrency level, a closed
loop of that many clients posts single-image ``/v1/edit`` requests with 8 strengths for a
fixed time; the run records requests/s, items/s (decoded frames), p50/p95/p99 latency,
answers by status, the mean batch size of the decode stage (from ``/metrics``) and the
server's resident memory. Then an overload phase: an open loop at 0.8x and at 2x the
capacity measured at concurrency 32 with batching, against a server with a small queue,
reporting how fast refusals (429) come back (at the client, and within the server by its
``/metrics`` histogram) and how accepted requests fare. JSON out, a
table printed. The client runs on the same machine as the server and takes CPU from it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from ._common import default_output, format_table, load_average, machine, positive_int, utc_iso, write_json

DEFAULT_JSON = default_output("serve.json")
STRENGTHS = [-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


def _metric_sum(text: str, name: str, stage: str) -> float:
    head = f'{name}{{stage="{stage}"}} '
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(head))


def _server_refusals(text: str) -> dict[str, Any]:
    """From ``/metrics``: how many /v1/edit refusals (429) the server answered, and how
    many of them within 10 ms of arrival by its own clock."""
    buckets = {}
    for line in text.splitlines():
        if line.startswith("latentatlas_request_seconds_bucket{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
            if labels.get("route") == "/v1/edit" and labels.get("status") == "429":
                buckets[labels["le"]] = float(line.rsplit(" ", 1)[1])
    return {"count": buckets.get("+Inf", 0.0), "within_10ms": buckets.get("0.01", 0.0)}


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * (len(s) - 1)))))]


@contextlib.contextmanager
def server(model: str, vectors: str, extra: Sequence[str], device: str) -> Iterator[tuple[str, int]]:
    """``latentatlas serve`` on a free port until the block ends (SIGTERM, then wait)."""
    import httpx

    port = _free_port()
    cmd = [sys.executable, "-m", "latentatlas.cli", "serve", "--model", model, "--vectors", vectors,
           "--port", str(port), "--device", device, *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}: {proc.stderr.read().strip()}")
            try:
                if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > end:
                raise RuntimeError("the server was not ready within 120 s")
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


class _Session:
    """An asynchronous HTTP client: aiohttp where installed (it costs the shared CPU about
    a third of what httpx's client does per request, so the server keeps more of it),
    else httpx. ``post`` returns the status; ``text`` a GET's body."""

    def __init__(self, url: str, connections: int) -> None:
        self.url, self.connections = url, connections
        try:
            import aiohttp
        except ImportError:
            aiohttp = None  # type: ignore[assignment]
        self.kind = "aiohttp" if aiohttp is not None else "httpx"

    async def __aenter__(self) -> _Session:
        if self.kind == "aiohttp":
            import aiohttp

            self._s: Any = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.connections),
                                                 timeout=aiohttp.ClientTimeout(total=120))
        else:
            import httpx

            self._s = httpx.AsyncClient(base_url=self.url, timeout=120, limits=httpx.Limits(
                max_connections=self.connections, max_keepalive_connections=self.connections))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.kind == "aiohttp":
            await self._s.close()
        else:
            await self._s.aclose()

    async def post(self, path: str, body: dict[str, Any]) -> int:
        """POST JSON; the status, 0 when no answer came."""
        try:
            if self.kind == "aiohttp":
                async with self._s.post(self.url + path, json=body) as r:
                    await r.read()
                    return int(r.status)
            return int((await self._s.post(path, json=body)).status_code)
        except (OSError, asyncio.TimeoutError):  # aiohttp's connection errors are OSErrors
            return 0
        except Exception as exc:  # httpx's transport errors
            if type(exc).__module__.startswith("httpx"):
                return 0
            raise

    async def text(self, path: str) -> str:
        """A GET's body."""
        if self.kind == "aiohttp":
            async with self._s.get(self.url + path) as r:
                return await r.text()
        return (await self._s.get(path)).text


def _body(image_b64: str) -> dict[str, Any]:
    return {"image": image_b64, "attribute": "centroid:3-8", "strengths": STRENGTHS}


async def _sample_rss(pid: int, out: list[tuple[float, float]], t0: float) -> None:
    while True:
        rss = _rss_mb(pid)
        if rss is not None:
            out.append((round(time.monotonic() - t0, 2), round(rss, 1)))
        await asyncio.sleep(0.5)


def _summary(latencies: list[float], statuses: Counter, seconds: float, refusal_latencies: list[float]) -> dict:
    ok = statuses.get(200, 0)
    return {"seconds": round(seconds, 3), "requests": sum(statuses.values()), "ok": ok,
            "requests_per_s": ok / seconds, "items_per_s": ok * len(STRENGTHS) / seconds,
            "p50_ms": _ms(_percentile(latencies, 50)), "p95_ms": _ms(_percentile(latencies, 95)),
            "p99_ms": _ms(_percentile(latencies, 99)),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "refusal_p99_ms": _ms(_percentile(refusal_latencies, 99)),
            "refusal_max_ms": _ms(max(refusal_latencies) if refusal_latencies else None)}


def _ms(s: float | None) -> float | None:
    return None if s is None else round(s * 1000, 2)


async def _batch_stats(http: _Session) -> tuple[float, float]:
    text = await http.text("/metrics")
    return (_metric_sum(text, "latentatlas_batch_items_sum", "decode"),
            _metric_sum(text, "latentatlas_batch_items_count", "decode"))


async def closed_loop(url: str, pid: int, body: dict[str, Any], concurrency: int, seconds: float) -> dict[str, Any]:
    """``concurrency`` clients each posting the next request when the last is answered."""
    async with _Session(url, concurrency + 2) as http:
        s0, c0 = await _batch_stats(http)
        latencies: list[float] = []
        statuses: Counter = Counter()
        refusals: list[float] = []
        rss: list[tuple[float, float]] = []
        t0 = time.monotonic()
        end = t0 + seconds
        sampler = asyncio.create_task(_sample_rss(pid, rss, t0))

        async def worker() -> None:
            while time.monotonic() < end:
                start = time.perf_counter()
                status = await http.post("/v1/edit", body)
                took = time.perf_counter() - start
                statuses[status] += 1
                (latencies if status == 200 else refusals).append(took)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - t0
        sampler.cancel()
        s1, c1 = await _batch_stats(http)
    out = _summary(latencies, statuses, elapsed, refusals)
    out.update(concurrency=concurrency, client=http.kind, mean_batch=(s1 - s0) / (c1 - c0) if c1 > c0 else None, rss_mb=rss)
    return out


async def open_loop(url: str, pid: int, body: dict[str, Any], rate: float, seconds: float) -> dict[str, Any]:
    """Requests started at ``rate`` per second whatever the answers (an offered load)."""
    async with _Session(url, 2000) as http:
        latencies: list[float] = []
        statuses: Counter = Counter()
        refusals: list[float] = []
        rss: list[tuple[float, float]] = []
        t0 = time.monotonic()
        sampler = asyncio.create_task(_sample_rss(pid, rss, t0))

        async def one() -> None:
            start = time.perf_counter()
            status = await http.post("/v1/edit", body)  # 0: no answer
            took = time.perf_counter() - start
            statuses[status] += 1
            (latencies if status == 200 else refusals if status == 429 else []).append(took)

        tasks = []
        n = int(rate * seconds)
        for i in range(n):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - t0
        sampler.cancel()
        server_refusals = _server_refusals(await http.text("/metrics"))
    out = _summary(latencies, statuses, elapsed, refusals)
    out.update(offered_per_s=rate, client=http.kind, server_refusals=server_refusals, rss_mb=rss)
    return out


def _vectors_and_image(model_name: str, folder: str) -> tuple[str, str]:
    """Class-centroid vectors of the digits under the model (the blog's vectors), and one
    digit as a base64 PNG."""
    import numpy as np

    from .. import attributes, data, models, sampling
    from ..client import image_to_b64

    model = models.load(model_name, device="cpu")
    digits = data.load_digits()
    z = sampling.encode_batched(model, digits.images)
    pairs = attributes.centroid_vectors(z, digits.classes)
    names = [f"centroid:{a}-{b}" for a, b in pairs]
    path = data.VectorSet(np.stack(list(pairs.values())), names).save(os.path.join(folder, "centroids.npz"))
    return str(path), image_to_b64(digits.images[0])


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every phase; returns the results (also written to ``args.out`` after each phase)."""
    result: dict[str, Any] = {"started": utc_iso(time.time()), "machine": machine(), "model": args.model,
                              "device": args.device, "request": "/v1/edit, one image, 8 strengths",
                              "seconds_per_level": args.seconds, "max_wait_ms": args.max_wait_ms,
                              "modes": {}, "overload": None}
    with tempfile.TemporaryDirectory() as folder:
        vectors, image = _vectors_and_image(args.model, folder)
        body = _body(image)
        modes = {"batched": ["--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms)],
                 "max-batch 1": ["--max-batch", "1", "--max-wait-ms", "0"]}
        for mode, extra in modes.items():
            levels = []
            with server(args.model, vectors, extra + ["--queue", "100000"], args.device) as (url, pid):
                for c in args.concurrency:
                    level = asyncio.run(closed_loop(url, pid, body, c, args.seconds))
                    level["load_average"] = load_average()
                    levels.append(level)
                    print(f"  {mode:11s} c={c:<4d} {level['requests_per_s']:8.1f} req/s  p50 {level['p50_ms']} ms  "
                          f"p99 {level['p99_ms']} ms  batch {level['mean_batch']}", file=sys.stderr, flush=True)
            result["modes"][mode] = levels
            write_json(args.out, result)
        ref = [lv for lv in result["modes"]["batched"] if lv["concurrency"] == 32] or result["modes"]["batched"][-1:]
        capacity = ref[-1]["requests_per_s"] if ref else 0.0
        if capacity > 0 and not args.no_overload:
            extra = modes["batched"] + ["--queue", str(args.overload_queue)]
            phases = {}
            with server(args.model, vectors, extra, args.device) as (url, pid):
                for name, factor in (("0.8x", 0.8), ("2x", 2.0)):
                    phase = asyncio.run(open_loop(url, pid, body, factor * capacity, args.seconds))
                    phase["load_average"] = load_average()
                    phases[name] = phase
                    print(f"  overload {name:4s} offered {phase['offered_per_s']:.0f}/s  statuses {phase['statuses']}",
                          file=sys.stderr, flush=True)
            result["overload"] = {"capacity_per_s": capacity, "queue": args.overload_queue, "phases": phases}
    result["finished"] = utc_iso(time.time())
    result["load_average_at_end"] = load_average()
    write_json(args.out, result)
    return result


def table(result: dict[str, Any]) -> str:
    """The results as a plain-text table (closed-loop levels, then the overload phases)."""
    rows = []
    for mode, levels in result["modes"].items():
        for lv in levels:
            rss = [r for _, r in lv["rss_mb"]]
            rows.append([mode, lv["concurrency"], f"{lv['requests_per_s']:.1f}", f"{lv['items_per_s']:.0f}",
                         lv["p50_ms"], lv["p95_ms"], lv["p99_ms"],
                         None if lv["mean_batch"] is None else f"{lv['mean_batch']:.1f}",
                         " ".join(f"{k}:{v}" for k, v in lv["statuses"].items()),
                         f"{min(rss):.0f}-{max(rss):.0f}" if rss else None])
    text = format_table(["mode", "conc", "req/s", "items/s", "p50 ms", "p95 ms", "p99 ms", "batch", "statuses",
                         "RSS MB"], rows, right=(1, 2, 3, 4, 5, 6, 7))
    over = result.get("overload")
    if over:
        rows = []
        for name, ph in over["phases"].items():
            rss = [r for _, r in ph["rss_mb"]]
            sr = ph["server_refusals"]
            rows.append([name, f"{ph['offered_per_s']:.0f}", f"{ph['requests_per_s']:.1f}", ph["p50_ms"], ph["p99_ms"],
                         " ".join(f"{k}:{v}" for k, v in ph["statuses"].items()), ph["refusal_p99_ms"],
                         ph["refusal_max_ms"], f"{sr['within_10ms']:.0f}/{sr['count']:.0f}",
                         f"{min(rss):.0f}-{max(rss):.0f}" if rss else None])
        text += (f"\n\noverload (open loop; capacity {over['capacity_per_s']:.1f} req/s from batched c=32; "
                 f"--queue {over['queue']})\n")
        text += format_table(["load", "offered/s", "ok/s", "p50 ms", "p99 ms", "statuses", "429 p99 ms", "429 max ms",
                              "429 in 10 ms (server)", "RSS MB"], rows, right=(1, 2, 3, 4, 6, 7, 8))
    return text


def main(argv: Sequence[str] | None = None, *, default_out: str = DEFAULT_JSON) -> int:
    """Command line: runs :func:`run`, prints the table and writes the JSON to ``--out``."""
    parser = argparse.ArgumentParser(prog="bench_serve", description="latentatlas serve under load")
    parser.add_argument("--model", default="digits-vae", help="model to serve (default digits-vae)")
    parser.add_argument("--device", default="cpu", help="where the server runs the model (default cpu)")
    parser.add_argument("--concurrency", type=positive_int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per level (default 3)")
    parser.add_argument("--max-batch", type=positive_int, default=64, help="batched mode's --max-batch (default 64)")
    parser.add_argument("--max-wait-ms", type=float, default=2.0, help="batched mode's --max-wait-ms (default 2)")
    parser.add_argument("--overload-queue", type=positive_int, default=288,
                        help="--queue of the overload server, in items (default 288: 32 edits)")
    parser.add_argument("--no-overload", action="store_true", help="skip the overload phase")
    parser.add_argument("--out", default=default_out, help=f"where to write the results (default: {default_out})")
    args = parser.parse_args(argv)
    if not args.seconds > 0:
        parser.error(f"--seconds must be > 0, got {args.seconds}")
    m = machine()
    print(f"machine: {m['cpu_model']}, {m['usable_cores']} usable cores, load average {m['load_average_at_start']}",
          file=sys.stderr, flush=True)
    try:
        result = run(args)
    except RuntimeError as exc:
        print(f"bench_serve: error: {exc}", file=sys.stderr)
        return 1
    print(table(result))
    print(f"load average at end: {result['load_average_at_end']}; wrote {os.path.abspath(args.out)}")
    return 0
