"""The service under pressure, on real sockets: readiness, the token, body limits, 429
refusals with Retry-After, deadlines (504) and a SIGTERM that loses no request in flight.

Most servers here are apps from ``build_app`` under uvicorn on a thread, around a model
whose decoder waits on a gate, so a test decides when the model work happens."""

from __future__ import annotations

import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from latentatlas.serve import ServeConfig, build_app
from latentatlas.serve.batcher import Batcher
from latentatlas.data import VectorSet
from serve_helpers import metric, serve_process, serve_thread


class Gated:
    """The digits VAE with a decoder that waits until ``gate`` is set."""

    def __init__(self, model) -> None:
        self.model = model
        self.latent_dim, self.image_shape, self.prior = model.latent_dim, model.image_shape, model.prior
        self.gate = threading.Event()

    def encode(self, x):
        return self.model.encode(x)

    def decode(self, z):
        assert self.gate.wait(30), "the test never opened the gate"
        return self.model.decode(z)


Z = [0.0] * 20


@pytest.fixture()
def gated(digits_vae):
    model = Gated(digits_vae)
    yield model
    model.gate.set()  # never leave a server thread waiting


def _post(url, path, body, headers=None):
    return httpx.post(url + path, json=body, headers=headers, timeout=30)


def test_not_ready_until_the_warm_up_batch_ran(gated):
    with serve_thread(build_app(ServeConfig(model=gated))) as url:
        r = httpx.get(url + "/readyz")
        assert r.status_code == 503 and "warming up" in r.json()["error"]
        assert httpx.get(url + "/healthz").status_code == 200
        r = _post(url, "/v1/decode", {"latents": [Z]})
        assert r.status_code == 503 and "not ready" in r.json()["error"]
        gated.gate.set()
        end = time.monotonic() + 20
        while httpx.get(url + "/readyz").status_code != 200:
            assert time.monotonic() < end
            time.sleep(0.02)
        assert _post(url, "/v1/decode", {"latents": [Z]}).status_code == 200


