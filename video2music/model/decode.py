"""Chord decoding: one chord per step from a trained transformer, fast and reproducible.

A step is one second of MuVi-Sync time, or one half bar of ``video2music.theory.grid`` when the façade
decodes on the musical grid (at 120 bpm the two are the same).

The video is encoded once per window and every decoder layer keeps a key/value cache (see
:mod:`video2music.model.stepper`; ``DecodeOptions.precision`` picks the decoder weights' precision),
so each new chord costs one pass of a single position through the decoder instead of a full
forward pass.

Step ``t``'s chord is predicted by the decoder position that reads the chord of step ``t - 1``
(teacher forcing in :mod:`video2music.model.transformer`), so the first chord is a primer: the tonic
of the mode unless ``DecodeOptions.primer`` gives chords for the first steps.

Rules applied to the logits of every generated step (the reference's, plus ours):

* END and PAD are never chosen mid-video; ``N`` only with ``allow_n``;
* a chord may not last more than ``max_repeat`` steps;
* at the steps in ``change_at`` (scene cuts) the previous chord is excluded, so a new one starts;
* where either rule forces a change, the chords on the same root are excluded too (C to Csus2 or
  Cmaj7 colours the chord, it does not change it);
* ``emotion_guidance`` adds ``strength * sum_e p_e * A[e, c]`` to chord ``c``'s logit, where ``p`` is
  that step's emotion and ``A`` the affective table (qualities each emotion allows).

The pop structure, off in ``DecodeOptions()`` (the reference decoding) and on in the façade:
``key_mask`` (``video2music.theory.harmony``: the key's chords, borrowed ones at a penalty),
``loop_bias`` towards the chord ``loop_steps`` earlier (or, with ``loop_from``, towards the step a
song form names), ``hold_bias`` towards holding a chord through the middle of a bar, ``copy_from``
(a section that comes back repeats its chords exactly, changing only where a cut demands it),
``cadence`` (the last bar on the tonic, the bar before it on a chord leading there; it overrides a
copy) and ``vary_with_video`` (the random stream keyed by the video as well as the seed).

Videos longer than the model's window (``max_len`` steps) are decoded in windows of ``max_len``
steps; each later window starts ``max_len // 3`` steps before the previous one ended (or earlier,
so that the last window is full), is primed with the chords already chosen for its steps and
encodes the matching slice of the video, so the progression continues without a seam.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from video2music.model import sampling
from video2music.model.inputs import input_columns
from video2music.model.loss import affective_targets
from video2music.model.step_threads import StepThreads
from video2music.model.stepper import DecoderStepper, check_precision
from video2music.model.transformer import AffectiveMultimodalTransformer
from video2music.theory import grid, harmony, vocab
from video2music.utils.errors import UserError, check_range

log = logging.getLogger(__name__)

MAJOR_TONIC = vocab.chord_id(0, "maj")  # C
MINOR_TONIC = vocab.chord_id(9, "min")  # A:min


@dataclass(frozen=True)
class DecodeOptions:
    """How chords are sampled. ``temperature`` 0 means greedy; ``top_p`` 1 keeps every chord."""

    seed: int = 0
    temperature: float = 1.0
    top_p: float = 0.95
    allow_n: bool = False
    max_repeat: int = 2
    primer: tuple[int, ...] = ()
    emotion_guidance: float = 0.0
    change_at: frozenset[int] | None = None
    precision: str = "float16"  # decoder weights while stepping; see video2music.model.stepper
    # Pop structure (off here, so this is the reference decoding; the façade turns them on):
    key_mask: bool = False  # only chords of the key, borrowed ones penalised (see harmony)
    loop_steps: int = 8  # how far back the loop looks: 8 half bars = 4 bars
    loop_bias: float = 0.0  # added to the logit of the chord heard loop_steps earlier
    # Song form (the façade fills these from its plan; empty: the loop_steps rule everywhere).
    # Per step, the earlier step whose chord it repeats exactly (a section that comes back), or -1:
    copy_from: tuple[int, ...] = ()
    # Per step, the earlier step whose chord gets loop_bias instead of loop_steps back, or -1 for none:
    loop_from: tuple[int, ...] = ()
    hold_bias: float = 0.0  # added to the previous chord's logit on odd steps (mid-bar)
    cadence: bool = False  # last bar on the tonic, the bar before it a chord leading there
    vary_with_video: bool = False  # the random stream depends on the video as well as the seed

    def check(self) -> None:
        """Raise UserError for options that make no sense."""
        check_range("temperature", self.temperature, sampling.TEMPERATURE_RANGE)
        check_range("top_p", self.top_p, sampling.TOP_P_RANGE, above=True)
        check_range("emotion strength (guidance)", self.emotion_guidance, sampling.EMOTION_GUIDANCE_RANGE)
        if int(self.max_repeat) < 1:
            raise UserError(f"max_repeat must be at least 1 step, got {self.max_repeat}")
        if int(self.loop_steps) < 1:
            raise UserError(f"loop_steps must be at least 1, got {self.loop_steps}")
        for name in ("copy_from", "loop_from"):
            if any(not -1 <= int(source) < step for step, source in enumerate(getattr(self, name))):
                raise UserError(f"{name} must name an earlier step (or -1) for every step")
        if not all(math.isfinite(bias) and bias >= 0 for bias in (self.loop_bias, self.hold_bias)):
            raise UserError(
                f"loop and hold biases must be 0 (off) or positive, got {self.loop_bias}, {self.hold_bias}"
            )
        for cid in self.primer:
            if not (isinstance(cid, int | np.integer) and 0 <= cid < vocab.NUM_CHORDS):
                raise UserError(
                    f"primer chord {cid!r} is not in the vocabulary (ids 0..{vocab.NUM_CHORDS - 1}; "
                    "parse symbols with vocab.parse_progression)"
                )
        check_precision(self.precision)


class ChordSampler:
    """Applies the rules to one step's logits and draws the chord, from a seeded generator.

    ``steps`` is the length of the piece (for the cadence) and ``mode`` the mode bit (for the key
    mask and the cadence); ``video_digest`` is mixed into the seed when ``vary_with_video``.
    """

    def __init__(
        self,
        options: DecodeOptions,
        emotion: np.ndarray | None,
        *,
        mode: int = 0,
        steps: int = 0,
        video_digest: int = 0,
    ) -> None:
        self.options = options
        seed = int(options.seed)
        if options.vary_with_video:
            seed = (seed * 0x9E3779B1 + video_digest) % 2**63
        self.generator = torch.Generator().manual_seed(sampling.generator_seed(seed))
        self.change_at = options.change_at or frozenset()
        self.bias = None
        if options.emotion_guidance > 0:
            self.bias = options.emotion_guidance * affective_targets(torch.from_numpy(emotion).float())
        self.banned = [vocab.END_ID, vocab.PAD_ID] + ([] if options.allow_n else [vocab.N_ID])
        self.key_bias = torch.from_numpy(harmony.key_bias(mode).copy()) if options.key_mask else None
        self.steps = steps
        self.tonic = harmony.TONIC[mode]
        self.cadence = sorted(harmony.cadence_chords(mode))

    def _ending(self, step: int) -> list[int] | None:
        """The chords the cadence allows at ``step``, or None outside the last two bars."""
        if not self.options.cadence:
            return None
        from_end = self.steps - step
        if from_end <= grid.STEPS_PER_BAR:
            return [self.tonic]
        # Not in a piece's first bar, which belongs to the start, unless the piece is two bars
        # long: then the first bar's second half leads into the last.
        first = min(grid.STEPS_PER_BAR, self.steps - 2 * grid.STEPS_PER_BAR + 1)
        if from_end <= 2 * grid.STEPS_PER_BAR and step >= first:
            return self.cadence
        return None

    def _copied(self, step: int, history: list[int]) -> int | None:
        """The chord a returning section repeats at ``step`` (None: the model chooses). At a cut
        it must change: a repeat of the chord before is chosen anew."""
        copy_from = self.options.copy_from
        if step >= len(copy_from) or copy_from[step] < 0:
            return None
        chord = history[copy_from[step]]
        if step in self.change_at and history and chord in _same_root(history[-1]):
            return None
        return chord

    def _loop_source(self, step: int) -> int:
        if self.options.loop_from:
            return self.options.loop_from[step] if step < len(self.options.loop_from) else -1
        return step - self.options.loop_steps

    def __call__(self, logits: torch.Tensor, step: int, history: list[int]) -> int:
        logits = logits.float().clone()
        if self.bias is not None:
            logits += self.bias[step]
        if self.key_bias is not None:
            logits += self.key_bias
        options = self.options
        ending = self._ending(step)
        copied = self._copied(step, history)
        if copied is not None and ending is None:
            return copied
        if history:
            previous = history[-1]
            if options.hold_bias and step % grid.STEPS_PER_BAR:
                logits[previous] += options.hold_bias
            loop = self._loop_source(step)
            if options.loop_bias and loop >= 0:
                logits[history[loop]] += options.loop_bias
        logits[self.banned] = float("-inf")
        if ending is not None:
            if step in self.change_at and history and len(ending) > 1:
                ending = [c for c in ending if c != history[-1]]
            # The model still chooses among the cadence chords (every one is in key, so finite).
            allowed = torch.full_like(logits, float("-inf"))
            allowed[ending] = 0.0
            logits = logits + allowed
        else:
            repeat = options.max_repeat
            held = len(history) >= repeat and len(set(history[-repeat:])) == 1
            if history and (held or step in self.change_at):
                logits[_same_root(history[-1])] = float("-inf")
        if options.temperature == 0:
            return int(logits.argmax())
        probs = (logits / options.temperature).softmax(-1)
        if options.top_p < 1:
            sorted_probs, order = probs.sort(descending=True)
            # Keep the smallest set of most likely chords whose mass reaches top_p (at least one).
            outside = sorted_probs.cumsum(-1) - sorted_probs >= options.top_p
            sorted_probs[outside] = 0.0
            probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
        return int(torch.multinomial(probs, 1, generator=self.generator))


@cache
def _same_root(chord: int) -> list[int]:
    """``chord`` and every chord on its root (only itself for N)."""
    if chord == vocab.N_ID:
        return [chord]
    root = vocab.chord_root(chord)
    return [c for c in range(1, vocab.NUM_CHORDS) if vocab.chord_root(c) == root]


def video_digest(video: torch.Tensor) -> int:
    """A stable 63-bit number from the video's features (rounded, so float noise does not count)."""
    rounded = np.round(video.detach().cpu().double().numpy(), 3).tobytes()
    return int.from_bytes(hashlib.blake2b(rounded, digest_size=8).digest(), "little") >> 1


