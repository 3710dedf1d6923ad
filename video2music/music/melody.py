"""Writing a melody over the arranged chords with the melody model (``video2music.model.melody``).

The melody is written on sixteenth notes in the normalised key (C major / A minor), over the
chords as the grid (``video2music.grid``) places them, and the arranger transposes it with the
rest. The model proposes each sixteenth; a few rules shape what it may choose:

* Phrases. Bars are grouped in 4-bar phrases from the first bar, the model's phrase input says
  which bar of its phrase each one is, and the last bar of a phrase is marked as its end (POP909
  melodies breathe there, and the model learned it).
* Motifs come back. When the chords of a phrase's first three bars repeat those of an earlier
  phrase (the chord decoder loops every 4 bars), those bars repeat its melody, and the
  phrase's last bar is written anew, so the phrase returns with another ending.
* Strong beats. On beats 1 and 3 a new note that is not a chord tone, or a held one that is
  not, loses ``STRONG_BEAT_PENALTY`` nats of log-odds: pop melodies sit on chord tones there.
* Register and leaps. New notes lie in ``MELODY_RANGE`` and within an octave of the note before;
  each semitone of a leap beyond a whole tone costs ``LEAP_COST`` nats, each semitone outside
  ``REGISTER`` (around C5, where POP909's melodies sit) ``REGISTER_COST``.
* Breathing. A rest longer than ``LONG_REST`` sixteenths costs ``LONG_REST_COST`` nats per
  sixteenth more, so the line does not fall silent for bars on end (POP909's long rests are
  between sections), and the last beat of a phrase favours a rest by ``PHRASE_END_REST``.
* Ending. The last bar starts on a chord tone and holds it.
* Density. The notes per beat asked of the model follow the video's note density, from
  ``CALM_NOTES_PER_SECOND`` to ``BUSY_NOTES_PER_SECOND`` (POP909's melodies: 1.36 a second).

Sampling is seeded (``torch.Generator``): the same inputs and seed give the same melody.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from video2music import vocab
from video2music.grid import BEATS_PER_BAR, Grid
from video2music.model.melody import (
    HIGH_PITCH,
    HOLD,
    LOW_PITCH,
    NUM_TOKENS,
    PHRASE_BARS,
    REST,
    STEPS_PER_BAR,
    STEPS_PER_BEAT,
    MelodyModel,
    conditions,
    token_pitch,
)

logger = logging.getLogger(__name__)

MELODY_RANGE = (55, 86)  # G3..D6
MAX_LEAP = 12
LEAP_COST = 0.15
REGISTER = (64, 79)  # E4..G5 in the normalised key
REGISTER_COST = 0.3
LONG_REST = 8
LONG_REST_COST = 0.25
PHRASE_END_REST = 1.5
STRONG_BEAT_PENALTY = 3.0
CALM_NOTES_PER_SECOND, BUSY_NOTES_PER_SECOND = 1.0, 1.6
BUSY_DENSITY = 12.0  # notes per second of the accompaniment at which the melody is busiest
STRONG_POSITIONS = (0, 8)  # sixteenths of beats 1 and 3


@dataclass(frozen=True)
class MelodyNote:
    """A melody note in the normalised key, in sixteenths from the start."""

    pitch: int
    start: int
    end: int


def notes_per_beat(density: np.ndarray, tempo: float) -> np.ndarray:
    """The melody's notes per beat for the accompaniment's note density (notes per second)."""
    busy = np.clip(np.asarray(density, dtype=float) / BUSY_DENSITY, 0.0, 1.0)
    per_second = CALM_NOTES_PER_SECOND + (BUSY_NOTES_PER_SECOND - CALM_NOTES_PER_SECOND) * busy
    return per_second * 60.0 / tempo


def _bar_signature(chord_of_beat: np.ndarray, bar: int) -> tuple[int, ...]:
    return tuple(int(c) for c in chord_of_beat[bar * BEATS_PER_BAR : (bar + 1) * BEATS_PER_BAR])


_PITCHES = np.arange(LOW_PITCH, HIGH_PITCH + 1)
_REGISTER_BIAS = -REGISTER_COST * np.maximum(REGISTER[0] - _PITCHES, 0) - REGISTER_COST * np.maximum(
    _PITCHES - REGISTER[1], 0
)


def _allowed(
    previous: int,
    last_pitch: int | None,
    chord: int,
    position: int,
    final: bool,
    rest_run: int = 0,
    phrase_end: bool = False,
) -> np.ndarray:
    """Additive log-odds for each token at one sixteenth (-inf: not allowed); ``rest_run`` is how
    many sixteenths the line has been silent, ``phrase_end`` whether the bar ends a phrase."""
    bias = np.zeros(NUM_TOKENS, dtype=np.float32)
    pitches = _PITCHES
    outside = (pitches < MELODY_RANGE[0]) | (pitches > MELODY_RANGE[1])
    bias[2:] = _REGISTER_BIAS
    if last_pitch is not None:
        leaps = np.abs(pitches - last_pitch)
        outside |= leaps > MAX_LEAP
        bias[2:] -= LEAP_COST * np.maximum(leaps - 2, 0)
    bias[2:][outside] = -np.inf
    bias[REST] -= LONG_REST_COST * max(rest_run - LONG_REST, 0)
    if phrase_end and position >= STEPS_PER_BAR - STEPS_PER_BEAT:
        bias[REST] += PHRASE_END_REST
    if previous == REST:
        bias[HOLD] = -np.inf
    if chord != vocab.N_ID and (position in STRONG_POSITIONS or final):
        tones = set(vocab.chord_pitch_classes(chord))
        off_chord = np.array([p % 12 not in tones for p in pitches])
        bias[2:][off_chord] -= np.inf if final else STRONG_BEAT_PENALTY
        if last_pitch is not None and last_pitch % 12 not in tones and previous != REST:
            bias[HOLD] -= np.inf if final else STRONG_BEAT_PENALTY
    if final:
        bias[REST] = -np.inf
    return bias


def compose(
    model: MelodyModel,
    chords: Sequence[int],
    grid: Grid,
    density: np.ndarray,
    seed: int = 0,
    temperature: float = 1.0,
) -> list[MelodyNote]:
    """A melody over ``chords`` (one normalised id per step of ``grid``), with the accompaniment's
    note ``density`` per step; see the module docstring for the rules."""
    beats = grid.end_beat
    steps = beats * STEPS_PER_BEAT
    beat_steps = np.array([grid.step_of_beat(b) for b in range(beats)])
    chord_of_beat = np.asarray(chords, dtype=np.int64)[beat_steps]
    sixteenth_beat = np.arange(steps) // STEPS_PER_BEAT
    bars = beats // BEATS_PER_BAR
    bar = sixteenth_beat // BEATS_PER_BAR
    bar_in_phrase = bar % PHRASE_BARS
    phrase_ends = (bar_in_phrase == PHRASE_BARS - 1) | (bar == bars - 1)
    chord_of_step = chord_of_beat[sixteenth_beat]
    positions = np.arange(steps) % STEPS_PER_BAR
    wanted = notes_per_beat(np.asarray(density, dtype=float)[beat_steps], grid.tempo)[sixteenth_beat]
    condition = torch.from_numpy(conditions(chord_of_step, positions, wanted, bar_in_phrase, phrase_ends))

    generator = torch.Generator().manual_seed(int(seed))
    tokens = np.full(steps, REST, dtype=np.int64)
    state: torch.Tensor | None = None
    previous, last_pitch, rest_run = REST, None, 0
    signatures = [_bar_signature(chord_of_beat, b) for b in range(bars)]
    final_bar = bars - 1 if bars >= 2 else -1
    with torch.inference_mode():
        for b in range(bars):
            source = _repeated_bar(signatures, b, final_bar)
            for s in range(b * STEPS_PER_BAR, (b + 1) * STEPS_PER_BAR):
                logits, state = model(torch.tensor([[previous]]), condition[s : s + 1][None], state)
                if source is not None:
                    token = int(tokens[s - (b - source) * STEPS_PER_BAR])
                    if token == HOLD and previous == REST:
                        token = REST
                else:
                    final = b == final_bar
                    if final and positions[s] > 0:
                        token = HOLD  # the last note rings over the final bar
                    else:
                        bias = _allowed(
                            previous,
                            last_pitch,
                            int(chord_of_step[s]),
                            int(positions[s]),
                            final,
                            rest_run,
                            bool(phrase_ends[s]),
                        )
                        scaled = logits[0, -1] / max(temperature, 1e-3) + torch.from_numpy(bias)
                        token = int(torch.multinomial(torch.softmax(scaled, -1), 1, generator=generator))
                tokens[s] = token
                previous = token
                rest_run = rest_run + 1 if token == REST else 0
                if token >= 2:
                    last_pitch = token_pitch(token)
    return melody_notes(tokens)


def _repeated_bar(signatures: list[tuple[int, ...]], bar: int, final_bar: int) -> int | None:
    """The earlier bar whose melody ``bar`` repeats, or None to write it anew.

    A phrase's first three bars repeat the most recent earlier phrase whose first three bars
    have the same chords; its last bar, and the piece's final bar, are always new.
    """
    place = bar % PHRASE_BARS
    if place == PHRASE_BARS - 1 or bar == final_bar:
        return None
    start = bar - place
    head = signatures[start : start + PHRASE_BARS - 1]
    if len(head) < PHRASE_BARS - 1:
        return None
    for earlier in range(start - PHRASE_BARS, -1, -PHRASE_BARS):
        if signatures[earlier : earlier + PHRASE_BARS - 1] == head:
            return earlier + place
    return None


def melody_notes(tokens: np.ndarray) -> list[MelodyNote]:
    """Notes from a token sequence: each onset lasts through the HOLDs after it."""
    notes: list[MelodyNote] = []
    for s, token in enumerate(np.asarray(tokens).tolist()):
        if token >= 2:
            notes.append(MelodyNote(token_pitch(token), s, s + 1))
        elif token == HOLD and notes and notes[-1].end == s:
            notes[-1] = MelodyNote(notes[-1].pitch, notes[-1].start, s + 1)
    return notes
