"""The drum part: a groove per kind of section, fills into sections, crashes that open them.

Grooves are written on a sixteenth grid across one 4/4 bar, per feel and density level (1-4, the
arrangement's levels): ``light`` for verses (side stick, closed hat), ``full`` for choruses
(snare on 2 and 4, open hat, busier kick), ``half`` for bridges (half time: the snare on 3),
``build`` for pre-choruses (the light groove, its last bar a crescendo of snare eighths) and
``off`` (intros, breaks, outros: no groove). Every section after the first opens with a crash on
its downbeat, soft where the drums are off or the footage too still for a groove (a cymbal to
mark the change, not a beat), with the kick where they play; the bar before a section where the
drums play ends in a fill (a beat of snare and toms, two beats before a chorus). The last bar
opens with a crash when the drums were playing into it; a still ending stays still.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from video2music.compose.arrangement import TICKS_PER_BEAT, Note

KICK, SIDE_STICK, SNARE, CLAP, BRUSH, CLOSED_HAT, OPEN_HAT, CRASH, RIDE = 36, 37, 38, 39, 40, 42, 46, 49, 51
HIGH_TOM, MID_TOM, LOW_TOM = 50, 47, 45
DRUM_CHANNEL = 9  # "channel 10" as musicians count
SIXTEENTH = TICKS_PER_BEAT // 4
EIGHTHS = (0, 2, 4, 6, 8, 10, 12, 14)
QUARTERS = (0, 4, 8, 12)

# style -> feel -> level -> {drum: sixteenths of the bar it plays on}
_POP = {
    "light": {
        1: {KICK: (0,), SIDE_STICK: (8,), CLOSED_HAT: QUARTERS},
        2: {KICK: (0, 10), SIDE_STICK: (4, 12), CLOSED_HAT: EIGHTHS},
        3: {KICK: (0, 8, 10), SNARE: (4, 12), CLOSED_HAT: EIGHTHS},
        4: {KICK: (0, 6, 8), SNARE: (4, 12), CLOSED_HAT: EIGHTHS, OPEN_HAT: (14,)},
    },
    "full": {
        1: {KICK: (0, 8), SNARE: (4, 12), CLOSED_HAT: EIGHTHS},
        2: {KICK: (0, 8), SNARE: (4, 12), CLOSED_HAT: EIGHTHS},
        3: {KICK: (0, 8, 10), SNARE: (4, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12), OPEN_HAT: (14,)},
        4: {KICK: (0, 6, 8, 10), SNARE: (4, 12), CLOSED_HAT: tuple(range(14)), OPEN_HAT: (14,)},
    },
    "half": {
        1: {KICK: (0,), SNARE: (8,), RIDE: QUARTERS},
        2: {KICK: (0, 10), SNARE: (8,), RIDE: EIGHTHS},
        3: {KICK: (0, 10), SNARE: (8,), RIDE: EIGHTHS},
        4: {KICK: (0, 6, 10), SNARE: (8,), RIDE: EIGHTHS},
    },
}
_BOOM_BAP = {  # lo-fi: a lazy kick, a soft backbeat, hats swung with the rest
    "light": {
        1: {KICK: (0,), SIDE_STICK: (8,)},
        2: {KICK: (0, 10), SIDE_STICK: (4, 12), CLOSED_HAT: EIGHTHS},
    },
    "full": {
        1: {KICK: (0, 10), SNARE: (4, 12), CLOSED_HAT: QUARTERS},
        2: {KICK: (0, 7, 10), SNARE: (4, 12), CLOSED_HAT: EIGHTHS},
    },
    "half": {1: {KICK: (0,), SNARE: (8,)}, 2: {KICK: (0, 10), SNARE: (8,), CLOSED_HAT: QUARTERS}},
}
OFF_BEATS = (2, 6, 10, 14)
_FOUR = {  # electronic: four on the floor, claps on the backbeat, hats on the off-beats
    "light": {
        1: {KICK: QUARTERS, CLOSED_HAT: OFF_BEATS},
        2: {KICK: QUARTERS, CLOSED_HAT: OFF_BEATS, CLAP: (12,)},
    },
    "full": {
        1: {KICK: QUARTERS, CLAP: (4, 12), OPEN_HAT: OFF_BEATS},
        2: {KICK: QUARTERS, CLAP: (4, 12), OPEN_HAT: OFF_BEATS, CLOSED_HAT: tuple(range(16))},
    },
    "half": {1: {KICK: (0, 8), CLAP: (8,)}, 2: {KICK: (0, 8), CLAP: (8,), CLOSED_HAT: OFF_BEATS}},
}
_CINEMATIC = {  # no kit: toms like timpani in the big sections, nothing in the small ones
    "light": {1: {}},
    "full": {1: {LOW_TOM: (0, 8)}, 2: {LOW_TOM: (0, 8), MID_TOM: (6, 14), HIGH_TOM: (12,)}},
    "half": {1: {LOW_TOM: (0,)}, 2: {LOW_TOM: (0, 10)}},
}
_BRUSH = {  # acoustic: brushes swish eighths on the snare, a soft kick
    "light": {1: {KICK: (0,), BRUSH: QUARTERS}, 2: {KICK: (0, 8), BRUSH: EIGHTHS}},
    "full": {
        1: {KICK: (0, 8), BRUSH: EIGHTHS, SNARE: (4, 12)},
        2: {KICK: (0, 8, 10), BRUSH: EIGHTHS, SNARE: (4, 12)},
    },
    "half": {
        1: {KICK: (0,), BRUSH: QUARTERS, SNARE: (8,)},
        2: {KICK: (0,), BRUSH: EIGHTHS, SNARE: (8,)},
    },
}
GROOVES = {"pop": _POP, "boom-bap": _BOOM_BAP, "four": _FOUR, "cinematic": _CINEMATIC, "brush": _BRUSH}
ROLL_DRUM = {"cinematic": RIDE}  # a cymbal rolled into each section and each cut
ACCENTS = {
    KICK: 4, SNARE: 2, SIDE_STICK: -6, CLAP: 0, BRUSH: -16, CLOSED_HAT: -18, OPEN_HAT: -12,
    RIDE: -14, CRASH: 6, HIGH_TOM: -2, MID_TOM: 0, LOW_TOM: 4,
}  # fmt: skip
SOFT_CRASH = -24  # velocity offset of a crash where the drums are off
FILL = ((0, SNARE, -10), (1, SNARE, -6), (2, HIGH_TOM, -2), (3, LOW_TOM, 2))  # sixteenth, drum, accent
LONG_FILL = (
    (0, SNARE, -14),
    (2, SNARE, -10),
    (4, HIGH_TOM, -6),
    (5, HIGH_TOM, -6),
    (6, MID_TOM, -2),
    (7, LOW_TOM, 2),
)

Velocity = Callable[[int, int], int]  # (beat, accent) -> MIDI velocity

# The orchestral kit (GM/GS drum kit 48) tunes notes 41-53 as timpani, F2 to F3, and holds its
# cymbals at 57 and 59: there the kit's toms, crash and ride would sound as timpani of no key.
ORCHESTRAL_KIT = 48
TIMPANI = (41, 53)
CONCERT_CYMBAL, SUSPENDED_CYMBAL = 57, 59


def drum_part(
    feels: Sequence[str],
    levels: Sequence[int],
    pattern_beats: Sequence[int],
    section_starts: Sequence[int],
    final_beat: int | None,
    velocity: Velocity,
    builds: frozenset[int] = frozenset(),
    kit: str = "pop",
    cut_beats: frozenset[int] = frozenset(),
) -> list[Note]:
    """The drum notes, per beat: its section's ``feels``, the density ``levels``, the beat of a 4/4
    bar whose pattern it plays (``pattern_beats``); crashes on ``section_starts`` (downbeats) and
    on ``final_beat`` (the last bar's downbeat, or None); snare eighths rising on the ``builds``
    beats (a pre-chorus's last bar); the style's ``kit`` grooves (``GROOVES``), and for a style
    with a ``ROLL_DRUM`` a cymbal roll into every section start and every scene cut
    (``cut_beats``, downbeats)."""
    beats = len(feels)
    hits: dict[tuple[int, int], int] = {}  # (tick, drum) -> velocity; one hit per drum and tick
    fills: dict[int, tuple[tuple[int, int, int], ...]] = {}
    for start in section_starts:
        if start < beats and feels[start] != "off" and int(levels[start]) > 0:
            long = feels[start] == "full" and start >= 2 and feels[start - 2] != "off"
            fills[start - 2 if long else start - 1] = LONG_FILL if long else FILL
    for beat in range(beats):
        if beat in fills:
            for step, drum, accent in fills[beat]:
                hits[(beat * TICKS_PER_BEAT + step * SIXTEENTH, drum)] = velocity(beat, accent)
            continue
        if beat - 1 in fills and fills[beat - 1] is LONG_FILL:
            continue
        feel, level = feels[beat], int(levels[beat])
        if feel == "off" or level <= 0:
            continue
        first = int(pattern_beats[beat]) * 4
        grooves = GROOVES[kit]["light" if feel == "build" else feel]
        for drum, steps in grooves[min(level, max(grooves))].items():
            for step in (s for s in steps if first <= s < first + 4):
                tick = beat * TICKS_PER_BEAT + (step - first) * SIXTEENTH
                hits[(tick, drum)] = velocity(beat, ACCENTS[drum] + (4 if step == 0 else 0))
        if beat in builds:
            for step in (0, 2):
                hits[(beat * TICKS_PER_BEAT + step * SIXTEENTH, SNARE)] = velocity(beat, -12 + 3 * (beat % 4))

    roll = ROLL_DRUM.get(kit)
    for beat in sorted({*section_starts, *cut_beats}) if roll else ():
        if 0 < beat < beats:  # sixteenths swelling through the beat before
            for step in range(4):
                tick = (beat - 1) * TICKS_PER_BEAT + step * SIXTEENTH
                hits[(tick, roll)] = velocity(beat - 1, -24 + 6 * step)

    def grooving(beat: int) -> bool:
        return feels[beat] != "off" and int(levels[beat]) > 0

    for beat in [*section_starts, *([final_beat] if final_beat is not None else [])]:
        if not 0 < beat < beats:
            continue
        playing = grooving(beat) or (beat == final_beat and grooving(beat - 1))
        if beat == final_beat and beat not in section_starts and not playing:
            continue  # a still ending stays still
        tick = beat * TICKS_PER_BEAT
        hits[(tick, CRASH)] = velocity(beat, ACCENTS[CRASH] if playing else SOFT_CRASH)
        if playing:
            hits[(tick, KICK)] = velocity(beat, ACCENTS[KICK] + 4)
    # Drum notes are triggers; a sixteenth's length keeps them readable in a DAW's piano roll.
    return [Note(drum, tick, tick + SIXTEENTH, vel) for (tick, drum), vel in sorted(hits.items())]


def for_orchestra(notes: list[Note], tonic: int) -> list[Note]:
    """``notes`` played on the orchestral kit in a key with ``tonic`` (pitch class): the toms on
    two timpani tuned to the tonic and its fifth, the crash on a concert cymbal and the ride's
    roll on a suspended one."""
    low = TIMPANI[0] + (tonic - TIMPANI[0]) % 12
    fifth = low + 7 if low + 7 <= TIMPANI[1] else low - 5
    drums = {
        LOW_TOM: min(low, fifth), MID_TOM: min(low, fifth), HIGH_TOM: max(low, fifth),
        CRASH: CONCERT_CYMBAL, RIDE: SUSPENDED_CYMBAL,
    }  # fmt: skip
    return [Note(drums.get(n.pitch, n.pitch), n.start, n.end, n.velocity) for n in notes]
