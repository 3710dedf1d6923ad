"""``python -m video2music.commands.dataset``: check, pack, or make a synthetic MuVi-Sync dataset."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from video2music.data.fixture import write_fixture
from video2music.data.muvisync import (
    SPLIT_DIR,
    SPLITS,
    TRAINING_SPLITS,
    DamagedPackError,
    DatasetError,
    available_splits,
    load_split,
    pack,
    shared_videos,
)
from video2music.utils.errors import EXIT_USAGE, ArgumentParser, UserError, cli_main

DESCRIPTION = (
    "Check a MuVi-Sync dataset (every problem, as file:line), pack it into one .npz for fast "
    "training, or write a small synthetic dataset in its layout (fixture) to try training and "
    "evaluation without downloading anything."
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m video2music.commands.dataset", description=DESCRIPTION)
    sub = p.add_subparsers(dest="command", required=True)
    check = sub.add_parser(
        "check",
        help="validate every file of the splits and list every problem",
        description="Validate every file of the splits and list every problem.",
    )
    check.add_argument("data", type=Path, help="MuVi-Sync folder or packed .npz")
    check.add_argument("--split", action="append", help="split to check (repeatable; default: all)")
    check.add_argument("--semantic", action="store_true", help="require CLIP semantic features")
    packer = sub.add_parser(
        "pack",
        help="pack a MuVi-Sync folder into one .npz (+ a .json index)",
        description="Pack a MuVi-Sync folder into one .npz (+ a .json index).",
    )
    packer.add_argument("data", type=Path, help="MuVi-Sync folder")
    packer.add_argument("out", type=Path, help="output .npz")
    packer.add_argument("--split", action="append", help="split to pack (repeatable; default: all)")
    packer.add_argument("--overwrite", action="store_true", help="replace an existing output")
    fixture = sub.add_parser(
        "fixture",
        help="write a small synthetic dataset with learnable structure",
        description="Write a small synthetic dataset with learnable structure.",
    )
    fixture.add_argument("out", type=Path, help="output folder")
    fixture.add_argument(
        "--videos",
        type=int,
        nargs=3,
        default=(12, 4, 4),
        metavar=("TRAIN", "VAL", "TEST"),
        help="videos per split (default 12 4 4)",
    )
    fixture.add_argument(
        "--seconds",
        type=int,
        nargs=2,
        default=(20, 40),
        metavar=("MIN", "MAX"),
        help="each video's length is drawn from MIN..MAX seconds (default 20 40)",
    )
    fixture.add_argument("--semantic", action="store_true", help="also write (synthetic) semantic features")
    fixture.add_argument(
        "--seed", type=int, default=0, help="random seed; the same seed writes the same data"
    )
    fixture.add_argument("--overwrite", action="store_true", help="replace an existing dataset folder")
    return p.parse_args(argv)


def _splits(data: Path, given: list[str] | None) -> list[str]:
    if given:
        return given
    found = available_splits(data)
    if not found:
        raise UserError(f"no split files in {data / SPLIT_DIR}")
    return found


@cli_main
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "check":
        splits = _splits(args.data, args.split)
        problems = [
            f"{args.data}: no {split!r} split, which train.py needs (check only some splits with --split)"
            for split in TRAINING_SPLITS
            if not args.split and split not in splits
        ]
        for split in splits:
            try:
                videos = load_split(args.data, split, semantic=True if args.semantic else None)
                semantic = "with" if all(v.semantic is not None for v in videos) else "without"
                print(
                    f"{split}: {len(videos)} videos, {sum(v.T for v in videos)} seconds, {semantic} semantic"
                )
            except DatasetError as error:
                problems += error.problems
            except DamagedPackError:
                raise
            except UserError as error:  # an empty or missing split: the other splits are still checked
                problems.append(str(error))
        problems += shared_videos(args.data, splits)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"error: {len(problems)} problems in {args.data}", file=sys.stderr)
            return EXIT_USAGE
        return 0
    if args.command == "pack":
        pack(args.data, args.out, args.split, args.overwrite)
        print(f"packed {args.data} into {args.out} (index: {args.out.with_suffix('.json')})")
        return 0
    if min(args.videos) < 1 or not 2 <= args.seconds[0] <= args.seconds[1]:
        raise UserError("--videos needs at least 1 per split and --seconds 2 <= MIN <= MAX")
    sizes = dict(zip(SPLITS, args.videos, strict=True))
    write_fixture(args.out, sizes, args.seconds, args.seed, args.semantic, args.overwrite)
    print(f"wrote a synthetic dataset ({sum(args.videos)} videos) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
