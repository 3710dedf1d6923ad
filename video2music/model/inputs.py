"""The video input both models read: per-second features concatenated in a fixed order.

Order and widths follow the published models: semantic (768), scene offset + 1 (1), motion (1),
emotion (6) — 776 values a second when all four are used. A model declares the subset it was
trained on; the concatenation keeps this order and skips what the model does not take.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from video2music.theory import vocab
from video2music.utils.errors import UserError
from video2music.utils.timeline import SEMANTIC_DIM

if TYPE_CHECKING:
    import torch

INPUT_DIMS: dict[str, int] = {
    "semantic": SEMANTIC_DIM,
    "scene_offset": 1,
    "motion": 1,
    "emotion": len(vocab.EMOTIONS),
}
INPUT_ORDER: tuple[str, ...] = tuple(INPUT_DIMS)


def check_inputs(inputs: Iterable[str]) -> tuple[str, ...]:
    """Validate a set of input names and return it in the canonical order."""
    given = set(inputs)
    unknown = sorted(given - set(INPUT_ORDER))
    if unknown:
        raise UserError(f"unknown model inputs {unknown}; choose among {', '.join(INPUT_ORDER)}")
    if not given:
        raise UserError(f"a model needs at least one input among {', '.join(INPUT_ORDER)}")
    return tuple(name for name in INPUT_ORDER if name in given)


def input_columns(inputs: Iterable[str], name: str) -> slice:
    """Where ``name``'s values lie in the concatenated input of a model taking ``inputs``."""
    start = 0
    for given in check_inputs(inputs):
        if given == name:
            return slice(start, start + INPUT_DIMS[name])
        start += INPUT_DIMS[given]
    raise UserError(f"a model taking {', '.join(inputs)} has no {name} input")


def video_dim(inputs: Iterable[str]) -> int:
    """Width of the concatenated video input for these inputs."""
    return sum(INPUT_DIMS[name] for name in check_inputs(inputs))


class DeclaresInputs:
    """Mixin for the frozen model config dataclasses: their input set, its width, dict round trip."""

    inputs: tuple[str, ...]

    def _normalise_inputs(self) -> None:
        object.__setattr__(self, "inputs", check_inputs(self.inputs))

    @property
    def video_dim(self) -> int:
        return video_dim(self.inputs)

    def to_dict(self) -> dict:
        """Plain values only, so a checkpoint holding it loads with ``weights_only=True``."""
        data = asdict(self)
        data["inputs"] = list(self.inputs)
        return data

    @classmethod
    def from_dict(cls, data: dict):
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise UserError(
                f"unknown {cls.__name__} fields {unknown}; the checkpoint is from another version"
            )
        return cls(**{k: tuple(v) if k == "inputs" else v for k, v in data.items()})


def _column(features: Any, name: str) -> np.ndarray:
    value = getattr(features, name, None)
    if value is None:
        if name == "semantic":
            raise UserError("this model needs CLIP features; run with --features clip")
        raise UserError(f"this model needs the {name} feature, which these features lack")
    array = np.asarray(value, dtype=np.float64)
    width = INPUT_DIMS[name]
    if width == 1 and array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] != width:
        raise UserError(
            f"{name} features have shape {array.shape}, expected (T, {width}); re-extract the features"
        )
    if not np.isfinite(array).all():
        raise UserError(f"{name} features contain NaN or infinite values; re-extract the features")
    if name == "scene_offset":
        array = array + 1.0  # the models reserve 0 for padding
    return array


def build_video_input(features: Any, inputs: Iterable[str]) -> torch.Tensor:
    """(1, T, D) float32 tensor for a model taking ``inputs``, from a VideoFeatures-like object.

    ``features`` needs the attributes named in ``inputs`` (``semantic`` (T, 768) or None,
    ``scene_offset`` (T,), ``motion`` (T,), ``emotion`` (T, 6)). Raises UserError when one is
    missing, has the wrong width, disagrees on T, holds NaN/inf, or when T is 0.
    """
    columns = [_column(features, name) for name in check_inputs(inputs)]
    lengths = {column.shape[0] for column in columns}
    if len(lengths) > 1:
        raise UserError(
            f"the features disagree on the number of seconds ({sorted(lengths)}); re-extract them"
        )
    if lengths == {0}:
        raise UserError("the video has no seconds of features (T = 0); use a video at least one second long")
    import torch  # here, so that the names above load without torch (command-line help)

    return torch.from_numpy(np.concatenate(columns, axis=1).astype(np.float32))[None]
