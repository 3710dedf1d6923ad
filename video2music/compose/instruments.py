"""Which sound plays each part: General MIDI programs, chosen by number, name, alias or preset.

    Instruments.parse("chords=strings, arpeggio=piano, bass=fingered bass, drums=brush")
    Instruments.parse("bass=33", preset="lo-fi")   # a preset, with one part changed

A part's instrument can be a program number (0-127, as MIDI files store them), any of the 128
General MIDI names in any case and spacing (``Electric Bass (finger)``, ``electric bass finger``)
or a common alias (``strings``, ``fingered bass``, ``rhodes``). The drum part names a GM drum kit
on channel 10 instead (``standard``, ``room``, ``power``, ``electronic``, ``808``, ``jazz``,
``brush``, ``orchestral``). The parts are ``Instruments``'s fields, so a new part only needs a
field with its default (and, if it is not melodic, its own name table in ``_TABLES``).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass

import pretty_midi

from video2music.compose.styles import style_named
from video2music.utils.errors import UserError

# Names people use for GM programs besides the standard ones.
ALIASES: dict[str, int] = {
    "piano": 0, "grand piano": 0, "bright piano": 1, "electric piano": 4, "rhodes": 4, "ep": 4,
    "wurlitzer": 5, "harpsichord": 6, "celeste": 8, "bells": 14, "glock": 9, "vibes": 11,
    "organ": 16, "hammond": 16, "church organ": 19,
    "guitar": 24, "nylon guitar": 24, "classical guitar": 24, "steel guitar": 25, "acoustic guitar": 25,
    "jazz guitar": 26, "electric guitar": 27, "clean guitar": 27, "muted guitar": 28,
    "overdrive": 29, "distortion": 30,
    "bass": 33, "upright bass": 32, "double bass": 32, "acoustic bass": 32, "fingered bass": 33,
    "finger bass": 33, "electric bass": 33, "picked bass": 34, "pick bass": 34, "fretless": 35,
    "slap bass": 36, "synth bass": 38,
    "strings": 48, "string ensemble": 48, "string section": 48, "slow strings": 49, "tremolo": 44,
    "pizzicato": 45, "harp": 46, "synth strings": 50,
    "choir": 52, "voices": 53, "brass": 61, "horn": 60, "horns": 60, "sax": 65, "saxophone": 65,
    "synth lead": 81, "square lead": 80, "saw lead": 81, "sawtooth": 81,
    "pad": 89, "warm pad": 89, "synth pad": 90, "polysynth": 90, "halo pad": 94,
}  # fmt: skip
DRUM_KITS: dict[str, int] = {
    "standard": 0, "room": 8, "power": 16, "electronic": 24, "tr-808": 25, "808": 25,
    "jazz": 32, "brush": 40, "brushes": 40, "orchestral": 48,
}  # fmt: skip
# Styles: part -> instrument name; parts a preset does not name keep their defaults.
PRESETS: dict[str, dict[str, str]] = {
    "pop": {},
    "cinematic": {
        "chords": "strings",
        "arpeggio": "harp",
        "bass": "contrabass",
        "drums": "orchestral",
        "melody": "violin",
    },
    "acoustic": {
        "chords": "steel guitar",
        "arpeggio": "nylon guitar",
        "bass": "upright bass",
        "drums": "brush",
    },
    "lo-fi": {
        "chords": "electric piano",
        "arpeggio": "vibraphone",
        "bass": "fingered bass",
        "drums": "jazz",
        "melody": "muted trumpet",
    },
    "electronic": {
        "chords": "warm pad",
        "arpeggio": "square lead",
        "bass": "synth bass",
        "drums": "808",
        "melody": "saw lead",
    },
}


def _normal(name: str) -> str:
    """Case, spaces and punctuation do not matter: ``Electric Bass (finger)`` == ``electricbassfinger``."""
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def _table(names: dict[str, int]) -> dict[str, tuple[str, int]]:
    return {_normal(name): (name, program) for name, program in names.items()}


_GM = {pretty_midi.program_to_instrument_name(p).lower(): p for p in range(128)}
_MELODIC = _table(_GM) | _table(ALIASES)
_DRUMS = _table(DRUM_KITS)
_TABLES = {"drums": _DRUMS}  # every other part takes the melodic names


@dataclass(frozen=True)
class Instruments:
    """General MIDI programs (0-based, as MIDI files store them) for each part.

    Defaults: String Ensemble 1 holds the chords, Acoustic Grand Piano plays the arpeggio,
    Electric Bass (finger) the bass, the Standard kit the drums and Flute the melody.
    """

    chords: int = 48
    arpeggio: int = 0
    bass: int = 33
    drums: int = 0  # drum kit number on channel 10 (0 Standard, 8 Room, 16 Power, 25 TR-808, 40 Brush)
    melody: int = 73

    def __post_init__(self) -> None:
        for name in self.parts():
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 127:
                raise UserError(f"{name} program {value!r} is not a General MIDI program; use 0..127")

    @classmethod
    def parts(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def preset(cls, name: str) -> Instruments:
        """One of ``PRESETS`` (pop, cinematic, acoustic, lo-fi, electronic)."""
        chosen = PRESETS[style_named(name).name]  # a style's instruments, so one check names both
        return cls(**{part: program(part, value) for part, value in chosen.items()})

    @classmethod
    def parse(cls, text: str, preset: str | None = None) -> Instruments:
        """Parse ``"chords=strings, arpeggio=46, bass=fingered bass"`` on top of ``preset`` (or the
        defaults): parts not named keep the preset's or the default instrument."""
        base = cls.preset(preset) if preset else cls()
        values: dict[str, int] = {}
        for item in filter(None, (s.strip() for s in text.split(","))):
            part, sep, value = item.partition("=")
            part = part.strip().lower()
            if not sep or part not in cls.parts() or not value.strip():
                raise UserError(
                    f"bad instrument setting {item!r}: expected part=instrument with part one of "
                    f"{', '.join(cls.parts())}, e.g. 'chords=strings,arpeggio=piano,bass=fingered bass'"
                )
            values[part] = program(part, value)
        return dataclasses.replace(base, **values)

    def names(self) -> dict[str, str]:
        """Each part's instrument by name (``Pad 2 (warm)``, a drum kit's name or its number)."""
        return {part: instrument_name(part, getattr(self, part)) for part in self.parts()}


def program(part: str, value: str) -> int:
    """The program ``value`` (a number, a GM name or an alias; a kit name for drums) means for
    ``part``; UserError listing the closest names for anything unknown."""
    value = value.strip()
    table = _TABLES.get(part, _MELODIC)
    found = table.get(_normal(value))
    if found is not None:  # before numbers: the 808 kit is number 25
        return found[1]
    if value.isdigit():
        return int(value)  # range checked by Instruments
    names = [name for name, _ in table.values()]
    close = difflib.get_close_matches(value.lower(), names, n=4, cutoff=0.5)
    if part in _TABLES:
        kind, examples, forms = "drum kit", ", ".join(DRUM_KITS), "a kit name or its number 0..127"
    else:
        kind, examples = "instrument", "piano, strings, fingered bass, warm pad"
        forms = "a General MIDI name, a common alias or a program number 0..127; the README lists them"
    hint = f"did you mean {', '.join(close)}?" if close else f"e.g. {examples}"
    raise UserError(f"unknown {kind} {value!r} for {part}: {hint} ({forms})")


def instrument_name(part: str, number: int) -> str:
    """The name of program ``number`` for ``part``."""
    if part in _TABLES:
        return next((name for name, p in _TABLES[part].values() if p == number), str(number))
    return pretty_midi.program_to_instrument_name(number)
