"""What each kind of section plays, and how loud each beat is.

Each kind of section has a ``Texture``: which of the pad and the arpeggio play, how far the
video's density level (0-4, ``density_levels``) moves and within which bounds, the drums' feel,
whether the bass doubles at the octave and how much louder or softer the section is. Music
arranged without a form plays every part at the density's own level (``PLAIN``).

``Beats`` holds the per-beat controls every part reads: the texture, the section's lift, the
level, the loudness (MuVi-Sync's linear RMS, turned into MIDI velocity on a decibel scale by
``velocity``), the velocity swell (phrases and the video's intensity) and the beat of a 4/4 bar
whose pattern the beat plays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Notes per second where the next level starts: the rule's density anchors (1, 4, 7, 10, 13 notes/s
# for still to very busy footage) each land on their own level, so every level is reachable.
DENSITY_THRESHOLDS = (3.0, 6.0, 9.0, 13.0)


@dataclass(frozen=True)
class Texture:
    """What a kind of section plays: which parts, the level moved by ``level_offset`` and kept in
    ``levels``, the drums' feel, the bass in octaves, and a velocity offset."""

    pad: bool
    arpeggio: bool
    level_offset: int
    levels: tuple[int, int]
    drums: str
    octave_bass: bool = False
    velocity: int = 0


PLAIN = Texture(pad=True, arpeggio=True, level_offset=0, levels=(0, 4), drums="full")
TEXTURES = {
    "intro": Texture(pad=True, arpeggio=False, level_offset=-1, levels=(0, 1), drums="off", velocity=-6),
    "verse": Texture(pad=False, arpeggio=True, level_offset=0, levels=(0, 2), drums="light", velocity=-4),
    "pre-chorus": Texture(pad=True, arpeggio=True, level_offset=0, levels=(1, 3), drums="build"),
    "chorus": Texture(
        pad=True, arpeggio=True, level_offset=2, levels=(2, 4), drums="full", octave_bass=True, velocity=8
    ),
    "bridge": Texture(pad=True, arpeggio=False, level_offset=0, levels=(1, 2), drums="half"),
    "break": Texture(pad=True, arpeggio=False, level_offset=-2, levels=(0, 0), drums="off", velocity=-8),
    "outro": Texture(pad=True, arpeggio=True, level_offset=-1, levels=(0, 1), drums="off", velocity=-6),
}


def density_levels(density: np.ndarray) -> np.ndarray:
    """Pattern level 0-4 for each note density value (notes per second)."""
    return np.searchsorted(np.asarray(DENSITY_THRESHOLDS), np.asarray(density, dtype=float), side="right")


def velocity(loudness: float, offset: int = 0) -> int:
    """MIDI velocity for a linear RMS loudness: 30 at -40 dBFS (0.01) up to 110 at 0 dBFS.

    Loudness is an amplitude, so it is mapped on a decibel scale where a listener hears it.
    """
    decibels = 20.0 * math.log10(max(float(loudness), 0.01))
    return int(np.clip(round(30 + 80 * (decibels + 40) / 40 + offset), 1, 127))


@dataclass(frozen=True)
class Beats:
    """Per-beat controls: the texture, the section's lift, the level, loudness and swell, and the
    4/4 pattern beat."""

    textures: list[Texture]
    lifts: list[int]
    levels: np.ndarray
    loudness: np.ndarray
    swell: np.ndarray
    pattern: np.ndarray

    def velocity(self, beat: int, accent: int = 0) -> int:
        offset = accent + self.textures[beat].velocity + round(self.swell[beat])
        return velocity(self.loudness[beat], offset)

    def texture(self, beat: int) -> Texture:
        return self.textures[beat]
