"""Checkpoints (safetensors + JSON, no pickles), the shipped models, and the ``train`` CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import latentatlas as la
from latentatlas.cli import main
from latentatlas.models import BiGAN, PixelNaiveBayes, VAE


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(
    "make",
    [
        lambda: VAE((1, 8, 8), 5, hidden=(16,), seed=1),
        lambda: VAE((3, 12, 10), 4, arch="conv", hidden=(4, 8), beta=0.5, likelihood="gaussian", sigma=0.07, seed=1),
        lambda: BiGAN((1, 8, 8), 3, prior="gaussian", hidden=(8, 8), cycle_weight=0.0, seed=1),
        lambda: PixelNaiveBayes((1, 8, 8), 10, var_smoothing=0.05),
    ],
)
def test_save_load_round_trip(tmp_path, make):
    model = make()
    path = la.models.save(model, tmp_path / "ck", training={"seed": 1, "command": "test"})
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "weights.safetensors"]
    back = la.models.load(path)
    assert type(back) is type(model) and back.config() == model.config()
    for (k, a), (_, b) in zip(model.state_dict().items(), back.state_dict().items()):
        assert torch.equal(a, b), k
    z = np.random.default_rng(0).standard_normal((3, model.latent_dim)).astype(np.float32)
    np.testing.assert_array_equal(back.decode(z), model.decode(z))
    assert back.meta["training"] == {"seed": 1, "command": "test"}
    # Either file inside the folder names the checkpoint too.
    assert type(la.models.load(path / "config.json")) is type(model)
    assert type(la.models.load(str(path / "weights.safetensors"))) is type(model)


def test_save_replaces_existing_folder_and_leaves_no_temp(tmp_path):
    la.models.save(VAE((1, 8, 8), 2, hidden=(4,)), tmp_path / "ck")
    la.models.save(VAE((1, 8, 8), 3, hidden=(4,)), tmp_path / "ck")
    assert la.models.load(tmp_path / "ck").latent_dim == 3
    assert os.listdir(tmp_path) == ["ck"]


def test_save_errors(tmp_path):
    wrapped = la.models.wrap(None, lambda z: z.view(-1, 1, 1, 1), 1, "gaussian", image_shape=(1, 1, 1))
    with pytest.raises(TypeError, match="only built-in latentatlas models"):
        la.models.save(wrapped, tmp_path / "w")
    with pytest.raises(ValueError, match="directory .* does not exist"):
        la.models.save(VAE((1, 8, 8), 2), tmp_path / "a" / "b")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        la.models.save(VAE((1, 8, 8), 2), tmp_path / "file")


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    return la.models.save(VAE((1, 8, 8), 4, hidden=(8,), seed=0), tmp_path / "ck")


def _edit_config(path: Path, fn) -> None:
    cfg = json.loads((path / "config.json").read_text())
    fn(cfg)
    (path / "config.json").write_text(json.dumps(cfg))


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda c: c.update(format="other"), "not a latentatlas checkpoint config"),
        (lambda c: c.update(version=7), "unsupported checkpoint version 7"),
        (lambda c: c["model"].update(type="flow"), "unknown model type 'flow'"),
        (lambda c: c.update(model=[1, 2]), "unknown model type"),
        (lambda c: c["model"].pop("image_shape"), r"missing fields \['image_shape'\]"),
        (lambda c: c["model"].update(colour="red"), r"unexpected fields \['colour'\]"),
        (lambda c: c["model"].update(latent_dim=-2), "latent_dim must be >= 1, got -2"),
        (lambda c: c["model"].update(latent_dim="4"), "latent_dim must be an int, got str"),
        (lambda c: c["model"].update(arch="rnn"), "arch must be 'mlp' or 'conv'"),
        (lambda c: c["model"].update(image_shape=[1, 8]), r"image_shape must be \(C, H, W\)"),
        (lambda c: c["model"].update(latent_dim=5), r"tensor 'encoder.body.1.2.weight' has shape \(8, 8\)"),
        (lambda c: c["model"].update(hidden=[8, 8]), "missing tensors"),
        (lambda c: c.update(training=3), "'training' must be an object"),
    ],
)
def test_load_rejects_bad_configs(checkpoint, fn, match):
    _edit_config(checkpoint, fn)
    with pytest.raises(ValueError, match=match):
        la.models.load(checkpoint)


def test_load_rejects_bad_weights(checkpoint):
    weights = checkpoint / "weights.safetensors"
    tensors = load_file(str(weights))
    key = "decoder.body.0.weight"
    save_file({**tensors, key: tensors[key].double()}, str(weights))
    with pytest.raises(ValueError, match=f"tensor '{key}' has shape .*float64"):
        la.models.load(checkpoint)
    save_file({**tensors, key: torch.full_like(tensors[key], float("nan"))}, str(weights))
    with pytest.raises(ValueError, match=f"tensor '{key}' contains NaN"):
        la.models.load(checkpoint)
    save_file({**tensors, "extra": torch.zeros(1)}, str(weights))
    with pytest.raises(ValueError, match=r"unexpected tensors \['extra'\]"):
        la.models.load(checkpoint)
    weights.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json header}")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        la.models.load(checkpoint)
    weights.write_bytes(weights.read_bytes()[:5])
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        la.models.load(checkpoint)
    weights.unlink()
    with pytest.raises(ValueError, match="has no weights.safetensors"):
        la.models.load(checkpoint)
    (checkpoint / "config.json").write_text("{oops")
    with pytest.raises(ValueError, match="is not valid JSON"):
        la.models.load(checkpoint)
    (checkpoint / "config.json").unlink()
    with pytest.raises(ValueError, match="has no config.json"):
        la.models.load(checkpoint)


def test_load_refuses_pickles(tmp_path):
    model = VAE((1, 8, 8), 2, hidden=(4,))
    torch.save(model.state_dict(), tmp_path / "model.pt")  # zip-based pickle
    with pytest.raises(ValueError, match="pickled .* never unpickles"):
        la.models.load(tmp_path / "model.pt")
    import pickle

    (tmp_path / "model.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="pickled"):
        la.models.load(tmp_path / "model.pkl")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match="not a checkpoint folder"):
        la.models.load(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match=r"no checkpoint at .* \(shipped names: digits-vae"):
        la.models.load("digits-vea")
    with pytest.raises(TypeError, match="shipped name or a path"):
        la.models.load(42)


# ----------------------------------------------------------------------------- CLI


def test_cli_train_writes_a_loadable_checkpoint(tmp_path, capsys):
    out = tmp_path / "ck"
    argv = ["train", "--model", "vae", "--data", "digits", "--latent-dim", "4", "--hidden", "16",
            "--epochs", "2", "--seed", "3", "--output", str(out), "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "valid_elbo=" in printed
    model = la.models.load(out)
    training = model.meta["training"]
    assert training["command"] == "latentatlas " + " ".join(argv)
    assert training["seed"] == 3 and len(training["history"]) == 2
    assert training["final_metrics"]["valid_elbo"] < 0
    # The recorded seed makes the run reproducible.
    assert main([*argv[:-3], "--output", str(tmp_path / "again"), "--no-progress"]) == 0
    again = la.models.load(tmp_path / "again")
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_cli_train_other_models_and_data(tmp_path, capsys):
    assert main(["train", "--model", "naive-bayes", "--data", "digits", "-o", str(tmp_path / "nb"), "--no-progress"]) == 0
    assert isinstance(la.models.load(tmp_path / "nb"), PixelNaiveBayes)
    assert main(["train", "--model", "bigan", "--data", "shapes", "--n", "40", "--image-size", "12", "--arch", "conv",
                 "--hidden", "4", "--latent-dim", "3", "--epochs", "1", "-o", str(tmp_path / "g"), "--no-progress"]) == 0
    assert la.models.load(tmp_path / "g").image_shape == (3, 12, 12)


@pytest.mark.parametrize(
    "argv, code, match",
    [
        (["train", "--model", "vae"], 2, "the following arguments are required: --data"),
        (["train", "--model", "flow", "--data", "digits", "-o", "x"], 2, "invalid choice: 'flow'"),
        (["train", "--model", "vae", "--data", "digits", "-o", "x", "--hidden", "8,-1"], 2, "positive integers"),
        (["bogus"], 2, "invalid choice: 'bogus'"),
        ([], 2, "required: COMMAND"),
        (["train", "--model", "vae", "--data", "mnist", "-o", "OUT"], 1, "--data mnist needs --data-root"),
        (["train", "--model", "vae", "--data", "folder", "--data-root", ".", "-o", "OUT"], 1, "needs --labels-csv"),
        (["train", "--model", "vae", "--data", "mnist", "--data-root", "NOPE", "-o", "OUT"], 1, "MNIST folder .* does not exist"),
        (["train", "--model", "naive-bayes", "--data", "shapes", "--n", "5", "-o", "OUT"], 1, "needs a data set with classes"),
        (["train", "--model", "vae", "--data", "digits", "--epochs", "0", "-o", "OUT"], 1, "epochs must be >= 1, got 0"),
        (["train", "--model", "vae", "--data", "digits", "--threads", "0", "-o", "OUT"], 1, "--threads must be positive"),
        (["train", "--model", "vae", "--data", "digits", "-o", "NODIR/sub/ck"], 1, "--output: directory .* does not exist"),
        (["train", "--model", "vae", "--data", "digits", "--device", "cuda:99", "--epochs", "1", "-o", "OUT"], 1, "device"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, argv, code, match):
    argv = [a.replace("OUT", str(tmp_path / "out")).replace("NOPE", str(tmp_path / "nope")).replace("NODIR", str(tmp_path / "nodir")) for a in argv]
    if "cuda:99" in argv and torch.cuda.device_count() > 99:
        pytest.skip("machine has 100 GPUs")
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    import re

    assert re.search(match, err), err


def test_cli_help_exits_zero(capsys):
    assert main(["train", "--help"]) == 0
    assert "--latent-dim" in capsys.readouterr().out
