"""Incremental decoding: one chord position at a time through the decoder, with cached keys and values.

A :class:`DecoderStepper` is built once per decoding call from a trained
:class:`~video2music.model.transformer.AffectiveMultimodalTransformer`. It encodes the video once
per window (:meth:`DecoderStepper.start`), keeps every decoder layer's self-attention keys and
values and the cross-attention keys and values of the encoded video, and then costs one position
per chord (:meth:`DecoderStepper.step`); the result equals the full forward pass on the same prefix.

What bounds a step on a CPU is streaming the decoder's matrices from memory (about 63 MB in
float32 at full size: ten d_model x d_model matrices a layer), so the stepper keeps its own copy
of them in the chosen ``precision``:

* ``float32``: the model's own weights (float64 ones too), the same numbers as the full pass;
* ``float16``: weights rounded to float16, half the bytes. Activations go into each product as
  float16 (PyTorch's CPU kernel sums in float32); attention, norms and the caches stay in the
  model's dtype. Logits move by ~3e-3 at full size, which left every one of
  300 seeded chords unchanged in bench/decode.py, and a step costs about half as much.

int8 weights (fbgemm's dynamic quantisation) were measured too: a quarter of the bytes, but
logits moved by ~1e-2 and 1 to 7 of 300 sampled chords changed, and quantised tensors are
deprecated in PyTorch; they are not offered.

The relative term follows the published decoder (see :mod:`video2music.model.attention`): with
``q`` scaled by 1/sqrt(head_dim), key ``j`` of query ``i`` scores ``q . k_j + q . Er[max_len - 1 -
i + j]``; the ``Er`` rows query ``i`` needs are the last ``i + 1``, already in key order, and one
(heads, head_dim) x (head_dim, i + 1) product gives every head's relative scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from video2music.model.transformer import AffectiveMultimodalTransformer, DecoderLayer
from video2music.utils.errors import UserError

PRECISIONS = ("float32", "float16")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise UserError(f"unknown decoding precision {precision!r}; choose among {', '.join(PRECISIONS)}")


class Projection:
    """``x @ W.T + b`` for one position, with ``W`` and ``b`` kept in ``precision`` (float32: the
    model's own tensors). The input is cast to that dtype and the output stays in it, so that
    float16 activations flow from one product into the next without casts in between."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, precision: str) -> None:
        weight, bias = weight.detach().contiguous(), bias.detach().contiguous()
        if precision == "float16":
            weight, bias = weight.half(), bias.half()
        self.weight, self.bias = weight, bias

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.to(self.weight.dtype), self.weight, self.bias)


