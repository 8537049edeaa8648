"""The serve benchmark's load generators and table, against an in-process server on
127.0.0.1 (the full run, with its server subprocesses, is ``latentatlas bench --only serve``)."""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pytest

from latentatlas.bench import serve as bench
from latentatlas.client import image_to_b64
from latentatlas.data import VectorSet
from latentatlas.serve import ServeConfig, build_app
from serve_helpers import serve_thread, wait_ready


@pytest.fixture(scope="module")
def url(digits_vae):
    vectors = VectorSet(np.ones((1, digits_vae.latent_dim)), ["centroid:3-8"])
    with serve_thread(build_app(ServeConfig(model=digits_vae, vectors=vectors, max_wait_ms=2, queue=9))) as u:
        wait_ready(u)
        yield u


def test_closed_and_open_loops_count_every_answer(url, digits):
    body = bench._body(image_to_b64(digits.images[0]))
    level = asyncio.run(bench.closed_loop(url, os.getpid(), body, 4, 0.5))
    assert level["ok"] > 0 and sum(level["statuses"].values()) == level["requests"]
    assert level["requests_per_s"] == pytest.approx(level["ok"] / level["seconds"], rel=1e-2)  # seconds is rounded
    assert level["items_per_s"] == pytest.approx(8 * level["requests_per_s"])
    assert 1 <= level["mean_batch"] <= 64 and level["rss_mb"]
    assert level["p50_ms"] <= level["p95_ms"] <= level["p99_ms"]
    # an open loop far past a queue of one edit (9 items): refusals are counted as 429s
    phase = asyncio.run(bench.open_loop(url, os.getpid(), body, 2000.0, 0.25))
    assert sum(phase["statuses"].values()) == phase["requests"] == 500
    assert set(phase["statuses"]) <= {"200", "429"} and phase["statuses"].get("429", 0) > 0
    assert phase["refusal_max_ms"] is not None
    refused = phase["server_refusals"]  # the module's server: 429s so far, closed loop's included
    assert refused["count"] >= phase["statuses"]["429"] and 0 <= refused["within_10ms"] <= refused["count"]
    result = {"modes": {"batched": [level]}, "overload": {"capacity_per_s": 10.0, "queue": 9,
                                                          "phases": {"2x": phase}}}
    text = bench.table(result)
    assert "batched" in text and "429:" in text and "overload (open loop" in text


def test_percentiles_and_metric_sums():
    assert bench._percentile([], 50) is None
    assert bench._percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert bench._percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    text = 'latentatlas_batch_items_sum{stage="decode"} 12.0\nlatentatlas_batch_items_sum{stage="encode"} 5.0\n'
    assert bench._metric_sum(text, "latentatlas_batch_items_sum", "decode") == 12.0


def test_bad_seconds_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        bench.main(["--seconds", "0"])
    assert info.value.code == 2
    assert "--seconds must be > 0, got 0.0" in capsys.readouterr().err
