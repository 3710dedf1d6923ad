"""POP909 melodies on a sixteenth-note grid, in the normalised key, for the melody model.

Each song's MELODY track (``data.pop909``) becomes one sequence with one step per sixteenth note
(a beat from ``beat_midi.txt`` split in four), from the sixteenth of its first melody note to
the end of its last, so the instrumental intro and outro (no melody at all) are left out.

Per step:

* a token: ``REST``, ``HOLD`` (the note before goes on) or the onset of a pitch. Pitches are
  moved into the normalised key (the song's key segment at that step, transposed to C major or
  A minor by ``Key.transpose``, so a melody keeps its register) and folded by octaves into
  the model's pitch range. A note starts on the sixteenth nearest its onset and lasts to
  the one nearest its end (at least one step); a later onset on the same step wins.
* the condition (``model.melody_gru.conditions``): the sounding chord's tones and root
  (normalised the same way), the position in the bar (sixteenth 0-15; bars longer than 4 beats
  wrap), the melody's notes per beat over the surrounding bar (the density the caller asks for at
  generation), the bar's place in its 4-bar phrase and whether a new phrase starts after it
  (phrases from ``pop909.phrase_starts``, on the song's half-bar chords), the next chord's tones
  (the first annotated chord after the sounding one that differs from it) and the bar's energy:
  log2 of the accompaniment's onsets in the bar (all tracks' onsets less the melody's) over
  their median across the song's bars, divided by ``ENERGY_OCTAVES`` and clipped to -1..1.

The split is ``pop909.split_songs`` (by song, the chord corpus's), so held-out songs are the same
for chords and melody.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch.utils.data import Dataset

from video2music.data import pop909
from video2music.model.melody_gru import (
    CONDITION_DIM,
    HOLD,
    REST,
    STEPS_PER_BEAT,
    conditions,
    pitch_token,
)
from video2music.theory import vocab

logger = logging.getLogger(__name__)

ENERGY_OCTAVES = 1.5


@dataclass
class MelodySequence:
    """One song's melody on the sixteenth grid."""

    song_id: str
    tokens: np.ndarray  # (S,) REST / HOLD / pitch onset tokens
    chords: np.ndarray  # (S,) sounding chord ids, normalised key
    conditions: np.ndarray  # (S, CONDITION_DIM)
    seconds: np.ndarray  # (S + 1,) time of each sixteenth line (the last closes the sequence)


def _sixteenths(beats: np.ndarray) -> np.ndarray:
    """Times of the sixteenth lines from the first beat to one beat after the last."""
    beat = float(np.median(np.diff(beats))) if len(beats) > 1 else 0.5
    edges = np.append(beats, beats[-1] + beat)
    fractions = np.arange(STEPS_PER_BEAT) / STEPS_PER_BEAT
    lines = (edges[:-1, None] + np.diff(edges)[:, None] * fractions).reshape(-1)
    return np.append(lines, edges[-1])


def song_sequence(song: pop909.Pop909Song) -> MelodySequence | None:
    """``song``'s melody on the sixteenth grid, or None when it has no melody notes."""
    if not song.melody:
        return None
    lines = _sixteenths(song.beats)
    steps = len(lines) - 1
    nearest = _nearest_line(lines, np.array([[n.onset, n.offset] for n in song.melody]))
    tokens = np.full(steps, REST, dtype=np.int64)
    segments = [k for k in song.keys]
    edges = np.array([k.start for k in segments[1:]])
    shifts = np.array([k.key.transpose for k in segments], dtype=np.int64)[
        np.searchsorted(edges, lines[:-1], side="right")
    ]
    first, last = steps, 0
    for note, (start, end) in zip(song.melody, nearest.tolist(), strict=True):
        start = min(start, steps - 1)
        end = max(end, start + 1)
        tokens[start] = pitch_token(note.pitch - shifts[start])
        follow = np.arange(start + 1, min(end, steps))
        tokens[follow[tokens[follow] == REST]] = HOLD
        first, last = min(first, start), max(last, end)
    chords = _chords_at(song, lines[:-1], shifts)
    beat_in_bar = _beats_in_bar(song.beats, song.downbeats)
    positions = np.repeat(beat_in_bar % 4, STEPS_PER_BEAT) * STEPS_PER_BEAT + np.tile(
        np.arange(STEPS_PER_BEAT), len(song.beats)
    )
    bar_of_step = np.repeat(np.cumsum(beat_in_bar == 0), STEPS_PER_BEAT)
    density = _notes_per_beat(tokens, bar_of_step)
    bar_in_phrase, phrase_ends = _phrases(song, lines[:-1], bar_of_step)
    following = _next_chords(song, lines[:-1], shifts)
    energy = _energy(song, tokens, beat_in_bar)[bar_of_step]
    condition = conditions(chords, positions, density, bar_in_phrase, phrase_ends, following, energy)
    span = slice(first, min(last, steps))
    return MelodySequence(
        song.song_id, tokens[span], chords[span], condition[span], lines[first : min(last, steps) + 1]
    )


