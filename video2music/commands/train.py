"""``train.py``: train the chord transformer or the regression (one process, or several via torchrun)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from video2music.errors import cli_main
from video2music.model.inputs import INPUT_ORDER
from video2music.training import SIZES, TASKS, TrainOptions, train


def parse_args(argv: Sequence[str] | None) -> TrainOptions:
    p = argparse.ArgumentParser(
        prog="train.py",
        description="Train on MuVi-Sync (a folder in its layout or a .npz from pack). Writes best.pt, "
        "state.pt (for --resume), log.csv and log.json to --out. For several GPUs or machines, launch "
        "with torchrun, e.g. torchrun --nproc_per_node 4 train.py ... --device cuda.",
    )
    p.add_argument("--data", required=True, help="MuVi-Sync folder or packed .npz")
    p.add_argument("--out", required=True, help="run folder (created if missing)")
    p.add_argument(
        "--task", choices=TASKS, default="amt", help="amt: chords; regression: note density, loudness"
    )
    p.add_argument("--epochs", type=int, default=20, help="train until this epoch (default 20)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, help="peak learning rate (default: the reference warm-up schedule's)")
    p.add_argument("--warmup", type=int, default=4000, help="optimiser steps of warm-up (default 4000)")
    p.add_argument(
        "--size", choices=SIZES, default="full", help="model size (default full: the published one)"
    )
    p.add_argument("--layers", type=int, help="encoder and decoder layers (regression: GRU layers)")
    p.add_argument("--d-model", type=int, help="transformer width")
    p.add_argument("--heads", type=int, help="attention heads")
    p.add_argument("--ff", type=int, help="feed-forward width")
    p.add_argument("--hidden", type=int, help="regression GRU width")
    p.add_argument("--dropout", type=float)
    p.add_argument(
        "--inputs",
        default=",".join(INPUT_ORDER),
        help=f"features the model takes, comma-separated (default {','.join(INPUT_ORDER)}; "
        "leave out semantic for data without CLIP features)",
    )
    p.add_argument("--lambda", dest="lam", type=float, default=0.4, help="chord CE weight vs affective BCE")
    p.add_argument("--window", type=int, default=300, help="seconds per training window (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="data loader processes")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--clip", type=float, default=1.0, help="gradient norm clipping")
    p.add_argument("--save-every", type=int, default=0, help="also keep the model every N epochs")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    p.add_argument("--overwrite", action="store_true", help="start over in a run folder that holds a run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    return TrainOptions(
        data=args.data,
        out=args.out,
        task=args.task,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup=args.warmup,
        size=args.size,
        layers=args.layers,
        d_model=args.d_model,
        heads=args.heads,
        ff=args.ff,
        hidden=args.hidden,
        dropout=args.dropout,
        inputs=tuple(name.strip() for name in args.inputs.split(",") if name.strip()),
        lam=args.lam,
        window=args.window,
        seed=args.seed,
        workers=args.workers,
        device=args.device,
        clip=args.clip,
        save_every=args.save_every,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )


@cli_main
def main(argv: Sequence[str] | None = None) -> int:
    result = train(parse_args(argv))
    if result["main"]:
        print(f"best validation loss {result['best_val_loss']:.4f}; model in {result['out']}/best.pt")
    return 0
