"""Scene cuts from the shared decoding pass (downscaled frames) match PySceneDetect on full frames."""

from __future__ import annotations

import pytest
from scenedetect import AdaptiveDetector, SceneManager, detect, open_video

from video2music.features import extract
from video2music.features.scenes import scene_offsets


def _full_frame_cuts(path) -> list[float]:
    """PySceneDetect's own run with every pixel of every frame (its automatic downscaling off)."""
    manager = SceneManager()
    manager.auto_downscale = False
    manager.downscale = 1
    manager.add_detector(AdaptiveDetector())
    manager.detect_scenes(open_video(str(path)))
    return [start.seconds for start, _ in manager.get_scene_list(start_in_scene=True)[1:]]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["testvideo.mp4", "fades.mp4"])
def test_same_cuts_as_scenedetect(examples_dir, name):
    path = examples_dir / name
    cuts = extract(path).scene_cuts
    assert cuts == pytest.approx(_full_frame_cuts(path), abs=1e-3)
    # ... and as scenedetect.detect(), which MuVi-Sync used (it shrinks frames to ~256 px).
    default = [start.seconds for start, _ in detect(str(path), AdaptiveDetector(), start_in_scene=True)[1:]]
    assert cuts == pytest.approx(default, abs=1e-3)


def test_scene_offsets_restart_on_the_second_whose_sample_is_past_the_cut():
    sample_times = [0.0, 1.001, 2.002, 3.003, 4.004, 5.005]
    # A cut exactly on a sample (1.001) starts its second; one between samples (3.5) the next.
    assert scene_offsets([1.001, 3.5], sample_times).tolist() == [0, 0, 1, 2, 0, 1]
    assert scene_offsets([], sample_times).tolist() == [0, 1, 2, 3, 4, 5]
