"""``python -m video2music.commands.corpus``: build the chord corpus from music21's scores."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from video2music.utils.errors import ArgumentParser, UserError, cli_main

logger = logging.getLogger(__name__)


@cli_main
def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m video2music.commands.corpus",
        description="Build the chord corpus from music21's built-in scores in the MuVi-Sync layout.",
    )
    parser.add_argument("--out", type=Path, default=Path("dataset/corpus"), help="output folder")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="parallel processes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/val/test split")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"{args.out} exists and is not a folder; choose another --out")
    args.out.mkdir(parents=True, exist_ok=True)
    if not os.access(args.out, os.W_OK):
        raise UserError(f"{args.out} is not writable; choose another --out")
    from video2music.data.music21_corpus import build_corpus, summarise  # music21 is slow to import

    timelines = build_corpus(args.out, jobs=args.jobs, seed=args.seed, progress_bars=not args.no_progress)
    logger.info("wrote %s\n%s", args.out, summarise(timelines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
