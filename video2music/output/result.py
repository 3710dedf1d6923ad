"""What one generation produced: the features it read, the chords, dynamics and arrangement.

Plain data: writing it out (MIDI, WAV, video with music, JSON, plot) is ``video2music.output.writer``'s
job, so the result can be inspected, compared or written several ways without side effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from video2music import __version__
from video2music.compose.arrangement import Arrangement
from video2music.features import VideoFeatures
from video2music.features.pace import PACE_UNIT
from video2music.theory import vocab
from video2music.theory.form import Form
from video2music.theory.grid import Grid


@dataclass
class GenerationResult:
    """Everything one generation produced, as data; ``video2music.output.writer`` writes it out."""

    video: Path | None
    features: VideoFeatures
    chords: list[int]  # one id per half-bar step of ``grid``, in the normalised C major / A minor space
    grid: Grid
    key: vocab.Key
    tempo: float
    density: np.ndarray
    loudness: np.ndarray
    arrangement: Arrangement  # the MIDI, before it is written
    form: Form  # the sections, on the grid's bars
    settings: dict[str, Any]
    models: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return int(self.settings["seed"])

    def _label(self, chord: int, harte: bool = False) -> str:
        name = vocab.chord_label if harte else vocab.chord_symbol
        return name(vocab.transpose_chord(chord, self.key.transpose), self.key)

    def chord_labels(self, harte: bool = False) -> list[str]:
        """The chord sounding at the start of each second, in the output key, spelled for it: as
        musicians write it (``Am``, ``Bm7b5``), or with ``harte`` as MuVi-Sync labels (``A:min``)."""
        return [self._label(c, harte) for c in self.grid.per_second(self.chords, self.features.T)]

    def chord_timeline(self) -> list[tuple[float, float, int, str]]:
        """(start, end in seconds, normalised chord id, symbol in the key) for each chord played."""
        seconds = self.grid.seconds_per_beat
        return [
            (round(start * seconds, 3), round(end * seconds, 3), chord, self._label(chord))
            for start, end, chord in self.grid.spans(self.chords)
        ]

    def chord_changes(self) -> list[tuple[float, str]]:
        """(seconds, symbol) at each change of chord."""
        return [(start, label) for start, _, _, label in self.chord_timeline()]

    def chords_text(self) -> str:
        """A readable progression: ``0s C | 2s Am | 4s F ...`` (``--chords`` reads it back)."""
        return " | ".join(f"{t:g}s {label}" for t, label in self.chord_changes())

    def form_text(self) -> str:
        """The sections and where they start: ``Intro 1 0s · Verse 1 4s · Chorus 1 20s``."""
        return " · ".join(f"{s['section']} {s['start']:g}s" for s in self.form.summary(self.grid))

    def summary(self) -> dict[str, Any]:
        """What the JSON file holds: settings, models, features summary and per-second results."""
        f = self.features
        return {
            "video2music_version": __version__,
            "video": str(self.video) if self.video else None,
            "duration": f.duration,
            "seconds": f.T,
            "key": self.key.name,
            "tempo": self.tempo,
            "settings": self.settings,
            "models": self.models,
            "features": {
                "backend": f.backend,
                "fps": f.fps,
                "scene_cuts": [float(c) for c in f.scene_cuts],
                "mean_emotion": dict(
                    zip(vocab.EMOTIONS, np.round(f.emotion.mean(0), 4).tolist(), strict=True)
                ),
                "mean_motion": round(float(f.motion.mean()), 4),
                "mean_pace": None if f.pace is None else round(float(f.pace.mean()), 4),
                "pace_unit": PACE_UNIT,
            },
            "chords": self.chord_labels(),
            "chords_harte": self.chord_labels(harte=True),
            "chord_changes": [
                {"time": start, "end": end, "chord": symbol, "harte": self._label(chord, harte=True)}
                for start, end, chord, symbol in self.chord_timeline()
            ],
            "chord_ids_normalised": [int(c) for c in self.grid.per_second(self.chords, f.T)],
            "form": self.form.summary(self.grid),
            "form_given": self.form.given,
            "grid": {
                "tempo": self.grid.tempo,
                "step_onset_beats": list(self.grid.onsets),
                "cut_steps": sorted(self.grid.cut_steps),
                "chord_ids_per_step": [int(c) for c in self.chords],
            },
            "emotion": np.round(f.emotion, 4).tolist(),
            "scene_offset": f.scene_offset.astype(int).tolist(),
            "motion": np.round(f.motion, 3).tolist(),
            "movement": None if f.movement is None else np.round(f.movement, 4).tolist(),
            "pace": None if f.pace is None else np.round(f.pace, 4).tolist(),
            "note_density": np.round(self.density, 3).tolist(),
            "loudness": np.round(self.loudness, 4).tolist(),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }
