"""Chord decoding: one chord per second from a trained transformer, fast and reproducible.

The video is encoded once per window and every decoder layer keeps a key/value cache (see
:mod:`video2music.model.stepper`; ``DecodeOptions.precision`` picks the decoder weights' precision),
so each new chord costs one pass of a single position through the decoder instead of a full
forward pass.

Second ``t``'s chord is predicted by the decoder position that reads the chord of second ``t - 1``
(teacher forcing in :mod:`video2music.model.transformer`), so the first chord is a primer: the tonic
of the mode unless ``DecodeOptions.primer`` gives chords for the first seconds.

Rules applied to the logits of every generated second (the reference's, plus two of ours):

* END and PAD are never chosen mid-video; ``N`` only with ``allow_n``;
* a chord may not last more than ``max_repeat`` seconds;
* at the seconds in ``change_at`` (scene cuts) the previous chord is excluded, so a new one starts;
* ``emotion_guidance`` adds ``strength * sum_e p_e * A[e, c]`` to chord ``c``'s logit, where ``p`` is
  that second's emotion and ``A`` the affective table (qualities each emotion allows).

Videos longer than the model's window (``max_len`` seconds) are decoded in windows of ``max_len``
seconds; each later window starts ``max_len // 3`` seconds before the previous one ended (or earlier,
so that the last window is full), is primed with the chords already chosen for its seconds and
encodes the matching slice of the video, so the progression continues without a seam.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from video2music import vocab
from video2music.errors import UserError
from video2music.model.loss import affective_targets
from video2music.model.stepper import check_precision
from video2music.model.transformer import AffectiveMultimodalTransformer

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

    def check(self) -> None:
        """Raise UserError for options that make no sense."""
        if not self.temperature >= 0:
            raise UserError(f"temperature must be 0 (greedy) or positive, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise UserError(f"top_p must lie in (0, 1], got {self.top_p}")
        if int(self.max_repeat) < 1:
            raise UserError(f"max_repeat must be at least 1 second, got {self.max_repeat}")
        if not self.emotion_guidance >= 0:
            raise UserError(
                f"emotion strength (guidance) must be 0 (off) or positive, got {self.emotion_guidance}"
            )
        for cid in self.primer:
            if not (isinstance(cid, int | np.integer) and 0 <= cid < vocab.NUM_CHORDS):
                raise UserError(
                    f"primer chord {cid!r} is not in the vocabulary (ids 0..{vocab.NUM_CHORDS - 1}; "
                    "parse symbols with vocab.parse_progression)"
                )
        check_precision(self.precision)


class ChordSampler:
    """Applies the rules to one second's logits and draws the chord, from a seeded generator."""

    def __init__(self, options: DecodeOptions, emotion: np.ndarray | None) -> None:
        self.options = options
        self.generator = torch.Generator().manual_seed(int(options.seed))
        self.change_at = options.change_at or frozenset()
        self.bias = None
        if options.emotion_guidance > 0:
            self.bias = options.emotion_guidance * affective_targets(torch.from_numpy(emotion).float())
        self.banned = [vocab.END_ID, vocab.PAD_ID] + ([] if options.allow_n else [vocab.N_ID])

    def __call__(self, logits: torch.Tensor, second: int, history: list[int]) -> int:
        logits = logits.float().clone()
        if self.bias is not None:
            logits += self.bias[second]
        logits[self.banned] = float("-inf")
        repeat = self.options.max_repeat
        if len(history) >= repeat and len(set(history[-repeat:])) == 1:
            logits[history[-1]] = float("-inf")
        if second in self.change_at and history:
            logits[history[-1]] = float("-inf")
        if self.options.temperature == 0:
            return int(logits.argmax())
        probs = (logits / self.options.temperature).softmax(-1)
        if self.options.top_p < 1:
            sorted_probs, order = probs.sort(descending=True)
            # Keep the smallest set of most likely chords whose mass reaches top_p (at least one).
            outside = sorted_probs.cumsum(-1) - sorted_probs >= self.options.top_p
            sorted_probs[outside] = 0.0
            probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
        return int(torch.multinomial(probs, 1, generator=self.generator))


def _check_inputs(
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
        emotion = video[0, :, -6:].cpu().numpy()  # emotion is last in the fixed input order
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


@contextlib.contextmanager
def _single_thread() -> Iterator[None]:
    # A step is a few hundred tiny ops; waking a thread pool for each costs more than it saves, and
    # when other processes share the cores every op waits for a descheduled worker (5-40x slower
    # measured here). The one encoder pass per window is small enough not to need the pool either.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


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
    emotion = _check_inputs(model, video, emotion, options)
    if mode_bit not in (0, 1):
        raise UserError(f"mode bit must be 0 (major) or 1 (minor), got {mode_bit}")
    model.eval()
    seconds = video.shape[1]
    video = video.to(model.out.weight.device, model.out.weight.dtype)
    chords = [int(c) for c in options.primer] or [MINOR_TONIC if mode_bit else MAJOR_TONIC]
    sample = ChordSampler(options, emotion)
    window = model.config.max_len
    with _single_thread():
        stepper = model.stepper(options.precision)
        for start in window_starts(seconds, window):
            end = min(start + window, seconds)
            if len(chords) >= end:
                continue
            state = stepper.start(video[:, start:end], mode_bit)
            for chord in chords[start:-1]:
                stepper.step(state, chord)
            while len(chords) < end:
                logits = stepper.step(state, chords[-1]).cpu()  # the sampler draws on the CPU
                chords.append(sample(logits, len(chords), chords))
            log.debug("decoded seconds %d..%d", start, end)
    return chords[:seconds]
