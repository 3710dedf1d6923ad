"""Pace: movement measured by optical flow on every frame pair, clean at cuts and fades, plus editing.

The clips with known motion are real H.264 files written here: one textured scene panned at 0,
20, 80 and 240 px/s across 320 pixels, the same scene still while its brightness fades or
flashes, and still shots cut every second.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from footage import texture

from video2music.features import VideoFeatures, extract
from video2music.features.pace import CUT_WEIGHT, PaceTracker, cut_rate, pace_from

WIDTH, HEIGHT, RATE, SECONDS = 320, 180, 25, 3
PAN_SPEEDS = (0, 20, 80, 240)  # px/s
STILL = 0.005  # widths/s: what a scene that does not move reads, codec noise included


@pytest.fixture(scope="module")
def clips(tmp_path_factory, make_clip) -> dict[str, VideoFeatures]:
    folder = tmp_path_factory.mktemp("pace")
    count = SECONDS * RATE
    frames = {}
    for speed in PAN_SPEEDS:
        scene = texture(WIDTH + speed * SECONDS + 1, HEIGHT, seed=1)
        frames[f"pan{speed}"] = [
            np.ascontiguousarray(scene[:, round(speed * i / RATE) :][:, :WIDTH]) for i in range(count)
        ]
    still = texture(WIDTH, HEIGHT, seed=2).astype(np.float32)
    frames["fade"] = [(still * (1 - 0.8 * i / (count - 1))).astype(np.uint8) for i in range(count)]
    # The first frame of each second 70% brighter (the pair MuVi-Sync's motion samples), and one
    # in the middle lifted by 40 levels.
    gains = [1.7 if i % RATE == 0 and i else 1.0 for i in range(count)]
    lifts = [40.0 if i % RATE == RATE // 2 else 0.0 for i in range(count)]
    frames["flash"] = [
        np.clip(still * gain + lift, 0, 255).astype(np.uint8) for gain, lift in zip(gains, lifts, strict=True)
    ]
    frames["cuts"] = [texture(WIDTH, HEIGHT, seed=10 + shot) for shot in range(6) for _ in range(RATE)]
    return {
        name: extract(make_clip(folder / f"{name}.mp4", images, codec="libx264", rate=RATE))
        for name, images in frames.items()
    }


def test_pans_read_their_speed_in_order(clips):
    movement = {speed: float(np.mean(clips[f"pan{speed}"].movement)) for speed in PAN_SPEEDS}
    assert movement[0] < STILL
    for speed in PAN_SPEEDS[1:]:
        assert movement[speed] == pytest.approx(speed / WIDTH, rel=0.1)  # picture widths per second
    pace = [float(np.mean(clips[f"pan{speed}"].pace)) for speed in PAN_SPEEDS]
    assert pace == sorted(pace) and len(set(pace)) == len(pace)
    # MuVi-Sync's motion, one pair a second, saturates: 240 px/s reads nowhere near 12 x 20 px/s.
    motion = {speed: float(np.mean(clips[f"pan{speed}"].motion[1:])) for speed in (20, 240)}
    assert motion[240] < 6 * motion[20]


def test_fades_and_flashes_are_not_movement(clips):
    slowest = float(np.mean(clips["pan20"].movement))
    for name in ("fade", "flash"):
        features = clips[name]
        assert features.movement.max() < STILL < slowest / 10, name
        assert features.motion[1:].max() > 0.5  # while every pixel changes
    # The detector takes some flashes for cuts (that is editing pace); a fade has no cut.
    assert clips["fade"].scene_cuts == [] and clips["fade"].pace.max() < STILL


def test_cuts_count_as_editing_not_movement(clips):
    features = clips["cuts"]
    assert features.scene_cuts == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0], abs=0.05)
    assert features.movement.max() < STILL
    assert features.motion[1:].min() > 20  # every second's sampled pair straddles a cut
    # Five cuts in six seconds: the cut rate, weighted, is the pace.
    assert features.pace == pytest.approx(CUT_WEIGHT * 5 / 6, rel=0.1)
    assert features.pace.min() > 5 * float(np.mean(clips["pan0"].pace))


def test_the_pairs_across_a_cut_are_what_is_left_out(clips, tmp_path, make_clip):
    """Fed the cut clip's frames, the tracker reads movement at every cut unless it is told the cuts."""
    path = make_clip(
        tmp_path / "cuts.mp4",
        [texture(WIDTH, HEIGHT, seed=10 + shot) for shot in range(3) for _ in range(RATE)],
        codec="libx264",
        rate=RATE,
    )
    tracker = PaceTracker(Fraction(1), RATE)
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            tracker.add(frame.time, frame)
    blind = tracker.finish(3, [])
    told = tracker.finish(3, [1.0, 2.0])
    assert blind[1:].min() > 4 * STILL and told.max() < STILL


