"""Multi-head attention, optionally with the Music Transformer relative term, on whole sequences.

The relative term follows the published Video2Music decoder: one learned table ``Er`` of shape
(max_len, head_dim) per layer, shared by every head. With ``q`` already scaled by 1/sqrt(head_dim),
the score between query ``i`` and key ``j <= i`` is ``q_i . k_j + q_i . Er[max_len - 1 - (i - j)]``
(distance 0 uses the last row). Keys after the query are excluded by the causal mask, so the
relative term never needs a value for them.

One query at a time against cached keys and values is :mod:`video2music.model.stepper`'s job;
it computes the same scores.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class MultiHeadAttention(nn.Module):
    """Attention with packed input projections (the layout of ``nn.MultiheadAttention``'s weights)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, relative_len: int = 0) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by {n_heads} heads")
        self.d_model = d_model
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)
        self.rel_embedding: nn.Parameter | None = None
        if relative_len:
            self.rel_embedding = nn.Parameter(torch.randn(relative_len, self.head_dim) * self.head_dim**-0.5)

    # -- projections -----------------------------------------------------------------------
    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, d_model) -> (B, H, L, head_dim)."""
        b, n, _ = x.shape
        return x.view(b, n, self.n_heads, self.head_dim).transpose(1, 2)

    def project_query(self, x: torch.Tensor) -> torch.Tensor:
        d = self.d_model
        return self._heads(F.linear(x, self.in_proj_weight[:d], self.in_proj_bias[:d])) * self.scale

    def project_key_value(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.d_model
        kv = F.linear(memory, self.in_proj_weight[d:], self.in_proj_bias[d:])
        return self._heads(kv[..., :d]), self._heads(kv[..., d:])

    # -- whole sequences -------------------------------------------------------------------
    def _relative_scores(self, q: torch.Tensor) -> torch.Tensor:
        """(B, H, L, L) with entry [i, j] = q_i . Er[max_len - 1 - (i - j)] for j <= i (else junk)."""
        n = q.shape[-2]
        max_len = self.rel_embedding.shape[0]
        if n > max_len:
            raise ValueError(f"sequence of {n} exceeds the relative attention length {max_len}")
        # qe[..., i, m] = q_i . Er[max_len - n + m]; the wanted row index is m = n - 1 - i + j.
        qe = q @ self.rel_embedding[max_len - n :].transpose(0, 1)
        offsets = torch.arange(n, device=q.device)
        index = (offsets[None, :] - offsets[:, None] + n - 1).clamp(max=n - 1)
        return qe.gather(-1, index.expand(qe.shape))

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        *,
        causal: bool = False,
        key_padding: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attend from ``x`` (B, L, d) to ``memory`` (B, S, d), or to ``x`` itself when None.

        ``key_padding`` (B, S) bool is True where a key is padding and must be ignored.
        """
        q = self.project_query(x)
        k, v = self.project_key_value(x if memory is None else memory)
        scores = q @ k.transpose(-1, -2)
        if self.rel_embedding is not None:
            scores = scores + self._relative_scores(q)
        if causal:
            n = x.shape[1]
            future = torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(future, float("-inf"))
        if key_padding is not None:
            scores = scores.masked_fill(key_padding[:, None, None, :], float("-inf"))
        weights = F.dropout(scores.softmax(-1), self.dropout, self.training)
        out = (weights @ v).transpose(1, 2).reshape(x.shape)
        return self.out_proj(out)
