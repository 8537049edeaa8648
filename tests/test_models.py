"""Models: protocol plumbing, wrap, VAE / BiGAN training on tiny configs, Naive Bayes vs scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import latentatlas as la
from latentatlas.data import Dataset
from latentatlas.models import BiGAN, PixelNaiveBayes, TrainingDivergedError, VAE
from latentatlas.models.nets import ImageDecoder, ImageEncoder


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def small_digits(digits) -> Dataset:
    keep = np.concatenate([np.flatnonzero(digits.split == s)[:n] for s, n in (("train", 192), ("valid", 64), ("test", 32))])
    return digits.subset(keep)


# ----------------------------------------------------------------------------- protocol and wrap


def test_models_follow_the_protocol():
    for model in (VAE((1, 8, 8), 4), BiGAN((1, 8, 8), 4), PixelNaiveBayes((1, 8, 8), 3)):
        assert isinstance(model, la.models.GenerativeModel)
        assert model.prior in ("gaussian", "uniform")
    assert BiGAN((1, 8, 8), 4, prior="gaussian").prior == "gaussian"


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 64, 64), (3, 12, 20), (1, 5, 5)])
def test_conv_nets_handle_every_image_size(shape):
    enc = ImageEncoder(shape, 6, arch="conv", hidden=(4, 8))
    dec = ImageDecoder(shape, 6, arch="conv", hidden=(4, 8))
    x = torch.rand(2, *shape)
    assert enc(x).shape == (2, 6)
    assert dec(enc(x)).shape == (2, *shape)


def test_encode_decode_kinds_batches_and_inference_mode(digits):
    model = VAE((1, 8, 8), 5, seed=0)
    x = digits.images[:37]
    z_np = model.encode(x, batch_size=10)
    assert isinstance(z_np, np.ndarray) and z_np.shape == (37, 5) and z_np.dtype == np.float32
    z_t = model.encode(torch.from_numpy(x).double())
    assert isinstance(z_t, torch.Tensor) and z_t.dtype == torch.float64 and not z_t.requires_grad
    np.testing.assert_allclose(z_t.numpy(), z_np, rtol=1e-5, atol=1e-6)
    # Batched results equal one big batch, and equal the underlying network's output.
    with torch.no_grad():
        ref = model.encoder(torch.from_numpy(x)).chunk(2, dim=1)[0].numpy()
    np.testing.assert_allclose(z_np, ref, rtol=1e-5, atol=1e-6)
    imgs = model.decode(z_np)
    assert imgs.shape == (37, 1, 8, 8) and imgs.min() >= 0 and imgs.max() <= 1
    assert model.decode(np.zeros((0, 5), np.float32)).shape == (0, 1, 8, 8)
    assert model.reconstruct(x[:3]).shape == (3, 1, 8, 8)
    assert model.training  # inference calls leave the mode as it was
    s1, s2 = model.sample(4, seed=1), model.sample(4, seed=1)
    assert torch.equal(s1, s2) and s1.shape == (4, 1, 8, 8)


def test_seeded_construction_is_deterministic_and_leaves_global_rng():
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    a, b = VAE((1, 8, 8), 3, seed=7), VAE((1, 8, 8), 3, seed=7)
    assert torch.rand(1) == before
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda m: m.encode(np.zeros((2, 1, 8, 7), np.float32)), ValueError, r"x must have shape \(N, 1, 8, 8\), got \(2, 1, 8, 7\)"),
        (lambda m: m.encode(np.zeros((1, 8, 8), np.float32)), ValueError, "x must have shape"),
        (lambda m: m.encode(np.full((1, 1, 8, 8), np.nan, np.float32)), ValueError, "x contains NaN"),
        (lambda m: m.encode([[0.0]]), TypeError, "numpy array or torch tensor"),
        (lambda m: m.encode(np.full((1, 1, 8, 8), 255, np.uint8)), ValueError, r"values in \[0, 1\], got range \[255, 255\]"),
        (lambda m: m.encode(np.zeros((1, 1, 8, 8), dtype=bool)), TypeError, "numeric array"),
        (lambda m: m.encode(torch.zeros(1, 1, 8, 8, dtype=torch.complex64)), TypeError, "real numeric tensor"),
        (lambda m: m.decode(np.zeros((2, 4), np.float32)), ValueError, r"z must have shape \(N, 3\)"),
        (lambda m: m.decode(torch.tensor([[float("inf"), 0.0, 0.0]])), ValueError, "z contains NaN"),
        (lambda m: m.decode(np.zeros((2, 3), np.float32), batch_size=0), ValueError, "batch_size must be >= 1, got 0"),
        (lambda m: m.decode(np.zeros((2, 3), np.float32), batch_size=2.0), TypeError, "batch_size must be an int"),
        (lambda m: m.sample(0), ValueError, "n must be >= 1, got 0"),
        (lambda m: m.sample(True), TypeError, "n must be an int, got bool"),
    ],
)
def test_encode_decode_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(VAE((1, 8, 8), 3))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: VAE((2, 8, 8), 3), "1 or 3 channels"),
        (lambda: VAE((1, 8), 3), r"image_shape must be \(C, H, W\)"),
        (lambda: VAE((1, 8, 8), 0), "latent_dim must be >= 1, got 0"),
        (lambda: VAE((1, 8, 8), 3, arch="rnn"), "arch must be 'mlp' or 'conv'"),
        (lambda: VAE((1, 8, 8), 3, hidden=()), "hidden must be a non-empty"),
        (lambda: VAE((1, 8, 8), 3, beta=-1.0), "beta must be a non-negative"),
        (lambda: VAE((1, 8, 8), 3, likelihood="poisson"), "likelihood must be 'bernoulli' or 'gaussian'"),
        (lambda: VAE((1, 8, 8), 3, likelihood="gaussian", sigma=0.0), r"sigma must be a number in \(0, 1\]"),
        (lambda: BiGAN((1, 8, 8), 3, prior="laplace"), "prior must be one of"),
        (lambda: BiGAN((1, 8, 8), 3, dropout=1.0), "dropout must be a number"),
        (lambda: BiGAN((1, 8, 8), 3, cycle_weight=-0.5), "cycle_weight must be a number"),
        (lambda: PixelNaiveBayes((1, 8, 8), 0), "n_classes must be >= 1, got 0"),
        (lambda: PixelNaiveBayes((1, 8, 8), 3, var_smoothing=0.0), "var_smoothing must be a positive"),
    ],
)
def test_constructor_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_wrap_modules_and_callables():
    enc = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    dec = nn.Sequential(nn.Linear(2, 12), nn.Tanh(), nn.Unflatten(1, (3, 2, 2)))
    model = la.models.wrap(enc, dec, 2, "gaussian", image_shape=(3, 2, 2), output_range=(-1, 1))
    assert isinstance(model, la.models.GenerativeModel)
    x = torch.rand(5, 3, 2, 2)
    z = model.encode(x)
    with torch.no_grad():
        np.testing.assert_allclose(z.numpy(), enc(x).numpy(), rtol=1e-6)
        np.testing.assert_allclose(model.decode(z).numpy(), (dec(z).numpy() + 1) / 2, rtol=1e-5, atol=1e-6)
    assert sum(1 for _ in model.parameters()) == 4  # modules are registered, so .to() moves them
    # A decoder-only callable (a plain GAN) has no encoder.
    gan = la.models.wrap(None, lambda z: torch.sigmoid(z.sum(1)).view(-1, 1, 1, 1).expand(-1, 1, 2, 2), 4, "uniform",
                         image_shape=(1, 2, 2))
    assert gan.decode(np.zeros((3, 4), np.float32)).shape == (3, 1, 2, 2)
    with pytest.raises(TypeError, match="has no encoder"):
        gan.encode(np.zeros((1, 1, 2, 2), np.float32))


def test_wrap_errors():
    dec = lambda z: torch.zeros(z.shape[0], 1, 2, 2)  # noqa: E731
    with pytest.raises(TypeError, match="decoder must be callable"):
        la.models.wrap(None, 3, 2, "gaussian", image_shape=(1, 2, 2))
    with pytest.raises(TypeError, match="encoder must be callable"):
        la.models.wrap("enc", dec, 2, "gaussian", image_shape=(1, 2, 2))
    with pytest.raises(ValueError, match="prior must be one of"):
        la.models.wrap(None, dec, 2, "cauchy", image_shape=(1, 2, 2))
    with pytest.raises(ValueError, match="output_range"):
        la.models.wrap(None, dec, 2, "gaussian", image_shape=(1, 2, 2), output_range=(1, 1))
    with pytest.raises(ValueError, match="unknown device"):
        la.models.wrap(None, dec, 2, "gaussian", image_shape=(1, 2, 2), device="tpu:x")
    bad = la.models.wrap(lambda x: torch.zeros(x.shape[0], 3), lambda z: torch.zeros(z.shape[0], 1, 3, 3), 2,
                         "gaussian", image_shape=(1, 2, 2))
    with pytest.raises(ValueError, match=r"wrapped encoder returned shape \(1, 3\), expected \(1, 2\)"):
        bad.encode(np.zeros((1, 1, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"wrapped decoder returned shape \(1, 1, 3, 3\), expected \(1, 1, 2, 2\)"):
        bad.decode(np.zeros((1, 2), np.float32))
    nan = la.models.wrap(lambda x: torch.full((x.shape[0], 2), float("nan")),
                         lambda z: torch.full((z.shape[0], 1, 2, 2), float("nan")), 2, "gaussian")
    with pytest.raises(ValueError, match="wrapped encoder returned NaN"):
        nan.encode(np.zeros((1, 1, 2, 2), np.float32))
    with pytest.raises(ValueError, match="wrapped decoder returned NaN"):
        nan.decode(np.zeros((1, 2), np.float32))
    flat = la.models.wrap(None, lambda z: z, 2, "gaussian")
    with pytest.raises(ValueError, match=r"returned shape \(1, 2\), expected \(N, C, H, W\)"):
        flat.decode(np.zeros((1, 2), np.float32))


def test_wrap_learns_the_image_shape():
    model = la.models.wrap(nn.Flatten(), lambda z: z.view(-1, 3, 2, 2), 12, "gaussian")
    assert model.image_shape is None
    assert model.decode(torch.rand(2, 12)).shape == (2, 3, 2, 2)
    assert model.image_shape == (3, 2, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3, 2, 2\)"):
        model.encode(torch.rand(1, 3, 4, 4))
    enc_first = la.models.wrap(nn.Flatten(), lambda z: z.view(-1, 1, 2, 2), 4, "uniform")
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, H, W\), got \(4,\)"):
        enc_first.encode(np.zeros(4, np.float32))
    assert enc_first.encode(torch.rand(3, 1, 2, 2)).shape == (3, 4) and enc_first.image_shape == (1, 2, 2)


def test_resolve_device():
    assert la.models.resolve_device("cpu").type == "cpu"
    assert la.models.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            la.models.resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_models_run_on_cuda(small_digits):
    model = VAE((1, 8, 8), 4, seed=0)
    model.fit(small_digits, epochs=1, device="cuda", progress=False)
    assert model.device.type == "cuda"
    z = model.encode(torch.from_numpy(small_digits.images[:4]))
    assert z.device.type == "cpu"  # results come back on the caller's device
    assert model.encode(torch.from_numpy(small_digits.images[:4]).cuda()).device.type == "cuda"


# ----------------------------------------------------------------------------- training


@pytest.mark.parametrize("arch, hidden, epochs", [("mlp", (64, 32), 6), ("conv", (8,), 12)])
def test_vae_training_lowers_the_loss(small_digits, arch, hidden, epochs):
    model = VAE((1, 8, 8), 6, arch=arch, hidden=hidden, seed=0)
    history = model.fit(small_digits, epochs=epochs, batch_size=32, lr=3e-3, seed=0, progress=False)
    assert len(history) == epochs
    assert history[-1]["loss"] < 0.85 * history[0]["loss"]
    assert history[-1]["valid_elbo"] > history[0]["valid_elbo"]
    assert {"recon", "kl", "valid_recon", "valid_kl", "valid_mse", "seconds"} <= set(history[-1])
    # Same seed, same run.
    again = VAE((1, 8, 8), 6, arch=arch, hidden=hidden, seed=0).fit(small_digits, epochs=epochs, batch_size=32, lr=3e-3,
                                                                    seed=0, progress=False)
    assert again[-1]["loss"] == pytest.approx(history[-1]["loss"], rel=1e-5)


def test_vae_loss_matches_reference_formula():
    model = VAE((1, 2, 2), 2, hidden=(4,), seed=0)
    x = torch.rand(3, 1, 2, 2)
    with torch.no_grad():
        out = model.losses(x, sample=False)
        mu, logvar = model.posterior(x)
        p = torch.sigmoid(model.decoder(mu)).double()
    xd = x.double()
    recon = -(xd * torch.log(p) + (1 - xd) * torch.log(1 - p)).sum() / 3
    kl = 0.5 * (mu.double() ** 2 + logvar.double().exp() - 1 - logvar.double()).sum() / 3
    assert float(out["recon"]) == pytest.approx(float(recon), rel=1e-4)
    assert float(out["kl"]) == pytest.approx(float(kl), rel=1e-4)


def test_vae_gaussian_likelihood_matches_reference_formula():
    model = VAE((3, 2, 2), 2, hidden=(4,), likelihood="gaussian", sigma=0.2, seed=0)
    x = torch.rand(5, 3, 2, 2)
    with torch.no_grad():
        out = model.losses(x, sample=False)
        mean = torch.sigmoid(model.decoder(model.posterior(x)[0])).double()
    sq = ((x.double() - mean) ** 2).sum() / 5
    ref = float(sq / (2 * 0.2**2) + 12 * np.log(0.2 * np.sqrt(2 * np.pi)))
    assert float(out["recon"]) == pytest.approx(ref, rel=1e-5)
    assert model.config()["likelihood"] == "gaussian" and model.config()["sigma"] == 0.2


def test_bigan_training_lowers_reconstruction_error(small_digits):
    model = BiGAN((1, 8, 8), 6, hidden=(32, 32), seed=0)
    history = model.fit(small_digits, epochs=6, batch_size=32, lr=2e-3, seed=0, progress=False, eval_every=3)
    assert "valid_d_acc" not in history[0] and "valid_d_acc" in history[2]
    assert history[-1]["cycle"] < 0.7 * history[0]["cycle"]
    assert history[-1]["valid_recon_mse"] < 0.1
    assert 0.0 <= history[-1]["valid_d_acc"] <= 1.0
    z = model.encode(small_digits.images[:8])
    assert np.abs(z).max() <= 1.0  # the uniform prior's encoder ends in tanh


def test_training_stops_on_nan_with_a_clear_message(small_digits):
    model = VAE((1, 8, 8), 3, hidden=(16,), seed=0)
    with torch.no_grad():
        model.decoder.body[0].weight.fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match=r"training diverged: loss=nan.* at epoch 1, step 1; try a lower learning rate"):
        model.fit(small_digits, epochs=2, progress=False)


def test_fit_errors(small_digits):
    with pytest.raises(TypeError, match="latentatlas Dataset"):
        VAE((1, 8, 8), 3).fit(small_digits.images)
    with pytest.raises(ValueError, match=r"expects images of shape \(1, 28, 28\)"):
        VAE((1, 28, 28), 3).fit(small_digits)
    with pytest.raises(ValueError, match="epochs must be >= 1, got 0"):
        VAE((1, 8, 8), 3).fit(small_digits, epochs=0, progress=False)
    no_train = small_digits.subset(small_digits.split != "train")
    with pytest.raises(ValueError, match="has no 'train' images"):
        BiGAN((1, 8, 8), 3).fit(no_train, progress=False)


# ----------------------------------------------------------------------------- Naive Bayes


def test_naive_bayes_matches_sklearn(digits):
    from sklearn.naive_bayes import GaussianNB

    nb = PixelNaiveBayes((1, 8, 8), 10, var_smoothing=1e-2)
    record = nb.fit(digits)[0]
    train = digits.split == "train"
    x = digits.images.reshape(len(digits), -1)
    x = x.astype(np.float64)  # a float64 reference: GaussianNB computes in the input's precision
    ref = GaussianNB(var_smoothing=1e-2).fit(x[train], digits.classes[train])
    np.testing.assert_allclose(nb.means.numpy(), ref.theta_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(nb.variances.numpy(), ref.var_, rtol=1e-5)
    np.testing.assert_allclose(nb.predict_log_proba(digits.images[:50]), ref.predict_log_proba(x[:50]), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(nb.predict(digits.images), ref.predict(x))
    assert record["valid_acc"] > 0.8
    # Its latent space is pixel space.
    np.testing.assert_array_equal(nb.encode(digits.images[:3]), x[:3])
    np.testing.assert_array_equal(nb.decode(x[:3]), digits.images[:3])


def test_naive_bayes_sampling(digits):
    nb = PixelNaiveBayes((1, 8, 8), 10)
    nb.fit(digits)
    samples = nb.sample_class(3, 2000, seed=0)
    assert samples.shape == (2000, 1, 8, 8) and samples.min() >= 0 and samples.max() <= 1
    # Before clipping, sample means approach the class mean; compare where clipping is rare.
    mean = nb.means[3].reshape(1, 8, 8)
    centre = (mean > 0.35) & (mean < 0.65)
    np.testing.assert_allclose(samples.mean(0)[centre], mean[centre], atol=0.06)
    assert torch.equal(nb.sample(5, seed=2), nb.sample(5, seed=2))
    with pytest.raises(ValueError, match=r"class_id must be in \[0, 9\], got 10"):
        nb.sample_class(10, 1)
    with pytest.raises(TypeError, match="class_id must be an int, got float"):
        nb.sample_class(3.0, 1)


def test_naive_bayes_errors(digits):
    with pytest.raises(ValueError, match="needs class ids"):
        PixelNaiveBayes((3, 32, 32), 2).fit(la.data.make_shapes(10, seed=0))
    with pytest.raises(ValueError, match=r"class ids must be in \[0, 5\)"):
        PixelNaiveBayes((1, 8, 8), 5).fit(digits)
    only_some = digits.subset(digits.classes < 9)
    with pytest.raises(ValueError, match=r"classes \[9\] have no training images"):
        PixelNaiveBayes((1, 8, 8), 10).fit(only_some)
