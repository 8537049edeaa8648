"""The measured reproductions, run end to end on a stand-in linear (PCA) model so they
are fast; the closing figures come from the shipped checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

import latentatlas as la
from latentatlas import experiments as ex


class PCAModel:
    """A linear autoencoder fitted by SVD: encode = projection on the top components."""

    def __init__(self, images: np.ndarray, dim: int):
        x = images.reshape(len(images), -1).astype(np.float64)
        self.mean = x.mean(0)
        _, _, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        self.W = vt[:dim]
        self.image_shape = images.shape[1:]
        self.latent_dim = dim
        self.prior = "gaussian"

    def encode(self, x):
        x = x.numpy() if hasattr(x, "numpy") else np.asarray(x)
        return ((x.reshape(len(x), -1) - self.mean) @ self.W.T).astype(np.float32)

    def decode(self, z):
        z = z.numpy() if hasattr(z, "numpy") else np.asarray(z)
        x = z.astype(np.float64) @ self.W + self.mean
        return np.clip(x.reshape((len(z),) + tuple(self.image_shape)), 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def shapes_model():
    data = la.data.make_shapes(1500, size=16, seed=5)
    return PCAModel(data.images, 48)


def test_correlated_labels_balanced_vector_drags_less_brightness(shapes_model):
    r = ex.correlated_labels(shapes_model, n=3000, correlation=0.8, seed=0, image_size=16)
    assert r["label_correlation"] > 0.6
    assert r["naive"]["size"] > 0 and r["balanced"]["size"] > 0
    assert abs(r["balanced"]["brightness"]) < abs(r["naive"]["brightness"])
    assert np.isfinite([v for side in ("naive", "balanced") for v in r[side].values()]).all()


def test_labelling_bias_synthetic_blur_changes_brightness_less(shapes_model):
    r = ex.labelling_bias(shapes_model, n=3000, correlation=-0.8, seed=1, image_size=16)
    assert r["labelled"]["brightness"] < 0  # the label's bias: blurry images are dark
    assert abs(r["synthetic"]["brightness"]) < abs(r["labelled"]["brightness"])
    # (A linear pixel-space model cannot sharpen or blur an object by addition, so the
    # sharpness changes are only checked on the shipped VAE, in the closing figures.)


def test_atdot_report_and_walks_on_digits(digits):
    model = PCAModel(digits.images[digits.split == "train"], 16)
    r = ex.atdot_report(model, digits)
    assert [row["attribute"] for row in r["rows"]] == [str(d) for d in range(10)] + ["average"]
    assert r["rows"][-1]["atdot"] > 0.85 and set(r["roc"]) == {str(d) for d in range(10)}
    assert "| average |" in r["table"]
    w = ex.centroid_walks(model, digits, alphas=[0.0, 0.5, 1.0])
    assert len(w["pairs"]) == 45 and w["images"].shape == (45, 3, 1, 8, 8)
    P = w["probabilities"]
    np.testing.assert_allclose(P.sum(-1), 1.0, rtol=1e-6)
    # The walk ends at class a's centroid, starts at class b's: the classifier agrees.
    assert np.mean([P[i, -1, a] > P[i, -1, b] for i, (a, b) in enumerate(w["pairs"])]) > 0.8
    assert np.mean([P[i, 0, b] > P[i, 0, a] for i, (a, b) in enumerate(w["pairs"])]) > 0.8
    m = ex.move_sample(model, digits, 7, (6, 0), alphas=[-1.0, 0.0, 1.0])
    assert m["images"].shape == (3, 1, 8, 8) and digits.classes[m["source_index"]] == 7
    assert m["probabilities"][-1, 0] > m["probabilities"][0, 0]  # towards 0 along 6 -> 0


def test_details_thresholds_and_factor_change(shapes_model, digits):
    r = ex.correlated_labels(shapes_model, n=600, correlation=0.8, seed=0, image_size=16, details=True)
    det = r["details"]
    assert set(det["vectors"]) == {"naive", "balanced"} and det["latents"].shape == (600, 48)
    assert det["train"].sum() + det["test"].sum() <= 600 and r["n_test"] == det["test"].sum()
    # factor_change is what the experiment reports, on the same latents and vector
    again = ex.factor_change(shapes_model, det["latents"][det["test"]], det["vectors"]["naive"], 1.0)
    assert again["size"] == pytest.approx(r["naive"]["size"]) and "hue" in again
    b = ex.labelling_bias(shapes_model, n=600, seed=1, image_size=16, details=True)
    assert set(b["details"]["vectors"]) == {"labelled", "synthetic"}
    assert "details" not in ex.correlated_labels(shapes_model, n=600, image_size=16)
    model = PCAModel(digits.images[digits.split == "train"], 16)
    rep = ex.atdot_report(model, digits)
    fitted = la.AtDot().fit(model.encode(digits.images[digits.split == "train"]),
                            digits.labels[digits.split == "train"], label_names=list(digits.label_names))
    assert rep["thresholds"] == pytest.approx(dict(zip(digits.label_names, fitted.thresholds.tolist())), rel=1e-5)
    z = det["latents"][:3]
    with pytest.raises(ValueError, match=r"z must be \(N, D\) with N >= 1"):
        ex.factor_change(shapes_model, z[:0], z[0], 1.0)
    with pytest.raises(ValueError, match=r"vector must be \(48,\)"):
        ex.factor_change(shapes_model, z, z[0, :5], 1.0)
    with pytest.raises(ValueError, match="strength must be finite"):
        ex.factor_change(shapes_model, z, z[0], float("nan"))


def test_experiment_errors(digits):
    model = PCAModel(digits.images, 8)
    with pytest.raises(ValueError, match="no centroid vector for classes"):
        ex.move_sample(model, digits, 7, (6, 11))
    with pytest.raises(ValueError, match="alphas must hold at least one value"):
        ex.centroid_walks(model, digits, alphas=[])
    with pytest.raises(TypeError, match="has no 'latent_dim' attribute"):
        ex.correlated_labels(object(), n=200)
    with pytest.raises(ValueError, match="asked for #999"):
        ex.move_sample(model, digits, 7, (6, 0), index=999)

