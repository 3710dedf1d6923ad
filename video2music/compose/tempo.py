"""The tempo from the video: its pace sets how fast, its cuts where exactly.

``choose_tempo`` reads three things of the whole video:

* its activity, through the dynamics part's note density (which follows the video's pace, or
  its motion in features saved before pace existed), as the median level on the rule's anchors
  (1, 4, 7, 10, 13 notes a second: 0 to 1);
* its editing: scene cuts a minute, ``CUTS_FOR_BUSY`` or more counting as fully busy;
* its arousal (``model.dynamics_rule.arousal``: exciting, tense and fearful high; sad and
  relaxing low).

Their weighted mean (``WEIGHTS``) places the tempo between ``CALM_TEMPO`` and ``BUSY_TEMPO`` (or
a style's own range, ``compose.styles``), so still, calm footage lands at 60-90 bpm and busy,
fast-cut footage at 115-150. Then, as CMT lines
visual beats up with musical ones, the tempi within ``SEARCH_BPM`` of it are tried, and the one
whose beats fall closest to the cuts wins, less ``DISTANCE_COST`` a bpm of straying (the meter
still bends so that each cut starts a bar; this makes the bent bar land on the cut's own frame
rather than a fraction of a beat away). A video without cuts keeps the pace's tempo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from video2music.features import VideoFeatures
from video2music.model.dynamics_rule import DENSITY_ANCHORS, arousal
from video2music.theory.grid import MAX_TEMPO, MIN_TEMPO

CALM_TEMPO, BUSY_TEMPO = 62.0, 150.0
CUTS_FOR_BUSY = 30.0  # cuts a minute at which the editing counts as fully busy
WEIGHTS = {"activity": 0.55, "editing": 0.25, "arousal": 0.2}
SEARCH_BPM = 8
DISTANCE_COST = 0.004  # seconds of mean cut-to-beat distance one bpm away is worth


@dataclass(frozen=True)
class TempoChoice:
    """The tempo and why: the activity, editing and arousal levels (0-1) it came from, the tempo
    they asked for, and the mean distance from a cut to its nearest beat at the chosen tempo."""

    tempo: float
    activity: float
    editing: float
    arousal: float
    asked: float
    cut_error: float | None  # seconds; None without cuts

    def reason(self) -> str:
        """One line for the JSON and the page."""
        line = (
            f"activity {self.activity:.2f}, editing {self.editing:.2f}, arousal {self.arousal:.2f} "
            f"ask for {self.asked:.0f} bpm"
        )
        if self.cut_error is None:
            return f"{line}; no cuts to line up"
        error = 1000 * self.cut_error
        return f"{line}; at {self.tempo:g} bpm the cuts lie {error:.0f} ms from a beat on average"


def _cut_error(cuts: np.ndarray, tempo: float) -> float:
    """Mean seconds from each cut to the nearest beat at ``tempo``."""
    beat = 60.0 / tempo
    return float(np.mean(np.abs(cuts / beat - np.round(cuts / beat)) * beat))


def choose_tempo(
    features: VideoFeatures, density: np.ndarray, tempo_range: tuple[float, float] = (CALM_TEMPO, BUSY_TEMPO)
) -> TempoChoice:
    """The tempo for ``features`` whose dynamics gave ``density`` (notes a second, per second),
    placed in ``tempo_range`` (a style's: lo-fi is never fast, electronic never slow)."""
    levels = np.linspace(0.0, 1.0, len(DENSITY_ANCHORS))
    activity = float(np.interp(np.median(density), DENSITY_ANCHORS, levels))
    minutes = max(features.duration, 1.0) / 60.0
    editing = min(len(features.scene_cuts) / minutes / CUTS_FOR_BUSY, 1.0)
    excitement = float((np.mean(arousal(features.emotion)) + 1.0) / 2.0)
    level = WEIGHTS["activity"] * activity + WEIGHTS["editing"] * editing + WEIGHTS["arousal"] * excitement
    low, high = max(tempo_range[0], MIN_TEMPO), min(tempo_range[1], MAX_TEMPO)
    asked = float(low + (high - low) * level)
    cuts = np.asarray(features.scene_cuts, dtype=float)
    if not len(cuts):
        return TempoChoice(float(round(asked)), activity, editing, excitement, asked, None)
    nearby = range(round(asked) - SEARCH_BPM, round(asked) + SEARCH_BPM + 1)
    candidates = [t for t in nearby if low <= t <= high] or [round(asked)]
    tempo = min(candidates, key=lambda t: _cut_error(cuts, t) + DISTANCE_COST * abs(t - asked))
    return TempoChoice(float(tempo), activity, editing, excitement, asked, _cut_error(cuts, tempo))
