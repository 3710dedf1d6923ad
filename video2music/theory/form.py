"""Song form: the sections of a piece on bar lines, with the names musicians use.

A ``Form`` is a list of ``Section``s (intro, verse, pre-chorus, chorus, bridge, break, outro)
that covers a piece's bars. Sections that come back reuse their chord loop and their tune:
``CHORD_FAMILY`` says which loop a section plays (an intro plays the verse's, an outro the
chorus's) and ``SINGS`` which sections carry the melody. A user writes a form as text
(``parse_form``: ``intro 4, verse 8, chorus 8 +2``, bars and an optional lift in semitones) or in a
JSON (``form_from_json``); ``compose.form_planner`` plans one from a video.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from video2music.theory.grid import Grid
from video2music.utils.errors import UserError

NAMES = ("intro", "verse", "pre-chorus", "chorus", "bridge", "break", "outro")
_ALIASES = {"pre": "pre-chorus", "prechorus": "pre-chorus", "breakdown": "break", "hook": "chorus"}
CHORD_FAMILY = {
    "intro": "verse",
    "verse": "verse",
    "pre-chorus": "pre-chorus",
    "chorus": "chorus",
    "bridge": "bridge",
    "break": "verse",
    "outro": "chorus",
}
SINGS = frozenset({"verse", "pre-chorus", "chorus", "bridge"})
_FORM_ENTRY = re.compile(r"^([a-z][a-z -]*?)\s+(\d+)(?:\s*([+-]\d+))?$")
EXAMPLE = "'intro 4, verse 8, chorus 8, verse 8, chorus 8, outro 4'"
FormEntries = Sequence[tuple[str, int, int]]  # (section name, bars, lift)


@dataclass(frozen=True)
class Section:
    """Bars ``first_bar`` .. ``first_bar + bars - 1`` of the piece, one kind of section.

    ``number`` counts the sections of that name (``Verse 2``); ``energy`` is the video's mean
    intensity over it (0-1); ``cycle`` counts fresh material (0, then 1 after a long video's first
    song has run its course); ``lift`` transposes it, in semitones, above the piece's key.
    """

    name: str
    first_bar: int
    bars: int
    number: int = 1
    energy: float = 0.5
    cycle: int = 0
    lift: int = 0

    @property
    def label(self) -> str:
        return f"{self.name.capitalize()} {self.number}"

    @property
    def end_bar(self) -> int:
        return self.first_bar + self.bars

    @property
    def chords_key(self) -> tuple[str, int]:
        """Which chord loop the section plays: sections with one key play one loop."""
        return CHORD_FAMILY[self.name], self.cycle

    @property
    def tune_key(self) -> tuple[str, int] | None:
        """Which tune it sings (None: no melody here)."""
        return (self.name, self.cycle) if self.name in SINGS else None


@dataclass(frozen=True)
class Form:
    """The sections of a piece, in order, covering its bars; ``given`` when a user wrote it."""

    sections: tuple[Section, ...]
    given: bool = False

    @classmethod
    def single(cls, bars: int, name: str = "verse") -> Form:
        """One section over all ``bars`` (music without a plan: a typed progression)."""
        return cls((Section(name, 0, bars),))

    @property
    def bars(self) -> int:
        return self.sections[-1].end_bar

    def section_of_bar(self) -> list[Section]:
        """The section each bar belongs to."""
        return [s for s in self.sections for _ in range(s.bars)]

    def summary(self, grid: Grid) -> list[dict]:
        """The plan as the JSON holds it: name, label, bars, seconds, energy, cycle and lift."""
        seconds = np.append(np.asarray(grid.bar_starts, dtype=float), grid.end_beat) * grid.seconds_per_beat
        return [
            {
                "section": s.label,
                "name": s.name,
                "first_bar": s.first_bar,
                "bars": s.bars,
                "start": round(float(seconds[s.first_bar]), 3),
                "end": round(float(seconds[s.end_bar]), 3),
                "energy": round(s.energy, 3),
                "cycle": s.cycle,
                "lift": s.lift,
            }
            for s in self.sections
        ]


def _name(text: str, source: str) -> str:
    name = _ALIASES.get(text.strip().lower().replace(" ", ""), text.strip().lower())
    if name not in NAMES:
        raise UserError(f"{source}: unknown section {text!r}; use {', '.join(NAMES)}")
    return name


def numbered(sections: Sequence[Section]) -> tuple[Section, ...]:
    counts: dict[str, int] = {}
    out = []
    for s in sections:
        counts[s.name] = counts.get(s.name, 0) + 1
        out.append(replace(s, number=counts[s.name]))
    return tuple(out)


def parse_form(text: str, source: str = "--form") -> list[tuple[str, int, int]]:
    """``intro 4, verse 8, chorus 8 +2`` as (name, bars, lift) entries; UserError naming a bad one."""
    entries = []
    for entry in filter(None, (e.strip() for e in re.split(r"[,|\n]", text))):
        match = _FORM_ENTRY.match(entry.lower())
        if match is None:
            raise UserError(
                f"{source}: cannot read {entry!r}; give a section and its bars for each, e.g. {EXAMPLE}"
            )
        bars = int(match.group(2))
        if bars < 1:
            raise UserError(f"{source}: {entry!r} has no bars; every section lasts at least one bar")
        entries.append((_name(match.group(1), source), bars, int(match.group(3) or 0)))
    if not entries:
        raise UserError(f"{source} names no sections; e.g. {EXAMPLE}")
    return entries


def form_from_json(entries: Sequence[dict], source: str) -> list[tuple[str, int, int]]:
    """The ``form`` list of a JSON that generate.py wrote, as (name, bars, lift) entries."""
    try:
        return [(_name(str(e["name"]), source), int(e["bars"]), int(e.get("lift", 0))) for e in entries]
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(
            f"{source}: its form is not a list of sections with a name and bars ({error})"
        ) from None
