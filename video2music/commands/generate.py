"""``generate.py``: score videos with music -> MIDI, WAV, video with music, JSON (and PNG)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from video2music.errors import UserError, cli_main
from video2music.features.clip import clip_source
from video2music.features.decode import VIDEO_EXTENSIONS, videos_in
from video2music.music.instruments import PRESETS, Instruments

logger = logging.getLogger(__name__)
WITHOUT_CLIP = "--features basic"


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
    p.add_argument(
        "--instruments",
        help="an instrument per part by General MIDI name, alias or number 0-127, e.g. "
        "'chords=strings,arpeggio=piano,bass=fingered bass,drums=brush' (parts: "
        f"{', '.join(Instruments.parts())}); on top of --preset when both are given",
    )
    p.add_argument(
        "--preset",
        help=f"a style's instruments for every part: {', '.join(PRESETS)} "
        "(default: strings, piano, fingered bass, standard kit)",
    )
    p.add_argument("--no-drums", action="store_true")
    p.add_argument("--soundfont", help="a .sf2 file (default: $VIDEO2MUSIC_SOUNDFONT, FluidR3_GM, TimGM6mb)")
    p.add_argument(
        "--features",
        choices=("auto", "clip", "basic"),
        default="auto",
        help="clip needs the CLIP weights, basic none (default: what the model needs)",
    )
    p.add_argument(
        "--weights",
        default="default",
        help="shipped model name, our checkpoint or a published one",
    )
    p.add_argument("--regression-weights", help="trained regression checkpoint (default: the rule)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--no-video", action="store_true", help="skip the video with music")
    p.add_argument("--plot", action="store_true", help="also write NAME.png, a timeline")
    return p.parse_args(argv)


def collect_videos(paths: list[str]) -> list[Path]:
    videos: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found = videos_in(path)
            if not found:
                raise UserError(f"folder {path} holds no videos ({', '.join(VIDEO_EXTENSIONS)})")
            videos.extend(found)
        elif path.exists():
            videos.append(path)
        else:
            raise UserError(f"{path} does not exist; give a video file or a folder of videos")
    return list(dict.fromkeys(videos))  # a video named and also in a named folder is scored once


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from video2music.music.synth import find_soundfont, load_fluidsynth

    # Every setting, the soundfont and every output are checked before the slow work starts.
    instruments = (
        Instruments.parse(args.instruments or "", args.preset) if args.instruments or args.preset else None
    )
    find_soundfont(args.soundfont)  # also $VIDEO2MUSIC_SOUNDFONT and the defaults
    load_fluidsynth()
    videos = collect_videos(args.video)
    if args.features == "clip":  # before torch loads: missing weights and no network fail at once
        clip_source(without=WITHOUT_CLIP)
    from video2music.pipeline import Video2Music
    from video2music.writer import check_distinct, plan_result, write_result

    v2m = Video2Music.from_pretrained(args.weights, regression=args.regression_weights, device=args.device)
    v2m.set_generation_params(cut_changes=not args.no_cut_changes)
    if args.top_p is not None:
        v2m.set_generation_params(top_p=args.top_p)
    settings = dict(
        key=args.key,
        primer=args.primer,
        tempo=args.tempo,
        seed=args.seed,
        temperature=args.temperature,
        emotion_guidance=args.emotion_strength,
    )
    v2m.check_settings(**settings)
    if v2m.feature_backend(args.features) == "clip":
        clip_source(without=WITHOUT_CLIP)

    failures: list[str] = []

    def failed(video: Path, error: UserError) -> None:
        if len(videos) == 1:
            raise error
        failures.append(f"{video}: {error}")
        logger.error("error: %s: %s", video, error)

    plans = {}
    for video in videos:
        try:
            plans[video] = plan_result(
                args.out or video.parent,
                video.stem,
                video=not args.no_video,
                plot=args.plot,
                soundfont=args.soundfont,
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
                **settings,
            )
            paths = write_result(result, outputs, progress=show)
        except UserError as error:
            failed(video, error)
            continue
        logger.info("%s: %s, %s", video.name, result.key.name, result.chords_text())
        logger.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    if failures:
        logger.error("%d of %d videos failed:\n  %s", len(failures), len(videos), "\n  ".join(failures))
        return 2
    return 0
