"""What a training run depends on: its options, with checks, and the defaults they start from.

Kept apart from :mod:`video2music.training.loop` (torch, the data pipeline) so that the command line
can show its help and check its arguments at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from video2music.model.inputs import INPUT_ORDER, check_inputs
from video2music.utils.errors import UserError

TASKS = ("amt", "regression", "melody")  # the chord transformer; note density and loudness; the melody
SIZES = ("full", "small", "debug")
DEFAULT_LAMBDA = 0.4  # weight of the chord cross-entropy against the affective BCE, as published
DEFAULT_WINDOW = 300  # seconds: the published model's attention window
# The reference schedule warms up over 4000 steps, longer than a short run lasts (the fixture's
# demo: a few dozen), whose rate would then stay near 0 and learn nothing; by default the warm-up
# takes at most this share of the run's steps (the peak rate stays the reference's).
REFERENCE_WARMUP = 4000
WARMUP_SHARE = 0.25


@dataclass
class TrainOptions:
    """Everything a run depends on; saved in the run folder and in every checkpoint."""

    data: str  # a MuVi-Sync folder or a packed .npz (melody: a POP909 folder or compact file)
    out: str  # the run folder
    task: str = "amt"  # "amt" (chord transformer), "regression" (note density, loudness) or "melody"
    epochs: int = 20
    batch_size: int = 8
    lr: float | None = None  # peak learning rate; None: the reference schedule's peak
    warmup: int | None = None  # optimiser steps of linear warm-up; None: REFERENCE_WARMUP, capped
    size: str = "full"  # "full" (published sizes), "small" or "debug"
    layers: int | None = None  # overrides of the size: encoder and decoder layers (GRU layers)
    d_model: int | None = None
    heads: int | None = None
    ff: int | None = None
    hidden: int | None = None  # regression / melody GRU width
    dropout: float | None = None
    inputs: tuple[str, ...] = INPUT_ORDER
    lam: float = DEFAULT_LAMBDA  # weight of the chord cross-entropy against the affective BCE
    window: int = DEFAULT_WINDOW  # steps per window: seconds (at most max_len), sixteenths for melody
    seed: int = 0
    workers: int = 0
    device: str = "cpu"
    clip: float = 1.0  # gradient norm clipping
    save_every: int = 0  # also save the model every N epochs (0: never)
    resume: bool = False
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        self.inputs = check_inputs(self.inputs)
        if self.task not in TASKS:
            raise UserError(f"unknown task {self.task!r}; choose {' or '.join(TASKS)}")
        if self.size not in SIZES:
            raise UserError(f"unknown size {self.size!r}; choose one of {', '.join(SIZES)}")
        positive = ("epochs", "batch_size", "warmup", "window")
        for name in positive + ("layers", "d_model", "heads", "ff", "hidden"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if self.window < 2:
            raise UserError("--window must be at least 2 seconds")
        if not 0.0 <= self.lam <= 1.0:
            raise UserError(f"--lambda must lie in [0, 1], got {self.lam}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise UserError(f"--lr must be a positive number, got {self.lr}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise UserError(f"--dropout must lie in [0, 1), got {self.dropout}")
        if self.workers < 0 or self.save_every < 0 or not self.clip > 0:
            raise UserError("--workers and --save-every must be >= 0 and --clip > 0")
