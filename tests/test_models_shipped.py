"""The shipped checkpoints: present, small, loadable, recorded provenance, and (quickly) up to the quality bars."""

from __future__ import annotations

import pytest

import latentatlas as la
from latentatlas.models import BiGAN, VAE

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(
    "name, cls, shape",
    [("digits-vae", VAE, (1, 8, 8)), ("digits-gan", BiGAN, (1, 8, 8)), ("shapes-vae", VAE, (3, 32, 32))],
)
def test_shipped_checkpoints(name, cls, shape):
    folder = la.models.checkpoint.SHIPPED_DIR / name
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 5 * 2**20
    model = la.models.load(name)
    assert type(model) is cls and model.image_shape == shape
    training = model.meta["training"]
    assert training["command"].startswith("latentatlas train ")
    assert f"--seed {training['seed']}" in training["command"]
    assert model.decode(model.sample_latents(4, seed=0)).shape == (4, *shape)


def test_shipped_digits_vae_reconstructs(digits):
    """A quick version of the quality bar (the full one is ``latentatlas quality``)."""
    from latentatlas.models.quality import digit_classifier, reconstruction_accuracy

    clf = digit_classifier(digits)
    assert reconstruction_accuracy(la.models.load("digits-vae"), digits, clf) >= 0.85
    assert reconstruction_accuracy(la.models.load("digits-gan"), digits, clf) >= 0.6


def test_shipped_shapes_vae_recovers_factors():
    from latentatlas.models.quality import shapes_factor_correlations

    r = shapes_factor_correlations(la.models.load("shapes-vae"), la.data.make_shapes(300, seed=777))
    assert min(r["size"], r["brightness"], r["x"]) >= 0.9, r


def test_quality_sheet_png(tmp_path):
    from PIL import Image

    from latentatlas.models.quality import image_sheet_png

    path = image_sheet_png(la.models.load("digits-gan").sample(12, seed=0), tmp_path / "s.png", cols=5, scale=2)
    with Image.open(path) as img:
        assert img.size == (2 * (5 * 9 + 1), 2 * (3 * 9 + 1))

