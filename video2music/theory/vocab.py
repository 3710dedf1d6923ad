"""The chord vocabulary shared with MuVi-Sync and the published Video2Music checkpoints.

Ids (see docs/ARCHITECTURE.md, "Chord vocabulary"): ``N`` = 0, then for each root C..B its 13
qualities in order, ``id = 1 + 13 * root_index + quality_index``; END = 157, PAD = 158 (159 model outputs).
The model sees each chord as a root id (N = 0, C..B = 1..12, END 13, PAD 14) plus a quality
id (N = 0, maj..maj7 = 1..13, END 14, PAD 15).

This module also parses chord symbols as people type them (``F#m7``, ``Bm7b5``, ``C:min7``),
writes them back as musicians do (``chord_symbol``) or as MuVi-Sync / Harte labels
(``chord_label``), spells chords with correct letter names for a key, and parses key names
into the mode bit and the transposition from the normalised C major / A minor space.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from video2music.utils.errors import UserError

VOCAB_VERSION = "muvisync-v1"

ROOTS: tuple[str, ...] = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_ROOTS: tuple[str, ...] = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
QUALITIES: tuple[str, ...] = (
    "maj", "dim", "sus4", "min7", "min", "sus2", "aug", "dim7", "maj6", "hdim7", "7", "min6", "maj7",
)  # fmt: skip

N_ID = 0
NUM_CHORDS = 1 + len(ROOTS) * len(QUALITIES)  # 157: N plus every root/quality pair
END_ID = NUM_CHORDS
PAD_ID = NUM_CHORDS + 1
VOCAB_SIZE = NUM_CHORDS + 2

ROOT_N, ROOT_END, ROOT_PAD = 0, 13, 14
QUALITY_N, QUALITY_END, QUALITY_PAD = 0, 14, 15

# Semitones above the root, and the letter-name step of each tone (0 root, 2 third, 4 fifth,
# 6 seventh; 1 and 3 for suspended seconds/fourths, 5 for sixths) so spellings come out right:
# C:dim7 is C Eb Gb Bbb, not C Eb F# A.
_TONES: dict[str, tuple[tuple[int, int], ...]] = {
    "maj": ((0, 0), (4, 2), (7, 4)),
    "dim": ((0, 0), (3, 2), (6, 4)),
    "sus4": ((0, 0), (5, 3), (7, 4)),
    "min7": ((0, 0), (3, 2), (7, 4), (10, 6)),
    "min": ((0, 0), (3, 2), (7, 4)),
    "sus2": ((0, 0), (2, 1), (7, 4)),
    "aug": ((0, 0), (4, 2), (8, 4)),
    "dim7": ((0, 0), (3, 2), (6, 4), (9, 6)),
    "maj6": ((0, 0), (4, 2), (7, 4), (9, 5)),
    "hdim7": ((0, 0), (3, 2), (6, 4), (10, 6)),
    "7": ((0, 0), (4, 2), (7, 4), (10, 6)),
    "min6": ((0, 0), (3, 2), (7, 4), (9, 5)),
    "maj7": ((0, 0), (4, 2), (7, 4), (11, 6)),
}
QUALITY_INTERVALS: dict[str, tuple[int, ...]] = {
    q: tuple(semitones for semitones, _ in tones) for q, tones in _TONES.items()
}
QUALITY_STEPS: dict[str, tuple[int, ...]] = {
    q: tuple(step for _, step in tones) for q, tones in _TONES.items()
}
MINOR_FAMILY: frozenset[str] = frozenset({"min", "min7", "min6", "dim", "dim7", "hdim7"})

EMOTIONS: tuple[str, ...] = ("exciting", "fearful", "tense", "sad", "relaxing", "neutral")
AFFECTIVE_QUALITIES: dict[str, frozenset[str]] = {
    "exciting": frozenset({"maj", "sus4", "7"}),
    "fearful": frozenset({"dim", "min7", "dim7", "hdim7"}),
    "tense": frozenset({"dim", "sus4", "min7", "7"}),
    "sad": frozenset({"min7", "min", "sus2"}),
    "relaxing": frozenset({"maj", "maj6", "maj7"}),
    "neutral": frozenset(),
}

# Suffix spellings accepted after a root, case-sensitive where it matters (M = major, m = minor).
_SUFFIXES: dict[str, str] = {}
for _quality, _spellings in {
    "maj": ("", "maj", "M", "major"),
    "min": ("m", "min", "-", "minor", "mi"),
    "dim": ("dim", "o", "°"),
    "aug": ("aug", "+", "#5"),
    "sus4": ("sus4", "sus"),
    "sus2": ("sus2",),
    "7": ("7", "dom7"),
    "maj7": ("maj7", "M7", "Δ", "Δ7", "ma7"),
    "min7": ("m7", "min7", "-7", "mi7"),
    "dim7": ("dim7", "o7", "°7"),
    "hdim7": ("hdim7", "m7b5", "min7b5", "-7b5", "ø", "ø7", "hdim"),
    "maj6": ("6", "maj6", "M6"),
    "min6": ("m6", "min6", "-6"),
}.items():
    for _spelling in _spellings:
        _SUFFIXES[_spelling] = _quality

_ROOT_RE = re.compile(r"^([A-Ga-g])([#b♯♭]*)(.*)$")
_NATURAL_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_LETTERS = "CDEFGAB"

ACCEPTED_FORMS = (
    "a root A-G with optional # or b, then a quality: '' (major), m, 7, maj7, m7, dim, dim7, "
    "m7b5 (half-diminished), aug, sus2, sus4, 6, m6; Harte labels like C:min7; or N for no chord"
)


class VocabError(UserError):
    """A chord symbol, chord id or key name that is not in the vocabulary."""


def chord_id(root: int, quality: str) -> int:
    """The id of ``quality`` on pitch class ``root`` (0 = C)."""
    if quality not in QUALITY_INTERVALS:
        raise VocabError(f"unknown chord quality {quality!r}; qualities are {', '.join(QUALITIES)}")
    return 1 + 13 * (root % 12) + QUALITIES.index(quality)


def _check_chord(cid: int) -> int:
    cid = int(cid)
    if not 0 <= cid < NUM_CHORDS:
        raise VocabError(f"chord id {cid} is not a chord (0..{NUM_CHORDS - 1}; END and PAD are not)")
    return cid


def chord_root(cid: int) -> int | None:
    """Pitch class of the root (0 = C), or None for ``N``."""
    cid = _check_chord(cid)
    return None if cid == N_ID else (cid - 1) // 13


def chord_quality(cid: int) -> str | None:
    """Quality name, or None for ``N``."""
    cid = _check_chord(cid)
    return None if cid == N_ID else QUALITIES[(cid - 1) % 13]


def _parse_root(letter: str, accidentals: str) -> int:
    pc = _NATURAL_PC[letter.upper()]
    for accidental in accidentals:
        pc += 1 if accidental in "#♯" else -1
    return pc % 12


def parse_chord(token: str) -> int:
    """Parse one chord symbol (``C``, ``Am``, ``F#m7``, ``Bm7b5``, ``C:min7``, ``N``) into its id.

    Slash basses (``C/E``) are accepted and dropped: the vocabulary has no inversions.
    """
    text = token.strip()
    if text in ("N", "N.C.", "NC", "X"):
        return N_ID
    text = text.split("/")[0]
    match = _ROOT_RE.match(text)
    if match is None or not text:
        raise VocabError(f"unknown chord symbol {token!r}: expected {ACCEPTED_FORMS}")
    letter, accidentals, suffix = match.groups()
    suffix = suffix[1:] if suffix.startswith(":") else suffix
    if suffix.startswith("(") and suffix.endswith(")"):
        suffix = suffix[1:-1]
    quality = _SUFFIXES.get(suffix)
    if quality is None:
        raise VocabError(f"unknown chord symbol {token!r}: expected {ACCEPTED_FORMS}")
    return chord_id(_parse_root(letter, accidentals), quality)


def parse_progression(text: str | Iterable[str]) -> list[int]:
    """Parse chords separated by spaces, commas or bars (``"C Am | F G"``) into ids."""
    tokens = re.split(r"[\s,|]+", text) if isinstance(text, str) else list(text)
    return [parse_chord(t) for t in tokens if t.strip()]


def chord_label(cid: int, key: Key | None = None) -> str:
    """The MuVi-Sync / Harte label (``C``, ``C#:min7``, ``N``), as researchers write chords.

    With a ``key`` the root is spelled for that key (``Bb`` in F major, ``E#`` in F# minor; see
    ``chord_root_name``); such labels still parse back to the same id.
    """
    root, quality = chord_root(cid), chord_quality(cid)
    if root is None:
        return "N"
    name = chord_root_name(root, quality, key) if key is not None else ROOTS[root]
    return name if quality == "maj" else f"{name}:{quality}"


# How musicians write each quality after the root (lead-sheet style); all of them parse back.
SYMBOL_SUFFIXES: dict[str, str] = {
    "maj": "", "min": "m", "dim": "dim", "aug": "aug", "sus4": "sus4", "sus2": "sus2", "7": "7",
    "maj7": "maj7", "min7": "m7", "dim7": "dim7", "hdim7": "m7b5", "maj6": "6", "min6": "m6",
}  # fmt: skip


def chord_symbol(cid: int, key: Key | None = None) -> str:
    """The chord as musicians write it (``Am``, ``Cm7``, ``Bm7b5``, ``E#dim``, ``Fmaj7``, ``N``).

    With a ``key`` the root is spelled for that key (see ``chord_root_name``); without one, sharps.
    """
    root, quality = chord_root(cid), chord_quality(cid)
    if root is None:
        return "N"
    name = chord_root_name(root, quality, key) if key is not None else ROOTS[root]
    return name + SYMBOL_SUFFIXES[quality]


# Scale degree (0 = tonic .. 6 = leading tone) whose letter spells a root this many semitones
# above the tonic. Diatonic roots take their degree's letter (the harmonic minor's raised seventh
# included: E# in F# minor, F## in G# minor); chromatic roots take the spelling they usually have:
# flattened degrees in major (bII, bIII, bVI, bVII) and #IV; in minor the Neapolitan bII and the
# raised third, fourth and sixth. One table serves both modes.
_DEGREE_OF = (0, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6)
_DIATONIC = {"major": frozenset({0, 2, 4, 5, 7, 9, 11}), "minor": frozenset({0, 2, 3, 5, 7, 8, 10, 11})}


def root_name(root: int, key: Key) -> str:
    """The letter name of pitch class ``root`` as a chord root in ``key`` (``E#`` in F# minor,
    ``Bb`` in F major, ``Ab`` in C major). Only a diatonic root may take a double sharp or flat
    (F## in G# minor); a chromatic one then gives way to its plain twin."""
    interval = (root - key.tonic) % 12
    letter = _LETTERS[(_LETTERS.index(key.tonic_name[0]) + _DEGREE_OF[interval]) % 7]
    offset = (root - _NATURAL_PC[letter] + 6) % 12 - 6
    if abs(offset) > 1 and interval not in _DIATONIC[key.mode]:
        return (FLAT_ROOTS if key.prefers_flats else ROOTS)[root]
    return letter + ("#" * offset if offset > 0 else "b" * -offset)


def chord_pitch_classes(cid: int) -> list[int]:
    """Pitch classes of the chord, root first, in stacking order (``C:dim7`` -> 0 3 6 9)."""
    root, quality = chord_root(cid), chord_quality(cid)
    if root is None:
        return []
    return [(root + i) % 12 for i in QUALITY_INTERVALS[quality]]


def chord_note_names(cid: int, key: Key | None = None) -> list[str]:
    """Letter-correct spellings of the chord's tones (``C:dim7`` -> C Eb Gb Bbb).

    The root is spelled as ``key`` spells it; without a key, whichever of its sharp or flat
    names gives fewer accidentals (``A#`` is spelled Bb D F).
    """
    root, quality = chord_root(cid), chord_quality(cid)
    if root is None:
        return []
    if key is not None:
        return _spell(root, quality, chord_root_name(root, quality, key))
    spellings = [_spell(root, quality, name) for name in (ROOTS[root], FLAT_ROOTS[root])]
    return min(spellings, key=lambda names: sum(len(n) - 1 for n in names))


def chord_root_name(root: int, quality: str, key: Key) -> str:
    """The root's name for a ``quality`` chord in ``key``: ``root_name``, unless the chord is not
    in the key (its tones outside the major or harmonic minor scale) and that name would spell one
    of its other tones with a double sharp or flat where an enharmonic twin of the root spells none:
    F major 7 in F# minor is Fmaj7, not E#maj7 with its G##, and A# major there is Bb, while E#dim
    there and D#7 (D# F## A# C#) in G# minor keep their letters."""
    name = root_name(root, key)
    in_key = all((root + step - key.tonic) % 12 in _DIATONIC[key.mode] for step in QUALITY_INTERVALS[quality])
    if in_key or not _doubled(_spell(root, quality, name)[1:]):
        return name
    preferred = (FLAT_ROOTS, ROOTS) if key.prefers_flats else (ROOTS, FLAT_ROOTS)
    twins = [names[root] for names in preferred if names[root] != name]
    return next((twin for twin in twins if not _doubled(_spell(root, quality, twin))), name)


def _doubled(names: list[str]) -> bool:
    return any("##" in name or "bb" in name for name in names)


def _spell(root: int, quality: str, root_name: str) -> list[str]:
    root_letter = _LETTERS.index(root_name[0])
    names = []
    for semitones, step in _TONES[quality]:
        letter = _LETTERS[(root_letter + step) % 7]
        offset = ((root + semitones) - _NATURAL_PC[letter] + 6) % 12 - 6
        names.append(letter + ("#" * offset if offset > 0 else "b" * -offset))
    return names


def transpose_chord(cid: int, semitones: int) -> int:
    """The same quality ``semitones`` higher; ``N`` stays ``N``."""
    root, quality = chord_root(cid), chord_quality(cid)
    return N_ID if root is None else chord_id(root + semitones, quality)


def root_quality_ids(ids: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs for chord ids (END and PAD allowed): root ids and quality ids."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() > PAD_ID):
        raise VocabError(f"chord ids must lie in 0..{PAD_ID}")
    roots = np.where(ids == N_ID, ROOT_N, (ids - 1) // 13 + 1)
    qualities = np.where(ids == N_ID, QUALITY_N, (ids - 1) % 13 + 1)
    roots = np.where(ids == END_ID, ROOT_END, np.where(ids == PAD_ID, ROOT_PAD, roots))
    qualities = np.where(ids == END_ID, QUALITY_END, np.where(ids == PAD_ID, QUALITY_PAD, qualities))
    return roots, qualities


def affective_target_matrix() -> np.ndarray:
    """(6, 159) 0/1 table: which chord ids carry a quality the emotion allows."""
    table = np.zeros((len(EMOTIONS), VOCAB_SIZE), dtype=np.float32)
    for e, emotion in enumerate(EMOTIONS):
        for cid in range(1, NUM_CHORDS):
            if chord_quality(cid) in AFFECTIVE_QUALITIES[emotion]:
                table[e, cid] = 1.0
    return table


_FLAT_MAJOR_TONICS = frozenset({5, 10, 3, 8, 1, 6})  # F Bb Eb Ab Db Gb
_FLAT_MINOR_TONICS = frozenset({2, 7, 0, 5, 10, 3})  # D G C F Bb Eb minor
# Key signatures MIDI can hold: at most seven sharps or flats.
_MIDI_MAJOR = ("C", "G", "D", "A", "E", "B", "F#", "C#", "F", "Bb", "Eb", "Ab", "Db", "Gb", "Cb")
_MIDI_MINOR = ("A", "E", "B", "F#", "C#", "G#", "D#", "A#", "D", "G", "C", "F", "Bb", "Eb", "Ab")
_MIDI_KEYS = frozenset(_MIDI_MAJOR) | frozenset(f"{tonic}m" for tonic in _MIDI_MINOR)
_KEY_RE = re.compile(r"^([A-Ga-g])([#b♯♭]?)\s*(.*)$")


@dataclass(frozen=True)
class Key:
    """A key: tonic pitch class and mode. The model works in C major / A minor."""

    tonic: int
    mode: str  # "major" or "minor"
    # How the user spelled the tonic (F# major vs Gb major sound the same); None = the usual one.
    flats: bool | None = field(default=None, compare=False)

    @property
    def mode_bit(self) -> int:
        """What the model is conditioned on: 0 major, 1 minor."""
        return int(self.mode == "minor")

    @property
    def prefers_flats(self) -> bool:
        if self.flats is not None:
            return self.flats
        tonics = _FLAT_MINOR_TONICS if self.mode == "minor" else _FLAT_MAJOR_TONICS
        return self.tonic in tonics

    @property
    def tonic_name(self) -> str:
        return (FLAT_ROOTS if self.prefers_flats else ROOTS)[self.tonic]

    @property
    def name(self) -> str:
        return f"{self.tonic_name} {self.mode}"

    @property
    def transpose(self) -> int:
        """Semitones from the normalised key (C major or A minor) up to this one, in -5..6."""
        reference = 9 if self.mode == "minor" else 0
        return (self.tonic - reference + 5) % 12 - 5

    @property
    def midi_name(self) -> str:
        """The key as MIDI key-signature events name it (``Bb``, ``F#m``); a spelling with more
        than seven sharps or flats (G# major) becomes its enharmonic twin (Ab)."""
        suffix = "m" if self.mode == "minor" else ""
        name = self.tonic_name + suffix
        if name in _MIDI_KEYS:
            return name
        return (ROOTS if self.prefers_flats else FLAT_ROOTS)[self.tonic] + suffix

    def __str__(self) -> str:
        return self.name


def parse_key(text: str) -> Key:
    """Parse ``C major``, ``F# minor``, ``Bb major``, ``Am``, ``A:min`` or ``C`` into a Key."""
    match = _KEY_RE.match(text.strip())
    mode_text = match.group(3).strip().lstrip(":") if match else ""
    modes = {"": "major", "major": "major", "maj": "major", "minor": "minor", "min": "minor"}
    # Case matters only for the one-letter forms: "Am" is A minor, "AM" A major.
    mode = {"m": "minor", "M": "major"}.get(mode_text) or modes.get(mode_text.lower())
    if match is None or mode is None:
        raise VocabError(
            f"unknown key {text!r}: expected a tonic A-G with optional # or b and a mode, "
            "e.g. 'C major', 'F# minor', 'Bb major', 'Am'"
        )
    accidental = match.group(2)
    flats = None if not accidental else accidental in "b♭"
    return Key(_parse_root(match.group(1), accidental), mode, flats)
