"""The Affective Multimodal Transformer: a video encoder and a chord decoder with relative attention.

Shapes and conventions (they match the published Video2Music model; see docs/ARCHITECTURE.md,
"The published-checkpoint contract"):

* ``video`` (B, T, video_dim): per-second features concatenated in the fixed order semantic (768),
  scene offset + 1 (1), motion (1), emotion (6), restricted to the inputs the model declares
  (:func:`video2music.model.inputs.build_video_input` builds it). It goes through a linear layer to
  d_model, sinusoidal positions, and a post-norm encoder with a final LayerNorm.
* ``chords`` (B, L) chord ids (0..158). Each id becomes root embedding + quality embedding, the mode
  bit (0 major, 1 minor) is appended, and a linear layer maps the d_model + 1 values to d_model;
  sinusoidal positions follow, then a post-norm decoder (causal self-attention with the relative
  term, cross-attention to the encoded video) with a final LayerNorm, then 159 logits.

Teacher forcing (training), as in the reference: for the chords of seconds 0..T-1 of a video, the
decoder input is ``chords[:, :-1]`` and the target is ``chords[:, 1:]``; the chord of second 0 is
given (a primer) and decoder position ``i`` predicts the chord of second ``i + 1``. The encoder sees
all T seconds. Padding: chords padded with PAD (the loss ignores it), video rows padded with zeros
and marked in ``video_mask``.

Lengths are limited to ``max_len`` (300 s, the size of the positional and relative tables); longer
videos are decoded in windows by :mod:`video2music.model.decode`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from video2music.model.attention import MultiHeadAttention
from video2music.model.inputs import INPUT_ORDER, DeclaresInputs
from video2music.theory import vocab
from video2music.utils.errors import UserError


@dataclass(frozen=True)
class AMTConfig(DeclaresInputs):
    """Sizes of the transformer and the video inputs it takes (defaults: the published model)."""

    n_encoder_layers: int = 6
    n_decoder_layers: int = 6
    d_model: int = 512
    n_heads: int = 8
    d_ff: int = 1024
    max_len: int = 300
    dropout: float = 0.1
    inputs: tuple[str, ...] = field(default=INPUT_ORDER)

    def __post_init__(self) -> None:
        self._normalise_inputs()
        for name in ("n_encoder_layers", "n_decoder_layers", "d_model", "n_heads", "d_ff", "max_len"):
            if int(getattr(self, name)) < 1:
                raise UserError(f"AMTConfig.{name} must be a positive integer, got {getattr(self, name)}")
        if self.d_model % self.n_heads:
            raise UserError(
                f"AMTConfig.d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )

    @classmethod
    def debug(cls, inputs: tuple[str, ...] = INPUT_ORDER) -> AMTConfig:
        """A tiny configuration for tests and smoke runs (seconds to train, random weights are fine)."""
        return cls(n_encoder_layers=1, n_decoder_layers=1, d_model=32, n_heads=4, d_ff=64, inputs=inputs)


def sinusoid_table(length: int, d_model: int) -> torch.Tensor:
    """(length, d_model) absolute positions: sin on even dims, cos on odd dims."""
    position = torch.arange(length, dtype=torch.float64)[:, None]
    rate = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : d_model // 2]
    return table.float()


class FeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(F.relu(self.linear1(x))))


class EncoderLayer(nn.Module):
    """Post-norm: x = norm1(x + attn(x)); x = norm2(x + ff(x))."""

    def __init__(self, config: AMTConfig) -> None:
        super().__init__()
        d = config.d_model
        self.self_attn = MultiHeadAttention(d, config.n_heads, config.dropout)
        self.ff = FeedForward(d, config.d_ff, config.dropout)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.self_attn(x, key_padding=padding)))
        return self.norm2(x + self.dropout(self.ff(x)))


class DecoderLayer(nn.Module):
    """Post-norm: relative causal self-attention, cross-attention to the video, feed-forward."""

    def __init__(self, config: AMTConfig) -> None:
        super().__init__()
        d = config.d_model
        self.self_attn = MultiHeadAttention(d, config.n_heads, config.dropout, relative_len=config.max_len)
        self.cross_attn = MultiHeadAttention(d, config.n_heads, config.dropout)
        self.ff = FeedForward(d, config.d_ff, config.dropout)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        padding: torch.Tensor | None,
        memory_padding: torch.Tensor | None,
    ) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.self_attn(x, causal=True, key_padding=padding)))
        x = self.norm2(x + self.dropout(self.cross_attn(x, memory, key_padding=memory_padding)))
        return self.norm3(x + self.dropout(self.ff(x)))


class AffectiveMultimodalTransformer(nn.Module):
    """Video encoder + chord decoder (relative self-attention, mode bit), 159 output logits."""

    def __init__(self, config: AMTConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or AMTConfig()
        d = config.d_model
        self.root_embedding = nn.Embedding(vocab.ROOT_PAD + 1, d)
        self.quality_embedding = nn.Embedding(vocab.QUALITY_PAD + 1, d)
        self.chord_in = nn.Linear(d + 1, d)
        self.video_in = nn.Linear(config.video_dim, d)
        self.encoder_layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.n_encoder_layers))
        self.encoder_norm = nn.LayerNorm(d)
        self.decoder_layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.n_decoder_layers))
        self.decoder_norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, vocab.VOCAB_SIZE)
        self.dropout = nn.Dropout(config.dropout)
        # Derived tables, not weights: kept out of the state dict.
        self.register_buffer("positions", sinusoid_table(config.max_len, d), persistent=False)
        roots, qualities = vocab.root_quality_ids(np.arange(vocab.VOCAB_SIZE))
        self.register_buffer("root_of", torch.from_numpy(roots), persistent=False)
        self.register_buffer("quality_of", torch.from_numpy(qualities), persistent=False)

    # -- pieces shared by the full and the incremental pass ---------------------------------
    def embed_chords(self, chords: torch.Tensor, mode: torch.Tensor, start: int = 0) -> torch.Tensor:
        """(B, L) ids -> (B, L, d_model) decoder input for positions start..start+L-1 (no dropout)."""
        x = self.root_embedding(self.root_of[chords]) + self.quality_embedding(self.quality_of[chords])
        mode = mode.to(x.dtype)[:, None, None].expand(*chords.shape, 1)
        x = self.chord_in(torch.cat([x, mode], dim=-1))
        return x + self.positions[start : start + chords.shape[1]]

    def encode(self, video: torch.Tensor, video_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, video_dim) -> (B, T, d_model) encoded video. ``video_mask`` is True on real seconds."""
        self._check_length(video.shape[1], "video")
        if video.shape[-1] != self.config.video_dim:
            raise UserError(
                f"video features have {video.shape[-1]} dims but the model takes {self.config.video_dim} "
                f"({', '.join(self.config.inputs)})"
            )
        padding = None if video_mask is None else ~video_mask.bool()
        x = self.dropout(self.video_in(video) + self.positions[: video.shape[1]])
        for layer in self.encoder_layers:
            x = layer(x, padding)
        return self.encoder_norm(x)

    def _check_length(self, n: int, what: str) -> None:
        if n > self.config.max_len:
            raise UserError(
                f"{what} of {n} steps is longer than the model's window of {self.config.max_len}; "
                "decode long videos with video2music.model.decode (it works in windows)"
            )

    def forward(
        self,
        chords: torch.Tensor,
        video: torch.Tensor,
        mode: torch.Tensor,
        chord_mask: torch.Tensor | None = None,
        video_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (B, L, 159) for the chord after each of ``chords`` (B, L) given ``video`` and ``mode``.

        ``chord_mask`` (B, L) and ``video_mask`` (B, T) are True on real positions, False on padding
        (padding goes at the end; position 0 must be real). Masked keys are left out of attention;
        the logits at padded chord positions are meaningless and the loss ignores them (PAD targets).
        """
        self._check_length(chords.shape[1], "chord sequence")
        memory = self.encode(video, video_mask)
        video_padding = None if video_mask is None else ~video_mask.bool()
        chord_padding = None if chord_mask is None else ~chord_mask.bool()
        x = self.dropout(self.embed_chords(chords, mode))
        for layer in self.decoder_layers:
            x = layer(x, memory, chord_padding, video_padding)
        return self.out(self.decoder_norm(x))
