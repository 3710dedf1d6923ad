"""The note density / loudness regression: a bidirectional GRU over the per-second video input."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from video2music.model.inputs import INPUT_ORDER, DeclaresInputs
from video2music.utils.errors import UserError

MAX_NOTE_DENSITY = 40.0


@dataclass(frozen=True)
class RegressionConfig(DeclaresInputs):
    """Sizes of the regression and the video inputs it takes (defaults: the published model)."""

    hidden: int = 64
    layers: int = 2
    inputs: tuple[str, ...] = field(default=INPUT_ORDER)

    def __post_init__(self) -> None:
        self._normalise_inputs()
        if int(self.hidden) < 1 or int(self.layers) < 1:
            raise UserError(
                f"RegressionConfig needs positive hidden and layers, got {self.hidden}, {self.layers}"
            )

    @classmethod
    def debug(cls, inputs: tuple[str, ...] = INPUT_ORDER) -> RegressionConfig:
        """A tiny configuration for tests and smoke runs."""
        return cls(hidden=8, layers=1, inputs=inputs)


class VideoRegression(nn.Module):
    """(B, T, video_dim) -> (B, T, 2): note density (notes per second) and loudness per second."""

    def __init__(self, config: RegressionConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or RegressionConfig()
        self.bigru = nn.GRU(
            config.video_dim, config.hidden, num_layers=config.layers, batch_first=True, bidirectional=True
        )
        self.head = nn.Linear(2 * config.hidden, 2)

    def forward(self, video: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``mask`` (B, T), True on real seconds, keeps end padding out of the backward direction
        (outputs on padded seconds are meaningless)."""
        if video.shape[-1] != self.config.video_dim:
            raise UserError(
                f"video features have {video.shape[-1]} dims; the regression takes {self.config.video_dim} "
                f"({', '.join(self.config.inputs)})"
            )
        if mask is not None and not bool(mask.all()):
            lengths = mask.sum(dim=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(video, lengths, batch_first=True, enforce_sorted=False)
            hidden, _ = self.bigru(packed)
            hidden, _ = nn.utils.rnn.pad_packed_sequence(hidden, True, total_length=video.shape[1])
        else:
            hidden, _ = self.bigru(video)
        return self.head(hidden)


def postprocess(pred: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 2) raw predictions -> (note density clipped to [0, 40], loudness clipped to [0, 1]).

    Both stay in MuVi-Sync units (notes per second; RMS loudness of audio normalised to [-1, 1],
    which cannot leave [0, 1]), which is what the arranger takes.
    """
    array = pred.detach().cpu().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred)
    density = np.clip(array[..., 0], 0.0, MAX_NOTE_DENSITY).astype(np.float32)
    loudness = np.clip(array[..., 1], 0.0, 1.0).astype(np.float32)
    return density, loudness
