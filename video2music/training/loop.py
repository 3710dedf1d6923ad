"""Training the chord transformer or the note density / loudness regression on MuVi-Sync, or
the melody model on POP909's melodies.

One function, ``train``, reads top to bottom: processes, data, model, optimiser and schedule
(fresh or resumed), then the epochs — train, validate, log, save. It runs on CPU or one GPU, or
under ``torchrun`` as one process per GPU (or per CPU worker with the gloo backend) with
DistributedDataParallel; then only rank 0 writes files.

The run folder holds:

* ``best.pt``: the model with the lowest validation loss (``model.checkpoint`` format, with
  ``train_meta``: epoch, metrics, data, options);
* ``epoch_NNNN.pt``: the model every ``save_every`` epochs;
* ``state.pt``: everything ``resume`` needs to continue exactly as if never stopped — weights,
  optimiser, schedule, each process's random generators (python, numpy, torch), epoch, best
  validation loss, the log so far, and a fingerprint of the train and val data (a resume on other
  data, or with settings that change the computation, is refused);
* ``log.csv`` and ``log.json``: one row per epoch; ``options.json``: the options of the run.

Learning rate: Adam (betas 0.9/0.98, eps 1e-9) with the Transformer warm-up schedule, written
with its peak: ``lr(step) = peak * min(step / warmup, sqrt(warmup / step))``. The default peak,
``d_model^-0.5 * warmup^-0.5``, makes it exactly the reference's
``d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)``. The regression and the melody model have
no d_model; their default peaks are 1e-3 and 3e-3. Without ``--warmup`` the warm-up lasts the
reference's 4000 steps or a quarter of the run's, whichever is fewer (the peak stays the
reference's), so a short run reaches its rate; a resumed run keeps the warm-up it began with.

The run folder is made only once the data, the splits (no video in two of them) and the model
options have been checked, so a refused run leaves nothing behind; a file that cannot be written
(a full disk) is one line naming it.

What each task reads comes from its entry in ``video2music.training.tasks``: the melody task reads
``--data`` as a POP909 source (the raw folder or the compact ``dataset/pop909_derived.tsv.gz``),
splits it by song like the chord corpus, and trains on windows of ``--window`` sixteenths.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Subset
from tqdm import tqdm

from video2music.data.muvisync import MuViSyncVideo
from video2music.data.pop909_melody import MelodySequence
from video2music.model.checkpoint import save_checkpoint, write_torch
from video2music.model.device import check_device
from video2music.model.melody_gru import MelodyConfig
from video2music.model.reference_import import (
    name_list,
    nonfinite_tensors,
    read_checkpoint_object,
    state_mismatch,
)
from video2music.model.regression import RegressionConfig
from video2music.model.transformer import AMTConfig
from video2music.theory import vocab
from video2music.training.options import REFERENCE_WARMUP, WARMUP_SHARE, TrainOptions
from video2music.training.tasks import TASKS as TASK_TABLE
from video2music.training.tasks import add_totals
from video2music.utils.errors import UserError
from video2music.utils.fileio import atomic_output, writing

logger = logging.getLogger(__name__)

STATE_FORMAT = "video2music-train-state"
STATE_VERSION = 1
_SMALL = {
    "amt": {"n_encoder_layers": 3, "n_decoder_layers": 3, "d_model": 256, "n_heads": 4, "d_ff": 512},
    "regression": {"hidden": 32, "layers": 2},
    "melody": {"hidden": 64},
}
PEAK_LR = {"regression": 1e-3, "melody": 3e-3}  # the tasks without a d_model
_STATE_KEYS = ("options", "config", "model", "optimizer", "scheduler", "rng", "epoch", "best_val", "history")
# Options that change what is computed from the same model and data: a resume must keep them.
_RESUME_SAME = ("task", "batch_size", "lr", "warmup", "window", "seed", "lam", "clip")


class TrainingError(UserError):
    """Training cannot go on (diverged, or the run folder does not allow it)."""


def model_config(options: TrainOptions) -> AMTConfig | RegressionConfig | MelodyConfig:
    """The model size for ``options``: a named size with any explicit overrides applied."""
    if options.task == "melody":
        sizes = {"full": {}, "small": _SMALL["melody"], "debug": MelodyConfig.debug().to_dict()}
        values = {**MelodyConfig().to_dict(), **sizes[options.size]}
        overrides = (("layers", options.layers), ("hidden", options.hidden), ("dropout", options.dropout))
        values.update({k: v for k, v in overrides if v is not None})
        return MelodyConfig.from_dict(values)
    if options.task == "regression":
        sizes = {"full": {}, "small": _SMALL["regression"], "debug": RegressionConfig.debug().to_dict()}
        values = {**RegressionConfig().to_dict(), **sizes[options.size]}
        values.update(
            {k: v for k, v in (("layers", options.layers), ("hidden", options.hidden)) if v is not None}
        )
        values["inputs"] = options.inputs
        return RegressionConfig.from_dict(values)
    sizes = {"full": {}, "small": _SMALL["amt"], "debug": AMTConfig.debug().to_dict()}
    values = {**AMTConfig().to_dict(), **sizes[options.size]}
    overrides = {
        "n_encoder_layers": options.layers,
        "n_decoder_layers": options.layers,
        "d_model": options.d_model,
        "n_heads": options.heads,
        "d_ff": options.ff,
        "dropout": options.dropout,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["inputs"] = options.inputs
    config = AMTConfig.from_dict(values)
    if options.window > config.max_len:
        raise UserError(
            f"--window {options.window} is longer than the model's {config.max_len}-second window"
        )
    return config


def peak_lr(options: TrainOptions, config: AMTConfig | RegressionConfig | MelodyConfig) -> float:
    if options.lr is not None:
        return options.lr
    if isinstance(config, AMTConfig):
        return config.d_model**-0.5 * (options.warmup or REFERENCE_WARMUP) ** -0.5
    return PEAK_LR[options.task]


def warmup_steps(options: TrainOptions, total_steps: int) -> int:
    """The warm-up: ``--warmup`` as given, else REFERENCE_WARMUP steps or WARMUP_SHARE of the
    ``total_steps`` of the run, whichever is fewer."""
    if options.warmup is not None:
        return options.warmup
    return max(1, min(REFERENCE_WARMUP, math.ceil(WARMUP_SHARE * total_steps)))


def warmup_factor(warmup: int):
    """Multiplier of the peak rate after ``step`` optimiser steps (LambdaLR counts from 0)."""

    def factor(step: int) -> float:
        step += 1
        return min(step / warmup, math.sqrt(warmup / step))

    return factor


@dataclass
class _Processes:
    """This process's place among the training processes (one, or several under torchrun)."""

    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def distributed(self) -> bool:
        return self.world > 1 or dist.is_initialized()

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, values: list[float]) -> list[float]:
        """Sum ``values`` over every process."""
        if not self.distributed:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, obj: Any) -> list[Any]:
        if not self.distributed:
            return [obj]
        gathered: list[Any] = [None] * self.world
        dist.all_gather_object(gathered, obj)
        return gathered


