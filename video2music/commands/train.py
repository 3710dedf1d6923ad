"""``train.py``: train the chord transformer or the regression (one process, or several via torchrun)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from video2music.model.inputs import INPUT_ORDER
from video2music.training.options import REFERENCE_WARMUP, SIZES, TASKS, WARMUP_SHARE, TrainOptions
from video2music.utils.errors import ArgumentParser, UserError, cli_main

# The command line's defaults are the library's, so the two cannot drift apart.
DEFAULTS = {f.name: f.default for f in fields(TrainOptions)}


def parse_args(argv: Sequence[str] | None) -> TrainOptions:
    p = ArgumentParser(
        prog="train.py",
        description="Train on MuVi-Sync (a folder in its layout or a .npz from pack), or the melody model "
        "on POP909 (its raw folder or dataset/pop909_derived.tsv.gz). Writes best.pt, "
        "state.pt (for --resume), log.csv and log.json to --out. For several GPUs or machines, launch "
        "with torchrun, e.g. torchrun --nproc_per_node 4 train.py ... --device cuda.",
    )
    p.add_argument("--data", required=True, help="MuVi-Sync folder or packed .npz")
    p.add_argument("--out", required=True, help="run folder (created if missing)")
    p.add_argument(
        "--task",
        choices=TASKS,
        default=DEFAULTS["task"],
        help="amt: chords; regression: note density, loudness; melody: the lead line (--data: POP909)",
    )
    p.add_argument(
        "--epochs", type=int, default=DEFAULTS["epochs"], help="train until this epoch (default %(default)s)"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULTS["batch_size"],
        help=f"videos per step (default {DEFAULTS['batch_size']})",
    )
    p.add_argument("--lr", type=float, help="peak learning rate (default: the reference warm-up schedule's)")
    p.add_argument(
        "--warmup",
        type=int,
        default=DEFAULTS["warmup"],
        help=f"optimiser steps of warm-up (default: the reference's {REFERENCE_WARMUP}, or "
        f"{WARMUP_SHARE * 100:g}%% of the run's steps when that is fewer, so a short run learns too)",
    )
    p.add_argument(
        "--size", choices=SIZES, default=DEFAULTS["size"], help="model size (default full: the published one)"
    )
    p.add_argument("--layers", type=int, help="encoder and decoder layers (regression: GRU layers)")
    p.add_argument("--d-model", type=int, help="transformer width")
    p.add_argument("--heads", type=int, help="attention heads")
    p.add_argument("--ff", type=int, help="feed-forward width")
    p.add_argument("--hidden", type=int, help="regression GRU width")
    p.add_argument("--dropout", type=float, help="dropout rate, 0-1 (default: the --size preset's)")
    p.add_argument(
        "--inputs",
        default=",".join(INPUT_ORDER),
        help=f"features the model takes, comma-separated (default {','.join(INPUT_ORDER)}; "
        "leave out semantic for data without CLIP features)",
    )
    p.add_argument(
        "--lambda", dest="lam", type=float, default=DEFAULTS["lam"], help="chord CE weight vs affective BCE"
    )
    p.add_argument(
        "--window",
        type=int,
        default=DEFAULTS["window"],
        help="steps per training window: seconds, or sixteenths for melody (default %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULTS["seed"],
        help=f"random seed; the same seed trains the same model (default {DEFAULTS['seed']})",
    )
    p.add_argument("--workers", type=int, default=DEFAULTS["workers"], help="data loader processes")
    p.add_argument("--device", default=DEFAULTS["device"], help="cpu, cuda or cuda:N")
    p.add_argument("--clip", type=float, default=DEFAULTS["clip"], help="gradient norm clipping")
    p.add_argument(
        "--save-every", type=int, default=DEFAULTS["save_every"], help="also keep the model every N epochs"
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    p.add_argument("--overwrite", action="store_true", help="start over in a run folder that holds a run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    options = vars(p.parse_args(argv))
    options["inputs"] = tuple(name.strip() for name in options["inputs"].split(",") if name.strip())
    options["progress"] = not options.pop("no_progress")
    return TrainOptions(**options)


@cli_main
def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    if not Path(options.data).exists():  # said at once, not after torch's import
        raise UserError(
            f"--data {options.data} does not exist; give a MuVi-Sync folder or a packed .npz (--task melody: "
            "a POP909 folder or dataset/pop909_derived.tsv.gz)"
        )
    from video2music.training.loop import train  # torch: only once the arguments are good

    result = train(options)
    if result["main"]:
        print(f"best validation loss {result['best_val_loss']:.4f}; model in {result['out']}/best.pt")
    return 0
