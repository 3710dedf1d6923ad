"""A PNG timeline of one generation: the song form, cuts, motion and pace, emotion, chords,
density and loudness."""

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


# As the page's legend names them; light enough for black chord names on top.
_MAJOR_COLOUR, _MINOR_COLOUR = "#c5dfee", "#fecea6"
DPI = 100
_LEGEND_GAP = 0.01  # of the figure's width, between the labels and the legends
_CUT_STYLE = {"color": "#636363", "ls": "--", "lw": 0.8}
_SECTION_COLOURS = {
    "intro": "#d9d9d9", "verse": "#a1d99b", "pre-chorus": "#fdd0a2", "chorus": "#fc9272",
    "bridge": "#9ecae1", "break": "#bcbddc", "outro": "#d9d9d9",
}  # fmt: skip
_PACE_COLOUR = "#2ca25f"


def plot_timeline(result: GenerationResult, path: str | Path) -> Path:
    """Draw the per-second timeline of ``result`` into the PNG ``path`` (``video2music.output.writer``
    stages it, so it is written directly)."""
    fig = timeline_figure(result)
    try:
        fig.savefig(path, dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)


def _held(values: np.ndarray) -> np.ndarray:
    """A per-second series with its last value again, so that drawn as steps (second ``t`` covers
    [t, t + 1)) the last second shows too."""
    values = np.asarray(values)
    return np.concatenate([values, values[-1:]], axis=0)


def timeline_figure(result: GenerationResult) -> plt.Figure:
    """The timeline of ``result`` as a figure (the caller closes it).

    Five panels share the time axis, which spans the video: the song form's sections (a lifted
    one says by how much), the emotion the video shows, its pace (and MuVi-Sync's motion, which
    the chord model reads, faint on its own scale), the chords played (blue: major-family, orange:
    minor-family; a white line between two chords) and the note density and loudness that set the
    patterns and velocities; dashed lines mark scene cuts, which the chord names, written
    mid-chord, never cross. Every panel says what its colours are, in a column right of every
    axis's labels, and the title, on two lines, fits any width the figure has."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    f = result.features
    # The video's length (a sub-second clip's music still fills a bar, which is cut with it); the
    # last second's values reach it.
    shown = f.duration if f.duration > 0 else float(f.T)
    seconds = np.append(np.arange(f.T), max(f.T, shown))
    fig, axes = plt.subplots(
        5,
        1,
        figsize=(max(8.0, min(f.T * 0.25, 40.0)), 9.5),
        sharex=True,
        gridspec_kw={"height_ratios": [0.45, 1.2, 1, 0.7, 1]},
    )
    form_ax, emotion_ax, motion_ax, chord_ax, dynamics_ax = axes

    form_ax.set_ylabel("form")
    form_ax.set_yticks([])
    for section in result.form.summary(result.grid):
        colour = _SECTION_COLOURS[section["name"]]
        form_ax.axvspan(section["start"], section["end"], color=colour, lw=0.5, ec="white")
        lift = f" +{section['lift']}" if section["lift"] else ""
        form_ax.text(
            section["start"] + 0.1, 0.5, section["section"] + lift, va="center", fontsize=8, clip_on=True
        )

    emotion_ax.stackplot(
        seconds, _held(f.emotion).T, labels=vocab.EMOTIONS, colors=_EMOTION_COLOURS, step="post"
    )
    emotion_ax.set_ylabel("emotion\n(share)")
    emotion_ax.set_ylim(0, 1)
    legends = {emotion_ax: emotion_ax.legend(fontsize=8, frameon=False, title="emotion")}

    pace_lines, scale_ax = [], motion_ax
    if f.pace is not None:
        pace_lines = motion_ax.step(
            seconds, _held(f.pace), where="post", color=_PACE_COLOUR, lw=2, label="pace (widths/s)"
        )
        motion_ax.set_ylabel("pace\n(widths/s)")
        motion_ax.set_ylim(bottom=0)
        scale_ax = motion_ax.twinx()
        scale_ax.set_ylabel("motion")
    else:
        motion_ax.set_ylabel("motion")
    motion_lines = scale_ax.step(
        seconds, _held(f.motion), where="post", color="black", lw=0.8, alpha=0.45, label="motion (0-255)"
    )
    legends[motion_ax] = motion_ax.legend(
        handles=[*pace_lines, *motion_lines, Line2D([], [], **_CUT_STYLE, label="scene cut")],
        fontsize=8,
        frameon=False,
    )

    chord_ax.set_ylabel("chords")
    chord_ax.set_yticks([])
    for start, end, chord, label in result.chord_timeline():
        if start >= shown:
            break
        end = min(end, shown)
        colour = _MINOR_COLOUR if vocab.chord_quality(chord) in vocab.MINOR_FAMILY else _MAJOR_COLOUR
        chord_ax.axvspan(start, end, color=colour, lw=0)
        if start > 0:  # two chords of one family side by side stay two
            chord_ax.axvline(start, color="white", lw=1.5, zorder=2)
        # Mid-chord, over the cut lines (a chord starts at a cut, so its start is taken)
        chord_ax.text(
            (start + end) / 2, 0.5, label, rotation=90, ha="center", va="center", fontsize=8, zorder=4,
            bbox={"boxstyle": "square,pad=0.1", "fc": colour, "ec": "none"},
        )  # fmt: skip
    legends[chord_ax] = chord_ax.legend(
        handles=[
            Patch(color=_MAJOR_COLOUR, label="major family"),
            Patch(color=_MINOR_COLOUR, label="minor family"),
        ],
        fontsize=8,
        frameon=False,
    )

    density_line = dynamics_ax.step(
        seconds, _held(result.density), where="post", label="note density (notes/s)"
    )
    dynamics_ax.set_ylabel("notes/s")
    loud_ax = dynamics_ax.twinx()
    loud_line = loud_ax.step(
        seconds, _held(result.loudness), where="post", color="#d62728", label="loudness (RMS)"
    )
    loud_ax.set_ylabel("loudness")
    legends[dynamics_ax] = dynamics_ax.legend(handles=[*density_line, *loud_line], fontsize=8, frameon=False)
    dynamics_ax.set_xlabel("seconds")

    for ax in axes:
        for cut in f.scene_cuts:
            ax.axvline(cut, **_CUT_STYLE, zorder=3)
    dynamics_ax.set_xlim(0, shown)
    name = result.video.name if result.video else "video"
    fig.suptitle(
        f"{name}\n{result.key.name}, {result.tempo:g} bpm, seed {result.seed}; dashed lines: scene cuts",
        fontsize=11,
    )
    fig.tight_layout()
    _legends_right_of_labels(fig, legends, [*axes, loud_ax, scale_ax])
    return fig


def _legends_right_of_labels(fig: plt.Figure, legends: dict, axes: list) -> None:
    """Move each panel's legend into one column, just right of the widest tick labels and axis
    label on that side (the loudness axis's), level with the top of its panel."""
    renderer = fig.canvas.get_renderer()
    right = max(ax.get_tightbbox(renderer).x1 for ax in axes)
    to_figure = fig.transFigure.inverted()
    for ax, legend in legends.items():
        top = ax.get_window_extent(renderer).y1
        x, y = to_figure.transform((right, top))
        legend.set_bbox_to_anchor((x + _LEGEND_GAP, y), transform=fig.transFigure)
        legend.set_loc("upper left")