def _nearest_line(lines: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Index of the grid line nearest each of ``times``."""
    after = np.clip(np.searchsorted(lines, times), 1, len(lines) - 1)
    return np.where(times - lines[after - 1] < lines[after] - times, after - 1, after)


def _chords_at(song: pop909.Pop909Song, times: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    starts = np.array([c.start for c in song.chords])
    ends = np.array([c.end for c in song.chords])
    # The chord that started last at or before each time, if it still sounds.
    index = np.searchsorted(starts, times + 1e-3, side="right") - 1
    out = np.full(len(times), vocab.N_ID, dtype=np.int64)
    for i in np.flatnonzero((index >= 0) & (ends[np.maximum(index, 0)] > times + 1e-3)):
        out[i] = vocab.transpose_chord(song.chords[int(index[i])].chord, -int(shifts[i]))
    return out


def _next_chords(song: pop909.Pop909Song, times: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Per time, the first annotated chord after the sounding one that differs from it (N at the
    end), normalised like the sounding chord."""
    ids = np.array([c.chord for c in song.chords], dtype=np.int64)
    following = np.full(len(ids), vocab.N_ID, dtype=np.int64)
    for i in range(len(ids) - 2, -1, -1):
        following[i] = ids[i + 1] if ids[i + 1] != ids[i] else following[i + 1]
    starts = np.array([c.start for c in song.chords])
    index = np.clip(np.searchsorted(starts, times + 1e-3, side="right") - 1, 0, max(len(ids) - 1, 0))
    out = following[index] if len(ids) else np.full(len(times), vocab.N_ID, dtype=np.int64)
    return np.array([vocab.transpose_chord(int(c), -int(k)) for c, k in zip(out, shifts, strict=True)])


def _energy(song: pop909.Pop909Song, tokens: np.ndarray, beat_in_bar: np.ndarray) -> np.ndarray:
    """Per bar (numbered as ``bar_of_step`` numbers them): the accompaniment's activity against the
    song's median bar, on a log2 scale over ``ENERGY_OCTAVES``, clipped to -1..1."""
    bar_of_beat = np.cumsum(beat_in_bar == 0)
    melody_onsets = (tokens >= 2).reshape(-1, STEPS_PER_BEAT).sum(axis=1)
    accompaniment = np.maximum(np.asarray(song.beat_onsets) - melody_onsets[: len(song.beat_onsets)], 0)
    per_bar = np.bincount(bar_of_beat, weights=accompaniment).astype(float)
    active = per_bar[per_bar > 0]
    middle = float(np.median(active)) if len(active) else 1.0
    return np.clip(np.log2(np.maximum(per_bar, 1.0) / middle) / ENERGY_OCTAVES, -1.0, 1.0)


def _beats_in_bar(beats: np.ndarray, downbeats: np.ndarray) -> np.ndarray:
    """Beats since the last downbeat (a pickup counts back from the first downbeat)."""
    is_down = np.isin(beats, downbeats)
    first = int(np.argmax(is_down))
    counts = np.zeros(len(beats), dtype=np.int64)
    counts[:first] = np.arange(-first, 0) % 4
    for i in range(first, len(beats)):
        counts[i] = 0 if is_down[i] else counts[i - 1] + 1
    return counts


def _notes_per_beat(tokens: np.ndarray, bar_of_step: np.ndarray) -> np.ndarray:
    """Per step: melody onsets per beat in its bar."""
    onsets = np.bincount(bar_of_step, weights=tokens >= 2)
    lengths = np.bincount(bar_of_step) / STEPS_PER_BEAT
    return (onsets / np.maximum(lengths, 1))[bar_of_step]


def _phrases(
    song: pop909.Pop909Song, times: np.ndarray, bar_of_step: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per step: bars since its phrase began, and whether its bar is the phrase's last."""
    grid = pop909.half_bar_grid(song.beats, song.downbeats)
    chords = pop909.chords_on_grid(song.chords, grid)
    start_times = np.array([grid[s] for s in [0, *pop909.phrase_starts(chords)]])
    phrase_of_step = np.clip(np.searchsorted(start_times, times + 1e-3, side="right") - 1, 0, None)
    first_bar = np.full(len(start_times), np.iinfo(np.int64).max)
    np.minimum.at(first_bar, phrase_of_step, bar_of_step)
    bar_in_phrase = bar_of_step - first_bar[phrase_of_step]
    last_bar = np.zeros(len(start_times), dtype=np.int64)
    np.maximum.at(last_bar, phrase_of_step, bar_of_step)
    return bar_in_phrase, bar_of_step == last_bar[phrase_of_step]


def read_sequences(source: str, split: str | None = None, seed: int = 0) -> list[MelodySequence]:
    """The melodies of POP909 ``source`` (raw folder or compact file), all or one split's."""
    songs = pop909.read_songs(source)
    if split is not None:
        wanted = set(pop909.split_songs(songs, seed)[split])
        songs = [s for s in songs if s.song_id in wanted]
    sequences = [seq for seq in map(song_sequence, songs) if seq is not None and len(seq.tokens) > 1]
    logger.info(
        "%d melodies (%s), %d sixteenths",
        len(sequences),
        split or "all",
        sum(len(s.tokens) for s in sequences),
    )
    return sequences


@dataclass
class MelodyBatch:
    """Windows padded to the longest; ``mask`` (B, W) is True on real steps."""

    tokens: torch.Tensor  # (B, W) long
    conditions: torch.Tensor  # (B, W, CONDITION_DIM)
    mask: torch.Tensor  # (B, W) bool

    def to(self, device: torch.device | str) -> MelodyBatch:
        return MelodyBatch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


class MelodyWindows(Dataset):
    """Windows of ``window`` sixteenths tiling each song; with ``random_crop`` the tiling is
    shifted by an offset drawn from (seed, epoch, song), the first window shortened by it, so the
    number of windows (what a sampler counts on) stays the same every epoch."""

    def __init__(
        self, sequences: Sequence[MelodySequence], window: int, random_crop: bool = False, seed: int = 0
    ) -> None:
        self.sequences = list(sequences)
        self.window = window
        self.random_crop = random_crop
        self.seed = seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        items = []
        for index, sequence in enumerate(self.sequences):
            offset = 0
            if self.random_crop:
                offset = int(np.random.default_rng([self.seed, epoch, index]).integers(0, self.window))
            count = -(-len(sequence.tokens) // self.window)
            items += [
                (index, max(0, k * self.window - offset), (k + 1) * self.window - offset)
                for k in range(count)
            ]
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        index, start, end = self.items[item]
        sequence = self.sequences[index]
        span = slice(start, end)
        return torch.as_tensor(sequence.tokens[span]), torch.as_tensor(sequence.conditions[span])


def collate_melody(windows: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> MelodyBatch:
    longest = max(len(tokens) for tokens, _ in windows)
    batch = MelodyBatch(
        tokens=torch.full((len(windows), longest), REST, dtype=torch.long),
        conditions=torch.zeros(len(windows), longest, CONDITION_DIM),
        mask=torch.zeros(len(windows), longest, dtype=torch.bool),
    )
    for row, (tokens, condition) in enumerate(windows):
        batch.tokens[row, : len(tokens)] = tokens
        batch.conditions[row, : len(tokens)] = condition
        batch.mask[row, : len(tokens)] = True
    return batch
