"""The training losses. The transformer's: chord cross-entropy plus the affective (emotion -> quality)
term; the regression's: mean squared error.

Definition (Video2Music, lambda = 0.4): ``lam * CE + (1 - lam) * BCE``.

* CE: cross-entropy of the logits against the target chord ids, PAD targets ignored.
* BCE: binary cross-entropy with logits, class by class, between the 159 logits and the affective
  target of the emotion at that position: ``target[c] = sum_e p_e * A[e, c]`` where ``p`` are the
  six emotion probabilities (rows sum to 1) and ``A`` is ``vocab.affective_target_matrix()``
  (1 where chord ``c`` has a quality emotion ``e`` allows). So a chord whose quality suits every
  likely emotion is pushed towards 1, one that suits none towards 0; ``N``, END and PAD are always 0.
  The BCE is averaged over the 159 classes and over the non-PAD positions.

Alignment: ``emotion`` must line up with ``targets``. With teacher forcing (decoder input
``chords[:, :-1]``, target ``chords[:, 1:]``) that is ``emotion[:, 1:]``: the emotion of the second
whose chord is being predicted.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from video2music.theory import vocab
from video2music.training.options import DEFAULT_LAMBDA


def affective_targets(emotion: torch.Tensor) -> torch.Tensor:
    """(..., 6) emotion probabilities -> (..., 159) soft targets in [0, 1]."""
    table = torch.from_numpy(vocab.affective_target_matrix()).to(emotion.device, emotion.dtype)
    return (emotion @ table).clamp(0.0, 1.0)


def amt_loss(
    logits: torch.Tensor, targets: torch.Tensor, emotion: torch.Tensor, lam: float = DEFAULT_LAMBDA
) -> torch.Tensor:
    """Scalar loss for logits (B, L, 159), target ids (B, L) and aligned emotion (B, L, 6)."""
    if logits.shape[:-1] != targets.shape or emotion.shape[:-1] != targets.shape:
        raise ValueError(
            f"logits {tuple(logits.shape)}, targets {tuple(targets.shape)} and emotion "
            f"{tuple(emotion.shape)} must agree on (batch, length)"
        )
    flat_logits = logits.reshape(-1, logits.shape[-1])
    flat_targets = targets.reshape(-1)
    chord = F.cross_entropy(flat_logits, flat_targets, ignore_index=vocab.PAD_ID)
    valid = (flat_targets != vocab.PAD_ID).to(logits.dtype)
    soft = affective_targets(emotion.reshape(-1, emotion.shape[-1]).to(logits.dtype))
    per_position = F.binary_cross_entropy_with_logits(flat_logits, soft, reduction="none").mean(-1)
    affective = (per_position * valid).sum() / valid.sum().clamp(min=1.0)
    return lam * chord + (1.0 - lam) * affective


def regression_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the real seconds and both outputs."""
    weight = mask.unsqueeze(-1).to(prediction.dtype)
    return (((prediction - target) ** 2) * weight).sum() / (2 * weight.sum()).clamp(min=1.0)
