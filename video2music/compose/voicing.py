"""Where the accompaniment's notes lie: pad voicings led from chord to chord, the arpeggio's tones
under the melody, the bass line's notes (with an inversion where it lets the bass move by step).

The accompaniment stays under the lead: every pitch here is kept below a ceiling, the lowest
melody note of the bar less a semitone (``ceiling``), so the tune is always the top line.
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np

from video2music.theory import vocab

PAD_RANGE = (48, 67)  # C3..G4: over the bass, under the melody
PAD_CENTRE = 57.0  # the voicings' mean pitch drifts back towards A3
PAD_VOICES = 3
BASS_RANGE = (28, 47)  # E1..B2: under the pad
BASS_CENTRE = 38  # D2: where the first root is placed nearest to
ARPEGGIO_FLOOR = 48  # C3
NO_MELODY_CEILING = 79  # G5: with no melody above, the accompaniment may rise this far
INVERSION_COST = 2.5  # semitones of bass motion an inversion must save to be chosen
MAX_INVERSION_SHARE = 0.10  # with the one allowed at the start, a long piece stays near 0.11


def ceiling(melody_low: float | None) -> int:
    """The highest pitch the accompaniment may use under a melody whose lowest note in the bar is
    ``melody_low`` (None: no melody there)."""
    return NO_MELODY_CEILING if melody_low is None else int(melody_low) - 1


@cache
def pad_voicings(chord: int, top: int) -> tuple[tuple[int, ...], ...]:
    """Every three-voice voicing of ``chord`` between ``PAD_RANGE[0]`` and ``top``, ascending, that
    sounds its root, its third (or suspension) and, for a seventh chord, its seventh rather than
    its fifth, with no gap wider than an octave (lower if the range leaves none)."""
    tones = vocab.chord_pitch_classes(chord)
    wanted = {tones[0], tones[1], tones[3] if len(tones) > 3 else tones[2]}
    for low in (PAD_RANGE[0], PAD_RANGE[0] - 7):
        candidates = [p for p in range(low, max(top, low + 12) + 1) if p % 12 in wanted]
        found = [
            combo
            for combo in itertools.combinations(candidates, PAD_VOICES)
            if {p % 12 for p in combo} == wanted and max(b - a for a, b in itertools.pairwise(combo)) <= 12
        ]
        if found:
            return tuple(found)
    return ((PAD_RANGE[0] + tones[0] % 12,) * PAD_VOICES,)  # unreachable for the vocabulary's chords


def lead_voices(previous: tuple[int, ...] | None, chord: int, top: int) -> tuple[int, ...]:
    """The voicing of ``chord`` under ``top`` that follows ``previous`` best: no voice moves more
    than an octave, the tones the chords share are held, the voices move as little as possible in
    total without drifting from ``PAD_CENTRE``."""

    def cost(voicing: tuple[int, ...]) -> tuple[float, ...]:
        drift = abs(float(np.mean(voicing)) - PAD_CENTRE)
        if previous is None:
            return (0, 0, drift + 0.2 * (voicing[-1] - voicing[0]))
        moves = [abs(a - b) for a, b in zip(previous, voicing, strict=True)]
        common = {p % 12 for p in previous} & {p % 12 for p in voicing}
        dropped = sum(1 for pc in common if not any(p in voicing for p in previous if p % 12 == pc))
        return (max(moves) > 12, dropped, sum(moves) + 0.5 * drift)

    return min(pad_voicings(chord, top), key=cost)


def arpeggio_tones(chord: int, pad: tuple[int, ...] | None, top: int, count: int) -> list[int]:
    """``count`` tones of ``chord`` at most ``top``, ascending: above the pad's top voice where
    there is room (so the arpeggio doubles no pitch the pad holds), else reaching down from ``top``
    to ``ARPEGGIO_FLOOR`` between the pad's voices, doubling them only where nothing else is left."""
    classes = set(vocab.chord_pitch_classes(chord))
    low = pad[-1] + 1 if pad else ARPEGGIO_FLOOR
    above = [p for p in range(low, top + 1) if p % 12 in classes]
    if len(above) >= min(count, 3):
        return above[-count:]
    reach = [p for p in range(top, ARPEGGIO_FLOOR - 1, -1) if p % 12 in classes]
    free = [p for p in reach if p not in set(pad or ())]
    return sorted((free if len(free) >= min(count, 2) else reach)[:count])


def bass_note(chord: int, previous: int, inversions_so_far: int, changes_so_far: int) -> int:
    """The bass note of ``chord`` after ``previous``: the root in the octave nearest it, or the
    chord's third or fifth when that moves the bass by a step where the root would leap (by at
    least ``INVERSION_COST`` semitones less), as long as inversions stay within one more than
    ``MAX_INVERSION_SHARE`` of the chord changes so far. Kept within ``BASS_RANGE``."""
    tones = vocab.chord_pitch_classes(chord)

    def nearest(pc: int) -> int:
        candidates = [p for p in range(BASS_RANGE[0], BASS_RANGE[1] + 1) if p % 12 == pc]
        return min(candidates, key=lambda p: (abs(p - previous), p))

    root = nearest(tones[0])
    room = inversions_so_far < 1 + MAX_INVERSION_SHARE * changes_so_far
    if not room or abs(root - previous) <= 2:
        return root
    options = [nearest(pc) for pc in tones[1:3]]
    best = min(options, key=lambda p: abs(p - previous))
    if 0 < abs(best - previous) <= 2 and abs(root - previous) - abs(best - previous) >= INVERSION_COST:
        return best
    return root
