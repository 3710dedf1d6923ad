"""The Affective Multimodal Transformer, the density/loudness regression, checkpoints and decoding."""

from video2music.model.inputs import INPUT_DIMS, INPUT_ORDER, build_video_input
from video2music.model.loss import affective_targets, amt_loss
from video2music.model.regression import RegressionConfig, VideoRegression, postprocess
from video2music.model.transformer import AffectiveMultimodalTransformer, AMTConfig

__all__ = [
    "INPUT_DIMS",
    "INPUT_ORDER",
    "AMTConfig",
    "AffectiveMultimodalTransformer",
    "RegressionConfig",
    "VideoRegression",
    "affective_targets",
    "amt_loss",
    "build_video_input",
    "postprocess",
]
