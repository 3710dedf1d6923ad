"""What can be trained and evaluated, in one table: the chord transformer ("amt"), the note
density / loudness regression ("regression") and the melody model ("melody").

Each task names its model and config classes, how a split of its data is read and cut into
windows, its teacher-forced forward pass, its training loss, the sums one batch adds to a
split's metrics and how those sums become the metrics. ``train.py`` and ``evaluate.py`` look a
task up here instead of asking its name. The chord and dynamics models read MuVi-Sync (a
folder or a pack); the melody model reads POP909 (a folder or the compact file) and is scored
per sixteenth.

The split metrics (MuVi-Sync annotations, teacher forcing):

* amt: Hits@k, the share of target chords among the model's k most likely (k = 1, 3, 5), and
  the emotion correspondence of the predicted chords (``evaluation.emotion_counts``).
* regression: note density and loudness RMSE, padding left out.
* melody: cross-entropy and Hits@k per sixteenth (rest, hold or the onset of a pitch), and
  Hits@1 on the onsets alone (the exact pitch).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from video2music.analysis.evaluation import EMOTION_THRESHOLD, emotion_counts
from video2music.analysis.shares import share
from video2music.data.muvisync import SPLITS, MuViSyncVideo, load_split, shared_videos
from video2music.data.pop909_melody import (
    MelodyBatch,
    MelodySequence,
    MelodyWindows,
    collate_melody,
    read_sequences,
)
from video2music.data.windows import DEFAULT_WINDOW, Batch, WindowDataset, collate
from video2music.model.checkpoint import Checkpoint
from video2music.model.loss import DEFAULT_LAMBDA, amt_loss, regression_loss
from video2music.model.melody_gru import MelodyConfig, MelodyModel, melody_forward
from video2music.model.regression import RegressionConfig, VideoRegression
from video2music.model.transformer import AffectiveMultimodalTransformer, AMTConfig
from video2music.theory import vocab

HITS_K = (1, 3, 5)
Totals = dict[str, float]


def amt_forward(model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Teacher-forced pass: (logits, target ids, target emotion), each aligned on (B, W - 1).

    The decoder reads the chords of seconds 0..W-2 and predicts those of 1..W-1; the emotion
    that goes with each prediction is that of the predicted second. Padded targets are PAD.
    """
    inputs, targets = batch.chords[:, :-1], batch.chords[:, 1:]
    logits = model(inputs, batch.video, batch.mode, chord_mask=batch.mask[:, :-1], video_mask=batch.mask)
    return logits, targets, batch.emotion[:, 1:]


