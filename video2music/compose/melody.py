"""Writing a melody over the arranged chords with the melody model (``video2music.model.melody_gru``).

The melody is written on sixteenth notes in the normalised key (C major / A minor), over the
chords as the grid (``video2music.theory.grid``) places them, and the arranger transposes it with the
rest. The model proposes each sixteenth; a few rules shape what it may choose:

* Phrases. Bars are grouped in 4-bar phrases from the first bar, the model's phrase input says
  which bar of its phrase each one is, and the last bar of a phrase is marked as its end (POP909
  melodies breathe there, and the model learned it).
* Motifs come back, in the song form A A' B B' (4-bar phrases; the chord decoder loops every 4
  or 8 bars). The second phrase of each 8-bar period answers the first: where their first two
  bars have the same chords it repeats them and goes on anew. From the fifth phrase on, a phrase
  also returns to the one 16 bars earlier: where their first three bars have the same chords it
  repeats them. A phrase's last bar, and the piece's, are always written anew, so a phrase comes
  back with another ending.
* Strong beats. On beats 1 and 3 a new note that is not a chord tone, or a held one that is
  not, loses ``STRONG_BEAT_PENALTY`` nats of log-odds: pop melodies sit on chord tones there.
* Register and leaps. New notes lie within an octave of the note before, and each semitone of
  a leap beyond a whole tone costs ``LEAP_COST`` nats; striking the same pitch again costs
  ``REPEAT_COST`` (the model, left alone, repeats notes more than POP909's 21%). The register
  is aimed at the output key: each semitone outside ``REGISTER`` (around C5, where POP909's
  melodies sit) once transposed costs ``REGISTER_COST``, and nothing leaves ``MELODY_RANGE``.
* Breathing. A rest longer than ``LONG_REST`` sixteenths costs ``LONG_REST_COST`` nats per
  sixteenth more, so the line does not fall silent for bars on end (POP909's long rests are
  between sections), and the last beat of a phrase favours a rest by ``PHRASE_END_REST``.
  Over the last ``SOUNDING_WINDOW`` sixteenths the line keeps sounding between
  ``SOUNDING_SHARE`` of the time: beyond either end, each point of share moves the rest's
  log-odds by ``SOUNDING_GAIN`` / 100 (POP909's melodies sound 66% of the time).
* Ending. The last bar starts with a new note, a chord tone, and holds it.
* Density. The notes per beat asked of the model follow the video's note density, from
  ``CALM_NOTES_PER_SECOND`` to ``BUSY_NOTES_PER_SECOND`` (POP909's melodies: about 1.4-1.6 a
  second).

Sampling is seeded (``torch.Generator``): the same inputs and seed give the same melody.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from video2music.model.melody_gru import (
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
from video2music.model.sampling import generator_seed
from video2music.theory import vocab
from video2music.theory.grid import Grid
from video2music.utils.errors import UserError

logger = logging.getLogger(__name__)

MELODY_RANGE = (55, 86)  # G3..D6, as heard (after transposition)
MAX_LEAP = 12
LEAP_COST = 0.25
REPEAT_COST = 0.7
REGISTER = (65, 79)  # F4..G5, as heard
REGISTER_COST = 0.5
SOUNDING_WINDOW = 32  # two bars
SOUNDING_SHARE = (0.55, 0.8)
SOUNDING_GAIN = 20.0
LONG_REST = 8
LONG_REST_COST = 0.25
PHRASE_END_REST = 1.5
STRONG_BEAT_PENALTY = 2.0
ANSWER_BARS, RETURN_BARS = 2, 3  # bars a phrase repeats of its call / of its return's source
RETURN_PHRASES = 4  # a phrase returns to the one 16 bars earlier
CALM_NOTES_PER_SECOND, BUSY_NOTES_PER_SECOND = 1.15, 1.7
BUSY_DENSITY = 12.0  # notes per second of the accompaniment at which the melody is busiest
STRONG_POSITIONS = (0, 8)  # sixteenths of beats 1 and 3


@dataclass(frozen=True)
class MelodyNote:
    """A melody note in the normalised key, in sixteenths from the start."""

    pitch: int
    start: int
    end: int


def rest_during(
    notes: Sequence[MelodyNote], spans: Sequence[tuple[float, float]], sixteenth: float
) -> list[MelodyNote]:
    """``notes`` silent during ``spans`` ((start, end) seconds; a sixteenth lasts ``sixteenth``
    seconds): a note that starts inside one is left out, a note that runs into one ends where it
    begins (if a sixteenth of it is left)."""
    kept = []
    for note in notes:
        start, end = note.start, note.end
        for first, last in spans:
            if first <= start * sixteenth < last:
                break
            if start * sixteenth < first < end * sixteenth:
                end = min(end, int(first / sixteenth))
        else:
            if end > start:
                kept.append(MelodyNote(note.pitch, start, end) if end != note.end else note)
    return kept


def notes_per_beat(density: np.ndarray, tempo: float) -> np.ndarray:
    """The melody's notes per beat for the accompaniment's note density (notes per second)."""
    busy = np.clip(np.asarray(density, dtype=float) / BUSY_DENSITY, 0.0, 1.0)
    per_second = CALM_NOTES_PER_SECOND + (BUSY_NOTES_PER_SECOND - CALM_NOTES_PER_SECOND) * busy
    return per_second * 60.0 / tempo


_PITCHES = np.arange(LOW_PITCH, HIGH_PITCH + 1)


@dataclass(frozen=True)
class _Line:
    """Where the line stands before a sixteenth: the token before, the last pitch, how many
    sixteenths it has been silent and the share of the recent ones that sounded."""

    previous: int
    last_pitch: int | None
    rest_run: int
    sounding: float


def _allowed(
    line: _Line, chord: int, position: int, final: bool, phrase_end: bool, transpose: int
) -> np.ndarray:
    """Additive log-odds for each token at one sixteenth (-inf: not allowed)."""
    previous, last_pitch = line.previous, line.last_pitch
    bias = np.zeros(NUM_TOKENS, dtype=np.float32)
    pitches = _PITCHES
    heard = pitches + transpose
    outside = (heard < MELODY_RANGE[0]) | (heard > MELODY_RANGE[1])
    bias[2:] = -REGISTER_COST * (np.maximum(REGISTER[0] - heard, 0) + np.maximum(heard - REGISTER[1], 0))
    if last_pitch is not None:
        leaps = np.abs(pitches - last_pitch)
        outside |= leaps > MAX_LEAP
        bias[2:] -= LEAP_COST * np.maximum(leaps - 2, 0) + REPEAT_COST * (leaps == 0)
    bias[2:][outside] = -np.inf
    bias[REST] -= LONG_REST_COST * max(line.rest_run - LONG_REST, 0)
    low, high = SOUNDING_SHARE
    bias[REST] += SOUNDING_GAIN * (max(line.sounding - high, 0) - max(low - line.sounding, 0))
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
    if final:  # the final chord arrives with a note of its own
        bias[REST] = bias[HOLD] = -np.inf
    return bias


def compose(
    model: MelodyModel,
    chords: Sequence[int],
    grid: Grid,
    density: np.ndarray,
    seed: int = 0,
    temperature: float = 1.0,
    transpose: int = 0,
) -> list[MelodyNote]:
    """A melody over ``chords`` (one normalised id per step of ``grid``), with the accompaniment's
    note ``density`` per step, to be heard ``transpose`` semitones up (the output key's
    ``Key.transpose``); see the module docstring for the rules."""
    if len(chords) != grid.steps or len(density) != grid.steps:
        raise UserError(f"{len(chords)} chords and {len(density)} densities for a grid of {grid.steps} steps")
    beats = grid.end_beat
    steps = beats * STEPS_PER_BEAT
    beat_steps = np.array([grid.step_of_beat(b) for b in range(beats)])
    chord_of_beat = np.asarray(chords, dtype=np.int64)[beat_steps]
    bar_of_beat, beat_in_bar, _ = np.array([grid.position(b) for b in range(beats)]).T
    sixteenth_beat = np.arange(steps) // STEPS_PER_BEAT
    bars = len(grid.bars)
    bar = bar_of_beat[sixteenth_beat]
    bar_in_phrase = bar % PHRASE_BARS
    phrase_ends = (bar_in_phrase == PHRASE_BARS - 1) | (bar == bars - 1)
    chord_of_step = chord_of_beat[sixteenth_beat]
    # The fifth beat of a 5/4 bar reads as a first beat, as the model learned bars longer than 4/4.
    positions = (beat_in_bar[sixteenth_beat] % 4) * STEPS_PER_BEAT + np.arange(steps) % STEPS_PER_BEAT
    wanted = notes_per_beat(np.asarray(density, dtype=float)[beat_steps], grid.tempo)[sixteenth_beat]
    condition = torch.from_numpy(conditions(chord_of_step, positions, wanted, bar_in_phrase, phrase_ends))

    generator = torch.Generator().manual_seed(generator_seed(seed))
    tokens = np.full(steps, REST, dtype=np.int64)
    state: torch.Tensor | None = None
    previous, last_pitch, rest_run = REST, None, 0
    starts = [start * STEPS_PER_BEAT for start in grid.bar_starts]
    signatures = [tuple(chord_of_beat[s : s + n]) for s, n in zip(grid.bar_starts, grid.bars, strict=True)]
    final_bar = bars - 1 if bars >= 2 else -1
    with torch.inference_mode():
        for b in range(bars):
            source = _repeated_bar(signatures, b, final_bar)
            for s in range(starts[b], starts[b] + grid.bars[b] * STEPS_PER_BEAT):
                logits, state = model(torch.tensor([[previous]]), condition[s : s + 1][None], state)
                if source is not None:
                    token = int(tokens[s - starts[b] + starts[source]])
                    if token == HOLD and previous == REST:
                        token = REST
                else:
                    final = b == final_bar
                    if final and s > starts[b]:
                        token = HOLD  # the last note rings over the final bar
                    else:
                        recent = tokens[max(0, s - SOUNDING_WINDOW) : s]
                        sounding = float(np.mean(recent != REST)) if s >= SOUNDING_WINDOW else 0.66
                        line = _Line(previous, last_pitch, rest_run, sounding)
                        chord = int(chord_of_step[s])
                        bias = _allowed(
                            line, chord, int(positions[s]), final, bool(phrase_ends[s]), transpose
                        )
                        scaled = logits[0, -1] / max(temperature, 1e-3) + torch.from_numpy(bias)
                        token = int(torch.multinomial(torch.softmax(scaled, -1), 1, generator=generator))
                tokens[s] = token
                previous = token
                rest_run = rest_run + 1 if token == REST else 0
                if token >= 2:
                    last_pitch = token_pitch(token)
    notes = melody_notes(tokens)
    logger.debug(
        "melody: %d notes over %d bars, sounding %.0f%%", len(notes), bars, 100 * np.mean(tokens != REST)
    )
    return notes


def _repeated_bar(signatures: list[tuple[int, ...]], bar: int, final_bar: int) -> int | None:
    """The earlier bar whose melody ``bar`` repeats, or None to write it anew (see the module
    docstring: an answering phrase repeats 2 bars of its call, a returning one 3 bars). Bars
    repeat only bars of the same chords on the same beats, so of the same length too."""
    place, phrase = bar % PHRASE_BARS, bar // PHRASE_BARS
    if bar == final_bar:
        return None
    candidates = [(phrase - 1, ANSWER_BARS)] if phrase % 2 else []
    candidates += [(phrase - RETURN_PHRASES, RETURN_BARS)] if phrase >= RETURN_PHRASES else []
    start = phrase * PHRASE_BARS
    for source, length in candidates:
        earlier = source * PHRASE_BARS
        head = signatures[start : start + length]
        if place < length and len(head) == length and signatures[earlier : earlier + length] == head:
            return earlier + place
    return None


def write_melody(
    model: MelodyModel,
    chords: Sequence[int],
    grid: Grid,
    density: np.ndarray,
    *,
    seed: int = 0,
    transpose: int = 0,
    rests: Sequence[tuple[float, float]] = (),
) -> list[MelodyNote]:
    """The melody of a piece: ``compose``'s line, silent during ``rests`` ((start, end) seconds,
    where a mix ducks the music under the video's own sound, so the tune never competes with a
    voice)."""
    notes = compose(model, chords, grid, density, seed=seed, transpose=transpose)
    if rests:
        notes = rest_during(notes, rests, grid.seconds_per_beat / STEPS_PER_BEAT)
    return notes


def melody_notes(tokens: np.ndarray) -> list[MelodyNote]:
    """Notes from a token sequence: each onset lasts through the HOLDs after it."""
    notes: list[MelodyNote] = []
    for s, token in enumerate(np.asarray(tokens).tolist()):
        if token >= 2:
            notes.append(MelodyNote(token_pitch(token), s, s + 1))
        elif token == HOLD and notes and notes[-1].end == s:
            notes[-1] = MelodyNote(notes[-1].pitch, notes[-1].start, s + 1)
    return notes
