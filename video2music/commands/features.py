"""Extract per-second video features for one or many videos.

    python -m video2music.features VIDEO_OR_FOLDER... --out DIR [--backend basic|clip]
        [--jobs N | --ray auto|ADDRESS]

writes DIR/<name>.npz per video (and, with --muvisync, the MuVi-Sync .lab/.npy files under DIR).
Folders are searched (not recursively) for mp4, mkv, mov, webm, avi and m4v files. Videos whose
.npz already exists are skipped unless --overwrite. A video that fails is reported in one
"error:" line and the others go on; the exit status is 2 if any failed. DIR is made when the
first video's features are written, so a run that writes nothing leaves none.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from video2music.features.batch import plan_jobs, run_jobs
from video2music.features.clip import DEFAULT_CLIP_MODEL, check_clip_model
from video2music.features.extract import BACKENDS
from video2music.utils.cluster import add_ray_option, import_ray
from video2music.utils.errors import ArgumentParser, UserError, cli_main
from video2music.utils.video_io import find_videos

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="video2music-features", description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", metavar="VIDEO_OR_FOLDER", help="videos or folders of them")
    parser.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="basic",
        help=(
            "basic (default): emotion from light, colour and pace, no weights; "
            "clip: CLIP embeddings and emotion"
        ),
    )
    parser.add_argument(
        "--clip-model",
        default=DEFAULT_CLIP_MODEL,
        help=f"Hugging Face model name (cached) or a local folder (default {DEFAULT_CLIP_MODEL})",
    )
    parser.add_argument(
        "--device",
        help="torch device for the CLIP backend (default cpu; with --ray, a GPU per worker where the "
        "cluster has them)",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="videos processed in parallel on this machine (default 1)"
    )
    add_ray_option(parser)
    parser.add_argument("--overwrite", action="store_true", help="extract again and replace existing outputs")
    parser.add_argument(
        "--muvisync", action="store_true", help="also write the MuVi-Sync .lab/.npy layout under --out"
    )
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, not {args.jobs}")
    if args.ray:
        import_ray()  # said at once when it is missing
    if args.ray and args.jobs != 1:
        raise UserError("--jobs runs on this machine and --ray on a cluster (one task per CPU); give one")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} is a file; give a folder")
    if args.backend == "clip":
        check_clip_model(args.clip_model, "--backend basic")  # fail before any video is decoded
    jobs = plan_jobs(find_videos(args.inputs, strict=False), args.out, args.muvisync, args.overwrite)
    if not jobs:
        raise UserError("no videos to process; give video files or folders that contain them")
    workers = min(args.jobs, len(jobs))
    threads = max(1, (os.cpu_count() or 1) // workers)
    outcomes = run_jobs(jobs, workers, (args.backend, args.clip_model, args.device, threads), ray=args.ray)

    failed = [outcome for outcome in outcomes if outcome.status == "failed"]
    for outcome in outcomes:
        if outcome.status == "extracted":
            logger.info("%s: %s", outcome.video, outcome.message)
    counts = {status: sum(o.status == status for o in outcomes) for status in ("extracted", "skipped")}
    extracted, skipped = counts["extracted"], counts["skipped"]
    summary = f"{extracted} extracted, {skipped} skipped (done before), {len(failed)} failed"
    if skipped:
        summary += "; pass --overwrite to extract skipped videos again"
    print(f"{summary} -> {args.out}", file=sys.stderr)
    for outcome in failed:
        # A message that does not name the video (a write error names its file) gets its name first.
        where = "" if outcome.message.startswith(str(outcome.video)) else f"{outcome.video}: "
        print(f"error: {where}{outcome.message}", file=sys.stderr)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
