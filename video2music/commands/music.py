"""Arrange and render a chord progression without any video model: the music back end alone.

    python -m video2music.music --chords "C Am F G" --seconds 16 --key "D major" --out demo

writes demo.mid and demo.wav (and demo.mp4 with --video); an --out folder gets them inside, named
after the video or "music". The chords are what you hear, as typed:
--key sets the key signature and how chord names are spelled, and does not transpose them. With
--normalised the chords are read the way the model writes them, in C major / A minor, and moved
into --key ("C Am F G" with --key "D major" plays D Bm G A). The music fills the whole bars that
fit in the seconds at --tempo, and the chords are spread evenly over its half bars: chord i of n
starts on half bar ceil(i * half_bars / n). --melody adds a line over them by the shipped melody
model (the one generate.py uses), which is the only time this command loads torch.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import time
from pathlib import Path

from video2music.audio import mux, synth
from video2music.commands.playback import add_playback_options, check_playback_options
from video2music.compose import arrange
from video2music.compose.instruments import PRESETS, Instruments
from video2music.compose.styles import style_named
from video2music.output.writer import plan_music, write_music
from video2music.theory import vocab
from video2music.theory.form import Form
from video2music.theory.grid import DEFAULT_TEMPO, MAX_TEMPO, MIN_TEMPO, Grid, check_tempo
from video2music.utils.errors import ArgumentParser, UserError, check_range, cli_main, number_in_range

logger = logging.getLogger(__name__)

SECONDS_PER_CHORD = 4  # without --seconds or --video: two bars per chord at 120 bpm
DEFAULT_DENSITY = 10.0  # notes per second: eighth-note arpeggio, backbeat drums
DENSITY_RANGE = (0.0, 40.0)  # notes per second; the busiest patterns are sixteenths
DEFAULT_LOUDNESS = 0.2  # linear RMS, about -14 dBFS: the level of typical pop in MuVi-Sync
UNNAMED = "music"  # the files' name in an --out folder when there is no --video to name them


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="video2music-music",
        description=__doc__.split("\n\n")[0],
        epilog=(
            "Chords are heard as typed unless --normalised. Arpeggio, bass and drum patterns follow "
            "--density; velocities follow --loudness."
        ),
    )
    parser.add_argument("--chords", required=True, help='chord symbols, e.g. "C Am F G" or "Dm7 G7 Cmaj7"')
    parser.add_argument(
        "--seconds",
        type=int,
        help=f"length in seconds (default: the video's, else {SECONDS_PER_CHORD} per chord)",
    )
    parser.add_argument(
        "--key", default="C major", help='key, e.g. "D major", "F# minor", "Bb" (default C major)'
    )
    parser.add_argument(
        "--normalised",
        action="store_true",
        help="the chords are in C major / A minor (as the model writes them); transpose them into --key",
    )
    parser.add_argument(
        "--tempo",
        type=number_in_range(check_tempo),
        default=DEFAULT_TEMPO,
        help=f"beats per minute, {MIN_TEMPO:g} to {MAX_TEMPO:g} (default {DEFAULT_TEMPO:g})",
    )
    parser.add_argument(
        "--density",
        type=number_in_range(functools.partial(check_range, "--density", bounds=DENSITY_RANGE)),
        default=DEFAULT_DENSITY,
        help=f"notes per second, {DENSITY_RANGE[0]:g} to {DENSITY_RANGE[1]:g} (default {DEFAULT_DENSITY:g})",
    )
    parser.add_argument(
        "--loudness",
        type=number_in_range(functools.partial(check_range, "--loudness", bounds=(0.0, 1.0))),
        default=DEFAULT_LOUDNESS,
        help=f"RMS loudness 0 to 1 (default {DEFAULT_LOUDNESS:g})",
    )
    parser.add_argument(
        "--instruments",
        default="",
        help='an instrument per part by GM name, alias or number, e.g. "chords=strings,bass=fingered bass"',
    )
    parser.add_argument(
        "--style",
        help=f"a style: its instruments and how each part plays: {', '.join(PRESETS)} (default: pop)",
    )
    parser.add_argument("--no-drums", action="store_true", help="leave out the drum track")
    parser.add_argument(
        "--melody",
        action="store_true",
        help="also a melody over the chords, by the shipped melody model (it loads torch: a second more)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="the melody's and the humanised playing's random seed (default 0)"
    )
    parser.add_argument(
        "--soundfont", help="a General MIDI .sf2 or .sf3 (default: see the README's lookup order)"
    )
    parser.add_argument("--video", help="also write OUT.mp4: this video with the music as its soundtrack")
    parser.add_argument(
        "--out",
        required=True,
        help="output path without extension: writes OUT.mid, OUT.wav; a folder (one that exists, or "
        f"written with a trailing /) gets NAME.mid, NAME.wav inside, NAME the video's or '{UNNAMED}'",
    )
    parser.add_argument(
        "--stems",
        action="store_true",
        help="also write one WAV per part (OUT_chords.wav, ...) that sum to OUT.wav",
    )
    parser.add_argument(
        "--loudness-target",
        default=str(synth.LOUDNESS_TARGET),
        metavar="LUFS",
        help=f"integrated loudness of the WAVs, true peak at most -1 dBTP "
        f"(default {synth.LOUDNESS_TARGET:g}; "
        "off: as rendered)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    add_playback_options(parser)
    return parser


def output_base(out: str, video: str | None) -> Path:
    """The files' path without extension: ``out``, or inside ``out`` when it names a folder (an
    existing one, or one written with a trailing slash), named after ``video`` or UNNAMED."""
    if out.endswith(("/", os.sep)) or Path(out).is_dir():
        return Path(out) / (Path(video).stem if video else UNNAMED)
    return Path(out)


def spread(chords: list[int], steps: int) -> list[int]:
    """One chord per half-bar step, the chords spread evenly: chord i of n starts at ceil(i * steps / n)."""
    if steps < len(chords):
        raise UserError(
            f"{len(chords)} chords do not fit in {steps} half bars; give more --seconds or a faster --tempo"
        )
    return [chords[step * len(chords) // steps] for step in range(steps)]


def _melody(chords: list[int], grid: Grid, density: float, key: vocab.Key, seed: int):
    """The shipped melody model's line over ``chords`` (normalised ids, one per step of ``grid``)."""
    import numpy as np

    from video2music.compose.melody import compose
    from video2music.model.checkpoint import load_any, resolve_checkpoint

    model = load_any(resolve_checkpoint("melody", "melody.pt"), kind="melody").model
    single = Form.single(len(grid.bars))
    return compose(
        model, chords, grid, single, np.full(grid.steps, density), seed=seed, transpose=key.transpose
    )


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    began = time.perf_counter()
    # Everything the user gave is checked before any music is made or any file is touched.
    check_playback_options(args)
    chords = vocab.parse_progression(args.chords)
    if not chords:
        raise UserError('--chords is empty; give chord symbols such as "C Am F G"')
    key = vocab.parse_key(args.key)
    instruments = Instruments.parse(args.instruments, args.style)
    style = style_named(args.style)
    outputs = plan_music(
        output_base(args.out, args.video),
        video=bool(args.video),
        soundfont=args.soundfont,
        overwrite=args.overwrite,
        stems=args.stems,
        loudness=synth.parse_loudness(args.loudness_target),
        humanize=not args.no_humanize,
        humanize_midi=args.humanize_midi,
    )
    duration = mux.video_timing(args.video)[1] if args.video else None
    if args.seconds is not None:
        seconds = args.seconds
    else:
        seconds = max(1, round(duration)) if duration else SECONDS_PER_CHORD * len(chords)
    if seconds <= 0:
        raise UserError(f"--seconds {seconds} must be at least 1")
    if not args.normalised:  # arrange() moves C major / A minor into the key; typed chords are there already
        chords = [vocab.transpose_chord(c, -key.transpose) for c in chords]
    grid = Grid.for_video(seconds, check_tempo(args.tempo))
    chords = spread(chords, grid.steps)
    arranged = functools.partial(
        arrange.arrange, chords, args.density, args.loudness, key, args.tempo, instruments, grid=grid,
        drums=not args.no_drums, style=style,
    )  # fmt: skip
    music = arranged()  # cheap: it checks tempo, density and loudness before torch loads or a file is touched
    if args.melody:
        music = arranged(melody=_melody(chords, grid, args.density, key, args.seed))
    write_music(
        outputs, music, seed=args.seed, video=args.video, duration=duration, progress_bars=sys.stderr.isatty()
    )
    logger.info(
        "wrote %s in %.2f s (%s, %g bpm, chords %s)",
        ", ".join(map(str, outputs.targets.values())), time.perf_counter() - began, key.name, args.tempo,
        " ".join(span.label for span in music.spans),
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
