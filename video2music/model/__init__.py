"""The Affective Multimodal Transformer, the density/loudness regression, checkpoints and decoding."""

from video2music.model.checkpoint import Checkpoint, load_any, load_checkpoint, save_checkpoint
from video2music.model.decode import DecodeOptions, decode_chords
from video2music.model.inputs import INPUT_DIMS, INPUT_ORDER, build_video_input
from video2music.model.loss import affective_targets, amt_loss
from video2music.model.reference_import import import_reference
from video2music.model.regression import RegressionConfig, VideoRegression, postprocess
from video2music.model.transformer import AffectiveMultimodalTransformer, AMTConfig

__all__ = [
    "INPUT_DIMS",
    "INPUT_ORDER",
    "AMTConfig",
    "AffectiveMultimodalTransformer",
    "Checkpoint",
    "DecodeOptions",
    "RegressionConfig",
    "VideoRegression",
    "affective_targets",
    "amt_loss",
    "build_video_input",
    "decode_chords",
    "import_reference",
    "load_any",
    "load_checkpoint",
    "postprocess",
    "save_checkpoint",
]
