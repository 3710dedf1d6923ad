"""The melody model: a small GRU over sixteenth notes that writes a lead line over given chords.

At each sixteenth it reads the token before and the sixteenth's condition and predicts the
sixteenth's token. Tokens: ``REST``, ``HOLD`` (the note before goes on) or the onset of a pitch
in ``LOW_PITCH``..``HIGH_PITCH``, in the normalised key (C major / A minor). The condition
(``conditions``): the sounding chord's tones and root, the sixteenth's position in the bar, the
notes per beat wanted in its bar, its bar's place in a 4-bar phrase, whether the phrase ends
with that bar, the next chord's tones and the bar's energy (the accompaniment's activity against
the song's middle). ``video2music.data.pop909_melody`` turns POP909's melodies into these.

It is trained on POP909's MELODY tracks (``train.py --task melody``); the rules that shape
generation (phrases, motifs, chord tones on strong beats) live in ``video2music.compose.melody``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn

from video2music.theory import vocab
from video2music.utils.errors import UserError

STEPS_PER_BEAT = 4
STEPS_PER_BAR = 16
REST, HOLD = 0, 1
LOW_PITCH, HIGH_PITCH = 48, 95  # C3..B6: where pop melodies (and POP909's) lie
NUM_TOKENS = 2 + HIGH_PITCH - LOW_PITCH + 1
PHRASE_BARS = 4
MAX_NOTES_PER_BEAT = 4.0
CONDITION_DIM = 12 + 12 + STEPS_PER_BAR + 1 + PHRASE_BARS + 1 + 12 + 1
_NEXT, _ENERGY = CONDITION_DIM - 13, CONDITION_DIM - 1


def pitch_token(pitch: int) -> int:
    """The onset token of ``pitch``, folded by octaves into the model's range."""
    while pitch < LOW_PITCH:
        pitch += 12
    while pitch > HIGH_PITCH:
        pitch -= 12
    return 2 + pitch - LOW_PITCH


def token_pitch(token: int) -> int:
    return LOW_PITCH + int(token) - 2


def _chord_table() -> np.ndarray:
    """(NUM_CHORDS, 24): each chord's tones, then its root, as 0/1 (all zero for N)."""
    table = np.zeros((vocab.NUM_CHORDS, 24), dtype=np.float32)
    for chord in range(1, vocab.NUM_CHORDS):
        table[chord, vocab.chord_pitch_classes(chord)] = 1.0
        table[chord, 12 + vocab.chord_root(chord)] = 1.0
    return table


_CHORD_TABLE = _chord_table()


def conditions(
    chords: np.ndarray,
    positions: np.ndarray,
    notes_per_beat: np.ndarray,
    bar_in_phrase: np.ndarray,
    phrase_ends: np.ndarray,
    next_chords: np.ndarray,
    energy: np.ndarray,
) -> np.ndarray:
    """(S, CONDITION_DIM) model conditions of S sixteenths (chord ids in the normalised key;
    ``energy`` in -1..1, the accompaniment's activity against the song's middle, on a log scale)."""
    steps = np.arange(len(chords))
    out = np.zeros((len(chords), CONDITION_DIM), dtype=np.float32)
    out[:, :24] = _CHORD_TABLE[np.asarray(chords, dtype=np.int64)]
    out[steps, 24 + np.asarray(positions) % STEPS_PER_BAR] = 1.0
    out[:, 40] = np.minimum(notes_per_beat, MAX_NOTES_PER_BEAT) / 2.0
    out[steps, 41 + np.minimum(bar_in_phrase, PHRASE_BARS - 1)] = 1.0
    out[:, 41 + PHRASE_BARS] = np.asarray(phrase_ends, dtype=np.float32)
    out[:, _NEXT:_ENERGY] = _CHORD_TABLE[np.asarray(next_chords, dtype=np.int64), :12]
    out[:, _ENERGY] = np.clip(energy, -1.0, 1.0)
    return out


@dataclass(frozen=True)
class MelodyConfig:
    """Sizes of the melody GRU. It reads no video features (``inputs`` is empty)."""

    hidden: int = 128
    embed: int = 32
    layers: int = 1
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if min(int(self.hidden), int(self.embed), int(self.layers)) < 1 or not 0 <= self.dropout < 1:
            raise UserError(f"MelodyConfig needs positive sizes and dropout in [0, 1), got {self}")

    @property
    def inputs(self) -> tuple[str, ...]:
        return ()

    @classmethod
    def debug(cls) -> MelodyConfig:
        """A tiny configuration for tests and smoke runs."""
        return cls(hidden=16, embed=8)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> MelodyConfig:
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise TypeError(f"unknown MelodyConfig fields {unknown}")
        return cls(**data)


class MelodyModel(nn.Module):
    """(previous tokens (B, S), conditions (B, S, CONDITION_DIM)) -> logits (B, S, NUM_TOKENS)."""

    def __init__(self, config: MelodyConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or MelodyConfig()
        self.embedding = nn.Embedding(NUM_TOKENS, config.embed)
        self.gru = nn.GRU(
            config.embed + CONDITION_DIM,
            config.hidden,
            num_layers=config.layers,
            batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, NUM_TOKENS)

    def forward(
        self, previous: torch.Tensor, conditions: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits for each step and the GRU state after the last (to continue step by step)."""
        x = torch.cat([self.embedding(previous), conditions], dim=-1)
        hidden, state = self.gru(x, state)
        return self.head(self.dropout(hidden)), state


def melody_forward(model: nn.Module, tokens: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
    """Teacher-forced logits (B, S, NUM_TOKENS) for ``tokens``: step t reads token t - 1 (REST
    before the first)."""
    previous = torch.cat([torch.full_like(tokens[:, :1], REST), tokens[:, :-1]], dim=1)
    logits, _ = model(previous, conditions)
    return logits
