"""``evaluate.py``: the paper's metrics for checkpoints on a MuVi-Sync split, or of generated output."""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from video2music.data.muvisync import load_split
from video2music.utils.errors import ArgumentParser, UserError, cli_main
from video2music.utils.fileio import atomic_output, check_writable

logger = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = ArgumentParser(
        prog="evaluate.py",
        description="Either --checkpoint(s) with --data: Hits@1/3/5, emotion correspondence (transformer) "
        "and note density / loudness RMSE (regression) on a split, teacher forced (a melody model: loss and "
        "Hits@k per sixteenth, --data a POP909 folder or compact file). Or --generated FOLDER: "
        "scene-cut/chord-change F1, emotion agreement, chord entropy and repetition rate of the .json "
        "files generate.py wrote.",
    )
    p.add_argument("--checkpoint", action="append", default=[], help="a checkpoint (repeat for several)")
    p.add_argument(
        "--data", help="MuVi-Sync folder or packed .npz (melody models: POP909 folder or compact file)"
    )
    p.add_argument("--split", default="test", help="split to score (default test)")
    p.add_argument("--generated", type=Path, help="folder of generate.py .json results")
    p.add_argument(
        "--baselines",
        action="store_true",
        help="also score 'repeat the previous chord' and a chord bigram fitted on the train split of --data",
    )
    p.add_argument("--batch-size", type=int, default=8, help="videos per forward pass (default 8)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--json", type=Path, help="also write the results to this .json file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    if bool(args.generated) == bool(args.checkpoint):
        raise UserError("give either --checkpoint (with --data) or --generated, not both or neither")
    if args.checkpoint and not args.data:
        raise UserError("--checkpoint needs --data: the MuVi-Sync folder or .npz to score on")
    if args.batch_size < 1:
        raise UserError("--batch-size must be at least 1")
    for path in args.checkpoint:
        if not Path(path).is_file():
            raise UserError(f"checkpoint {path} does not exist")
    if args.json:  # before the work, which can take minutes
        check_writable(args.json, args.overwrite, missing_folders=True)
    return args


def _plain(value: Any) -> Any:
    """NaN (a metric with nothing to count) becomes null, as JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@cli_main
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # torch: only once the arguments are good
    from video2music.analysis.evaluation import EMOTION_THRESHOLD, evaluate_generated, format_table
    from video2music.model.checkpoint import load_any
    from video2music.model.device import check_device
    from video2music.training.tasks import TASKS, ChordBaselines, evaluate_split

    check_device(args.device)
    if args.generated:
        results = evaluate_generated(args.generated)
        table = {f"generated output in {args.generated}": results["overall"]}
        if not results["overall"]["emotion_seconds"]:
            logger.info(
                "emotion_agreement is n/a: it counts the seconds whose top emotion (not neutral) has "
                "a probability of at least %g, and no second here has one",
                EMOTION_THRESHOLD,
            )
    else:
        checkpoints = [load_any(path) for path in args.checkpoint]
        semantic = any("semantic" in c.inputs for c in checkpoints)
        splits = {}  # each kind of data read once: MuVi-Sync (chords, dynamics) or POP909 (melody)
        for checkpoint in checkpoints:
            read = TASKS[checkpoint.kind].read
            if read not in splits:
                splits[read] = read(args.data, args.split, semantic or None)
        baselines = ChordBaselines.fit(load_split(args.data, "train")) if args.baselines else None
        results = {"data": str(args.data), "split": args.split, "models": {}}
        for path, checkpoint in zip(args.checkpoint, checkpoints, strict=True):
            metrics = evaluate_split(
                checkpoint,
                splits[TASKS[checkpoint.kind].read],
                args.batch_size,
                args.device,
                progress_bars=not args.no_progress,
                baselines=baselines if checkpoint.kind == "amt" else None,
            )
            results["models"][str(path)] = {"kind": checkpoint.kind, **metrics}
        table = {f"{path} on {args.split}": metrics for path, metrics in results["models"].items()}
    print(format_table(table))
    if args.json:
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(args.json, args.overwrite) as tmp:
                tmp.write_text(json.dumps(_plain(results), indent=1) + "\n")
        except OSError as error:
            raise UserError(f"cannot write {args.json} ({error.strerror}); choose another --json") from None
    return 0
