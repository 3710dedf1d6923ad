"""The Affective Multimodal Transformer, the density/loudness regression, checkpoints and decoding.

The names below are imported on first use, so that ``video2music.model.inputs`` and the command
lines' ``--help`` load without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "Checkpoint": "checkpoint",
    "load_any": "checkpoint",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "DecodeOptions": "decode",
    "decode_chords": "decode",
    "INPUT_DIMS": "inputs",
    "INPUT_ORDER": "inputs",
    "build_video_input": "inputs",
    "affective_targets": "loss",
    "amt_loss": "loss",
    "import_reference": "reference_import",
    "RegressionConfig": "regression",
    "VideoRegression": "regression",
    "postprocess": "regression",
    "AMTConfig": "transformer",
    "AffectiveMultimodalTransformer": "transformer",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
