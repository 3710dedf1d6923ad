"""Chord progressions with times, as a person edits them, put back onto a video's grid.

Two forms are read:

- text: ``0 Am | 2 F | 4 C | 6 G`` (seconds, then a chord; ``0s Am`` as the console and the page
  print it; entries separated by ``|`` or new lines), given on the command line or in a file;
- the JSON that ``generate.py`` writes (``clip.json``): its ``chord_changes``, with its key,
  tempo and composer.

Each chord starts on the grid step whose onset is nearest its time, so a progression written
for a video lands on exactly the steps it came from (those that start at scene cuts included), and an
edited one on the nearest half bar. The chords replace the decoded ones; features, dynamics and
cuts stay as they were.

The key: a JSON's chords are in its key and are transposed when another key of the same mode is
asked for (D minor chords played in E minor move up a tone; a change of mode is refused, as no
transposition makes a minor progression major). Text has no key: its chords sound as written, in
the key asked for, or else in the key they fit (``harmony.fitting_key``: ``Am F C G`` in A minor).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from video2music.theory import harmony, vocab
from video2music.theory.form import form_from_json
from video2music.theory.grid import Grid, check_tempo
from video2music.utils.errors import UserError

logger = logging.getLogger(__name__)

EXAMPLE = "'0 Am | 2 F | 4 C | 6 G'"
_ENTRY = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*s?\s+(\S+)$")


@dataclass(frozen=True)
class TimedChords:
    """Chord changes (seconds, chord id as written, in the output key), and what the source says
    about the music it was written for (None where it says nothing)."""

    changes: tuple[tuple[float, int], ...]
    key: vocab.Key | None = None  # the key the chords are written in (None: text, which says none)
    tempo: float | None = None
    duration: float | None = None
    source: str = "the chords"
    form: tuple[tuple[str, int, int], ...] | None = None  # (section, bars, lift), as the JSON keeps it
    composer: str | None = None  # named on the lead sheet

    def check_duration(self, duration: float) -> None:
        """UserError when the source says it was written for a video of another length."""
        if self.duration is not None and abs(self.duration - duration) > 0.05:
            raise UserError(
                f"{self.source} was written for a video of {self.duration:g} s, not this one "
                f"({duration:g} s); give the video it was made from"
            )

    def own_key(self) -> vocab.Key:
        """The key the chords are written in: the source's, or else the one they fit."""
        return self.key or harmony.fitting_key([chord for _, chord in self.changes])

    def transposition(self, key: vocab.Key) -> int:
        """Semitones that move the chords into ``key`` (0 when the source names no key); a
        UserError when ``key`` has the other mode, which no transposition reaches."""
        if self.key is None:
            return 0
        if key.mode != self.key.mode:
            raise UserError(
                f"{self.source} is in {self.key.name}; its chords can move to another {self.key.mode} "
                f"key, not to {key.name}: give a {self.key.mode} --key, or leave out --chords for new chords"
            )
        return (key.tonic - self.key.tonic + 5) % 12 - 5

    def on_grid(self, grid: Grid, key: vocab.Key) -> list[int]:
        """One chord id per step of ``grid``, moved into ``key`` and then expressed in the
        normalised C major / A minor space."""
        onsets = grid.onset_seconds()
        end = grid.duration
        shift = self.transposition(key) - key.transpose
        steps: dict[int, int] = {}
        for seconds, chord in self.changes:
            if seconds >= end - 1e-6:  # a chord from the end on would never sound
                raise UserError(
                    f"{self.source}: a chord at {seconds:g} s starts at or past the end of the music's "
                    f"last bar ({end:g} s at {grid.tempo:g} bpm); were they written for another video?"
                )
            step = int(np.argmin(np.abs(onsets - seconds)))
            if step in steps:
                logger.warning(
                    "%s: two chords fall on the half bar at %g s; the later one plays",
                    self.source,
                    onsets[step],
                )
            steps[step] = chord
        chords, current = [], steps[0]
        for step in range(grid.steps):
            current = steps.get(step, current)
            chords.append(vocab.transpose_chord(current, shift))
        return chords


def parse_timed(text: str, source: str = "the chords") -> TimedChords:
    """Parse ``0 Am | 2 F | 4 C``; UserError naming the first bad entry."""
    changes: list[tuple[float, int]] = []
    for entry in filter(None, (e.strip() for e in re.split(r"[|\n]", text))):
        match = _ENTRY.match(entry)
        if match is None:
            raise UserError(
                f"{source}: cannot read {entry!r}; give seconds and a chord for each, e.g. {EXAMPLE}"
            )
        try:
            chord = vocab.parse_chord(match.group(2))
        except vocab.VocabError as error:
            raise UserError(f"{source}: {error}") from None
        changes.append((float(match.group(1)), chord))
    return _checked(changes, source)


def _checked(changes: list[tuple[float, int]], source: str, **about) -> TimedChords:
    if not changes:
        raise UserError(f"{source} holds no chords; give seconds and a chord for each, e.g. {EXAMPLE}")
    times = [t for t, _ in changes]
    if (
        times[0] != 0
        or any(b <= a for a, b in itertools.pairwise(times))
        or not all(map(math.isfinite, times))
    ):
        raise UserError(f"{source}: the chord times must start at 0 and increase, e.g. {EXAMPLE}")
    return TimedChords(tuple(changes), source=source, **about)


def load_chords(given: str) -> TimedChords:
    """Read ``--chords``: a JSON written by generate.py, a text file, or the progression itself."""
    path = Path(given)
    if not path.is_file():
        if re.search(r"\.(json|txt)$", given) and "|" not in given:
            raise UserError(f"chord file {given} does not exist; give a clip.json, a text file or {EXAMPLE}")
        return parse_timed(given, "--chords")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(
            f"cannot read the chord file {path} ({error}); give a clip.json or a text file"
        ) from None
    if path.suffix.lower() != ".json":
        return parse_timed(text, str(path))
    return _from_json(text, path)


def _from_json(text: str, path: Path) -> TimedChords:
    """The chord changes of a JSON that generate.py wrote (a person may have edited them)."""
    try:
        data = json.loads(text)
        entries: Sequence[dict] = data["chord_changes"]
        changes = [(float(entry["time"]), vocab.parse_chord(str(entry["chord"]))) for entry in entries]
        tempo = check_tempo(float(data["tempo"])) if data.get("tempo") is not None else None
        duration = float(data["duration"]) if data.get("duration") is not None else None
        key = vocab.parse_key(str(data["key"])) if data.get("key") else None
        form = tuple(form_from_json(data["form"], str(path))) if data.get("form") else None
        composer = str(data["composer"]) if data.get("composer") else None
    except UserError as error:  # a chord, key or tempo it holds
        raise UserError(f"{path}: {error}") from None
    except (ValueError, KeyError, TypeError) as error:
        reason = f"missing {error}" if isinstance(error, KeyError) else str(error).splitlines()[0]
        raise UserError(
            f"{path} is not a chord file written by generate.py ({reason}); it needs a chord_changes "
            'list of {"time": seconds, "chord": symbol}'
        ) from None
    return _checked(changes, str(path), key=key, tempo=tempo, duration=duration, form=form, composer=composer)