def test_token_guards_every_route_but_health(digits_vae):
    vectors = VectorSet(np.ones((1, 20)), ["up"])
    with serve_thread(build_app(ServeConfig(model=digits_vae, vectors=vectors, token="s3cret"))) as url:
        for path in ("/healthz", "/readyz"):
            end = time.monotonic() + 20
            while httpx.get(url + path).status_code != 200:
                assert time.monotonic() < end
                time.sleep(0.02)
        for headers in (None, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            r = httpx.get(url + "/v1/attributes", headers=headers)
            assert r.status_code == 401 and "missing or wrong token" in r.json()["error"]
            assert httpx.get(url + "/metrics", headers=headers).status_code == 401
            assert _post(url, "/v1/decode", {"latents": [Z]}, headers).status_code == 401
        good = {"Authorization": "Bearer s3cret"}
        assert httpx.get(url + "/v1/attributes", headers=good).json()["attributes"] == ["up"]
        assert _post(url, "/v1/decode", {"latents": [Z]}, good).status_code == 200


def test_bodies_over_the_limit_are_413(digits_vae):
    limit = int(0.001 * 1024 * 1024)
    with serve_thread(build_app(ServeConfig(model=digits_vae, max_body_mb=0.001))) as url:
        while httpx.get(url + "/readyz").status_code != 200:
            time.sleep(0.02)
        r = _post(url, "/v1/decode", {"latents": [Z] * 20})
        assert r.status_code == 413 and f"over the limit of {limit} bytes" in r.json()["error"]

        def chunks():  # no Content-Length: the limit holds while reading
            yield b'{"latents": ['
            for _ in range(40):
                yield (b"[" + b",".join([b"0.0"] * 20) + b"],")
            yield b"[0]]}"

        r = httpx.post(url + "/v1/decode", content=chunks(), timeout=30)
        assert r.status_code == 413 and "over the limit" in r.json()["error"]


def test_a_full_queue_answers_429_with_retry_after(gated):
    with serve_thread(build_app(ServeConfig(model=gated, queue=2, max_wait_ms=1))) as url:
        gated.gate.set()
        while httpx.get(url + "/readyz").status_code != 200:
            time.sleep(0.02)
        gated.gate.clear()
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(_post, url, "/v1/decode", {"latents": [Z, Z]})
            end = time.monotonic() + 20
            while metric(httpx.get(url + "/metrics").text, "latentatlas_queued_items", stage="decode") < 2:
                assert time.monotonic() < end
                time.sleep(0.02)
            r = _post(url, "/v1/decode", {"latents": [Z]})
            assert r.status_code == 429 and "the decode queue is full (2 of 2 items waiting)" in r.json()["error"]
            assert int(r.headers["Retry-After"]) >= 1
            # an encode-only route still has room: the queues are per stage
            r = _post(url, "/v1/encode", {"images": ["!"]})
            assert r.status_code == 400
            gated.gate.set()
            assert first.result().status_code == 200
        assert metric(httpx.get(url + "/metrics").text, "latentatlas_refused_total", reason="queue") == 1


def test_work_past_its_deadline_is_dropped_with_504(gated):
    with serve_thread(build_app(ServeConfig(model=gated, max_wait_ms=1))) as url:
        gated.gate.set()
        while httpx.get(url + "/readyz").status_code != 200:
            time.sleep(0.02)
        r = _post(url, "/v1/decode", {"latents": [Z]}, {"X-Deadline-Ms": "soon"})
        assert r.status_code == 400 and "X-Deadline-Ms must be a number of milliseconds" in r.json()["error"]
        r = _post(url, "/v1/decode", {"latents": [Z]}, {"X-Deadline-Ms": "-5"})
        assert r.status_code == 400 and "positive finite" in r.json()["error"]
        gated.gate.clear()
        with ThreadPoolExecutor(2) as pool:
            blocker = pool.submit(_post, url, "/v1/decode", {"latents": [Z]})
            time.sleep(0.3)  # the blocker's batch is in the model now
            late = pool.submit(_post, url, "/v1/decode", {"latents": [Z]}, {"X-Deadline-Ms": "100"})
            time.sleep(0.5)
            gated.gate.set()
            assert blocker.result().status_code == 200
            r = late.result()
        # refused on arrival (the measured service time says it cannot make it) or dropped
        # when its batch formed: either way never computed
        assert r.status_code == 504 and re.search("cannot finish before the deadline|could not finish before the "
                                                  "request's deadline", r.json()["error"]), r.text
        text = httpx.get(url + "/metrics").text
        assert (metric(text, "latentatlas_deadline_dropped_items_total", stage="decode")
                + metric(text, "latentatlas_refused_total", reason="deadline")) == 1
        assert metric(text, "latentatlas_items_total", stage="decode") == 2  # the warm-up and the blocker


def test_sigterm_answers_every_request_in_flight(tmp_path):
    with serve_process(["--model", "digits-vae", "--max-batch", "32", "--queue", "10000", "--device", "cpu"]) as (url, proc):
        z = np.random.default_rng(0).normal(size=(16, 256, 20)).round(3).tolist()  # 16 x 256 PNGs to make
        with ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(_post, url, "/v1/decode", {"latents": z[i]}) for i in range(16)]
            end = time.monotonic() + 30
            while True:  # every request received, some still being served
                text = httpx.get(url + "/metrics").text
                in_flight = metric(text, "latentatlas_requests_in_flight")
                done = metric(text, "latentatlas_requests_total", route="/v1/decode", status="200")
                if in_flight + done >= 16:
                    break
                assert time.monotonic() < end, "the requests never arrived"
                time.sleep(0.01)
            assert in_flight >= 1, "every request was done before the signal: nothing to drain"
            proc.send_signal(signal.SIGTERM)
            statuses = [f.result().status_code for f in futures]
        assert statuses == [200] * 16
        assert proc.wait(30) == 0


@pytest.mark.parametrize("kwargs,match", [
    ({"max_batch": 0}, "max_batch and capacity must be >= 1"),
    ({"capacity": 0}, "max_batch and capacity must be >= 1"),
    ({"max_wait_s": float("nan")}, "max_wait_s >= 0"),
])
def test_batcher_rejects_bad_settings(kwargs, match):
    settings = {"max_batch": 4, "max_wait_s": 0.0, "capacity": 8, **kwargs}
    with pytest.raises(ValueError, match=match):
        Batcher("decode", lambda x: x, **settings)


def test_batcher_splits_and_orders_rows():
    import asyncio

    calls = []

    def double(block):
        calls.append(len(block))
        return block * 2

    async def main():
        b = Batcher("s", double, max_batch=4, max_wait_s=0.05, capacity=100)
        b.start()
        rows = [np.arange(n * 2, dtype=np.float32).reshape(n, 2) + 100 * i for i, n in enumerate([3, 1, 6, 2])]
        out = await asyncio.gather(*(b.submit(r) for r in rows))
        await b.stop()
        return rows, out

    rows, out = asyncio.run(main())
    for r, o in zip(rows, out):
        np.testing.assert_array_equal(o, r * 2)
    assert sum(calls) == 12 and max(calls) <= 4
