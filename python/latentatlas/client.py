"""A Python client of ``latentatlas serve``: one method per route, numpy in, numpy out.

Images go out as PNG (``(C, H, W)`` floats in [0, 1], rounded to 8 bits) and come back as
float32 ``(N, C, H, W)`` arrays in [0, 1]; latents are float32 ``(N, D)`` arrays. A
non-2xx answer raises :class:`ServeError` with the status and the server's message.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

__all__ = ["Client", "ServeError", "image_to_b64", "b64_to_image"]


class ServeError(Exception):
    """The server answered ``status`` with ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: Any = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = int(status)
        self.message = message
        self.headers = dict(headers or {})


def image_to_b64(image: Any) -> str:
    """A ``(C, H, W)`` (C 1 or 3) float image in [0, 1] as a base64 PNG string."""
    from PIL import Image

    x = np.asarray(image, dtype=np.float64)
    if x.ndim != 3 or x.shape[0] not in (1, 3) or 0 in x.shape:
        raise ValueError(f"image must be (C, H, W) with C 1 or 3, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("image contains NaN or infinite values")
    pixels = np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(pixels[..., 0] if x.shape[0] == 1 else pixels).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def b64_to_image(text: str) -> np.ndarray:
    """A base64 PNG/JPEG/GIF (first frame) as a ``(C, H, W)`` float32 image in [0, 1]."""
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(text))) as img:
        img.load()
        if img.mode not in ("L", "RGB"):
            img = img.convert("RGB")
        arr = np.asarray(img, dtype=np.float32) / 255.0
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def _source(image: Any, latent: Any) -> dict[str, Any]:
    if (image is None) == (latent is None):
        raise ValueError("give image or latent, one of them")
    return {"image": image_to_b64(image)} if image is not None else {"latent": np.asarray(latent, float).tolist()}


class Client:
    """A client of one server at ``url`` (e.g. ``"http://127.0.0.1:8000"``).

    Args:
        url: the server's base URL.
        token: sent as ``Authorization: Bearer <token>`` when given.
        timeout: seconds per request.
    """

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 60.0) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        response = self._http.request(method, path, json=body, headers=headers)
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise ServeError(response.status_code, message, response.headers)
        return response.json() if "json" in response.headers.get("content-type", "") else response.text

    def post(self, path: str, body: dict[str, Any], *, deadline_ms: float | None = None) -> dict[str, Any]:
        """The JSON answer of ``POST path`` (any route; ``deadline_ms`` sets X-Deadline-Ms)."""
        return self._call("POST", path, body, {"X-Deadline-Ms": str(deadline_ms)} if deadline_ms else None)

    @staticmethod
    def _images(texts: list[str]) -> np.ndarray:
        return np.stack([b64_to_image(t) for t in texts])

    def encode(self, images: Any) -> np.ndarray:
        """``(N, C, H, W)`` images in [0, 1] -> ``(N, D)`` latents."""
        return np.asarray(self.post("/v1/encode", {"images": [image_to_b64(x) for x in images]})["latents"],
                          dtype=np.float32)

    def decode(self, latents: Any) -> np.ndarray:
        """``(N, D)`` latents -> ``(N, C, H, W)`` images (8-bit PNG precision)."""
        return self._images(self.post("/v1/decode", {"latents": np.asarray(latents, float).tolist()})["images"])

    def edit(self, *, image: Any = None, latent: Any = None, attribute: str | None = None,
             strengths: Any = None, edits: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One image or latent moved along ``attribute`` at each of ``strengths`` (or by
        every ``edits`` vector at once) -> ``(images (A, C, H, W), latents (A, D))``."""
        body = _source(image, latent)
        if edits is not None:
            body["edits"] = {str(k): float(v) for k, v in edits.items()}
        else:
            body.update(attribute=attribute, strengths=np.asarray(strengths, float).reshape(-1).tolist())
        out = self.post("/v1/edit", body)
        return self._images(out["images"]), np.asarray(out["latents"], dtype=np.float32)

    def interpolate(self, a: Any, b: Any, steps: int, *, method: str = "slerp",
                    gif: bool = False) -> dict[str, Any]:
        """A walk from ``a`` to ``b`` (each a ``(C, H, W)`` image or a ``(D,)`` latent) ->
        ``{"images", "latents"}`` arrays (and ``"gif"``, the GIF's bytes, when asked)."""
        def side(x: Any) -> Any:
            x = np.asarray(x)
            return image_to_b64(x) if x.ndim == 3 else x.astype(float).tolist()

        out = self.post("/v1/interpolate", {"from": side(a), "to": side(b), "steps": steps, "method": method,
                                            "gif": gif})
        result = {"images": self._images(out["images"]), "latents": np.asarray(out["latents"], dtype=np.float32)}
        if gif:
            result["gif"] = base64.b64decode(out["gif"])
        return result

    def jdiagram(self, latents: Any, rows: int = 5, cols: int = 5, *, method: str = "slerp") -> dict[str, Any]:
        """The J-Diagram of three latents ``(3, D)`` -> ``{"image": sheet (C, H, W), "latents" (rows, cols, D)}``."""
        out = self.post("/v1/jdiagram", {"latents": np.asarray(latents, float).tolist(), "rows": rows, "cols": cols,
                                         "method": method})
        return {"image": b64_to_image(out["image"]), "latents": np.asarray(out["latents"], dtype=np.float32)}

    def mine(self, *, image: Any = None, latent: Any = None, rows: int = 5, cols: int = 5,
             spacing: int = 1) -> dict[str, Any]:
        """A MINE grid around an image or latent from the server's store."""
        out = self.post("/v1/mine", {**_source(image, latent), "rows": rows, "cols": cols, "spacing": spacing})
        return {"image": b64_to_image(out["image"]), "latents": np.asarray(out["latents"], dtype=np.float32),
                "anchor_ids": np.asarray(out["anchor_ids"], dtype=np.int64)}

    def score(self, *, image: Any = None, latent: Any = None, normalize: bool = False) -> dict[str, Any]:
        """AtDot scores of every loaded vector (``{"scores": {name: s}, "predictions": ...}``)."""
        return self.post("/v1/score", {**_source(image, latent), "normalize": normalize})

    def neighbors(self, *, image: Any = None, latent: Any = None, k: int = 10,
                  space: str = "cosine") -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest store rows -> ``(ids (k,), distances (k,))``."""
        out = self.post("/v1/neighbors", {**_source(image, latent), "k": k, "space": space})
        return np.asarray(out["ids"], dtype=np.int64), np.asarray(out["distances"], dtype=np.float32)

    def attributes(self) -> list[str]:
        """The names of the loaded vectors."""
        return list(self._call("GET", "/v1/attributes")["attributes"])

    def healthz(self) -> bool:
        """Whether the process answers."""
        return self._http.get("/healthz").status_code == 200

    def readyz(self) -> bool:
        """Whether the model is loaded and warmed up."""
        return self._http.get("/readyz").status_code == 200

    def metrics(self) -> str:
        """The Prometheus text of ``/metrics``."""
        return str(self._call("GET", "/metrics"))
