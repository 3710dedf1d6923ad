"""Note density and loudness per second: the documented rule or a trained regression, one shape.

A dynamics part is called with a video's features and returns (density in notes per second,
loudness as linear RMS 0-1), float32 arrays with one value per second; ``name`` says which part
made them (it goes into the JSON summary).
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np
import torch

from video2music.features import VideoFeatures
from video2music.model.checkpoint import Checkpoint
from video2music.model.dynamics_rule import rule_dynamics
from video2music.model.inputs import build_video_input
from video2music.model.regression import postprocess

logger = logging.getLogger(__name__)


class Dynamics(Protocol):
    name: str

    def __call__(self, features: VideoFeatures) -> tuple[np.ndarray, np.ndarray]: ...


class RuleDynamics:
    """``model.dynamics_rule``: pace through quantile anchors, raised by emotional arousal.

    Features saved before pace existed have none; the rule then follows motion (with a warning),
    as it did before, rather than guess a pace from it."""

    name = "rule"

    def __call__(self, features: VideoFeatures) -> tuple[np.ndarray, np.ndarray]:
        if features.pace is None:
            logger.warning(
                "these features have no pace (saved by an older version): the dynamics follow motion, "
                "which cuts and fades inflate; extract the features again for pace"
            )
        density, loudness = rule_dynamics(
            features.motion, features.emotion, features.scene_offset, pace=features.pace
        )
        return np.asarray(density, np.float32), np.asarray(loudness, np.float32)


class RegressionDynamics:
    """A trained ``VideoRegression`` checkpoint, run once over the whole video."""

    name = "regression"

    def __init__(self, checkpoint: Checkpoint, device: str = "cpu") -> None:
        self.model = checkpoint.model.to(device).eval()
        self.device = device

    def __call__(self, features: VideoFeatures) -> tuple[np.ndarray, np.ndarray]:
        video = build_video_input(features, self.model.config.inputs).to(self.device)
        with torch.inference_mode():
            density, loudness = postprocess(self.model(video))
        return (
            np.asarray(density, np.float32).reshape(-1),
            np.asarray(loudness, np.float32).reshape(-1),
        )