@pytest.mark.parametrize("name", ["testvideo.mp4", "fades.mp4"])
def test_bundled_clips_pace_is_clean_at_cuts_and_fades(examples_dir, name):
    features = extract(examples_dir / name)
    assert features.pace.shape == features.movement.shape == (features.T,)
    cuts = [t for t in range(1, features.T) if features.scene_offset[t] == 0]
    for t in cuts:
        neighbours = [s for s in (t - 1, t + 1) if 0 <= s < features.T]
        for values in (features.pace, features.movement):
            assert values[t] <= max(3 * np.median(values[neighbours]), STILL), (t, values)
    if name == "testvideo.mp4":
        # Motion spikes at the two hard cuts; pace does not notice them.
        assert cuts == [1, 6, 14] and features.motion[[1, 6]].min() > 50
        assert features.movement.max() < 0.02  # still shots and fades through black
    else:
        # Flat colours fading in and out: motion reads 4-9 a second, pace nothing.
        assert features.scene_cuts == [] and np.median(features.motion) > 4
        assert features.pace.max() < STILL


def test_pace_is_movement_plus_the_weighted_cut_rate():
    movement = np.array([0.0, 0.1, 0.0, 0.0], dtype=np.float32)
    np.testing.assert_allclose(pace_from(movement, []), movement)
    with_cut = pace_from(movement, [2.0])
    np.testing.assert_allclose(with_cut - movement, CUT_WEIGHT * cut_rate([2.0], 4) / 10, rtol=1e-6)
    assert (with_cut > movement).all()  # one cut in a 4-s video is within every second's window


def test_features_keep_pace_on_disk_and_older_files_load_without_it(clips, tmp_path):
    features = clips["pan80"]
    loaded = VideoFeatures.load(features.save(tmp_path / "pan80.npz"))
    np.testing.assert_array_equal(loaded.pace, features.pace)
    np.testing.assert_array_equal(loaded.movement, features.movement)
    assert "DIS optical flow" in loaded.provenance["pace"]
    older = tmp_path / "older.npz"
    with np.load(tmp_path / "pan80.npz") as data:
        np.savez_compressed(older, **{k: data[k] for k in data.files if k not in ("pace", "movement")})
    loaded = VideoFeatures.load(older)
    assert loaded.pace is None and loaded.movement is None
    np.testing.assert_array_equal(loaded.motion, features.motion)


def test_times_that_step_back_measure_nothing_across_the_step():
    """A damaged file's frame times can go backwards; no pair spans the step, and every second
    still gets a value."""
    scene = texture(WIDTH + 200, HEIGHT, seed=3)
    times = [i / RATE for i in range(30)] + [0.9 + i / RATE for i in range(40)]  # back by 0.3 s at 1.2 s
    tracker = PaceTracker(Fraction(1), RATE)
    for i, time in enumerate(times):
        image = np.ascontiguousarray(scene[:, 2 * i :][:, :WIDTH])  # 2 px a frame: 50 px/s
        tracker.add(time, av.VideoFrame.from_ndarray(image, format="rgb24"))
    movement = tracker.finish(3, [])
    assert movement == pytest.approx(50 / WIDTH, rel=0.1)
