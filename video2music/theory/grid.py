"""The musical time base: chords are decided on half bars at the chosen tempo.

A video's features come one per second; music moves in beats and bars. The model therefore runs
one step per half bar and every per-second input is read at the second in which the step begins.
At 120 bpm a half bar of 4/4 lasts exactly one second, so a step is a second and the MuVi-Sync
data and the published checkpoints see what they were trained on; at 90 bpm a step is 1.33 s,
at 140 bpm 0.86 s.

Bars are 4/4, two steps of two beats each. Scene cuts are hit the way a film composer hits
them, by the meter: a cut starts a new chord on the beat nearest to it, and when that beat is
not a half-bar line (the second or fourth beat of a bar) the bar is cut short to 3/4 (a cut on
its fourth beat) or the bar before it stretched to 5/4 (a cut on a second beat), so the cut
falls on a downbeat. Such a bar's second step lasts one or three beats, and the MIDI file
carries the meter change, so chord changes lie on half-bar lines (the downbeat or the third
beat of a bar). Only when the bar before is bent already (two cuts a beat or two apart) does the
chord at a cut on a second beat start there, a beat before the half-bar line: a pushed chord, as
an arranger would write it. A cut in the first beat of the piece is left alone. Inside a montage
(a cut with three others in the 4 s before it) the meter stays: a bent bar at every cut trips the
groove every second or two; the montage's first cuts still start bars, and its cuts that land on
a half-bar line still change the chord.

The grid covers whole bars: as many as fit in the video (at least one), so the music ends on a
bar line at or before the video's end and its last chord rings out over what is left. When a
scene cut falls inside that last bar (a fade-out, an end card), the music ends one bar earlier,
on the bar line before the cut, so the final chord is not cut short by a change.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from video2music.features.video_features import VideoFeatures
from video2music.utils.errors import UserError

BEATS_PER_BAR = 4
BEATS_PER_STEP = 2  # the first half of a bar; the second half is what is left of the bar
STEPS_PER_BAR = 2
MIN_TEMPO, MAX_TEMPO = 20.0, 300.0
DEFAULT_TEMPO = 120.0  # a half bar lasts one second, as a MuVi-Sync step does
AUTO_TEMPO = "auto"  # what a user types for a tempo chosen from the video
# A cut with this many others in the seconds before it is part of a montage: the meter stays.
MONTAGE_CUTS, MONTAGE_SECONDS = 3, 4.0


def check_tempo(tempo: float) -> float:
    """Return ``tempo`` (bpm) if the music can be written at it, else raise UserError."""
    if not (isinstance(tempo, int | float) and math.isfinite(tempo) and MIN_TEMPO <= tempo <= MAX_TEMPO):
        raise UserError(f"tempo {tempo:g} bpm is out of range; use {MIN_TEMPO:g} to {MAX_TEMPO:g} bpm")
    return float(tempo)


def _meter_cuts(cuts: Sequence[float]) -> list[float]:
    """The cuts the meter bends for: all but those inside a montage (a cut with ``MONTAGE_CUTS``
    others in the ``MONTAGE_SECONDS`` before it), where a bent bar at every cut would trip the
    groove every second or two; the montage's first cuts still bend, so it starts on a downbeat."""
    ordered = sorted(cuts)
    return [
        cut for i, cut in enumerate(ordered)
        if sum(cut - MONTAGE_SECONDS < other < cut for other in ordered[:i]) < MONTAGE_CUTS
    ]  # fmt: skip


