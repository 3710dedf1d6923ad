"""Our checkpoint format: one file with config, vocabulary version, required inputs, metadata and weights.

A checkpoint is a ``torch.save``d dict of plain values and tensors only, so it loads with
``torch.load(weights_only=True)`` (no code runs on load)::

    {"format": "video2music-checkpoint", "format_version": 1, "kind": "amt" | "regression",
     "config": {...}, "vocab_version": vocab.VOCAB_VERSION, "inputs": [...],
     "train_meta": {... JSON-like ...}, "state_dict": {name: tensor}}

:func:`load_any` also accepts the published Video2Music pickles (plain state dicts) and imports them.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from video2music.model.melody_gru import MelodyConfig, MelodyModel
from video2music.model.reference_import import (
    import_reference,
    name_list,
    nonfinite_tensors,
    read_checkpoint_object,
    state_dict_or_none,
    state_mismatch,
)
from video2music.model.regression import RegressionConfig, VideoRegression
from video2music.model.transformer import AffectiveMultimodalTransformer, AMTConfig
from video2music.theory import vocab
from video2music.utils.errors import UserError
from video2music.utils.fileio import atomic_output

FORMAT = "video2music-checkpoint"
FORMAT_VERSION = 1

Model = AffectiveMultimodalTransformer | VideoRegression | MelodyModel
_CLASSES: dict[str, tuple[type, type]] = {
    "amt": (AffectiveMultimodalTransformer, AMTConfig),
    "regression": (VideoRegression, RegressionConfig),
    "melody": (MelodyModel, MelodyConfig),
}
KINDS = tuple(_CLASSES)  # what a checkpoint can hold (published state dicts: amt and regression)


@dataclass
class Checkpoint:
    """A loaded model (in eval mode) and what the file said about it."""

    model: Model
    kind: str
    config: AMTConfig | RegressionConfig | MelodyConfig
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.config.inputs


def kind_of(model: Model) -> str:
    for kind, (cls, _) in _CLASSES.items():
        if isinstance(model, cls):
            return kind
    raise TypeError(
        f"cannot save a {type(model).__name__}; expected a transformer, regression or melody model"
    )


def save_checkpoint(
    path: str | os.PathLike,
    model: Model,
    *,
    train_meta: Mapping[str, Any] | None = None,
    overwrite: bool = True,
) -> None:
    """Write ``model`` with its config and ``train_meta`` (JSON-like values) to ``path``, atomically."""
    meta = dict(train_meta or {})
    try:
        meta = json.loads(json.dumps(meta))  # plain values only, so weights_only loading accepts them
    except (TypeError, ValueError) as error:
        raise TypeError(f"train_meta must hold JSON-like values: {error}") from None
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind_of(model),
        "config": model.config.to_dict(),
        "vocab_version": vocab.VOCAB_VERSION,
        "inputs": list(model.config.inputs),
        "train_meta": meta,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    with atomic_output(path, overwrite) as tmp:
        write_torch(payload, tmp)


def write_torch(payload: Any, path: str | os.PathLike) -> None:
    """``torch.save`` into memory, then to ``path`` with plain file writes: torch's own writer turns
    a full disk into a RuntimeError that names no cause, a plain write into the OSError it is."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with open(path, "wb") as handle:
        handle.write(buffer.getbuffer())


def is_native(obj: Any) -> bool:
    """True when a loaded object is one of our checkpoints (rather than a published state dict)."""
    return isinstance(obj, Mapping) and obj.get("format") == FORMAT