def _check_decode_inputs(
    model: AffectiveMultimodalTransformer, video: torch.Tensor, emotion, options: DecodeOptions
):
    if video.ndim != 3 or video.shape[0] != 1:
        raise UserError(f"decode one video at a time: expected features (1, T, D), got {tuple(video.shape)}")
    seconds, width = video.shape[1], video.shape[2]
    if seconds == 0:
        raise UserError("the video has no seconds of features (T = 0); use a video at least one second long")
    if width != model.config.video_dim:
        raise UserError(
            f"video features have {width} dims but this model takes {model.config.video_dim} "
            f"({', '.join(model.config.inputs)}); extract the features the model was trained on"
        )
    if not torch.isfinite(video).all():
        raise UserError("video features contain NaN or infinite values; re-extract the features")
    options.check()
    if options.emotion_guidance <= 0:
        return None
    if emotion is None:
        if "emotion" not in model.config.inputs:
            raise UserError("emotion guidance needs the emotion features; pass them or set guidance to 0")
        emotion = video[0, :, input_columns(model.config.inputs, "emotion")].cpu().numpy()
    emotion = np.asarray(emotion, dtype=np.float32)
    if emotion.shape != (seconds, len(vocab.EMOTIONS)) or not np.isfinite(emotion).all():
        raise UserError(f"emotion for guidance must be finite with shape ({seconds}, 6), got {emotion.shape}")
    return emotion