class StepLayer:
    """One decoder layer for a single position: relative causal self-attention over the cache,
    cross-attention to the encoded video, feed-forward; post-norm as in the full pass."""

    def __init__(self, layer: DecoderLayer, precision: str) -> None:
        attn, cross = layer.self_attn, layer.cross_attn
        d = attn.d_model
        self.d_model, self.heads, self.head_dim = d, attn.n_heads, attn.head_dim
        # 1/sqrt(head_dim) folded into the query rows: one product less per attention.
        q_scale = torch.ones_like(attn.in_proj_weight[:, :1])
        q_scale[:d] = attn.scale
        self.qkv = Projection(attn.in_proj_weight * q_scale, attn.in_proj_bias * q_scale[:, 0], precision)
        self.self_out = Projection(attn.out_proj.weight, attn.out_proj.bias, precision)
        self.cross_q = Projection(
            cross.in_proj_weight[:d] * cross.scale, cross.in_proj_bias[:d] * cross.scale, precision
        )
        self.cross_out = Projection(cross.out_proj.weight, cross.out_proj.bias, precision)
        self.ff1 = Projection(layer.ff.linear1.weight, layer.ff.linear1.bias, precision)
        self.ff2 = Projection(layer.ff.linear2.weight, layer.ff.linear2.bias, precision)
        self.rel_t = attn.rel_embedding.detach().T.contiguous()  # (head_dim, max_len)
        self.cross_kv = cross
        self.norms = [
            (n.weight.detach(), n.bias.detach(), n.eps) for n in (layer.norm1, layer.norm2, layer.norm3)
        ]

    def memory_kv(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The cross-attention keys (H, head_dim, S) and values (H, S, head_dim) of ``memory`` (1, S, d)."""
        keys, values = self.cross_kv.project_key_value(memory)
        return keys[0].transpose(1, 2).contiguous(), values[0].contiguous()

    def _norm(self, x: torch.Tensor, which: int) -> torch.Tensor:
        weight, bias, eps = self.norms[which]
        return F.layer_norm(x, (self.d_model,), weight, bias, eps)

    def self_attention(self, x: torch.Tensor, cache: torch.Tensor, i: int) -> torch.Tensor:
        """Attention of position ``i`` to positions 0..i; writes its key and value into ``cache``."""
        h, hd = self.heads, self.head_dim
        qkv = self.qkv(x).view(3, h, hd)
        cache[:, :, i] = qkv[1:]
        q = qkv[0].to(cache.dtype)
        relative = q @ self.rel_t[:, self.rel_t.shape[1] - 1 - i :]  # (H, i + 1)
        scores = torch.baddbmm(relative.unsqueeze(1), q.unsqueeze(1), cache[0, :, : i + 1].transpose(1, 2))
        out = torch.bmm(scores.softmax(-1), cache[1, :, : i + 1])
        return self.self_out(out.view(1, self.d_model))

    def cross_attention(self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        q = self.cross_q(x).to(keys.dtype).view(self.heads, 1, self.head_dim)
        out = torch.bmm(torch.bmm(q, keys).softmax(-1), values)
        return self.cross_out(out.view(1, self.d_model))

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ff2(self.ff1(x).relu_())

    def __call__(
        self, x: torch.Tensor, cache: torch.Tensor, i: int, memory_kv: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        x = self._norm(x + self.self_attention(x, cache, i), 0)
        x = self._norm(x + self.cross_attention(x, *memory_kv), 1)
        return self._norm(x + self.feed_forward(x), 2)


@dataclass
class DecoderState:
    """What incremental decoding keeps between steps for one video window."""

    stepper: DecoderStepper
    memory_kv: list[tuple[torch.Tensor, torch.Tensor]]
    caches: list[torch.Tensor]  # per layer (2, heads, max_len, head_dim): keys, values
    mode: int
    length: int = 0


class DecoderStepper:
    """Encode a video once, then feed chords one at a time and get the logits for the next chord.

    The weights are prepared at construction (scaled, cast to ``precision``; see the module
    docstring), so build a stepper per decoding call: later changes to the model's parameters
    are not all seen by an existing one.
    """

    def __init__(self, model: AffectiveMultimodalTransformer, precision: str = "float32") -> None:
        check_precision(precision)
        self.model = model
        self.precision = precision
        self.layers = [StepLayer(layer, precision) for layer in model.decoder_layers]
        self.final_norm = model.decoder_norm
        self.out = model.out
        with torch.inference_mode():
            # Each chord's decoder input in either mode: embeddings and chord_in done once here.
            vocab_size = model.root_of.shape[0]
            ids = torch.arange(vocab_size, device=model.out.weight.device).repeat(2)[:, None]
            modes = torch.arange(2, device=ids.device).repeat_interleave(vocab_size)
            # Every chord at position 0 in either mode; a step swaps position 0 for its own.
            inputs = model.embed_chords(ids, modes) - model.positions[0]
            self.chord_inputs = inputs.view(2, vocab_size, -1)

    @property
    def max_len(self) -> int:
        return self.model.config.max_len

    def start(self, video: torch.Tensor, mode: float) -> DecoderState:
        """Encode ``video`` (1, T, video_dim) once and precompute every layer's cross-attention K/V."""
        if video.shape[0] != 1:
            raise ValueError("incremental decoding takes one video at a time")
        memory = self.model.encode(video)
        layer = self.model.decoder_layers[0].self_attn
        shape = (2, layer.n_heads, self.max_len, layer.head_dim)
        return DecoderState(
            stepper=self,
            memory_kv=[step_layer.memory_kv(memory) for step_layer in self.layers],
            caches=[memory.new_empty(shape) for _ in self.layers],
            mode=int(mode),
        )

    def step(self, state: DecoderState, chord: int) -> torch.Tensor:
        """Feed one chord id at the next position; return the (159,) logits for the chord after it."""
        i = state.length
        if i >= self.max_len:
            raise UserError(
                f"chord sequence of {i + 1} steps is longer than the model's window of {self.max_len}; "
                "decode long videos with video2music.model.decode (it works in windows)"
            )
        x = (self.chord_inputs[state.mode, chord] + self.model.positions[i]).unsqueeze(0)
        for layer, cache, memory_kv in zip(self.layers, state.caches, state.memory_kv, strict=True):
            x = layer(x, cache, i, memory_kv)
        state.length = i + 1
        return self.out(self.final_norm(x))[0]
