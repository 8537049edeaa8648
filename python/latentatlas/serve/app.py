"""The ASGI app of ``latentatlas serve``: routes, admission, deadlines, errors.

:func:`build_app` makes a Starlette app from a :class:`ServeConfig` holding the loaded
model, vectors and store; everything it needs lives in that app (no module state), so a
test, the command line or a Ray Serve replica can build as many as it likes. The model's
two stages each run behind one :class:`~latentatlas.serve.batcher.Batcher`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import numpy as np
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .limits import (HTTPError, Limits, check_fields, check_items, encode_picture, parse_count, parse_image,
                     parse_latent, parse_latents, parse_number, parse_strengths, require, to_png)
from .batcher import Batcher, DeadlineExceeded, QueueFull
from .metrics import Metrics

log = logging.getLogger("latentatlas.serve")

METHODS = ("slerp", "lerp", "slerp_gaussian", "lerp_gaussian")


@dataclass
class ServeConfig:
    """What :func:`build_app` serves and how.

    Attributes:
        model: a loaded protocol model (``latent_dim``, ``decode``; ``encode`` for image input).
        vectors: a :class:`~latentatlas.data.VectorSet` (all the vector files merged) or None.
        store: a :class:`~latentatlas.data.LatentStore` for neighbours and MINE grids, or None.
        max_batch: items per model call.
        max_wait_ms: how long a batch may wait to fill.
        queue: most items admitted and unfinished per stage; beyond it requests get 429.
        max_body_mb: largest request body.
        token: when set, every route but the health routes needs ``Authorization: Bearer <token>``.
        limits: per-request limits (pixels, items, frames, grid sides, neighbours).
        thresholds: per-vector AtDot thresholds (name -> value) for ``/v1/score`` predictions.
        threads: torch's CPU threads on the model's worker threads (None: leave torch's setting).
        inline_bytes: image and JSON work on fewer bytes (pixels, base64 characters) than this
            runs on the event loop; larger work on worker threads.
    """

    model: Any
    vectors: Any = None
    store: Any = None
    max_batch: int = 64
    max_wait_ms: float = 5.0
    queue: int = 1024
    max_body_mb: float = 8.0
    token: str | None = None
    limits: Limits = field(default_factory=Limits)
    thresholds: dict[str, float] = field(default_factory=dict)
    threads: int | None = None
    inline_bytes: int = 16384


@dataclass
class _Request:
    """One request's admission: the rows it holds per stage and its deadline."""

    service: _Service
    deadline: float | None
    held: dict[str, int] = field(default_factory=dict)

    def admit(self, **costs: int) -> None:
        """Reserve ``costs`` rows per stage, all or none: 429 when a stage is full, 504 when
        the measured service time says the work cannot finish before the deadline."""
        stages = {name: self.service.batchers[name] for name, n in costs.items() if n}
        if self.deadline is not None:
            wait = max((b.expected_seconds(costs[name]) for name, b in stages.items()), default=0.0)
            if time.monotonic() + wait > self.deadline:
                self.service.metrics.refused.labels("deadline").inc()
                raise HTTPError(504, f"the work cannot finish before the deadline (about {wait * 1000:.0f} ms "
                                     "of queued work)")
        done: list[tuple[Batcher, int]] = []
        try:
            for name, b in stages.items():
                b.admit(costs[name])
                done.append((b, costs[name]))
                self.held[name] = self.held.get(name, 0) + costs[name]
        except QueueFull:
            for b, n in done:
                b.release(n)
                self.held[b.stage] -= n
            raise

    def release(self) -> None:
        """Give back everything this request holds."""
        for name, n in self.held.items():
            self.service.batchers[name].release(n)
        self.held.clear()

    async def run(self, stage: str, rows: np.ndarray) -> np.ndarray:
        """``rows`` through the stage's batcher (rows admitted before)."""
        return await self.service.batchers[stage].submit(rows, self.deadline)


class _Service:
    """The state of one app: config, metrics, batchers, readiness."""

    def __init__(self, config: ServeConfig) -> None:
        from ..sampling import decode_batched, encode_batched

        self.config = config
        self.model = config.model
        self.dim = int(config.model.latent_dim)
        self.image_shape = tuple(int(s) for s in getattr(config.model, "image_shape", ()) or ())
        self.can_encode = callable(getattr(config.model, "encode", None)) and len(self.image_shape) == 3
        self.metrics = Metrics()
        self.ready = False
        self.limits = config.limits
        wait = float(config.max_wait_ms) / 1000.0
        model = config.model

        def encode(block: np.ndarray) -> np.ndarray:
            return encode_batched(model, block, batch_size=len(block))

        def decode(block: np.ndarray) -> np.ndarray:
            return decode_batched(model, block, batch_size=len(block))

        threads = config.threads

        def init() -> None:
            if threads is not None:
                import torch

                torch.set_num_threads(threads)

        self.batchers = {stage: Batcher(stage, fn, max_batch=config.max_batch, max_wait_s=wait, capacity=config.queue,
                                        metrics=self.metrics, initializer=init)
                         for stage, fn in (("encode", encode), ("decode", decode))}
        vectors = config.vectors
        self.names: list[str] = list(vectors.names) if vectors is not None else []
        self.vectors32 = None if vectors is None else np.ascontiguousarray(vectors.vectors, dtype=np.float32)
        if vectors is not None and vectors.latent_dim != self.dim:
            raise ValueError(f"the vectors have latent size {vectors.latent_dim} but the model has {self.dim}")
        store = config.store
        self.store32 = None if store is None else np.ascontiguousarray(store.latents, dtype=np.float32)
        if store is not None and store.latent_dim != self.dim:
            raise ValueError(f"the store has latent size {store.latent_dim} but the model has {self.dim}")

    async def warm_up(self) -> None:
        """One batch through each stage, then ready."""
        z = np.zeros((1, self.dim), dtype=np.float32)
        images = await self.batchers["decode"].submit(z)
        if self.can_encode:
            await self.batchers["encode"].submit(np.clip(images, 0, 1).astype(np.float32))
        self.ready = True
        log.info("ready")

    # ------------------------------------------------------------------ inputs

    def vector_index(self, name: Any) -> int:
        """The row of vector ``name`` (404 listing the known names)."""
        if not isinstance(name, str):
            raise HTTPError(422, f"an attribute name must be a string, got {type(name).__name__}")
        if name not in self.names:
            known = ", ".join(self.names[:50]) + (" ..." if len(self.names) > 50 else "")
            raise HTTPError(404, f"unknown attribute {name!r}; the loaded vectors are: {known or '(none)'}")
        return self.names.index(name)

    def image_input(self, value: Any, name: str) -> tuple[np.ndarray, str | None]:
        """A base64 image as a model input (400 when the model has no encoder)."""
        if not self.can_encode:
            raise HTTPError(400, f"{name}: this model has no encoder, send latents instead of images")
        return parse_image(value, name, self.image_shape, self.limits)  # type: ignore[arg-type]

    def parse_source(self, value: Any, name: str) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
        """An image (b64 string) or a latent (list): ``(image or None, latent or None, note)``."""
        if isinstance(value, str):
            img, note = self.image_input(value, name)
            return img, None, note
        if isinstance(value, list):
            return None, parse_latent(value, name, self.dim), None
        raise HTTPError(422, f"{name} must be a base64 image string or a latent (list of numbers)")

    async def latents_of(self, req: _Request, sources: list[tuple[np.ndarray | None, np.ndarray | None]]) -> np.ndarray:
        """The latents of parsed sources, encoding the images in one batcher submission."""
        images = [img for img, _ in sources if img is not None]
        encoded = iter(await req.run("encode", np.stack(images)) if images else [])
        return np.stack([z if z is not None else next(encoded) for _, z in sources]).astype(np.float32)

    async def off_loop(self, fn: Callable[[], Any], size: int) -> Any:
        """``fn()`` on a worker thread, or inline when its input is under
        ``config.inline_bytes`` (then the thread hop costs more than the work)."""
        if size <= self.config.inline_bytes:
            return fn()
        return await anyio.to_thread.run_sync(fn)

    async def pngs(self, images: np.ndarray) -> list[str]:
        """Decoded images as base64 PNGs (off the event loop unless tiny)."""
        return await self.off_loop(lambda: [to_png(x) for x in images], images.size)


def _text_size(value: Any) -> int:
    """The characters of base64 text in a field (a string or a list of them)."""
    if isinstance(value, str):
        return len(value)
    return sum(len(v) for v in value if isinstance(v, str)) if isinstance(value, list) else 0


def _result_size(result: dict[str, Any]) -> int:
    """A rough byte count of an answer's JSON (base64 images and latent lists)."""
    size = 0
    for v in result.values():
        if isinstance(v, str):
            size += len(v)
        elif isinstance(v, list):
            size += sum(len(x) if isinstance(x, str) else 20 * len(x) if isinstance(x, list) else 8 for x in v)
    return size


def _notes(*notes: str | None) -> dict[str, str]:
    text = "; ".join(n for n in notes if n)
    return {"note": text} if text else {}


# ---------------------------------------------------------------------- routes


async def _encode(svc: _Service, req: _Request, body: dict[str, Any]) -> dict[str, Any]:
    check_fields(body, {"images"})
    images = require(body, "images", list, "a list of base64 PNG/JPEG strings")
    check_items(len(images), "images", svc.limits)
    parsed = await svc.off_loop(lambda: [svc.image_input(v, f"images[{i}]") for i, v in enumerate(images)],
                                _text_size(images))
    req.admit(encode=len(parsed))
    z = await req.run("encode", np.stack([p[0] for p in parsed]))
    return {"latents": z.tolist(), **_notes(*(p[1] for p in parsed))}


async def _decode(svc: _Service, req: _Request, body: dict[str, Any]) -> dict[str, Any]:
    check_fields(body, {"latents"})
    z = parse_latents(require(body, "latents", list, "a list of latents"), "latents", svc.dim, svc.limits)
    req.admit(decode=len(z))
    return {"images": await svc.pngs(await req.run("decode", z))}


async def _edit(svc: _Service, req: _Request, body: dict[str, Any]) -> dict[str, Any]:
    from .. import attributes

    check_fields(body, {"image", "latent", "attribute", "strengths", "edits"})
    if ("image" in body) == ("latent" in body):
        raise HTTPError(422, "give one of 'image' (base64) or 'latent' (list of numbers)")
    if ("edits" in body) == ("attribute" in body or "strengths" in body):
        raise HTTPError(422, "give 'attribute' with 'strengths', or 'edits' ({name: strength}), one of them")
    if "edits" in body:
        edits = require(body, "edits", dict, "an object {attribute: strength}")
        if not edits:
            raise HTTPError(400, "edits is empty")
        rows = [svc.vector_index(n) for n in edits]
        alphas = np.asarray([[parse_number(s, f"edits[{n!r}]") for n, s in edits.items()]])
    else:
        rows = [svc.vector_index(require(body, "attribute", str, "a vector name"))]
        alphas = parse_strengths(require(body, "strengths", list, "a list of numbers"), "strengths", svc.limits)[:, None]
    key = "image" if "image" in body else "latent"
    img, z, note = await svc.off_loop(lambda: svc.parse_source(body[key], key), _text_size(body[key]))
    req.admit(encode=int(img is not None), decode=len(alphas))
    z = await svc.latents_of(req, [(img, z)])
    moved = attributes.traverse(z, svc.vectors32[rows], alphas)[0]  # type: ignore[index]
    images = await req.run("decode", moved)
    return {"images": await svc.pngs(images), "latents": moved.tolist(), **_notes(note)}


async def _interpolate(svc: _Service, req: _Request, body: dict[str, Any]) -> dict[str, Any]:
    from .. import ops
    from ..render import image_sheet

    check_fields(body, {"from", "to", "steps", "method", "gif"})
    steps = parse_count(require(body, "steps", int, "an integer >= 2"), "steps", 2, svc.limits.max_frames)
    method = body.get("method", "slerp")
    if method not in METHODS:
        raise HTTPError(400, f"unknown method {method!r}; use one of {list(METHODS)}")
    gif = body.get("gif", False)
    if not isinstance(gif, bool):
        raise HTTPError(422, "field 'gif' must be true or false")
    for key in ("from", "to"):
        require(body, key, (str, list), "a base64 image or a latent")
    a, b = await svc.off_loop(lambda: [svc.parse_source(body[k], k) for k in ("from", "to")],
                              _text_size([body["from"], body["to"]]))
    req.admit(encode=int(a[0] is not None) + int(b[0] is not None), decode=steps)
    za, zb = await svc.latents_of(req, [a[:2], b[:2]])
    walk = np.ascontiguousarray(ops.interpolate(za, zb, np.linspace(0.0, 1.0, steps), method), dtype=np.float32)
    images = await req.run("decode", walk)
    out: dict[str, Any] = {"images": await svc.pngs(images), "latents": walk.tolist()}
    if gif:
        out["gif"] = await anyio.to_thread.run_sync(
            lambda: encode_picture([image_sheet(x[None], 1, 1, pad=0) for x in images], "GIF", duration=80, loop=0))
    return {**out, **_notes(a[2], b[2])}


async def _sheet(svc: _Service, req: _Request, grid: np.ndarray) -> tuple[str, np.ndarray]:
    """A ``(rows, cols, D)`` latent grid decoded into one base64 PNG sheet."""
    from ..render import image_sheet

    rows, cols = grid.shape[:2]
    images = await req.run("decode", grid.reshape(rows * cols, -1))
    return await anyio.to_thread.run_sync(lambda: encode_picture(image_sheet(images, rows, cols), "PNG")), images


def _grid_size(svc: _Service, body: dict[str, Any], default: int, minimum: int) -> tuple[int, int]:
    rows = parse_count(body.get("rows", default), "rows", minimum, svc.limits.max_grid)
    return rows, parse_count(body.get("cols", default), "cols", minimum, svc.limits.max_grid)


async def _jdiagram(svc: _Service, req: _Request, body: dict[str, Any]) -> dict[str, Any]:
    from .. import grids

    check_fields(body, {"images", "latents", "rows", "cols", "method"})
    if ("images" in body) == ("latents" in body):
        raise HTTPError(422, "give 'images' (three base64 images) or 'latents' (three latents), one of them")
    key = "images" if "images" in body else "latents"
    items = require(body, key, list, "a list of three")
    if len(items) != 3:
        raise HTTPError(400, f"a J-Diagram takes 3 {key} (a, b, c), got {len(items)}")
    rows, cols = _grid_size(svc, body, 5, 2)
    method = body.get("method", "slerp")
    if method not in METHODS:
        raise HTTPError(400, f"unknown method {method!r}; use one of {list(METHODS)}")
    parsed = await svc.off_loop(lambda: [svc.parse_source(v, f"{key}[{i}]") for i, v in enumerate(items)],
                                _text_size(items))
    req.admit(encode=sum(p[0] is not None for p in parsed), decode=rows * cols)
    a, b, c = await svc.latents_of(req, [p[:2] for p in parsed])
    grid = np.ascontiguousarray(grids.j_diagram(a, b, c, rows, cols, method=method), dtype=np.float32)
    sheet, _ = await _sheet(svc, req, grid)
    return {"image": sheet, "latents": grid.tolist(), **_notes(*(p[2] for p in parsed))}


def _need_store(svc: _Service) -> np.ndarray:
    if svc.store32 is None:
        raise HTTPError(404, "this server has no latent store: start it with --store FILE")
    return svc.store32


async def _mine(svc: _Service, req: _Request, body: dict[str, Any]) -> dict[str, Any]:
    from .. import grids

    check_fields(body, {"image", "latent", "rows", "cols", "spacing"})
    store = _need_store(svc)
    if ("image" in body) == ("latent" in body):
        raise HTTPError(422, "give one of 'image' (base64) or 'latent' (list of numbers)")
    rows, cols = _grid_size(svc, body, 5, 1)
    spacing = parse_count(body.get("spacing", 1), "spacing", 1, svc.limits.max_grid)
    key = "image" if "image" in body else "latent"
    img, z, note = await svc.off_loop(lambda: svc.parse_source(body[key], key), _text_size(body[key]))
    req.admit(encode=int(img is not None), decode=rows * cols)
    (seed,) = await svc.latents_of(req, [(img, z)])
    try:
        mine = await anyio.to_thread.run_sync(lambda: grids.mine_grid(seed, store, rows, cols, spacing=spacing))
    except ValueError as exc:
        raise HTTPError(400, str(exc)) from None
    grid = np.ascontiguousarray(mine.latents, dtype=np.float32)
    sheet, _ = await _sheet(svc, req, grid)
    return {"image": sheet, "latents": grid.tolist(), "anchor_ids": mine.anchor_ids.tolist(),
            "anchor_distances": mine.anchor_distances.tolist(), **_notes(note)}


async def _seed(svc: _Service, req: _Request, body: dict[str, Any], extra: set[str]) -> tuple[np.ndarray, str | None]:
    """The one latent of a route that takes ``image`` or ``latent``."""
    check_fields(body, {"image", "latent"} | extra)
    if ("image" in body) == ("latent" in body):
        raise HTTPError(422, "give one of 'image' (base64) or 'latent' (list of numbers)")
    key = "image" if "image" in body else "latent"
    img, z, note = await svc.off_loop(lambda: svc.parse_source(body[key], key), _text_size(body[key]))
    req.admit(encode=int(img is not None))
    (seed,) = await svc.latents_of(req, [(img, z)])
    return seed, note


async def _score(svc: _Service, req: _Request, body: dict[str, Any]) -> dict[str, Any]:
    from .. import ops

    if svc.vectors32 is None:
        raise HTTPError(404, "this server has no vectors: start it with --vectors FILE")
    normalize = body.get("normalize", False) if isinstance(body, dict) else False
    if not isinstance(normalize, bool):
        raise HTTPError(422, "field 'normalize' must be true or false")
    seed, note = await _seed(svc, req, body, {"normalize"})
    s = ops.score(seed[None], svc.vectors32, normalize=normalize)[0]
    out: dict[str, Any] = {"scores": {n: float(v) for n, v in zip(svc.names, s)}}
    th = svc.config.thresholds
    if th and not normalize:
        out["predictions"] = {n: int(float(v) >= th[n]) for n, v in zip(svc.names, s) if n in th}
    return {**out, **_notes(note)}


async def _neighbors(svc: _Service, req: _Request, body: dict[str, Any]) -> dict[str, Any]:
    from ..neighbors import exact_search

    store = _need_store(svc)
    k = parse_count(body.get("k", 10) if isinstance(body, dict) else 10, "k", 1, min(svc.limits.max_neighbors, len(store)))
    space = body.get("space", "cosine")
    if space not in ("cosine", "l2", "ip"):
        raise HTTPError(400, f"unknown space {space!r}; use one of ['cosine', 'l2', 'ip']")
    seed, note = await _seed(svc, req, body, {"k", "space"})
    ids, dist = await anyio.to_thread.run_sync(lambda: exact_search(store, seed, k, space))
    return {"ids": ids[0].tolist(), "distances": dist[0].tolist(), **_notes(note)}


_POST_ROUTES: dict[str, tuple[Callable[..., Awaitable[dict[str, Any]]], tuple[str, ...]]] = {
    "/v1/encode": (_encode, ("encode",)),
    "/v1/decode": (_decode, ("decode",)),
    "/v1/edit": (_edit, ("encode", "decode")),
    "/v1/interpolate": (_interpolate, ("encode", "decode")),
    "/v1/jdiagram": (_jdiagram, ("encode", "decode")),
    "/v1/mine": (_mine, ("encode", "decode")),
    "/v1/score": (_score, ("encode",)),
    "/v1/neighbors": (_neighbors, ("encode",)),
}


# ---------------------------------------------------------------------- the app


def load_vectors(paths: list[Any]) -> tuple[Any, dict[str, float]]:
    """Vector files (``.npz`` from ``atvec`` or the paper library's JSON) merged into one
    :class:`~latentatlas.data.VectorSet`, and the AtDot thresholds their provenance
    carries (``{"thresholds": {name: value}}``). Names must be distinct across files."""
    from ..data import VectorSet

    if not paths:
        return None, {}
    sets, thresholds = [], {}
    for path in paths:
        try:
            vs = VectorSet.load(path)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"--vectors {path}: {exc}") from None
        sets.append(vs)
        th = vs.provenance.get("thresholds")
        if isinstance(th, dict):
            thresholds.update({str(k): float(v) for k, v in th.items() if str(k) in vs.names})
    names = [n for vs in sets for n in vs.names]
    seen = {n for n in names if names.count(n) > 1}
    if seen:
        raise ValueError(f"--vectors: the name(s) {sorted(seen)} appear in more than one file")
    dims = {vs.latent_dim for vs in sets}
    if len(dims) > 1:
        raise ValueError(f"--vectors: the files have different latent sizes {sorted(dims)}")
    return VectorSet(np.concatenate([vs.vectors for vs in sets]), names, {"files": [str(p) for p in paths]}), thresholds


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def build_app(config: ServeConfig) -> Starlette:
    """The service as a Starlette app; its batchers start and the warm-up batch runs in
    the app's lifespan (``/readyz`` answers 503 until then)."""
    svc = _Service(config)
    max_body = int(config.max_body_mb * 1024 * 1024)
    token = config.token

    def authorized(request: Request) -> bool:
        return not token or request.headers.get("authorization", "") == f"Bearer {token}"

    def deadline_of(request: Request) -> float | None:
        text = request.headers.get("x-deadline-ms")
        if text is None:
            return None
        try:
            ms = float(text)
        except ValueError:
            raise HTTPError(400, f"X-Deadline-Ms must be a number of milliseconds, got {text!r}") from None
        if not ms > 0 or ms != ms or ms == float("inf"):
            raise HTTPError(400, f"X-Deadline-Ms must be a positive finite number, got {text!r}")
        return time.monotonic() + ms / 1000.0

    async def read_json(request: Request) -> Any:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body:
            raise HTTPError(413, f"the body is {int(length)} bytes, over the limit of {max_body} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise HTTPError(413, f"the body is over the limit of {max_body} bytes")
            chunks.append(chunk)
        try:
            return json.loads(b"".join(chunks))
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPError(400, f"the body is not valid JSON: {exc}") from None

    def handler(path: str, fn: Callable[..., Awaitable[dict[str, Any]]], stages: tuple[str, ...]) -> Callable:
        async def endpoint(request: Request) -> Response:
            start = time.perf_counter()
            req = _Request(svc, None)
            svc.metrics.in_flight.inc()
            try:
                if not authorized(request):
                    raise HTTPError(401, "missing or wrong token: send 'Authorization: Bearer <token>'")
                if not svc.ready:
                    raise HTTPError(503, "not ready: the model is warming up")
                req.deadline = deadline_of(request)
                full = [svc.batchers[s] for s in stages if not svc.batchers[s].room()]
                if full:  # refuse before reading the body
                    raise QueueFull(full[0].stage, full[0].admitted, full[0].capacity, full[0].retry_after())
                body = await read_json(request)
                result = await fn(svc, req, body)
                payload = await svc.off_loop(lambda: json.dumps(result).encode(), _result_size(result))
                response: Response = Response(payload, media_type="application/json")
            except HTTPError as exc:
                response = _error(exc.status, exc.message, exc.headers)
            except QueueFull as exc:
                svc.metrics.refused.labels("queue").inc()
                response = _error(429, str(exc), {"Retry-After": str(exc.retry_after)})
            except DeadlineExceeded as exc:
                response = _error(504, str(exc))
            except ClientDisconnect:
                response = _error(400, "the client went away")
            except (ValueError, TypeError) as exc:  # the library refused the request's input
                response = _error(400, str(exc))
            except Exception:
                log.exception("internal error on %s", path)
                response = _error(500, "internal server error")
            finally:
                req.release()
                svc.metrics.in_flight.dec()
            svc.metrics.requests.labels(path, str(response.status_code)).inc()
            svc.metrics.latency.labels(path, str(response.status_code)).observe(time.perf_counter() - start)
            return response

        return endpoint

    async def attributes(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "missing or wrong token: send 'Authorization: Bearer <token>'")
        return JSONResponse({"attributes": svc.names, "latent_dim": svc.dim,
                             "thresholds": {n: svc.config.thresholds[n] for n in svc.names
                                            if n in svc.config.thresholds}})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        if not svc.ready:
            return _error(503, "not ready: the model is warming up")
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "missing or wrong token: send 'Authorization: Bearer <token>'")
        return Response(svc.metrics.text(), media_type="text/plain; version=0.0.4")

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        return _error(status, f"{request.method} {request.url.path}: " + ("no such route" if status == 404
                                                                            else "method not allowed"))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        for b in svc.batchers.values():
            b.start()
        warm = asyncio.get_running_loop().create_task(svc.warm_up())
        try:
            yield
        finally:
            if not warm.done():
                warm.cancel()
            for b in svc.batchers.values():
                await b.stop()

    routes = [Route(p, handler(p, fn, st), methods=["POST"]) for p, (fn, st) in _POST_ROUTES.items()]
    routes += [Route("/v1/attributes", attributes), Route("/healthz", healthz), Route("/readyz", readyz),
               Route("/metrics", metrics)]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: not_found, 405: not_found})
    app.state.service = svc
    return app