def window_starts(seconds: int, window: int) -> list[int]:
    """First second of each decoding window for a video of ``seconds`` seconds."""
    starts = [0]
    while starts[-1] + window < seconds:
        end = starts[-1] + window
        starts.append(min(end - window // 3, seconds - window))
    return starts


@torch.inference_mode()
def decode_chords(
    model: AffectiveMultimodalTransformer,
    video: torch.Tensor,
    mode_bit: int,
    options: DecodeOptions | None = None,
    emotion: np.ndarray | None = None,
) -> list[int]:
    """One chord id per second of ``video`` (1, T, D), in C major (mode 0) or A minor (mode 1) space.

    ``emotion`` (T, 6) is only read for emotion guidance (default: the emotion columns of ``video``).
    Deterministic for a given ``options.seed``.
    """
    options = options or DecodeOptions()
    emotion = _check_decode_inputs(model, video, emotion, options)
    if mode_bit not in (0, 1):
        raise UserError(f"mode bit must be 0 (major) or 1 (minor), got {mode_bit}")
    model.eval()
    seconds = video.shape[1]
    video = video.to(model.out.weight.device, model.out.weight.dtype)
    chords = [int(c) for c in options.primer] or [MINOR_TONIC if mode_bit else MAJOR_TONIC]
    sample = ChordSampler(
        options,
        emotion,
        mode=mode_bit,
        steps=seconds,
        video_digest=video_digest(video) if options.vary_with_video else 0,
    )
    window = model.config.max_len
    stepper = DecoderStepper(model, options.precision)
    with StepThreads(tune=video.device.type == "cpu") as threads:
        for start in window_starts(seconds, window):
            end = min(start + window, seconds)
            if len(chords) >= end:
                continue
            state = threads.wide(stepper.start, video[:, start:end], mode_bit)
            for chord in chords[start:-1]:
                threads(stepper.step, state, chord)
            while len(chords) < end:
                logits = threads(stepper.step, state, chords[-1]).cpu()  # the sampler draws on the CPU
                chords.append(sample(logits, len(chords), chords))
            log.debug("decoded seconds %d..%d", start, end)
    return chords[:seconds]