def regression_forward(model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """(prediction (B, W, 2), target (B, W, 2)): note density and loudness per second."""
    return model(batch.video, batch.mask), torch.stack([batch.note_density, batch.loudness], dim=-1)


def hits_at_k(logits: torch.Tensor, targets: torch.Tensor, ks: Sequence[int] = HITS_K) -> dict[int, int]:
    """For each k, how many non-PAD targets are among the k highest logits at their position."""
    top = logits.topk(max(ks), dim=-1).indices
    valid = targets != vocab.PAD_ID
    return {k: int(((top[..., :k] == targets.unsqueeze(-1)).any(-1) & valid).sum()) for k in ks}


def _hit_totals(
    scores: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor, prefix: str = ""
) -> Totals:
    """Hits over every target and over targets that change chord (``prefix`` names the scorer)."""
    changed = targets != inputs
    totals = {f"{prefix}hits{k}": float(h) for k, h in hits_at_k(scores, targets).items()}
    masked = targets.masked_fill(~changed, vocab.PAD_ID)
    totals.update({f"{prefix}change_hits{k}": float(h) for k, h in hits_at_k(scores, masked).items()})
    totals[f"{prefix}changes"] = float((changed & (targets != vocab.PAD_ID)).sum())
    return totals


@dataclass
class ChordBaselines:
    """Chord counts of a training split, for the "repeat" and "bigram" baselines.

    ``unigram`` (159,) counts each chord; ``bigram`` (159, 159) counts chord ``j`` right after
    chord ``i`` within a video.
    """

    unigram: np.ndarray
    bigram: np.ndarray

    @classmethod
    def fit(cls, videos: Sequence[MuViSyncVideo]) -> ChordBaselines:
        unigram = np.zeros(vocab.VOCAB_SIZE)
        bigram = np.zeros((vocab.VOCAB_SIZE, vocab.VOCAB_SIZE))
        for video in videos:
            chords = np.asarray(video.chords, dtype=np.int64)
            np.add.at(unigram, chords, 1.0)
            np.add.at(bigram, (chords[:-1], chords[1:]), 1.0)
        return cls(unigram, bigram)

    def scores(self, name: str, previous: torch.Tensor) -> torch.Tensor:
        """(..., 159) scores whose ranking is the baseline's guess after each ``previous`` chord."""
        frequency = self.unigram / max(1.0, self.unigram.sum())  # < 1: only breaks ties
        if name == "repeat":
            table = np.eye(vocab.VOCAB_SIZE) * 2.0 + frequency
        elif name == "bigram":
            # add-one smoothing; the unigram share breaks ties among unseen successors
            table = np.log(self.bigram + 1.0) - np.log(self.bigram.sum(1, keepdims=True) + vocab.VOCAB_SIZE)
            table = table + 1e-3 * frequency
        else:
            raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
        table[:, vocab.PAD_ID] = -np.inf  # never guessed
        lookup = torch.as_tensor(table, dtype=torch.float32, device=previous.device)
        return lookup[previous.clamp(0, vocab.VOCAB_SIZE - 1)]


BASELINES = ("repeat", "bigram")


def _amt_loss(model: torch.nn.Module, batch: Batch, lam: float) -> tuple[torch.Tensor, int]:
    logits, targets, emotion = amt_forward(model, batch)
    return amt_loss(logits, targets, emotion, lam), int((targets != vocab.PAD_ID).sum())


def _regression_loss(model: torch.nn.Module, batch: Batch, lam: float) -> tuple[torch.Tensor, int]:
    prediction, target = regression_forward(model, batch)
    return regression_loss(prediction, target, batch.mask), int(batch.mask.sum())


def _amt_totals(
    model: torch.nn.Module, batch: Batch, lam: float, baselines: ChordBaselines | None = None
) -> Totals:
    logits, targets, emotion = amt_forward(model, batch)
    valid = targets != vocab.PAD_ID
    n = float(valid.sum())
    totals = {"loss": float(amt_loss(logits, targets, emotion, lam)) * n, "targets": n}
    inputs = batch.chords[:, :-1]
    totals.update(_hit_totals(logits, inputs, targets))
    for name in BASELINES if baselines is not None else ():
        totals.update(_hit_totals(baselines.scores(name, inputs), inputs, targets, f"{name}_"))
    fit, counted = emotion_counts(
        logits.argmax(-1)[valid].cpu().numpy(), emotion[valid].cpu().numpy(), EMOTION_THRESHOLD
    )
    totals["emotion_fit"], totals["emotion_counted"] = float(fit), float(counted)
    return totals


def _regression_totals(
    model: torch.nn.Module, batch: Batch, lam: float, baselines: ChordBaselines | None = None
) -> Totals:
    prediction, target = regression_forward(model, batch)
    mask = batch.mask.unsqueeze(-1)
    squared = ((prediction - target) ** 2 * mask).sum(dim=(0, 1))
    seconds = float(batch.mask.sum())
    return {
        "loss": float(squared.sum()) / 2,  # regression_loss times the seconds
        "seconds": seconds,
        "density_se": float(squared[0]),
        "loudness_se": float(squared[1]),
    }


def _melody_loss(model: torch.nn.Module, batch: MelodyBatch, lam: float) -> tuple[torch.Tensor, int]:
    logits = melody_forward(model, batch.tokens, batch.conditions)
    return torch.nn.functional.cross_entropy(logits[batch.mask], batch.tokens[batch.mask]), int(
        batch.mask.sum()
    )


def _melody_totals(
    model: torch.nn.Module, batch: MelodyBatch, lam: float, baselines: ChordBaselines | None = None
) -> Totals:
    logits = melody_forward(model, batch.tokens, batch.conditions)[batch.mask]
    targets = batch.tokens[batch.mask]
    onsets = targets >= 2  # pitch tokens, not rest or hold
    loss = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
    totals = {"loss": float(loss), "targets": float(len(targets)), "onsets": float(onsets.sum())}
    totals.update({f"hits{k}": float(h) for k, h in hits_at_k(logits, targets).items()})
    totals["onset_hits1"] = float((logits.argmax(-1) == targets)[onsets].sum())
    return totals


def _ratio(totals: Totals, part: str, whole: str) -> float:
    return share(totals.get(part, 0.0), totals.get(whole, 0.0))


def _amt_metrics(totals: Totals) -> dict[str, float]:
    metrics = {"loss": _ratio(totals, "loss", "targets")}
    for prefix in ("", *(f"{b}_" for b in BASELINES if f"{b}_hits1" in totals)):
        metrics.update({f"{prefix}hits@{k}": _ratio(totals, f"{prefix}hits{k}", "targets") for k in HITS_K})
        metrics.update(
            {f"{prefix}hits@{k}_change": _ratio(totals, f"{prefix}change_hits{k}", "changes") for k in HITS_K}
        )
    metrics["emotion_correspondence"] = _ratio(totals, "emotion_fit", "emotion_counted")
    metrics["emotion_seconds"] = int(totals.get("emotion_counted", 0))
    metrics["targets"] = int(totals.get("targets", 0))
    metrics["change_targets"] = int(totals.get("changes", 0))
    return metrics


def _regression_metrics(totals: Totals) -> dict[str, float]:
    return {
        "loss": _ratio(totals, "loss", "seconds"),
        "note_density_rmse": math.sqrt(_ratio(totals, "density_se", "seconds")),
        "loudness_rmse": math.sqrt(_ratio(totals, "loudness_se", "seconds")),
        "seconds": int(totals.get("seconds", 0)),
    }


def _melody_metrics(totals: Totals) -> dict[str, float]:
    metrics = {"loss": _ratio(totals, "loss", "targets")}
    metrics.update({f"hits@{k}": _ratio(totals, f"hits{k}", "targets") for k in HITS_K})
    metrics["onset_hits@1"] = _ratio(totals, "onset_hits1", "onsets")
    metrics["targets"] = int(totals.get("targets", 0))
    return metrics


def _read_videos(data: str, split: str, semantic: bool | None) -> list[MuViSyncVideo]:
    return load_split(data, split, semantic=semantic)


def _video_windows(
    videos: Sequence[MuViSyncVideo], inputs: tuple[str, ...], window: int, random_crop: bool, seed: int
) -> WindowDataset:
    return WindowDataset(videos, inputs, window, random_crop=random_crop, seed=seed)


def _read_melodies(data: str, split: str, semantic: bool | None) -> list[MelodySequence]:
    return read_sequences(data, split)


def _melody_windows(
    melodies: Sequence[MelodySequence], inputs: tuple[str, ...], window: int, random_crop: bool, seed: int
) -> MelodyWindows:
    return MelodyWindows(melodies, window, random_crop=random_crop, seed=seed)


@dataclass(frozen=True)
class Task:
    """One kind of model: how it is built, trained and scored."""

    name: str
    model_class: type[torch.nn.Module]
    config_class: type[AMTConfig] | type[RegressionConfig] | type[MelodyConfig]
    loss: Callable[[torch.nn.Module, Batch, float], tuple[torch.Tensor, int]]  # and the count it averages
    # Sums over one batch (summable across batches and processes; call under torch.no_grad());
    # the chord baselines, when given, are scored on the same steps ...
    totals: Callable[..., Totals]
    # ... and the metrics made from them.
    metrics: Callable[[Totals], dict[str, float]]
    window: Callable[[AMTConfig | RegressionConfig | MelodyConfig], int]  # steps a split is evaluated in
    # A split of the data (path, split name, whether CLIP features are wanted) ...
    read: Callable[[str, str, bool | None], list] = _read_videos
    # ... cut into windows (items, inputs, window, random crop, seed), and batched.
    windows: Callable[[Sequence, tuple[str, ...], int, bool, int], WindowDataset | MelodyWindows] = (
        _video_windows
    )
    collate: Callable[[Sequence], Batch | MelodyBatch] = collate
    # Problems of the data as a whole (path -> one line each), refused before training.
    check: Callable[[str], list[str]] = lambda data: shared_videos(data, SPLITS)


TASKS: dict[str, Task] = {
    "amt": Task(
        "amt", AffectiveMultimodalTransformer, AMTConfig, _amt_loss, _amt_totals, _amt_metrics,
        lambda config: config.max_len,
    ),
    "regression": Task(
        "regression", VideoRegression, RegressionConfig, _regression_loss, _regression_totals,
        _regression_metrics, lambda config: DEFAULT_WINDOW,
    ),
    "melody": Task(
        "melody", MelodyModel, MelodyConfig, _melody_loss, _melody_totals, _melody_metrics,
        lambda config: DEFAULT_WINDOW, _read_melodies, _melody_windows, collate_melody,
        lambda data: [],  # split by song: a song is in one split only
    ),
}  # fmt: skip


def add_totals(into: Totals, more: Totals) -> Totals:
    for key, value in more.items():
        into[key] = into.get(key, 0.0) + value
    return into


def evaluate_split(
    checkpoint: Checkpoint,
    videos: Sequence[MuViSyncVideo] | Sequence[MelodySequence],
    batch_size: int = 8,
    device: str | torch.device = "cpu",
    lam: float = DEFAULT_LAMBDA,
    progress_bars: bool = False,
    baselines: ChordBaselines | None = None,
) -> dict[str, float]:
    """The metrics for one model on ``videos`` (what its task's ``read`` gives): every step, in
    fixed windows; with ``baselines`` (a chord model only), also theirs (``repeat_hits@1`` ...)
    on the same steps."""
    task = TASKS[checkpoint.kind]
    model = checkpoint.model.to(device).eval()
    dataset = task.windows(videos, checkpoint.inputs, task.window(checkpoint.config), False, 0)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=task.collate)
    totals: Totals = {}
    with torch.no_grad():
        for batch in tqdm(loader, desc=f"evaluating {checkpoint.kind}", disable=not progress_bars):
            add_totals(totals, task.totals(model, batch.to(device), lam, baselines))
    return {"videos": len(getattr(dataset, "videos", videos)), **task.metrics(totals)}
