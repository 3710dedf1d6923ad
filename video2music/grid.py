"""The musical time base: chords are decided on half bars of 4/4 at the chosen tempo.

A video's features come one per second; music moves in beats and bars. The model therefore runs
one step per half bar (two beats) and every per-second input is read at the second in which the
step begins. At 120 bpm a half bar lasts exactly one second, so a step is a second and the
MuVi-Sync data and the published checkpoints see what they were trained on; at 90 bpm a step is
1.33 s, at 140 bpm 0.86 s.

The grid covers whole bars: as many as fit in the video (at least one), so the music ends on a
bar line at or before the video's end and its last chord rings out over what is left. When a
scene cut falls inside that last bar (a fade-out, an end card), the music ends one bar earlier,
on the bar line before the cut, so the final chord is not cut short by a change.

Scene cuts. A cut starts a new chord at the beat nearest to it. When that beat is a half-bar
line the chord of that step starts there as usual; when it falls between two (the second or
fourth beat of a bar), the chord of the following step is anticipated by one beat, as an
arranger pushes a chord to hit a picture cut. So every chord change lies on a half-bar line
except those that hit a cut, and a cut is never more than half a beat from a change. A cut in
the first or the last beat of the piece is left alone.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from video2music.errors import UserError
from video2music.features.video_features import VideoFeatures

BEATS_PER_BAR = 4
BEATS_PER_STEP = 2  # a half bar
STEPS_PER_BAR = BEATS_PER_BAR // BEATS_PER_STEP
MIN_TEMPO, MAX_TEMPO = 20.0, 300.0


def check_tempo(tempo: float) -> float:
    """Return ``tempo`` (bpm) if the music can be written at it, else raise UserError."""
    if not (isinstance(tempo, int | float) and math.isfinite(tempo) and MIN_TEMPO <= tempo <= MAX_TEMPO):
        raise UserError(f"tempo {tempo:g} bpm is out of range; use {MIN_TEMPO:g} to {MAX_TEMPO:g} bpm")
    return float(tempo)


@dataclass(frozen=True)
class Grid:
    """Half-bar steps at ``tempo``: step ``k`` starts on beat ``onsets[k]`` (``2k``, or one beat
    earlier when it starts at a scene cut); ``cut_steps`` are the steps that start at a cut."""

    tempo: float
    onsets: tuple[int, ...]
    cut_steps: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        check_tempo(self.tempo)
        if not self.onsets or any(b <= a for a, b in itertools.pairwise(self.onsets)):
            raise UserError("a grid needs at least one step, with onsets in increasing beats")

    @classmethod
    def regular(cls, steps: int, tempo: float = 120.0) -> Grid:
        """``steps`` half bars with no cuts."""
        if steps < 1:
            raise UserError("a grid needs at least one step (half a bar)")
        return cls(float(tempo), tuple(range(0, BEATS_PER_STEP * steps, BEATS_PER_STEP)))

    @classmethod
    def for_video(cls, duration: float, tempo: float, cuts: Sequence[float] = ()) -> Grid:
        """The whole bars that fit in ``duration`` seconds, with chords hitting the ``cuts``."""
        tempo = check_tempo(tempo)
        bar_seconds = BEATS_PER_BAR * 60.0 / tempo
        bars = max(1, math.floor(duration / bar_seconds + 1e-6))
        cut_beats = [math.floor(cut * tempo / 60.0 + 0.5) for cut in sorted(cuts)]
        last_bar = BEATS_PER_BAR * (bars - 1)
        if bars > 2 and any(last_bar < beat < last_bar + BEATS_PER_BAR for beat in cut_beats):
            bars -= 1  # the final chord would be cut short: end on the bar line before the cut
        steps = bars * STEPS_PER_BAR
        onsets = list(range(0, BEATS_PER_STEP * steps, BEATS_PER_STEP))
        cut_steps: set[int] = set()
        for beat in cut_beats:
            step = -(-beat // BEATS_PER_STEP)  # the step starting at or just after the beat
            if 0 < step < steps and step not in cut_steps:
                onsets[step] = beat
                cut_steps.add(step)
        return cls(tempo, tuple(onsets), frozenset(cut_steps))

    @property
    def steps(self) -> int:
        return len(self.onsets)

    @property
    def end_beat(self) -> int:
        return BEATS_PER_STEP * self.steps

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.tempo

    @property
    def duration(self) -> float:
        """Seconds from the first beat to the last bar line."""
        return self.end_beat * self.seconds_per_beat

    def onset_seconds(self) -> np.ndarray:
        """When each step starts, in seconds."""
        return np.asarray(self.onsets, dtype=float) * self.seconds_per_beat

    def sample(self, per_second: np.ndarray) -> np.ndarray:
        """Per-second values read at each step: the value of the second the step begins in."""
        per_second = np.asarray(per_second)
        seconds = np.minimum(np.floor(self.onset_seconds() + 1e-9).astype(int), len(per_second) - 1)
        return per_second[seconds]

    def scene_offsets(self) -> np.ndarray:
        """Steps since the current scene began (0 on its first step), for the model's input."""
        offsets = np.zeros(self.steps, dtype=np.int64)
        for step in range(1, self.steps):
            offsets[step] = 0 if step in self.cut_steps else offsets[step - 1] + 1
        return offsets

    def resample(self, features: VideoFeatures) -> VideoFeatures:
        """``features`` with one row per step instead of per second: what the chord model reads.

        Scene offsets count steps from the grid's cut steps, and ``scene_cuts`` are those steps.
        """
        return VideoFeatures(
            duration=float(self.steps),
            fps=features.fps,
            semantic=None if features.semantic is None else self.sample(features.semantic),
            emotion=self.sample(features.emotion),
            scene_offset=self.scene_offsets(),
            scene_cuts=sorted(float(step) for step in self.cut_steps),
            motion=self.sample(features.motion),
            backend=features.backend,
            provenance=features.provenance,
        )

    def step_of_beat(self, beat: int) -> int:
        """The step sounding on ``beat``."""
        return max(0, int(np.searchsorted(self.onsets, beat, side="right")) - 1)

    def spans(self, chords: Sequence[int]) -> list[tuple[int, int, int]]:
        """(start beat, end beat, chord) for each run of one chord over the steps."""
        if len(chords) != self.steps:
            raise UserError(f"{len(chords)} chords for a grid of {self.steps} half-bar steps")
        ends = [*self.onsets[1:], self.end_beat]
        runs: list[tuple[int, int, int]] = []
        for chord, start, end in zip(chords, self.onsets, ends, strict=True):
            if runs and runs[-1][2] == chord:
                runs[-1] = (runs[-1][0], end, chord)
            else:
                runs.append((start, end, int(chord)))
        return runs

    def per_second(self, chords: Sequence[int], seconds: int) -> list[int]:
        """The chord sounding at the start of each of ``seconds`` seconds (the last one holds on)."""
        beats = np.floor(np.arange(seconds) / self.seconds_per_beat + 1e-9).astype(int)
        return [int(chords[self.step_of_beat(b)]) for b in beats]