def _start_processes(device: str) -> _Processes:
    if "RANK" not in os.environ:
        return _Processes(device=check_device(device))
    check_device(device)
    # Launched by torchrun: one process per GPU, or per CPU worker with gloo.
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    if device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        return _Processes(rank, world, torch.device("cuda", local))
    return _Processes(rank, world, torch.device("cpu"))


def _rng_state() -> dict[str, Any]:
    """This process's random generators as plain Python values (so processes can exchange them)."""
    name, keys, *rest = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (name, keys.tolist(), *rest),
        "torch": torch.get_rng_state().tolist(),
        "cuda": [s.tolist() for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _make_folders(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; the ones made, outermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        with writing(path):
            path.mkdir()
    return missing[::-1]


def _prepare_run_folder(options: TrainOptions) -> Path:
    out = Path(options.out)
    if out.exists() and not out.is_dir():
        raise TrainingError(f"--out {out} is a file; give a folder for the run")
    state = out / "state.pt"
    if options.resume and not state.is_file():
        raise TrainingError(f"cannot resume: {state} does not exist; start a new run without --resume")
    if not options.resume and not options.overwrite and (state.exists() or (out / "best.pt").exists()):
        raise TrainingError(
            f"{out} already holds a run; pass --resume to continue it or --overwrite to start over"
        )
    return out


def _load_state(path: Path, options: TrainOptions, data: dict[str, Any]) -> dict[str, Any]:
    """The saved state of the run in ``path``, checked to be whole and to continue the same run:
    the same ``data`` (:func:`_data_fingerprint`) and the options in ``_RESUME_SAME``."""
    try:
        state = read_checkpoint_object(path)
    except UserError as error:
        raise TrainingError(f"{path} is damaged and cannot be resumed ({error})") from None
    if (
        not isinstance(state, dict)
        or state.get("format") != STATE_FORMAT
        or state.get("version") != STATE_VERSION
    ):
        raise TrainingError(f"{path} is not a version-{STATE_VERSION} training state; start a new run")
    if state.get("vocab_version") != vocab.VOCAB_VERSION:
        raise TrainingError(f"{path} was trained with another chord vocabulary; start a new run")
    missing = [key for key in _STATE_KEYS if key not in state]
    if missing:
        raise _damaged_state(path, f"it lacks {', '.join(missing)}")
    saved, given = state["options"], _jsonable(options)
    for name in _RESUME_SAME:
        if saved.get(name) != given[name]:
            raise TrainingError(
                f"--{name.replace('_', '-')} {given[name]!r} differs from the run being resumed "
                f"({saved.get(name)!r}); resume with the same settings or start a new run"
            )
    # States written before the fingerprint existed can only compare the path.
    recorded = state.get("data_fingerprint")
    same_data = recorded == data if recorded is not None else saved.get("data") == given["data"]
    if not same_data:
        raise TrainingError(
            f"--data {options.data} holds other data than the run being resumed, which trained on "
            f"{saved.get('data')} ({_describe(recorded)}; now {_describe(data)}); "
            "resume with the same data or start a new run"
        )
    return state


def _damaged_state(path: Path, why: str) -> TrainingError:
    return TrainingError(f"{path} is damaged ({why}); start over with --overwrite")


_VIDEO_ARRAYS = ("chords", "emotion", "motion", "scene_offset", "loudness", "note_density", "semantic")


def _data_fingerprint(splits: dict[str, list[MuViSyncVideo] | list[MelodySequence]]) -> dict[str, Any]:
    """Per split, how many videos (melodies) and steps, and a hash of every value the run reads:
    a resumed run must see exactly the data it began with, wherever it lies (a folder or its pack)."""
    fingerprint = {}
    for split, videos in splits.items():
        digest = hashlib.blake2b(digest_size=16)
        seconds = 0
        for video in videos:
            if isinstance(video, MelodySequence):
                digest.update(f"{video.song_id}\0".encode())
                names: tuple[str, ...] = ("tokens", "conditions")
                seconds += len(video.tokens)
            else:
                digest.update(f"{video.video_id}\0{video.key}\0".encode())
                names = _VIDEO_ARRAYS
                seconds += video.T
            for name in names:
                values = getattr(video, name)
                if values is not None:
                    digest.update(np.ascontiguousarray(values).tobytes())
        fingerprint[split] = {"videos": len(videos), "seconds": seconds, "hash": digest.hexdigest()}
    return fingerprint


def _describe(fingerprint: dict[str, Any] | None) -> str:
    if not fingerprint:
        return "not recorded"
    return ", ".join(f"{split} {f['videos']} videos/{f['seconds']} s" for split, f in fingerprint.items())


def _restore(path: Path, state: dict[str, Any], model: torch.nn.Module, optimizer, scheduler) -> None:
    """Put the saved weights, optimiser and schedule into the fresh ones, or say what is damaged."""
    weights = state["model"]
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise _damaged_state(path, "its model is not a set of tensors")
    problems = state_mismatch(model.state_dict(), weights)
    nonfinite = nonfinite_tensors(weights)
    if nonfinite:
        problems.append(f"NaN or infinite weights in {name_list(nonfinite)}")
    if problems:
        raise _damaged_state(path, "; ".join(problems))
    model.load_state_dict(weights)
    for part, target in (("optimizer", optimizer), ("scheduler", scheduler)):
        try:
            target.load_state_dict(state[part])
        except (AttributeError, KeyError, TypeError, ValueError, RuntimeError) as error:
            raise _damaged_state(
                path, f"its {part} cannot be loaded: {type(error).__name__}: {error}"
            ) from None
    # Adam keeps one moment per weight: a wrong shape would only fail at the first step.
    misshaped = [
        name
        for name, weight in model.named_parameters()
        for value in optimizer.state.get(weight, {}).values()
        if isinstance(value, torch.Tensor) and value.ndim and value.shape != weight.shape
    ]
    if misshaped:
        raise _damaged_state(path, f"its optimizer state has wrong shapes for {name_list(misshaped)}")


def _jsonable(options: TrainOptions) -> dict[str, Any]:
    data = asdict(options)
    data["inputs"] = list(options.inputs)
    return data


def _write_logs(out: Path, history: list[dict[str, Any]]) -> None:
    with atomic_output(out / "log.json", overwrite=True) as tmp:
        tmp.write_text(json.dumps(history, indent=1) + "\n")
    columns = list(dict.fromkeys(k for row in history for k in row))
    with atomic_output(out / "log.csv", overwrite=True) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)


def _diverged(what: str, epoch: int, step: int, out: Path) -> TrainingError:
    state = out / "state.pt"
    saved = f"the last good state is {state}" if state.exists() else "no epoch had finished"
    return TrainingError(
        f"training diverged: {what} is not finite at epoch {epoch}, step {step}; nothing from this epoch was "
        f"saved ({saved}); lower --lr, raise --warmup or check the data"
    )


def _clear_old_run(out: Path) -> None:
    """--overwrite: remove what an earlier run left, so nothing of it passes for this run's output."""
    old = [out / name for name in ("state.pt", "best.pt", "log.csv", "log.json")]
    for path in old + sorted(out.glob("epoch_*.pt")):
        path.unlink(missing_ok=True)


def train(options: TrainOptions) -> dict[str, Any]:
    """Train as ``options`` say; returns the log rows, the best validation loss and whether this
    process is the one that wrote the files."""
    procs = _start_processes(options.device)
    out = _prepare_run_folder(options)

    # ---- data: validated in full before any compute (and before the run folder is made)
    task = TASK_TABLE[options.task]
    problems = task.check(options.data)
    if problems:
        more = f" ({len(problems)} problems in all)" if len(problems) > 1 else ""
        raise UserError(
            f"{problems[0]}{more}; python -m video2music.commands.dataset check {options.data} lists them"
        )
    semantic = "semantic" in options.inputs
    splits = {split: task.read(options.data, split, semantic) for split in ("train", "val")}
    train_set = task.windows(splits["train"], options.inputs, options.window, True, options.seed)
    val_set = task.windows(splits["val"], options.inputs, options.window, False, options.seed)
    data = _data_fingerprint(splits)
    if not len(train_set) or not len(val_set):
        raise UserError("the train and val splits need pieces of at least 2 steps")
    sampler = DistributedSampler(train_set, procs.world, procs.rank, shuffle=True, seed=options.seed)
    train_loader = DataLoader(
        train_set, options.batch_size, sampler=sampler, num_workers=options.workers, collate_fn=task.collate
    )
    val_shard = Subset(val_set, range(procs.rank, len(val_set), procs.world))
    val_loader = DataLoader(
        val_shard, options.batch_size, num_workers=options.workers, collate_fn=task.collate
    )

    # ---- model, optimiser, schedule: fresh, or exactly where the resumed run stopped
    config = model_config(options)
    state = _load_state(out / "state.pt", options, data) if options.resume else None
    if state is not None and state["config"] != config.to_dict():
        raise TrainingError(
            f"the model options ({config.to_dict()}) differ from the resumed run's ({state['config']}); "
            "resume with the same --size/--layers/--d-model/--heads/--ff/--hidden/--dropout/--inputs"
        )
    warmup = warmup_steps(options, options.epochs * len(train_loader))
    if state is not None:  # the schedule the run began with, also when --epochs grew since
        warmup = state.get("warmup_steps", warmup)
    _seed_everything(options.seed + procs.rank)
    model = task.model_class(config)
    model.to(procs.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=peak_lr(options, config), betas=(0.9, 0.98), eps=1e-9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_factor(warmup))
    first_epoch, best_val, history = 1, math.inf, []
    if state is not None:
        _restore(out / "state.pt", state, model, optimizer, scheduler)
        first_epoch, best_val, history = state["epoch"] + 1, state["best_val"], list(state["history"])
        if len(state["rng"]) == procs.world:
            try:
                _set_rng_state(state["rng"][procs.rank])
            except (KeyError, TypeError, ValueError, RuntimeError) as error:
                raise _damaged_state(out / "state.pt", f"its random generators: {error}") from None
        else:
            logger.warning(
                "resuming with %d processes instead of %d: draws will differ", procs.world, len(state["rng"])
            )
        logger.info("resuming %s after epoch %d (best val loss %.4f)", out, state["epoch"], best_val)
    trained = DistributedDataParallel(model) if procs.distributed else model
    if procs.main:
        made = _make_folders(out)
        try:
            if options.overwrite and not options.resume:
                _clear_old_run(out)
            with writing(out / "options.json"), atomic_output(out / "options.json", overwrite=True) as tmp:
                tmp.write_text(json.dumps(_jsonable(options), indent=1) + "\n")
        except BaseException:
            for folder in reversed(made):  # a run that could not start leaves no folder
                shutil.rmtree(folder, ignore_errors=True)
            raise
        n_params = sum(p.numel() for p in model.parameters())
        logger.info(
            "training %s (%.2fM parameters) on %d train / %d val windows, %d process(es) on %s; "
            "warm-up %d of %d steps",
            *(options.task, n_params / 1e6, len(train_set), len(val_set), procs.world, procs.device),
            *(warmup, options.epochs * len(train_loader)),
        )

    for epoch in range(first_epoch, options.epochs + 1):
        # ---- train one epoch
        trained.train()
        sampler.set_epoch(epoch)
        train_set.set_epoch(epoch)
        loss_sum, count = 0.0, 0
        bar = tqdm(
            train_loader,
            desc=f"epoch {epoch}/{options.epochs}",
            disable=not (options.progress and procs.main),
        )
        for step, batch in enumerate(bar, start=1):
            loss, n = task.loss(trained, batch.to(procs.device), options.lam)
            if procs.sum([float(not torch.isfinite(loss))])[0]:
                raise _diverged("the loss", epoch, step, out)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), options.clip)
            if not torch.isfinite(grad_norm):
                raise _diverged("the gradient", epoch, step, out)
            optimizer.step()
            scheduler.step()
            loss_sum, count = loss_sum + loss.item() * n, count + n
            bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
        loss_sum, count = procs.sum([loss_sum, float(count)])

        # ---- validate: every val window once, spread over the processes
        model.eval()
        totals: dict[str, float] = {}
        with torch.no_grad():
            for batch in val_loader:
                add_totals(totals, task.totals(model, batch.to(procs.device), options.lam))
        keys = sorted(set().union(*procs.gather(sorted(totals))))
        val = task.metrics(dict(zip(keys, procs.sum([totals.get(k, 0.0) for k in keys]), strict=True)))
        row = {"epoch": epoch, "train_loss": loss_sum / max(count, 1.0), "lr": scheduler.get_last_lr()[0]}
        row.update({f"val_{k}": v for k, v in val.items()})
        history.append(row)
        if procs.main:
            logger.info(
                "epoch %d: %s", epoch, ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch")
            )

        # ---- save (rank 0 only): best model, periodic model, logs, then the resumable state
        improved = val["loss"] < best_val
        best_val = min(best_val, val["loss"]) if math.isfinite(val["loss"]) else best_val
        rng = procs.gather(_rng_state())
        if not procs.main:
            continue
        meta = {
            "epoch": epoch,
            "metrics": row,
            "data": {"source": str(options.data), "train_videos": len(train_set), "val_videos": len(val_set)},
            "options": _jsonable(options),
        }
        if improved:
            with writing(out / "best.pt"):
                save_checkpoint(out / "best.pt", model, train_meta=meta)
        if options.save_every and epoch % options.save_every == 0:
            with writing(out / f"epoch_{epoch:04d}.pt"):
                save_checkpoint(out / f"epoch_{epoch:04d}.pt", model, train_meta=meta)
        with writing(out / "log.json"):
            _write_logs(out, history)
        payload = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "vocab_version": vocab.VOCAB_VERSION,
            "options": _jsonable(options),
            "config": config.to_dict(),
            "data_fingerprint": data,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng,
            "epoch": epoch,
            "best_val": best_val,
            "history": history,
            "warmup_steps": warmup,
        }
        with writing(out / "state.pt"), atomic_output(out / "state.pt", overwrite=True) as tmp:
            write_torch(payload, tmp)

    if procs.distributed:
        dist.barrier()
        dist.destroy_process_group()
    return {"history": history, "best_val_loss": best_val, "out": str(out), "main": procs.main}