@dataclass(frozen=True)
class Grid:
    """Bars at ``tempo``: bar ``i`` lasts ``bars[i]`` beats (4, or 3 and 5 where the meter bends
    to put a scene cut on a downbeat) and holds two half-bar steps, the first two beats long;
    ``cut_steps`` are the steps that start at a scene cut."""

    tempo: float
    bars: tuple[int, ...]
    cut_steps: frozenset[int] = frozenset()
    pushed: frozenset[int] = frozenset()  # bars whose second step starts a beat early, at a cut

    def __post_init__(self) -> None:
        check_tempo(self.tempo)
        if not self.bars or any(beats not in (3, 4, 5) for beats in self.bars):
            raise UserError("a grid needs at least one bar, each of 3, 4 or 5 beats")

    @classmethod
    def regular(cls, steps: int, tempo: float = 120.0) -> Grid:
        """``steps`` half bars of 4/4 (an even number) with no cuts."""
        if steps < STEPS_PER_BAR or steps % STEPS_PER_BAR:
            raise UserError(f"a grid needs whole bars: an even number of half-bar steps, got {steps}")
        return cls(float(tempo), (BEATS_PER_BAR,) * (steps // STEPS_PER_BAR))

    @classmethod
    def for_video(cls, duration: float, tempo: float, cuts: Sequence[float] = ()) -> Grid:
        """The whole bars that fit in ``duration`` seconds, with the meter bent to hit the ``cuts``."""
        tempo = check_tempo(tempo)
        total = math.floor(duration * tempo / 60.0 + 1e-6)  # whole beats in the video
        cut_beats = sorted({math.floor(cut * tempo / 60.0 + 0.5) for cut in cuts})
        bending = sorted({math.floor(cut * tempo / 60.0 + 0.5) for cut in _meter_cuts(cuts)})
        bars: list[int] = []
        pushed: set[int] = set()
        start = 0
        while start + BEATS_PER_BAR <= total or not bars:
            inside = {b - start for b in bending if start < b < start + BEATS_PER_BAR}
            if 3 in inside:
                if 1 in inside and 2 not in inside:  # two cuts a bar apart: push the first's chord
                    pushed.add(len(bars))
                bars.append(3)  # the cut falls on the next downbeat (one on the third beat still fits)
            elif 1 in inside and bars and bars[-1] == BEATS_PER_BAR:
                bars[-1] = 5  # the bar before takes the extra beat; this one starts on the cut
                start += 1
                continue
            else:
                if 1 in inside and 2 not in inside:  # the bar before is bent already: push the chord
                    pushed.add(len(bars))
                bars.append(BEATS_PER_BAR)
            start += bars[-1]
        while len(bars) > 1 and (sum(bars) > total or bars[-1] != BEATS_PER_BAR):
            bent = bars.pop() != BEATS_PER_BAR  # the piece ends on a whole bar of 4/4 in the video
            if bent and sum(bars) + BEATS_PER_BAR <= total:
                bars.append(BEATS_PER_BAR)
                break
        last = sum(bars[:-1])
        if len(bars) > 2 and any(last < b < last + bars[-1] for b in cut_beats):
            bars.pop()  # the final chord would be cut short: end on the bar line before the cut
        grid = cls(tempo, tuple(bars), pushed=frozenset(p for p in pushed if p < len(bars)))
        steps = {beat: step for step, beat in enumerate(grid.onsets)}
        cut_steps = frozenset(steps[b] for b in cut_beats if b in steps and b > 0)
        return dataclasses.replace(grid, cut_steps=cut_steps)

    @cached_property
    def bar_starts(self) -> tuple[int, ...]:
        return tuple(itertools.accumulate(self.bars[:-1], initial=0))

    @cached_property
    def onsets(self) -> tuple[int, ...]:
        """The beat on which each step starts: each bar's downbeat and its third beat (its second
        in a pushed bar)."""
        return tuple(
            start + half
            for bar, start in enumerate(self.bar_starts)
            for half in (0, BEATS_PER_STEP - (bar in self.pushed))
        )

    @property
    def steps(self) -> int:
        return STEPS_PER_BAR * len(self.bars)

    @property
    def end_beat(self) -> int:
        return sum(self.bars)

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.tempo

    @property
    def duration(self) -> float:
        """Seconds from the first beat to the last bar line."""
        return self.end_beat * self.seconds_per_beat

    def position(self, beat: int) -> tuple[int, int, int]:
        """(bar, beat within the bar, beats in the bar) of ``beat``."""
        bar = max(0, int(np.searchsorted(self.bar_starts, beat, side="right")) - 1)
        return bar, beat - self.bar_starts[bar], self.bars[bar]

    def meter_changes(self) -> list[tuple[int, int]]:
        """(beat, beats per bar) wherever the meter changes, the first bar included."""
        changes = []
        for start, beats in zip(self.bar_starts, self.bars, strict=True):
            if not changes or changes[-1][1] != beats:
                changes.append((start, beats))
        return changes

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

    @cached_property
    def beat_steps(self) -> np.ndarray:
        """The step sounding on each beat of the piece."""
        return np.maximum(np.searchsorted(self.onsets, np.arange(self.end_beat), side="right") - 1, 0)

    @cached_property
    def beat_positions(self) -> np.ndarray:
        """(end_beat, 3): ``position`` of every beat (bar, beat within it, beats in the bar)."""
        bar = np.repeat(np.arange(len(self.bars)), self.bars)
        starts = np.asarray(self.bar_starts)
        return np.column_stack([bar, np.arange(self.end_beat) - starts[bar], np.asarray(self.bars)[bar]])

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
