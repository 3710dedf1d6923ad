"""The options that say how the WAVs are played, as generate.py and the music command take them."""

from __future__ import annotations

import argparse

from video2music.utils.errors import UserError


def add_playback_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--no-humanize`` and ``--humanize-midi`` to ``parser``."""
    parser.add_argument(
        "--no-humanize",
        action="store_true",
        help="render the WAVs exactly on the grid (by default they are played a little off it, as a "
        "person plays: onsets a few ms early or late, velocities a few percent apart, the same for "
        "the same --seed)",
    )
    parser.add_argument(
        "--humanize-midi",
        action="store_true",
        help="also write the MIDI file as the WAV plays it (by default the MIDI stays on the grid)",
    )


def check_playback_options(args: argparse.Namespace) -> None:
    """Refuse options that contradict each other, before anything is done."""
    if args.no_humanize and args.humanize_midi:
        raise UserError(
            "--humanize-midi writes the humanised playing that --no-humanize turns off; give one of them"
        )
