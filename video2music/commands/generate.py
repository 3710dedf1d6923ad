"""``generate.py``: score videos with music -> MIDI, WAV, video with music, JSON (and PNG)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from video2music.errors import UserError, cli_main
from video2music.features.extract import BACKENDS
from video2music.music.synth import LOUDNESS_TARGET

logger = logging.getLogger(__name__)

STYLES = {"pop": "default", "chorale": "chorale"}  # --style -> the shipped model that plays it


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="generate.py",
        description="Score a video with editable music: writes NAME.mid, NAME.wav, "
        "NAME_with_music.mp4 and NAME.json beside the video (or in --out).",
    )
    p.add_argument("--video", nargs="+", required=True, help="video files, or folders of videos")
    p.add_argument("--out", type=Path, help="output folder (default: beside each video)")
    p.add_argument("--key", help="output key, e.g. 'D major', 'F# minor', 'Am' (default: from the mood)")
    p.add_argument("--primer", help="chords to start from, in the output key, e.g. 'C Am F G'")
    p.add_argument(
        "--tempo", type=float, default=120.0, help="beats per minute (default 120: two beats a second)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, help="sampling temperature (default 1.0; 0 = likeliest)")
    p.add_argument("--top-p", type=float, help="nucleus sampling mass (default 0.95)")
    p.add_argument(
        "--emotion-strength",
        type=float,
        help="bias toward chord qualities that fit each second's emotion (default 1.5; 0 = off)",
    )
    p.add_argument("--no-cut-changes", action="store_true", help="no forced chord change at scene cuts")
    p.add_argument("--instruments", help="General MIDI programs, e.g. 'chords=0,arpeggio=46,bass=33'")
    p.add_argument("--no-drums", action="store_true")
    p.add_argument("--soundfont", help="a .sf2 file (default: $VIDEO2MUSIC_SOUNDFONT, FluidR3_GM, TimGM6mb)")
    p.add_argument(
        "--features",
        choices=("auto", *BACKENDS),
        default="auto",
        help="clip needs the CLIP weights, basic none (default: what the model needs)",
    )
    p.add_argument(
        "--style",
        choices=sorted(STYLES),
        help="the chord style: pop (the default model, trained on POP909) or chorale (Bach chorales "
        "and madrigals); a shorthand for --weights",
    )
    p.add_argument(
        "--weights",
        help="shipped model name (default, chorale, debug), our checkpoint or a published one "
        "(default: default, the pop model)",
    )
    p.add_argument("--regression-weights", help="trained regression checkpoint (default: the rule)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--no-video", action="store_true", help="skip the video with music")
    p.add_argument("--plot", action="store_true", help="also write NAME.png, a timeline")
    p.add_argument(
        "--stems",
        action="store_true",
        help="also write one WAV per part (NAME_chords.wav, ...) that sum to the mix",
    )
    p.add_argument(
        "--loudness-target",
        default=str(LOUDNESS_TARGET),
        metavar="LUFS",
        help=f"integrated loudness of the WAVs, true peak at most -1 dBTP (default {LOUDNESS_TARGET:g}; "
        "off: as rendered)",
    )
    args = p.parse_args(argv)
    if args.style and args.weights:
        p.error("give --style or --weights, not both")
    args.weights = STYLES[args.style] if args.style else args.weights or "default"
    return args


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tqdm import tqdm

    from video2music.music.arrange import Instruments
    from video2music.music.synth import find_soundfont, load_fluidsynth, parse_loudness, preload_meter
    from video2music.pipeline import Video2Music
    from video2music.video_io import find_videos
    from video2music.writer import check_distinct, plan_result, write_result

    # Every setting, the soundfont and every output are checked before the slow work starts.
    instruments = Instruments.parse(args.instruments) if args.instruments else None
    loudness = parse_loudness(args.loudness_target)
    find_soundfont(args.soundfont)  # also $VIDEO2MUSIC_SOUNDFONT and the defaults
    load_fluidsynth()
    videos = find_videos(args.video, strict=True)
    v2m = Video2Music.from_pretrained(args.weights, regression=args.regression_weights, device=args.device)
    given = {"top_p": args.top_p, "temperature": args.temperature, "emotion_guidance": args.emotion_strength}
    v2m.set_generation_params(
        cut_changes=not args.no_cut_changes,
        **{name: value for name, value in given.items() if value is not None},
    )
    piece = dict(key=args.key, primer=args.primer, tempo=args.tempo)
    v2m.check_settings(**piece)
    v2m.feature_backend(args.features)

    failures: list[str] = []

    def failed(video: Path, error: UserError) -> None:
        if len(videos) == 1:
            raise error
        failures.append(f"{video}: {error}")
        logger.error("error: %s: %s", video, error)

    if loudness is not None:
        preload_meter()
    plans = {}
    for video in videos:
        try:
            plans[video] = plan_result(
                args.out or video.parent,
                video.stem,
                video=not args.no_video,
                plot=args.plot,
                stems=args.stems,
                soundfont=args.soundfont,
                loudness=loudness,
                overwrite=args.overwrite,
            )
        except UserError as error:
            failed(video, error)
    check_distinct(list(plans.values()))

    for video, outputs in tqdm(plans.items(), desc="videos", unit="video", disable=len(videos) < 2):
        try:
            # Progress bars only for one long video; a batch shows one bar over the videos.
            show = len(videos) == 1 and sys.stderr.isatty()
            result = v2m.generate(
                video,
                progress_bars=show,
                instruments=instruments,
                drums=not args.no_drums,
                backend=args.features,
                seed=args.seed,
                **piece,
            )
            paths = write_result(result, outputs, progress_bars=show)
        except UserError as error:
            failed(video, error)
            continue
        logger.info("%s: %s, %s", video.name, result.key.name, result.chords_text())
        logger.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    if failures:
        logger.error("%d of %d videos failed:\n  %s", len(failures), len(videos), "\n  ".join(failures))
        return 2
    return 0
