"""Video -> per-second features (scene offset, motion, emotion, optional CLIP semantics).

``extract(path, backend="basic"|"clip")`` decodes the video once; see docs/ARCHITECTURE.md,
"The timeline model", for the MuVi-Sync definitions the features follow.
"""

from video2music.features.extract import BACKENDS, extract, make_backend
from video2music.features.video_features import VideoFeatures
from video2music.utils.video_io import probe

__all__ = ["BACKENDS", "VideoFeatures", "extract", "make_backend", "probe"]
