"""Facts about the per-second timeline that features, models, music and evaluation share.

Second ``t`` of a video is described by its features (see docs/ARCHITECTURE.md, "The timeline
model"); the scene offset counts the seconds since the current scene began, so it is 0 on the
first second of every scene.
"""

from __future__ import annotations

import numpy as np

# Width of a second's semantic row: the CLIP ViT-L/14 image embedding MuVi-Sync and the published
# models use.
SEMANTIC_DIM = 768


def cut_seconds(scene_offset: np.ndarray) -> list[int]:
    """The seconds (after the first) on which a new scene begins: where the offset restarts at 0."""
    return [int(t) for t in np.flatnonzero(np.asarray(scene_offset) == 0) if t > 0]
