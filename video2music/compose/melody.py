"""Writing a melody over the chords with the melody model, in the shape of the song form.

The melody is written on sixteenth notes in the normalised key (C major / A minor), over the
chords as the grid (``video2music.theory.grid``) places them; the arranger transposes it with the
rest. The form (``video2music.theory.form``) decides what repeats, the model chooses the notes:

* A plan per bar (``bar_plan``). Sections that sing (verse, pre-chorus, chorus, bridge) are
  written in 4-bar phrases; intros, breaks and outros leave the melody silent. In a section
  heard for the first time, a phrase states a one-bar idea, answers it with the same rhythm on
  new pitches (``vary``), goes on anew and ends with a cadence bar; the next phrase repeats the
  first three bars (``copy``) and ends differently, as pop periods do. A chorus states a two-bar
  hook and repeats it; a pre-chorus climbs, its idea sequenced a scale step up each bar
  (``sequence``). A section that comes back (the same tune: ``Section.tune_key``) repeats the
  one heard before bar for bar, the last time with a new last bar: the chorus's hook returns in
  every chorus, and the song's last chorus ends its own way.
  Copies keep their rhythm and contour; a note on beat 1 or 3 that clashes with the chord now
  sounding (a semitone above one of its tones: an avoid note) moves to the nearest chord tone.
  A cut can bend a bar (``theory.grid``) in one verse and not in the one it repeats, so a bar's
  notes start only within the beats of the shortest bar that sings it again (``_copy_room``),
  a little closer together, and a copy longer than its source holds its last note over the
  extra beat: the line comes back note for note.
* The model (``video2music.model.melody_gru``) proposes each sixteenth of a ``new`` bar (and the
  pitches of a ``vary`` bar), conditioned on the chord, the next chord, the position in bar and
  phrase, the notes per beat wanted (``NOTES_PER_BEAT`` per section, a little more on busy
  footage) and the section's energy (``ROLE_ENERGY``, moved by the video's intensity): a chorus
  sits higher and moves more than a verse, as the model learned from POP909, and its register
  starts ``CHORUS_LIFT`` above the verses' middle. Within a phrase the register arches
  (``CONTOUR``): it climbs to the third bar and settles for the cadence.
* Rules on what it may choose: on beats 1 and 3 a note that is not a chord tone loses
  ``STRONG_BEAT_PENALTY`` nats (pop uses passing tones there, but not often); new notes lie
  within an octave of the one before, and each semitone of a leap beyond a whole tone costs
  ``LEAP_COST`` (not after a breath: a phrase may start anywhere in the register); striking the
  same pitch again costs ``REPEAT_COST``, and off beats 1 and 3 a pitch class the bar has already
  struck costs ``CLASS_AGAIN_COST`` for each time it was (twice at most); each semitone outside
  the section's ``REGISTER`` (as heard, after transposition) costs ``REGISTER_COST``, and nothing
  leaves ``MELODY_RANGE``. A
  rest longer than ``LONG_REST`` sixteenths costs ``LONG_REST_COST`` per sixteenth more. Lines
  breathe where singers do: a phrase ends with ``PHRASE_END_BEATS`` beats' rest, the beat before
  favours a rest by ``PHRASE_END_REST`` and the end of its second bar by ``HALF_PHRASE_REST``, and a rest
  anywhere else costs ``BREATH_COST`` to begin and ``GAP_COST`` a sixteenth to go on; over
  the last ``SOUNDING_WINDOW`` sixteenths the line keeps sounding between ``SOUNDING_SHARE`` of
  the time (POP909's melodies sound 66% of the time).
* Ending. The last bar the tune sings (the piece's last, or the one before an outro) starts with
  a chord tone and holds it, so the tune ends on a resolution rather than breaking off; on the
  home note (the root of the piece's last chord) where the chord there holds it
  (``FINAL_HOME_BIAS``).

Sampling is seeded (``torch.Generator``): the same inputs and seed give the same melody.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from video2music.model.melody_gru import (
    HIGH_PITCH,
    HOLD,
    LOW_PITCH,
    NUM_TOKENS,
    PHRASE_BARS,
    REST,
    STEPS_PER_BEAT,
    MelodyModel,
    conditions,
    pitch_token,
    token_pitch,
)
from video2music.model.sampling import generator_seed
from video2music.model.step_threads import StepThreads
from video2music.theory import vocab
from video2music.theory.form import Form, Section
from video2music.theory.grid import Grid
from video2music.utils.errors import UserError

logger = logging.getLogger(__name__)

MELODY_RANGE = (60, 88)  # C4..E6, as heard: above the accompaniment's ceiling
REGISTER = {  # as heard: where each section's line is centred
    "verse": (62, 74),
    "pre-chorus": (64, 77),
    "chorus": (67, 81),
    "bridge": (64, 77),
}
CHORUS_LIFT = 3  # semitones a chorus's register starts above the verses' middle
CONTOUR = (-2, 0, 3, -1)  # the register's shift in each bar of a phrase: an arch to the third bar
ROLE_ENERGY = {"verse": -0.3, "pre-chorus": 0.05, "chorus": 0.45, "bridge": 0.0}
NOTES_PER_BEAT = {"verse": 1.15, "pre-chorus": 1.25, "chorus": 1.4, "bridge": 1.15}
BUSY_DENSITY = 12.0  # the accompaniment's notes per second at which the melody is busiest
BUSY_EXTRA = 0.25  # notes per beat added on the busiest footage
MAX_LEAP = 12
LEAP_COST = 0.25
REPEAT_COST = 0.7
REGISTER_COST = 0.5
SOUNDING_WINDOW = 64  # four bars: a phrase
SOUNDING_SHARE = (0.5, 0.9)
SOUNDING_GAIN = 20.0
LONG_REST = 8
LONG_REST_COST = 0.25
PHRASE_END_BEATS = 2  # a phrase's last bar ends with this many beats' rest
PHRASE_END_REST = 1.5
HALF_PHRASE_REST = 1.0
BREATH_COST = 2.5  # a rest starting inside a phrase: pop lines breathe at their ends
GAP_COST = 1.0  # a rest inside a phrase going on past a sixteenth (a gap, not an articulation)
# A bar whose notes start in fewer beats than it has (``_copy_room``) asks for more notes a beat:
# its beats over those, to this power. Made up in full (1), the bars' rhythms grow unlike each other
# (grooving similarity 0.65 and 0.64 on bench/form.py's timelines, 12 seeds; POP909's p10 0.64);
# not at all (0), each bar's line thins (1-bar pitch-class entropy 1.25 and 1.15, 8 seeds; p10
# 1.24); 0.75 gives 0.66 and 0.65, and 1.35 and 1.26 (12 seeds).
ROOM_MAKEUP = 0.75
STRONG_BEAT_PENALTY = 1.0
# Without it, 40% of sung bars circled one or two pitch classes (entropy of 1 bit or less) and the
# 1-bar pitch-class entropy sat at 1.26 and 1.27 on bench/form.py's timelines (POP909: 1.53, p10
# 1.24; 5 seeds); 0.5 gives 1.29 and 1.52. Beats 1 and 3 are left to the chord: charged there
# too, the chord tones on them fell from 0.73 to 0.62 on bench/arrangement.py's timeline.
CLASS_AGAIN_COST = 0.5
# The tune's last note: the home note where the chord under it holds it (a final chorus before an
# outro ends over the chorus's own last chord, and a third or fifth there stops on a question).
FINAL_HOME_BIAS = 2.0
STRONG_POSITIONS = (0, 8)  # sixteenths of beats 1 and 3
_SCALE = (0, 2, 4, 5, 7, 9, 11)  # the normalised keys' scale (A minor's natural form shares it)


@dataclass(frozen=True)
class MelodyNote:
    """A melody note in the normalised key, in sixteenths from the start."""

    pitch: int
    start: int
    end: int


@dataclass(frozen=True)
class BarPlan:
    """How one bar's melody is written: ``rest`` (silent), ``new`` (the model), ``copy`` /
    ``vary`` / ``sequence`` of bar ``source`` (exactly / its rhythm, new pitches / moved ``shift``
    scale steps), ``final`` (the tune's last bar: a held chord tone). ``phrase_end`` marks the
    last bar of a phrase."""

    op: str
    source: int = -1
    shift: int = 0
    phrase_end: bool = False


def _fresh(section: Section, i: int) -> BarPlan:
    """Bar ``i`` of a section heard for the first time (see the module docstring)."""
    phrase, place = divmod(i, PHRASE_BARS)
    end = place == PHRASE_BARS - 1 or i == section.bars - 1
    bar = section.first_bar + i
    if end:
        return BarPlan("new", phrase_end=True)
    if phrase >= 2:
        return BarPlan("copy", bar - 2 * PHRASE_BARS)
    if phrase == 1:
        return BarPlan("copy", bar - PHRASE_BARS)
    if place == 0:
        return BarPlan("new")
    if section.name == "pre-chorus":
        return BarPlan("sequence", bar - place, shift=place)
    if place == 1 and section.name != "chorus":
        return BarPlan("vary", bar - 1)
    return BarPlan("new")


def bar_plan(form: Form) -> list[BarPlan]:
    """One ``BarPlan`` per bar of ``form``."""
    plans: list[BarPlan] = []
    heard: dict[tuple[str, int], Section] = {}
    # The tune ends on a held chord tone in the last bar it sings (before an outro, if one follows).
    last = next((s for s in reversed(form.sections) if s.tune_key), form.sections[-1])
    final_of_tune = {s.tune_key: s for s in form.sections}
    for section in form.sections:
        tune = section.tune_key
        source = heard.get(tune) if tune else None
        for i in range(section.bars):
            bar = section.first_bar + i
            new_ending = final_of_tune[tune] is section and i == section.bars - 1
            if tune is None:
                plans.append(BarPlan("rest"))
            elif section is last and i == section.bars - 1 and bar > 0:
                plans.append(BarPlan("final", phrase_end=True))
            elif source is not None and i < source.bars and not new_ending:
                plans.append(BarPlan("copy", source.first_bar + i, phrase_end=(i + 1) % PHRASE_BARS == 0))
            else:
                plans.append(_fresh(section, i))
        if tune and (source is None or section.bars > source.bars):
            heard[tune] = section
    return plans


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
    line: _Line,
    chord: int,
    position: int,
    final: bool,
    breath: str,
    heard_shift: int,
    register: tuple[int, int],
    home: int | None = None,
) -> np.ndarray:
    """Additive log-odds for each token at one sixteenth (-inf: not allowed). ``breath``: ``must``
    (the last ``PHRASE_END_BEATS`` of a phrase: a rest), ``end`` (the beat before: a rest favoured by
    ``PHRASE_END_REST``), ``may`` (the end of a half phrase: favoured by ``HALF_PHRASE_REST``) or
    ``no`` (inside a phrase: a rest costs ``BREATH_COST`` to begin and ``GAP_COST`` a sixteenth to
    go on). On beats 1 and 3 an avoid note
    (a semitone above a chord tone) is never struck. ``heard_shift`` moves the
    normalised pitches to where they are heard."""
    previous, last_pitch = line.previous, line.last_pitch
    bias = np.zeros(NUM_TOKENS, dtype=np.float32)
    pitches = _PITCHES
    heard = pitches + heard_shift
    outside = (heard < MELODY_RANGE[0]) | (heard > MELODY_RANGE[1])
    bias[2:] = -REGISTER_COST * (np.maximum(register[0] - heard, 0) + np.maximum(heard - register[1], 0))
    if last_pitch is not None:
        leaps = np.abs(pitches - last_pitch)
        outside |= leaps > MAX_LEAP
        after_breath = line.rest_run >= STEPS_PER_BEAT // 2
        bias[2:] -= (0.0 if after_breath else LEAP_COST) * np.maximum(leaps - 2, 0) + REPEAT_COST * (
            leaps == 0
        )
    bias[2:][outside] = -np.inf
    bias[REST] -= LONG_REST_COST * max(line.rest_run - LONG_REST, 0)
    low, high = SOUNDING_SHARE
    bias[REST] += SOUNDING_GAIN * (max(line.sounding - high, 0) - max(low - line.sounding, 0))
    if breath == "end":
        bias[REST] += PHRASE_END_REST
    elif breath == "may":
        bias[REST] += HALF_PHRASE_REST
    elif previous != REST:
        bias[REST] -= BREATH_COST
    elif 0 < line.rest_run < LONG_REST:
        bias[REST] -= GAP_COST
    if previous == REST:
        bias[HOLD] = -np.inf
    if chord != vocab.N_ID and (position in STRONG_POSITIONS or final):
        tones = set(vocab.chord_pitch_classes(chord))
        off_chord = np.array([p % 12 not in tones for p in pitches])
        bias[2:][off_chord] -= np.inf if final else STRONG_BEAT_PENALTY
        bias[2:][_avoid_notes(chord)] = -np.inf
        if last_pitch is not None and last_pitch % 12 not in tones and previous != REST:
            bias[HOLD] -= np.inf if final else STRONG_BEAT_PENALTY
    if final:  # the final chord arrives with a note of its own
        bias[REST] = bias[HOLD] = -np.inf
        if home is not None and chord != vocab.N_ID and home in vocab.chord_pitch_classes(chord):
            bias[2:][pitches % 12 != home] -= FINAL_HOME_BIAS
    elif breath == "must":
        bias[1:] = -np.inf
    return bias


def _nearest_chord_tone(pitch: int, chord: int) -> int:
    if chord == vocab.N_ID:
        return pitch
    tones = set(vocab.chord_pitch_classes(chord))
    return min(range(pitch - 6, pitch + 7), key=lambda p: (p % 12 not in tones, abs(p - pitch), p))


@cache
def _avoid_notes(chord: int) -> np.ndarray:
    """Which of the model's pitches ``_clashes`` with ``chord``."""
    return np.array([_clashes(int(p), chord) for p in _PITCHES])


def _clashes(pitch: int, chord: int) -> bool:
    """Whether ``pitch`` lies a semitone above a tone of ``chord`` it does not belong to (the
    avoid note: F over a C chord), the clash a repeated line must not keep."""
    if chord == vocab.N_ID:
        return False
    tones = set(vocab.chord_pitch_classes(chord))
    return pitch % 12 not in tones and (pitch - 1) % 12 in tones


def _shifted(pitch: int, steps: int) -> int:
    """``pitch`` moved ``steps`` degrees along the normalised scale (a pitch off the scale first
    drops to the degree below it)."""
    octave, pc = divmod(pitch, 12)
    degree = max(i for i, p in enumerate(_SCALE) if p <= pc) + steps
    return (octave + degree // 7) * 12 + _SCALE[degree % 7]


class _Writer:
    """The state of one melody being written, a sixteenth at a time."""

    def __init__(self, model: MelodyModel, condition: torch.Tensor, steps: int, seed: int) -> None:
        self.model = model
        self.condition = condition
        self.tokens = np.full(steps, REST, dtype=np.int64)
        self.generator = torch.Generator().manual_seed(generator_seed(seed))
        self.state: torch.Tensor | None = None
        self.previous, self.last_pitch, self.rest_run = REST, None, 0

    def logits(self, step: int) -> torch.Tensor:
        out, self.state = self.model(
            torch.tensor([[self.previous]]), self.condition[step : step + 1][None], self.state
        )
        return out[0, -1]

    def advance(self, previous: list[int], first: int) -> None:
        """Feed the model a stretch whose tokens are known (``previous``: the token before each of
        its sixteenths from ``first``), in one pass: its state moves on, nothing is sampled."""
        conditions = self.condition[first : first + len(previous)][None]
        _, self.state = self.model(torch.tensor([previous]), conditions, self.state)

    def line(self, step: int) -> _Line:
        recent = self.tokens[max(0, step - SOUNDING_WINDOW) : step]
        sounding = float(np.mean(recent != REST)) if step >= SOUNDING_WINDOW else 0.66
        return _Line(self.previous, self.last_pitch, self.rest_run, sounding)

    def draw(self, logits: torch.Tensor, bias: np.ndarray) -> int:
        scaled = logits + torch.from_numpy(bias)
        return int(torch.multinomial(torch.softmax(scaled, -1), 1, generator=self.generator))

    def put(self, step: int, token: int) -> None:
        if token == HOLD and self.previous == REST:
            token = REST
        self.tokens[step] = token
        self.previous = token
        self.rest_run = self.rest_run + 1 if token == REST else 0
        if token >= 2:
            self.last_pitch = token_pitch(token)


def _copied_token(token: int, position: int, chord: int, plan: BarPlan) -> int:
    """A source token as a ``copy`` or ``sequence`` bar plays it over ``chord``."""
    if token < 2:
        return token
    pitch = token_pitch(token)
    if plan.op == "sequence":
        pitch = _shifted(pitch, plan.shift)
    if plan.op == "sequence" and position == 0 or position in STRONG_POSITIONS and _clashes(pitch, chord):
        pitch = _nearest_chord_tone(pitch, chord)
    return pitch_token(pitch)


def compose(
    model: MelodyModel,
    chords: Sequence[int],
    grid: Grid,
    form: Form,
    density: np.ndarray,
    seed: int = 0,
    transpose: int = 0,
) -> list[MelodyNote]:
    """A melody over ``chords`` (one normalised id per step of ``grid``) in the shape of ``form``,
    with the accompaniment's note ``density`` per step, to be heard ``transpose`` semitones up
    (the output key's ``Key.transpose``; a lifted section adds its lift); see the module docstring."""
    if len(chords) != grid.steps or len(density) != grid.steps:
        raise UserError(f"{len(chords)} chords and {len(density)} densities for a grid of {grid.steps} steps")
    if form.bars != len(grid.bars):
        raise UserError(f"a form of {form.bars} bars for a grid of {len(grid.bars)} bars")
    beats = grid.end_beat
    steps = beats * STEPS_PER_BEAT
    beat_steps = grid.beat_steps
    chord_of_beat = np.asarray(chords, dtype=np.int64)[beat_steps]
    bar_of_beat, beat_in_bar, _ = grid.beat_positions.T
    sixteenth_beat = np.arange(steps) // STEPS_PER_BEAT
    bar = bar_of_beat[sixteenth_beat]
    sections = form.section_of_bar()
    plans = bar_plan(form)
    starts = [start * STEPS_PER_BEAT for start in grid.bar_starts]
    chord_of_step = chord_of_beat[sixteenth_beat]
    # The fifth beat of a 5/4 bar reads as a first beat, as the model learned bars longer than 4/4.
    positions = (beat_in_bar[sixteenth_beat] % 4) * STEPS_PER_BEAT + np.arange(steps) % STEPS_PER_BEAT
    room = _copy_room(plans, grid.bars)
    home = vocab.chord_root(int(chords[-1]))  # the piece ends on its tonic (the chords' cadence)
    crowding = (np.asarray(grid.bars) / np.asarray(room)) ** ROOM_MAKEUP
    condition = torch.from_numpy(
        _conditions(
            chord_of_step,
            positions,
            bar,
            sections,
            plans,
            starts,
            density[beat_steps][sixteenth_beat],
            crowding[bar],
        )
    )
    writer = _Writer(model, condition, steps, seed)
    sung: dict[str, list[int]] = {}  # pitches (normalised) each kind of section has sung
    # One thread: a step is a few tiny ops, and waking a thread pool for each costs more than it saves.
    with torch.inference_mode(), StepThreads(tune=False) as threads:
        for b, plan in enumerate(plans):
            section = sections[b]
            shift = transpose + section.lift
            low, high = _register(section.name, sung, shift)
            arch = CONTOUR[(b - section.first_bar) % PHRASE_BARS]
            register = (low + arch, high + arch)
            first, length = starts[b], grid.bars[b] * STEPS_PER_BEAT
            held_over = _held_over(writer.tokens, plans, starts, b) if plan.op in ("new", "vary") else 0
            if plan.op in ("rest", "copy", "sequence"):  # known before the model: one pass for the bar
                fed = [writer.previous]
                for s in range(first, first + length):
                    offset, source = s - first, starts[max(plan.source, 0)] + s - first
                    # A copy longer than its source (a bar stretched at a cut) holds the source's
                    # last note over the extra beats rather than breaking the line.
                    token = REST if plan.op == "rest" else HOLD
                    if plan.op != "rest" and offset < grid.bars[plan.source] * STEPS_PER_BEAT:
                        token = _copied_token(
                            int(writer.tokens[source]), int(positions[s]), int(chord_of_step[s]), plan
                        )
                    writer.put(s, token)
                    fed.append(int(writer.tokens[s]))
                threads(writer.advance, fed[:-1], first)
                continue
            struck = np.zeros(12)  # how often the bar has struck each pitch class so far
            for s in range(first, first + length):
                logits = threads(writer.logits, s)
                offset, position, chord = s - first, int(positions[s]), int(chord_of_step[s])
                if plan.op == "final" and offset > 0:
                    token = HOLD  # the last note rings over the final bar
                elif offset < held_over:
                    token = HOLD  # the note a copied bar ends with lasts as long as where it came from
                else:
                    breath = _breath(plan, b - section.first_bar, length - offset)
                    bias = _allowed(
                        writer.line(s), chord, position, plan.op == "final", breath, shift, register, home
                    )
                    if plan.op == "vary" and breath != "must":
                        inside = offset < grid.bars[plan.source] * STEPS_PER_BEAT
                        source = int(writer.tokens[starts[plan.source] + offset]) if inside else REST
                        bias += _rhythm_of(source, writer.previous)
                    if position not in STRONG_POSITIONS:
                        bias[2:] -= CLASS_AGAIN_COST * np.minimum(struck[_PITCHES % 12], 2)
                    if offset >= room[b] * STEPS_PER_BEAT:
                        bias = _without_onsets(bias)
                    token = writer.draw(logits, bias)
                writer.put(s, token)
                if token >= 2:
                    struck[token_pitch(token) % 12] += 1
            sung.setdefault(section.name, []).extend(
                token_pitch(t) for t in writer.tokens[first : first + length] if t >= 2
            )
    notes = melody_notes(writer.tokens)
    logger.debug(
        "melody: %d notes over %d bars, sounding %.0f%%",
        len(notes),
        len(grid.bars),
        100 * np.mean(writer.tokens != REST),
    )
    return notes


def _copy_room(plans: Sequence[BarPlan], bars: Sequence[int]) -> list[int]:
    """Per bar, the beats in which its notes may start: no more than the shortest bar that sings
    it again (a ``copy`` of it, or of a copy of it). A returning section can meet a cut where the
    one it repeats did not, and a bar bent to 3/4 there could not repeat a line with a note on the
    fourth beat; started within the beats every copy has, the line comes back exactly, its last
    note cut short in the shorter bar. (A ``sequence`` moves its pitches: it is no exact copy.)"""
    room = list(bars)
    for bar in range(len(plans) - 1, -1, -1):  # a copy comes after its source
        plan = plans[bar]
        if plan.op == "copy":
            room[plan.source] = min(room[plan.source], room[bar])
    return room


def _without_onsets(bias: np.ndarray) -> np.ndarray:
    """``bias`` with no note struck: the line holds or rests, and holds where nothing else was
    allowed (a ``vary`` bar's source struck here)."""
    bias = bias.copy()
    bias[2:] = -np.inf
    if np.isneginf(bias[:2]).all():
        bias[HOLD] = 0.0  # after a rest, ``_Writer.put`` keeps resting
    return bias


def _held_over(tokens: np.ndarray, plans: list[BarPlan], starts: list[int], bar: int) -> int:
    """How many sixteenths a bar written anew after a copied one must hold at its start: as many
    as the copy's source held into the bar after it, so the copied bar's last note keeps its
    length (a repeated line is repeated whole)."""
    before = plans[bar - 1] if bar > 0 else None
    if before is None or before.op != "copy" or before.source + 1 >= bar or tokens[starts[bar] - 1] == REST:
        return 0
    following = tokens[starts[before.source + 1] : starts[bar]]
    run = 0
    while run < len(following) and following[run] == HOLD:
        run += 1
    return min(run, starts[bar + 1] - starts[bar] if bar + 1 < len(starts) else run)


def _register(name: str, sung: dict[str, list[int]], shift: int) -> tuple[int, int]:
    """Where a section's new notes are aimed, as heard: its ``REGISTER``, and a chorus at least
    ``CHORUS_LIFT`` above the middle of the verses sung so far, so the chorus lifts."""
    low, high = REGISTER.get(name, REGISTER["verse"])
    if name == "chorus" and sung.get("verse"):
        low = max(low, int(np.median(sung["verse"])) + shift + CHORUS_LIFT)
        high = max(high, low + 12)
    return low, high


def _breath(plan: BarPlan, bar_in_section: int, left: int) -> str:
    """Where a sixteenth lies for breathing (see ``_allowed``), ``left`` sixteenths before its
    bar's end: a phrase ends with two beats' rest at least, a rest is favoured in the beat before,
    and the line may breathe at the end of a phrase's second bar."""
    if plan.phrase_end and left <= PHRASE_END_BEATS * STEPS_PER_BEAT:
        return "must"
    if plan.phrase_end and left <= (PHRASE_END_BEATS + 1) * STEPS_PER_BEAT:
        return "end"
    if bar_in_section % PHRASE_BARS == PHRASE_BARS // 2 - 1 and left <= STEPS_PER_BEAT:
        return "may"
    return "no"


def _rhythm_of(token: int, previous: int) -> np.ndarray:
    """Log-odds that keep a ``vary`` bar on its source's rhythm: an onset where it struck, a hold
    where it held, a rest where it rested, unless the line is sounding (the rest a source bar
    began with, after silence, is held over rather than breathed)."""
    bias = np.zeros(NUM_TOKENS, dtype=np.float32)
    if token >= 2 or (token == HOLD and previous == REST):
        bias[REST] = bias[HOLD] = -np.inf
    elif token == HOLD or previous != REST:
        bias[:] = -np.inf
        bias[HOLD] = 0.0
    else:
        bias[:] = -np.inf
        bias[REST] = 0.0
    return bias


def _conditions(
    chord_of_step: np.ndarray,
    positions: np.ndarray,
    bar: np.ndarray,
    sections: list[Section],
    plans: list[BarPlan],
    starts: list[int],
    density: np.ndarray,
    crowding: np.ndarray,
) -> np.ndarray:
    """The model's condition for every sixteenth (see ``model.melody_gru.conditions``);
    ``crowding``: how much the notes per beat wanted grow in a bar whose notes start in fewer
    beats than it has (``_copy_room``)."""
    name = [sections[b].name for b in bar]
    busy = np.clip(np.asarray(density, dtype=float) / BUSY_DENSITY, 0.0, 1.0)
    wanted = (np.array([NOTES_PER_BEAT.get(n, 0.0) for n in name]) + BUSY_EXTRA * busy) * crowding
    energy = np.array(
        [ROLE_ENERGY.get(sections[b].name, -0.5) + 0.6 * (sections[b].energy - 0.5) for b in bar]
    )
    in_section = np.array([b - sections[b].first_bar for b in bar])
    phrase_end = np.array([plans[b].phrase_end for b in bar])
    return conditions(
        chord_of_step,
        positions,
        wanted,
        in_section % PHRASE_BARS,
        phrase_end,
        _next_chords(chord_of_step),
        energy,
    )


def _next_chords(chord_of_step: np.ndarray) -> np.ndarray:
    """Per sixteenth, the next chord that differs from the sounding one (N at the end)."""
    following = np.full(len(chord_of_step), vocab.N_ID, dtype=np.int64)
    for s in range(len(chord_of_step) - 2, -1, -1):
        nxt = chord_of_step[s + 1]
        following[s] = nxt if nxt != chord_of_step[s] else following[s + 1]
    return following


def write_melody(
    model: MelodyModel,
    chords: Sequence[int],
    grid: Grid,
    form: Form,
    density: np.ndarray,
    *,
    seed: int = 0,
    transpose: int = 0,
    rests: Sequence[tuple[float, float]] = (),
) -> list[MelodyNote]:
    """The melody of a piece: ``compose``'s line, silent during ``rests`` ((start, end) seconds,
    where a mix ducks the music under the video's own sound, so the tune never competes with a
    voice)."""
    notes = compose(model, chords, grid, form, density, seed=seed, transpose=transpose)
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
