"""MuVi-Sync videos as fixed-size training windows, and the collate that batches them.

The model's attention window is 300 seconds. For training, each video gives one window per
epoch: the whole video when it fits, else a random crop that depends only on (seed, epoch,
video), so a resumed run and every DataLoader worker draw the same crops. For evaluation the
windows are fixed: each video is cut into consecutive windows from second 0, so every second
is scored exactly once (the first chord of each window is the decoder's primer).

A batch pads every window to the longest in it: chords with PAD, features and targets with
zeros, and ``mask`` marks the real seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch.utils.data import Dataset

from video2music.data.muvisync import MuViSyncVideo
from video2music.model.inputs import build_video_input
from video2music.theory import vocab
from video2music.training.options import DEFAULT_WINDOW

logger = logging.getLogger(__name__)

MIN_SECONDS = 2  # a window needs a primer chord and at least one chord to predict


@dataclass
class Window:
    """One window of one video; every array has one row per second of the window."""

    video: torch.Tensor  # (W, D) model input
    chords: torch.Tensor  # (W,) chord ids
    emotion: torch.Tensor  # (W, 6)
    loudness: torch.Tensor  # (W,)
    note_density: torch.Tensor  # (W,)
    mode: float  # 0 major, 1 minor


@dataclass
class Batch:
    """Windows padded to the longest: ``mask`` (B, W) is True on real seconds."""

    video: torch.Tensor  # (B, W, D), zeros on padding
    chords: torch.Tensor  # (B, W), PAD on padding
    emotion: torch.Tensor  # (B, W, 6)
    loudness: torch.Tensor  # (B, W)
    note_density: torch.Tensor  # (B, W)
    mode: torch.Tensor  # (B,)
    mask: torch.Tensor  # (B, W) bool

    def to(self, device: torch.device | str) -> Batch:
        return Batch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @property
    def seconds(self) -> int:
        return int(self.mask.sum())


class WindowDataset(Dataset):
    """Windows of ``window`` seconds over ``videos``, as model input for ``inputs``.

    ``random_crop``: one randomly placed window per video and epoch (training); otherwise every
    video is tiled into consecutive windows (evaluation).
    """

    def __init__(
        self,
        videos: Sequence[MuViSyncVideo],
        inputs: Iterable[str],
        window: int = DEFAULT_WINDOW,
        random_crop: bool = False,
        seed: int = 0,
    ) -> None:
        if window < MIN_SECONDS:
            raise ValueError(f"window must be at least {MIN_SECONDS} seconds")
        short = [v.video_id for v in videos if v.T < MIN_SECONDS]
        if short:
            logger.warning("leaving out %d videos shorter than %d s: %s", len(short), MIN_SECONDS, short[:10])
        self.videos = [v for v in videos if v.T >= MIN_SECONDS]
        self.inputs = tuple(inputs)
        self.window = window
        self.random_crop = random_crop
        self.seed = seed
        self.epoch = 0
        # Built once: the concatenated model input of each whole video.
        self.features = [build_video_input(v, self.inputs)[0] for v in self.videos]
        if random_crop:
            self.items: list[tuple[int, int | None]] = [(i, None) for i in range(len(self.videos))]
        else:
            self.items = [
                (i, start)
                for i, v in enumerate(self.videos)
                for start in range(0, v.T, window)
                if v.T - start >= MIN_SECONDS
            ]

    def set_epoch(self, epoch: int) -> None:
        """Choose the crops of ``epoch`` (call before each epoch when cropping randomly)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def _start(self, index: int, start: int | None) -> int:
        if start is not None:
            return start
        spare = self.videos[index].T - self.window
        if spare <= 0:
            return 0
        return int(np.random.default_rng([self.seed, self.epoch, index]).integers(0, spare + 1))

    def __getitem__(self, item: int) -> Window:
        index, start = self.items[item]
        video = self.videos[index]
        start = self._start(index, start)
        span = slice(start, start + self.window)
        return Window(
            video=self.features[index][span],
            chords=torch.as_tensor(video.chords[span], dtype=torch.long),
            emotion=torch.as_tensor(video.emotion[span], dtype=torch.float32),
            loudness=torch.as_tensor(video.loudness[span], dtype=torch.float32),
            note_density=torch.as_tensor(video.note_density[span], dtype=torch.float32),
            mode=float(video.mode_bit),
        )


def collate(windows: Sequence[Window]) -> Batch:
    """Pad windows to the longest of them (PAD chords, zero features) and stack them."""
    longest = max(len(w.chords) for w in windows)
    count = len(windows)
    batch = Batch(
        video=torch.zeros(count, longest, windows[0].video.shape[1]),
        chords=torch.full((count, longest), vocab.PAD_ID, dtype=torch.long),
        emotion=torch.zeros(count, longest, len(vocab.EMOTIONS)),
        loudness=torch.zeros(count, longest),
        note_density=torch.zeros(count, longest),
        mode=torch.tensor([w.mode for w in windows], dtype=torch.float32),
        mask=torch.zeros(count, longest, dtype=torch.bool),
    )
    for row, w in enumerate(windows):
        n = len(w.chords)
        batch.video[row, :n] = w.video
        batch.chords[row, :n] = w.chords
        batch.emotion[row, :n] = w.emotion
        batch.loudness[row, :n] = w.loudness
        batch.note_density[row, :n] = w.note_density
        batch.mask[row, :n] = True
    return batch
