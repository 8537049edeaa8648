"""The ``latentatlas train`` subcommand: build a data set and a model, train, save a checkpoint."""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from ._common import add_data_arguments, add_parser, add_progress_argument, load_dataset, positive_int_list

MODELS = ("vae", "bigan", "naive-bayes")


def register(subparsers: Any) -> None:
    """Add the ``train`` subcommand to an argparse subparsers object."""
    p = add_parser(subparsers, "train", help="train a model and save a checkpoint",
                   description="Train a VAE, BiGAN or pixel Naive-Bayes model and save it "
                               "(safetensors + config.json recording this command and seed).",
                   examples=["latentatlas train --model vae --data digits --hidden 256,128 --latent-dim 20 "
                             "--epochs 300 --output my-digits-vae",
                             "latentatlas train --model bigan --data mnist --data-root ~/data/mnist --arch conv "
                             "--latent-dim 32 --output mnist-gan"])
    p.add_argument("--model", required=True, choices=MODELS, help="model type")
    add_data_arguments(p, required=True)
    p.add_argument("--output", "-o", required=True, type=Path, help="checkpoint folder to write")
    p.add_argument("--latent-dim", type=int, default=20)
    p.add_argument("--arch", choices=("mlp", "conv"), default="mlp")
    p.add_argument("--hidden", type=positive_int_list, help="layer widths / conv channels, e.g. 256,128")
    p.add_argument("--prior", choices=("uniform", "gaussian"), default="uniform", help="BiGAN prior")
    p.add_argument("--beta", type=float, default=1.0, help="VAE KL weight")
    p.add_argument("--likelihood", choices=("bernoulli", "gaussian"), default="bernoulli", help="VAE likelihood")
    p.add_argument("--sigma", type=float, default=0.1, help="VAE Gaussian likelihood standard deviation")
    p.add_argument("--dropout", type=float, default=0.2, help="BiGAN discriminator dropout")
    p.add_argument("--cycle-weight", type=float, default=1.0, help="BiGAN cycle-consistency weight (0 = plain BiGAN)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, help="learning rate (default 1e-3 VAE, 2e-4 BiGAN)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and batch order")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--threads", type=int, help="torch CPU threads (1 is fastest for small models on a busy machine)")
    add_progress_argument(p)
    p.set_defaults(handler=run)


def build_model(args: argparse.Namespace, image_shape: tuple[int, int, int], n_classes: int) -> Any:
    """The untrained model named by ``--model``, seeded with ``--seed``."""
    from ..models.bigan import BiGAN
    from ..models.naive_bayes import PixelNaiveBayes
    from ..models.vae import VAE

    if args.model == "vae":
        hidden = args.hidden or ((256, 128) if args.arch == "mlp" else (32, 64))
        return VAE(image_shape, args.latent_dim, arch=args.arch, hidden=hidden, beta=args.beta,
                   likelihood=args.likelihood, sigma=args.sigma, seed=args.seed)
    if args.model == "bigan":
        hidden = args.hidden or ((256, 256) if args.arch == "mlp" else (64, 128))
        return BiGAN(image_shape, args.latent_dim, prior=args.prior, arch=args.arch, hidden=hidden,
                     dropout=args.dropout, cycle_weight=args.cycle_weight, seed=args.seed)
    return PixelNaiveBayes(image_shape, n_classes)


def thin_history(history: list[dict[str, float]], keep: int = 40) -> list[dict[str, float]]:
    """At most ``keep`` evenly spaced epoch records (always the last), values to 6 significant digits."""
    step = max(1, -(-len(history) // keep))
    picked = history[::step] if history[-1] in history[::step] else history[::step] + [history[-1]]
    return [{k: float(f"{v:.6g}") for k, v in rec.items()} for rec in picked]


def run(args: argparse.Namespace) -> int:
    """Train and save; prints where the checkpoint went and the final metrics."""
    import torch

    from ..models.checkpoint import save

    if args.threads is not None:
        if args.threads <= 0:
            raise ValueError(f"--threads must be positive, got {args.threads}")
        torch.set_num_threads(args.threads)
    if args.output.exists() and not args.output.is_dir():
        raise ValueError(f"--output {str(args.output)!r} exists and is not a folder")
    if not args.output.resolve().parent.is_dir():
        raise ValueError(f"--output: directory {str(args.output.resolve().parent)!r} does not exist")
    dataset = load_dataset(args)
    n_classes = int(dataset.classes.max()) + 1 if dataset.classes is not None else 0
    if args.model == "naive-bayes" and not n_classes:
        raise ValueError(f"--model naive-bayes needs a data set with classes; {args.data} has none")
    model = build_model(args, dataset.image_shape, n_classes)
    fit_kwargs: dict[str, Any] = {"epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed,
                                  "device": args.device, "progress": not args.no_progress}
    if args.lr is not None:
        fit_kwargs["lr"] = args.lr
    start = time.perf_counter()
    history = model.fit(dataset, **fit_kwargs)
    seconds = time.perf_counter() - start
    argv = getattr(args, "argv", None) or sys.argv[1:]
    training = {
        "command": "latentatlas " + shlex.join(argv),
        "seed": args.seed,
        "data": {"name": dataset.name, "n": len(dataset), "seed": args.data_seed, "image_shape": list(dataset.image_shape)},
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "final_metrics": history[-1],
        "history": thin_history(history),
        "seconds": round(seconds, 1),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    path = save(model, args.output, training=training)
    final = ", ".join(f"{k}={v:.4g}" for k, v in history[-1].items() if k not in ("epoch", "seconds"))
    print(f"trained {args.model} on {dataset.name} in {seconds:.1f}s: {final}")
    print(f"wrote {path}")
    return 0