def _from_native(obj: Mapping[str, Any], path: str | os.PathLike, kind: str | None) -> Checkpoint:
    if obj.get("format_version") != FORMAT_VERSION:
        raise UserError(
            f"{path} has checkpoint format version {obj.get('format_version')}; this code reads 1"
        )
    found = obj.get("kind")
    if found not in KINDS:
        raise UserError(f"{path} holds a model of unknown kind {found!r}")
    if kind is not None and kind != found:
        raise UserError(f"{path} is a {found} checkpoint, not a {kind}; give the {kind} checkpoint instead")
    if obj.get("vocab_version") != vocab.VOCAB_VERSION:
        raise UserError(
            f"{path} was trained with chord vocabulary {obj.get('vocab_version')!r}, "
            f"this code uses {vocab.VOCAB_VERSION!r}; retrain or use a matching version"
        )
    model_cls, config_cls = _CLASSES[found]
    try:
        config = config_cls.from_dict(dict(obj["config"]))
        model = model_cls(config)  # the layers check what the config's own checks leave (dropout...)
    except (KeyError, TypeError, ValueError) as error:  # ValueError includes UserError
        raise UserError(f"{path} has a damaged config ({error}); use an intact checkpoint") from None
    if list(config.inputs) != list(obj.get("inputs", [])):
        raise UserError(f"{path} is inconsistent: its config inputs differ from its declared inputs")
    state = obj.get("state_dict")
    if not isinstance(state, Mapping):
        raise UserError(f"{path} has no weights")
    problems = state_mismatch(model.state_dict(), state)
    if problems:
        raise UserError(f"{path} does not match its own config ({'; '.join(problems)}); the file is damaged")
    _check_finite(state, path)
    model.load_state_dict(state)
    meta = {
        "vocab_version": obj["vocab_version"],
        "train_meta": dict(obj.get("train_meta") or {}),
        "source": str(path),
    }
    return Checkpoint(model=model.eval(), kind=found, config=config, meta=meta)


def _check_finite(state: Mapping[str, Any], path: str | os.PathLike) -> None:
    bad = nonfinite_tensors(state)
    if bad:
        raise UserError(
            f"{path} has NaN or infinite weights ({name_list(bad)}): it is damaged or from a diverged run; "
            "use another checkpoint"
        )


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu", kind: str | None = None
) -> Checkpoint:
    """Load one of our checkpoints (``kind``, if given, must match), or raise UserError saying why not."""
    obj = read_checkpoint_object(path, map_location)
    if not is_native(obj):
        raise UserError(
            f"{path} is not a video2music checkpoint; for a published Video2Music pickle use load_any"
        )
    return _from_native(obj, path, kind)


def load_any(
    path: str | os.PathLike, kind: str | None = None, map_location: str | torch.device = "cpu"
) -> Checkpoint:
    """Load our checkpoint or import a published Video2Music state dict, whichever ``path`` holds."""
    obj = read_checkpoint_object(path, map_location)
    if is_native(obj):
        return _from_native(obj, path, kind)
    state = state_dict_or_none(obj)
    if state is None:
        raise UserError(f"{path} is neither a video2music checkpoint nor a published Video2Music state dict")
    _check_finite(state, path)
    model = import_reference(state, kind)
    meta = {"vocab_version": vocab.VOCAB_VERSION, "train_meta": {}, "source": f"published state dict {path}"}
    return Checkpoint(model=model, kind=kind_of(model), config=model.config, meta=meta)


SAVED_MODELS = Path(__file__).resolve().parent.parent.parent / "saved_models"


def resolve_checkpoint(name_or_path: str | Path, filename: str = "amt.pt") -> Path:
    """A shipped model name (``default``, ``debug``; ``melody`` with ``filename="melody.pt"``) or
    a path to a checkpoint file."""
    path = Path(name_or_path)
    if not path.exists():
        shipped = SAVED_MODELS / str(name_or_path) / filename
        if shipped.exists():
            return shipped
        names = sorted(p.parent.name for p in SAVED_MODELS.glob(f"*/{filename}"))
        raise UserError(
            f"no model {str(name_or_path)!r}: give a checkpoint file or one of the shipped models "
            f"({', '.join(names) or 'none found in ' + str(SAVED_MODELS)})"
        )
    if path.is_dir():
        raise UserError(f"{path} is a folder; give the checkpoint file inside it")
    return path
