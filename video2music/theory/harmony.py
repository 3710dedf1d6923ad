"""Which chords a key allows and how a piece ends: the pop-harmony rules that decoding applies.

Everything here is in the model's normalised keys, C major (mode 0) and A minor (mode 1), so the
rules hold for any output key after transposition.

In key. A chord belongs to a key when it is built on the key's scale: its tones are the scale's
notes at the chord's steps above its root (the third, fifth, seventh, ... note of the scale from
there). The scale is the major scale, or for minor the natural minor or the harmonic minor, with
the raised seventh (G# in A minor), the way pop and POP909's annotations use minor (E major, the
dominant, is as common as E minor there). By steps, not by pitch classes alone: Fm's third in A
minor would be A flat, which is not G#, so Fm is no chord of A minor (nor B, D or F dim7, the
misspelt twins of G#dim7), while E, E7 and G#dim are. Beside
those, the borrowed and secondary chords pop uses often are allowed with a small penalty, so they
colour a progression without taking it out of key: in major V/V (D, D7), V/vi (E, E7), bVII (Bb)
and iv (Fm); in minor they are already diatonic with the raised seventh (E, E7) or natural minor
(iv Dm, bVI F, bVII G). Augmented triads are left out even where their tones fit (C+ in A minor):
pop hardly uses them, and they sound like a mistake when sampled at random.

Cadence. The last bar holds the tonic; the bar before it holds a chord that leads there: V or IV
in major (G, G7, Gsus4, F, Fmaj7, and ii7 Dm7), V, iv, bVI or bVII in minor (E, E7, Dm, Dm7, F,
G), which gives V-I, IV-I, ii-V-I, iv-i and bVI-bVII-i endings.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from video2music.theory import vocab

MAJOR, MINOR = 0, 1
TONIC = {MAJOR: vocab.chord_id(0, "maj"), MINOR: vocab.chord_id(9, "min")}  # C, A:min

# Each mode's scales, seven pitch classes in order from the tonic.
_SCALES = {
    MAJOR: ((0, 2, 4, 5, 7, 9, 11),),
    MINOR: ((9, 11, 0, 2, 4, 5, 7), (9, 11, 0, 2, 4, 5, 8)),  # natural; harmonic, with G#
}
_BORROWED = {
    MAJOR: ("D", "D7", "E", "E7", "Bb", "Fm"),
    MINOR: (),
}
_CADENCE = {
    MAJOR: ("G", "G7", "Gsus4", "F", "Fmaj7", "Dm7"),
    MINOR: ("E", "E7", "Dm", "Dm7", "F", "G"),
}
# Key segments per tonic (C, Db, D, ..., B) in POP909's key_audio.txt annotations: pop songs use
# every tonic, a few more often than others.
TONIC_COUNTS = {
    MAJOR: (64, 52, 47, 47, 49, 54, 40, 58, 48, 45, 43, 43),
    MINOR: (50, 30, 35, 28, 53, 36, 27, 35, 37, 45, 33, 45),
}
# In nats on the model's logits: a borrowed chord needs about 2.7x the probability of an
# in-key one to be drawn as often, which keeps them to colour (POP909: 93-95% of the time in key).
BORROWED_PENALTY = 1.0


def check_mode(mode: int) -> int:
    if mode not in (MAJOR, MINOR):
        raise ValueError(f"mode must be 0 (major) or 1 (minor), got {mode}")
    return mode


def in_key(chord: int, mode: int) -> bool:
    """Whether ``chord`` is built on one of the normalised key's scales (N counts as in key)."""
    if chord == vocab.N_ID:
        return True
    root, quality = vocab.chord_root(chord), vocab.chord_quality(chord)
    tones = list(zip(vocab.QUALITY_INTERVALS[quality], vocab.QUALITY_STEPS[quality], strict=True))
    return any(
        root in scale
        and all(scale[(scale.index(root) + step) % 7] == (root + semitones) % 12 for semitones, step in tones)
        for scale in _SCALES[check_mode(mode)]
    )


@cache
def allowed_chords(mode: int) -> frozenset[int]:
    """The chords decoding may choose in this mode: the in-key ones and the borrowed ones."""
    diatonic = {c for c in range(1, vocab.NUM_CHORDS) if vocab.chord_quality(c) != "aug" and in_key(c, mode)}
    return frozenset(diatonic | set(vocab.parse_progression(_BORROWED[check_mode(mode)])))


@cache
def _bias(mode: int) -> np.ndarray:
    bias = np.full(vocab.VOCAB_SIZE, -np.inf, dtype=np.float32)
    for chord in allowed_chords(mode):
        bias[chord] = 0.0 if in_key(chord, mode) else -BORROWED_PENALTY
    bias.flags.writeable = False
    return bias


def key_bias(mode: int) -> np.ndarray:
    """Added to the model's logits: 0 for in-key chords, a penalty for borrowed ones, -inf else."""
    return _bias(check_mode(mode))


@cache
def cadence_chords(mode: int) -> frozenset[int]:
    """The chords the bar before the final tonic may hold."""
    return frozenset(vocab.parse_progression(_CADENCE[check_mode(mode)]))


def fitting_key(chords: Sequence[int]) -> vocab.Key:
    """The key a progression (chord ids as heard) is most plausibly in: the one in which most of
    its chords are in key; among those, one whose tonic is the root of its first chord, then of
    its last; then the tonic pop uses most (``TONIC_COUNTS``). ``Am F C G`` is in A minor."""

    def fit(key: vocab.Key) -> tuple[int, bool, bool, int]:
        mode = MINOR if key.mode == "minor" else MAJOR
        inside = sum(in_key(vocab.transpose_chord(c, -key.transpose), mode) for c in chords)
        first, last = (vocab.chord_root(chords[i]) if chords else None for i in (0, -1))
        return inside, first == key.tonic, last == key.tonic, TONIC_COUNTS[mode][key.tonic]

    keys = [vocab.Key(tonic, mode) for mode in ("major", "minor") for tonic in range(12)]
    return max(keys, key=fit)
