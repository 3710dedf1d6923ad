"""A PNG timeline of one generation: cuts, motion and pace, emotion, chords, density and loudness."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from video2music.theory import vocab  # noqa: E402

if TYPE_CHECKING:
    from video2music.output.result import GenerationResult

_EMOTION_COLOURS = ("#e6550d", "#756bb1", "#de2d26", "#3182bd", "#31a354", "#bdbdbd")


_MAJOR_COLOUR, _MINOR_COLOUR = "#9ecae1", "#fdae6b"
_CUT_STYLE = {"color": "#636363", "ls": "--", "lw": 0.8}
_PACE_COLOUR = "#2ca25f"


def plot_timeline(result: GenerationResult, path: str | Path) -> Path:
    """Draw the per-second timeline of ``result`` into the PNG ``path`` (``video2music.output.writer``
    stages it, so it is written directly).

    Four panels share the time axis: the emotion the video shows, its pace (and MuVi-Sync's
    motion, which the chord model reads, faint on its own scale), the chords played
    (blue: major-family, orange: minor-family) and the note density and loudness that set the
    patterns and velocities; dashed lines mark scene cuts. Every panel says what its colours are,
    and the title, on two lines, fits any width the figure has."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    f = result.features
    seconds = np.arange(f.T)
    fig, axes = plt.subplots(
        4,
        1,
        figsize=(max(8.0, min(f.T * 0.25, 40.0)), 8.5),
        sharex=True,
        gridspec_kw={"height_ratios": [1.2, 1, 0.7, 1]},
    )
    emotion_ax, motion_ax, chord_ax, dynamics_ax = axes

    emotion_ax.stackplot(seconds, f.emotion.T, labels=vocab.EMOTIONS, colors=_EMOTION_COLOURS, step="post")
    emotion_ax.set_ylabel("emotion\n(share)")
    emotion_ax.set_ylim(0, 1)
    emotion_ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, title="emotion")

    pace_lines = []
    if f.pace is not None:
        pace_lines = motion_ax.step(
            seconds, f.pace, where="post", color=_PACE_COLOUR, lw=2, label="pace (widths/s)"
        )
        motion_ax.set_ylabel("pace\n(widths/s)")
        motion_ax.set_ylim(bottom=0)
        scale_ax = motion_ax.twinx()
        scale_ax.set_ylabel("motion")
    else:
        scale_ax = motion_ax
        motion_ax.set_ylabel("motion")
    motion_lines = scale_ax.step(
        seconds, f.motion, where="post", color="black", lw=0.8, alpha=0.45, label="motion (0-255)"
    )
    motion_ax.legend(
        handles=[*pace_lines, *motion_lines, Line2D([], [], **_CUT_STYLE, label="scene cut")],
        loc="upper left",
        bbox_to_anchor=(1.06 if f.pace is not None else 1.0, 1.0),
        fontsize=8,
        frameon=False,
    )

    chord_ax.set_ylabel("chords")
    chord_ax.set_yticks([])
    for start, end, chord, label in result.chord_timeline():
        minor = vocab.chord_quality(chord) in vocab.MINOR_FAMILY
        chord_ax.axvspan(start, end, color=_MINOR_COLOUR if minor else _MAJOR_COLOUR, alpha=0.6, lw=0)
        chord_ax.text(start + 0.1, 0.5, label, rotation=90, va="center", fontsize=8)
    chord_ax.legend(
        handles=[
            Patch(color=_MAJOR_COLOUR, label="major family"),
            Patch(color=_MINOR_COLOUR, label="minor family"),
        ],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=8,
        frameon=False,
    )

    density_line = dynamics_ax.step(seconds, result.density, where="post", label="note density (notes/s)")
    dynamics_ax.set_ylabel("notes/s")
    loud_ax = dynamics_ax.twinx()
    loud_line = loud_ax.step(seconds, result.loudness, where="post", color="#d62728", label="loudness (RMS)")
    loud_ax.set_ylabel("loudness")
    dynamics_ax.legend(
        handles=[*density_line, *loud_line],
        loc="upper left",
        bbox_to_anchor=(1.06, 1.0),
        fontsize=8,
        frameon=False,
    )
    dynamics_ax.set_xlabel("seconds")

    for ax in axes:
        for cut in f.scene_cuts:
            ax.axvline(cut, **_CUT_STYLE)
    name = result.video.name if result.video else "video"
    fig.suptitle(
        f"{name}\n{result.key.name}, {result.tempo:g} bpm, seed {result.seed}; dashed lines: scene cuts",
        fontsize=11,
    )
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)
