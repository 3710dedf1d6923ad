"""A PNG timeline of one generation: cuts, motion, emotion, chords, density and loudness."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from video2music import vocab  # noqa: E402

if TYPE_CHECKING:
    from video2music.result import GenerationResult

_EMOTION_COLOURS = ("#e6550d", "#756bb1", "#de2d26", "#3182bd", "#31a354", "#bdbdbd")


def plot_timeline(result: GenerationResult, path: str | Path) -> Path:
    """Draw the per-second timeline of ``result`` into the PNG ``path`` (``video2music.writer``
    stages it, so it is written directly)."""
    f = result.features
    seconds = np.arange(f.T)
    fig, axes = plt.subplots(
        4,
        1,
        figsize=(max(8.0, min(f.T * 0.25, 40.0)), 7.5),
        sharex=True,
        gridspec_kw={"height_ratios": [1.2, 1, 0.7, 1]},
    )
    emotion_ax, motion_ax, chord_ax, dynamics_ax = axes

    emotion_ax.stackplot(seconds, f.emotion.T, labels=vocab.EMOTIONS, colors=_EMOTION_COLOURS, step="post")
    emotion_ax.set_ylabel("emotion")
    emotion_ax.set_ylim(0, 1)
    emotion_ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)

    motion_ax.step(seconds, f.motion, where="post", color="black")
    motion_ax.set_ylabel("motion")

    chord_ax.set_ylabel("chords")
    chord_ax.set_yticks([])
    for start, end, chord, label in result.chord_timeline():
        minor = vocab.chord_quality(chord) in vocab.MINOR_FAMILY
        chord_ax.axvspan(start, end, color="#9ecae1" if not minor else "#fdae6b", alpha=0.6, lw=0)
        chord_ax.text(start + 0.1, 0.5, label, rotation=90, va="center", fontsize=7)

    dynamics_ax.step(seconds, result.density, where="post", label="note density (notes/s)")
    dynamics_ax.set_ylabel("density")
    loud_ax = dynamics_ax.twinx()
    loud_ax.step(seconds, result.loudness, where="post", color="#d62728", label="loudness")
    loud_ax.set_ylabel("loudness")
    dynamics_ax.set_xlabel("seconds")

    for ax in axes:
        for cut in f.scene_cuts:
            ax.axvline(cut, color="#636363", ls="--", lw=0.8)
    axes[0].set_title(
        f"{result.video.name if result.video else 'video'} — {result.key.name}, "
        f"{result.tempo:g} bpm, seed {result.seed}; dashed lines: scene cuts"
    )
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return Path(path)
