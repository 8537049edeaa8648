"""``latentatlas serve`` against a real server process on 127.0.0.1: every route's answer
equals the library's own computation on the same inputs, batching merges concurrent
requests, and every client mistake is a 4xx naming the problem."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

import latentatlas as la
from latentatlas import attributes, grids, ops, sampling
from latentatlas.client import Client, ServeError, b64_to_image, image_to_b64
from latentatlas.data import LatentStore, VectorSet
from latentatlas.neighbors import exact_search
from serve_helpers import metric, serve_process, write_inputs

RTOL, ATOL = 1e-5, 1e-5


@pytest.fixture(scope="module")
def server(tmp_path_factory, digits, digits_vae):
    """One server for the module: digits-vae, three vectors, a store of the digits."""
    folder = tmp_path_factory.mktemp("serve")
    vpath, spath = write_inputs(folder, digits_vae, digits)
    with serve_process(["--model", "digits-vae", "--vectors", str(vpath), "--store", str(spath),
                        "--max-wait-ms", "20", "--max-batch", "64", "--device", "cpu"]) as (url, _):
        yield {"url": url, "vectors": VectorSet.load(vpath), "store": LatentStore.load(spath)}


@pytest.fixture(scope="module")
def client(server):
    with Client(server["url"]) as c:
        yield c


def quantized(images):
    """Images as they arrive at the server after the client's 8-bit PNG."""
    return np.stack([b64_to_image(image_to_b64(x)) for x in images])


def as_png_pixels(images):
    """Decoded model output as the server's PNGs hold it (rounded to 8 bits)."""
    return np.rint(np.clip(images, 0, 1) * 255) / 255


def test_ready_and_attributes(server, client):
    assert client.healthz() and client.readyz()
    assert client.attributes() == ["smile", "bright", "large"]
    # the warm-up batch ran before readiness: a model call exists on each stage
    text = client.metrics()
    assert metric(text, "latentatlas_model_calls_total", stage="decode") >= 1
    assert metric(text, "latentatlas_model_calls_total", stage="encode") >= 1


def test_encode_equals_the_library(client, digits, digits_vae):
    images = digits.images[:5]
    got = client.encode(images)
    want = sampling.encode_batched(digits_vae, quantized(images))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_encode_notes_a_resize(server, digits_vae):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 200, np.uint8)).save(buf, format="PNG")
    r = httpx.post(server["url"] + "/v1/encode", json={"images": [base64.b64encode(buf.getvalue()).decode()]})
    assert r.status_code == 200
    assert "resized from 16x16 to 8x8" in r.json()["note"] and "converted from RGB to L" in r.json()["note"]


def test_decode_equals_the_library(client, digits_vae):
    z = np.random.default_rng(1).normal(size=(6, digits_vae.latent_dim)).astype(np.float32)
    got = client.decode(z)
    want = as_png_pixels(sampling.decode_batched(digits_vae, z))
    np.testing.assert_allclose(got, want, atol=1 / 255 + 1e-6)
    assert np.mean(np.abs(got - want) < 1e-6) > 0.99


def test_edit_with_strengths_is_the_offset_kernel(server, client, digits_vae):
    v = server["vectors"]
    z = np.random.default_rng(2).normal(size=digits_vae.latent_dim).astype(np.float32)
    s = [-1.0, 0.0, 0.5, 2.0]
    images, latents = client.edit(latent=z, attribute="bright", strengths=s)
    want = attributes.traverse(z[None], v.vectors[[1]].astype(np.float32), np.asarray(s)[:, None])[0]
    np.testing.assert_allclose(latents, want, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(latents, z + np.asarray(s)[:, None] * v["bright"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(images, as_png_pixels(sampling.decode_batched(digits_vae, want)), atol=1 / 255 + 1e-6)


def test_edit_image_with_combined_edits(server, client, digits, digits_vae):
    v = server["vectors"]
    image = digits.images[7]
    images, latents = client.edit(image=image, edits={"smile": 1.5, "large": -0.5})
    z = sampling.encode_batched(digits_vae, quantized(image[None]))
    want = z[0] + 1.5 * v["smile"] - 0.5 * v["large"]
    assert images.shape == (1, 1, 8, 8)
    np.testing.assert_allclose(latents[0], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", ["slerp", "lerp", "slerp_gaussian", "lerp_gaussian"])
def test_interpolate_equals_the_library(client, digits_vae, method):
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, digits_vae.latent_dim)).astype(np.float32)
    out = client.interpolate(a, b, 5, method=method, gif=(method == "slerp"))
    want = ops.interpolate(a, b, np.linspace(0, 1, 5), method)
    np.testing.assert_allclose(out["latents"], want, rtol=RTOL, atol=ATOL)
    assert out["images"].shape == (5, 1, 8, 8)
    if method == "slerp":
        from PIL import Image

        with Image.open(io.BytesIO(out["gif"])) as gif:
            assert gif.format == "GIF" and gif.n_frames == 5


def test_jdiagram_equals_the_library(client, digits_vae):
    abc = np.random.default_rng(4).normal(size=(3, digits_vae.latent_dim)).astype(np.float32)
    out = client.jdiagram(abc, rows=4, cols=5)
    want = grids.j_diagram(abc[0], abc[1], abc[2], 4, 5)
    np.testing.assert_allclose(out["latents"], want, rtol=RTOL, atol=ATOL)
    assert out["image"].ndim == 3


def test_mine_equals_the_library(server, client):
    store = server["store"].latents.astype(np.float32)
    seed = store[11]
    out = client.mine(latent=seed, rows=3, cols=3)
    want = grids.mine_grid(seed, store, 3, 3)
    np.testing.assert_array_equal(out["anchor_ids"], want.anchor_ids)
    np.testing.assert_allclose(out["latents"], want.latents, rtol=RTOL, atol=ATOL)


def test_score_equals_atdot_scores(server, client, digits_vae):
    v = server["vectors"]
    z = np.random.default_rng(5).normal(size=digits_vae.latent_dim).astype(np.float32)
    out = client.score(latent=z)
    want = ops.score(z[None], v.vectors.astype(np.float32))[0]
    np.testing.assert_allclose([out["scores"][n] for n in v.names], want, rtol=RTOL, atol=ATOL)
    assert out["predictions"] == {"smile": int(want[0] >= 0.25)}  # only smile carries a threshold


def test_neighbors_equal_exact_search(server, client):
    store = server["store"].latents.astype(np.float32)
    q = store[3] + 0.01
    ids, dist = client.neighbors(latent=q, k=7, space="l2")
    want_ids, want_dist = exact_search(store, q, 7, "l2")
    np.testing.assert_array_equal(ids, want_ids[0])
    np.testing.assert_allclose(dist, want_dist[0], rtol=1e-5, atol=1e-6)


def test_concurrent_requests_are_batched_and_equal_sequential(server, client, digits_vae):
    z = np.random.default_rng(6).normal(size=(64, digits_vae.latent_dim)).astype(np.float32)
    strengths = [0.0, 1.0]

    def one(i):
        with httpx.Client(base_url=server["url"], timeout=60) as http:
            r = http.post("/v1/edit", json={"latent": z[i].tolist(), "attribute": "smile", "strengths": strengths})
            assert r.status_code == 200, r.text
            return r.json()

    before = metric(client.metrics(), "latentatlas_model_calls_total", stage="decode")
    with ThreadPoolExecutor(64) as pool:
        together = list(pool.map(one, range(64)))
    calls = metric(client.metrics(), "latentatlas_model_calls_total", stage="decode") - before
    assert 1 <= calls < 64
    alone = [one(i) for i in range(64)]
    for t, s in zip(together, alone):
        np.testing.assert_allclose(t["latents"], s["latents"], rtol=0, atol=0)
        got = np.stack([b64_to_image(x) for x in t["images"]])
        ref = np.stack([b64_to_image(x) for x in s["images"]])
        np.testing.assert_allclose(got, ref, atol=1 / 255 + 1e-6)


def _png(shape=(8, 8), mode="L", fmt="PNG"):
    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, shape).save(buf, format=fmt)
    return base64.b64encode(buf.getvalue()).decode()


Z = [0.0] * 20
ERRORS = [
    ("/v1/decode", {"latents": [[0.0] * 19]}, 400, r"latents\[0\] has length 19 but the model's latent size is 20"),
    ("/v1/decode", {"latents": [[float("nan")] + [0.0] * 19]}, 400, "not valid JSON|NaN"),
    ("/v1/decode", {"latents": [[1e300] + [0.0] * 19]}, 400, "too large for float32"),
    ("/v1/decode", {"latents": []}, 400, "latents is empty"),
    ("/v1/decode", {"latents": [Z] * 300}, 413, "300 latents is over the per-request limit of 256"),
    ("/v1/decode", {"z": [Z]}, 422, r"unknown field\(s\) \['z'\]"),
    ("/v1/decode", {}, 422, "missing field 'latents'"),
    ("/v1/decode", [1, 2], 422, "must be a JSON object"),
    ("/v1/encode", {"images": ["not base64!"]}, 400, r"images\[0\] is not valid base64"),
    ("/v1/encode", {"images": [base64.b64encode(b"hello").decode()]}, 400, "not a readable PNG or JPEG"),
    ("/v1/encode", {"images": [_png(fmt="GIF")]}, 400, "GIF image; send PNG or JPEG"),
    ("/v1/encode", {"images": [_png((5000, 5000))]}, 413, "over the limit of"),
    ("/v1/encode", {"images": [""]}, 400, r"images\[0\] is empty: send a base64 PNG or JPEG"),
    ("/v1/encode", {"images": [3]}, 422, "must be a base64 string"),
    ("/v1/edit", {"latent": Z, "attribute": "frown", "strengths": [1]}, 404,
     "unknown attribute 'frown'; the loaded vectors are: smile, bright, large"),
    ("/v1/edit", {"latent": Z, "attribute": "smile", "strengths": list(range(300))}, 413, "over the per-request limit"),
    ("/v1/edit", {"latent": Z, "attribute": "smile"}, 422, "missing field 'strengths'"),
    ("/v1/edit", {"latent": Z, "image": "x", "edits": {"smile": 1}}, 422, "give one of 'image'"),
    ("/v1/edit", {"latent": Z, "edits": {"smile": "big"}}, 422, "must be a number"),
    ("/v1/interpolate", {"from": Z, "to": Z, "steps": 4, "method": "cubic"}, 400, "unknown method 'cubic'"),
    ("/v1/interpolate", {"from": Z, "to": Z, "steps": 100000}, 413, "steps = 100000 is over the per-request limit"),
    ("/v1/interpolate", {"from": Z, "to": Z, "steps": 1}, 400, "steps must be at least 2"),
    ("/v1/jdiagram", {"latents": [Z, Z]}, 400, "a J-Diagram takes 3 latents"),
    ("/v1/mine", {"latent": Z, "rows": 4, "cols": 4, "spacing": 2}, 400, "rows - 1 must be a multiple of spacing"),
    ("/v1/neighbors", {"latent": Z, "k": 5, "space": "hamming"}, 400, "unknown space 'hamming'"),
    ("/v1/nothing", {}, 404, "no such route"),
]


@pytest.mark.parametrize("path,body,status,match", ERRORS, ids=[f"{e[0]}-{e[2]}-{i}" for i, e in enumerate(ERRORS)])
def test_errors_name_the_problem(server, path, body, status, match):
    import json
    import re

    content = json.dumps(body, allow_nan=True)
    r = httpx.post(server["url"] + path, content=content, headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == status, r.text
    assert re.search(match, r.json()["error"]), r.json()["error"]


def test_broken_json_and_wrong_method(server):
    r = httpx.post(server["url"] + "/v1/decode", content=b"{not json", timeout=10)
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = httpx.get(server["url"] + "/v1/decode", timeout=10)
    assert r.status_code == 405 and "method not allowed" in r.json()["error"]


def test_client_raises_serve_error(client):
    with pytest.raises(ServeError, match="HTTP 404: unknown attribute 'nope'") as info:
        client.edit(latent=np.zeros(20), attribute="nope", strengths=[1])
    assert info.value.status == 404
    with pytest.raises(ValueError, match="give image or latent, one of them"):
        client.score()
    with pytest.raises(ValueError, match=r"image must be \(C, H, W\)"):
        image_to_b64(np.zeros((8, 8)))


@pytest.mark.parametrize("argv,status,match", [
    (["--port", "0"], 2, r"--port: expected a port in 1\.\.65535, got '0'"),
    (["--max-wait-ms", "-1"], 2, "--max-wait-ms: expected a finite number >= 0"),
    (["--max-body-mb", "0"], 2, "--max-body-mb: expected a number > 0"),
    (["--vectors", "missing.npz"], 1, "latentatlas serve: error: missing.npz: no such file"),
])
def test_bad_options_are_one_line(capsys, argv, status, match):
    import re

    from latentatlas import cli

    assert cli.main(["serve", "--model", "digits-vae", *argv]) == status
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(match, err), err


def test_vector_files_with_one_name_twice(tmp_path):
    from latentatlas.serve.app import load_vectors

    VectorSet(np.ones((1, 4)), ["x"]).save(tmp_path / "a.npz")
    VectorSet(np.ones((2, 4)), ["y", "x"]).save(tmp_path / "b.npz")
    with pytest.raises(ValueError, match=r"the name\(s\) \['x'\] appear in more than one file"):
        load_vectors([tmp_path / "a.npz", tmp_path / "b.npz"])
    merged, thresholds = load_vectors([tmp_path / "a.npz"])
    assert merged.names == ["x"] and thresholds == {}
