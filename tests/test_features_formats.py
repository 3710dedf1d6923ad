"""What real videos do, on clips generated here: containers, variable frame rate, rotation, SAR,
broken data mid-file, and a video longer than five minutes."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from video2music.features import extract
from video2music.utils.video_io import (
    MAX_CONSECUTIVE_ERRORS,
    DecodeReport,
    FrameSampler,
    fit_within,
    iter_frames,
    open_video,
)

SIZE = (48, 64)  # height, width


def _pattern(colour: tuple[int, int, int]) -> np.ndarray:
    """A coloured frame with a white square: something for the scene detector to see."""
    image = np.empty((*SIZE, 3), np.uint8)
    image[:] = colour
    image[8:24, 8:24] = 255
    return image


def _two_shots(seconds: int = 4, fps: int = 25, cut: float = 2.0) -> list[np.ndarray]:
    first, second = _pattern((200, 40, 30)), _pattern((20, 60, 210))
    return [first if i / fps < cut else second for i in range(seconds * fps)]


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [("mp4", "libx264"), ("mkv", "libx264"), ("mov", "libx264"), ("webm", "libvpx"), ("avi", "mpeg4")],
)
def test_containers(tmp_path, make_clip, suffix, codec):
    path = make_clip(tmp_path / f"clip.{suffix}", _two_shots(), codec=codec)
    features = extract(path)
    assert features.T == 4
    assert features.scene_cuts == pytest.approx([2.0], abs=0.05)
    assert features.scene_offset.tolist() == [0, 1, 0, 1]
    # Still shots barely move; the sample at 2 s is the first frame of the second shot.
    assert features.motion[2] > 50 and max(features.motion[1], features.motion[3]) < 3
    np.testing.assert_allclose(features.emotion.sum(axis=1), 1.0, atol=1e-5)


def test_variable_frame_rate_samples_by_time(tmp_path, make_clip):
    """Frames at irregular times, with a gap over seconds 2 and 3: samples follow the timestamps."""
    times = [0.0, 0.1, 0.15, 0.5, 0.55, 1.0, 1.2, 3.4, 3.5, 3.9]
    levels = [10, 20, 30, 40, 50, 60, 70, 150, 160, 170]
    frames = [np.full((*SIZE, 3), level, np.uint8) for level in levels]
    features = extract(make_clip(tmp_path / "vfr.mkv", frames, codec="ffv1", times=times))
    assert features.T == 4
    # Second 1: the frame at 1.0 (60) after 0.55 (50); seconds 2 and 3: the frame at 3.4 (150)
    # after 1.2 (70). By frame index at a nominal rate the samples would be other frames.
    np.testing.assert_allclose(features.motion, [0, 10, 80, 80], atol=2)


def _first_sample(path, box: int = 96) -> np.ndarray:
    container, stream, info = open_video(path)
    with container:
        sampler = FrameSampler(info, fit_within(box))
        return sampler(next(iter_frames(container, stream, info, DecodeReport()))[1])


def _left_white() -> list[np.ndarray]:
    image = np.zeros((*SIZE, 3), np.uint8)
    image[:, : SIZE[1] // 2] = 255
    return [image] * 25


def test_rotation_metadata_is_applied_to_samples(tmp_path, make_clip):
    path = make_clip(tmp_path / "phone.mp4", _left_white(), codec="libx264", rotation=90)
    sample = _first_sample(path)
    # Shown turned a quarter counter-clockwise: 64x48 becomes 48 wide and 64 tall, and the
    # white left half ends up at the bottom.
    assert sample.shape == (64, 48, 3)
    assert sample[:24].mean() < 10 and sample[40:].mean() > 245
    features = extract(path)
    assert features.provenance["rotation"] == 90 and features.T == 1


def test_non_square_pixels_are_stretched(tmp_path, make_clip):
    path = make_clip(tmp_path / "anamorphic.mkv", _left_white(), codec="libx264", sar=Fraction(2, 1))
    sample = _first_sample(path)
    assert sample.shape == (36, 96, 3)  # 64x48 pixels shown 128x48, fitted into 96 pixels
    assert sample[:, :44].mean() > 245 and sample[:, 52:].mean() < 10
    assert extract(path).provenance["sample_aspect_ratio"] == "2"


def _damage_middle(path, rng, size: int = 3000) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def _noise(rng, count: int = 125) -> list[np.ndarray]:
    return [rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8) for _ in range(count)]


@pytest.mark.parametrize(("suffix", "codec"), [("avi", "mpeg4"), ("mp4", "libx264")])
def test_broken_data_mid_file_is_skipped_and_reported(tmp_path, make_clip, suffix, codec):
    rng = np.random.default_rng(0)
    path = make_clip(tmp_path / f"broken.{suffix}", _noise(rng), codec=codec)
    _damage_middle(path, rng)
    features = extract(path)
    decode = features.provenance["decode"]
    problems = decode["demux_errors"] + decode["decode_errors"] + decode["corrupt_frames"]
    assert problems > 0 or decode["frames"] < 125  # the damage is seen and counted
    assert features.T == 5 and np.isfinite(features.emotion).all()


def test_damage_that_ends_the_stream_early_is_reported(tmp_path, make_clip, caplog):
    """Matroska's demuxer treats this damage as the end of the file: the features say so."""
    rng = np.random.default_rng(0)
    path = make_clip(tmp_path / "broken.mkv", _noise(rng), codec="libx264")
    _damage_middle(path, rng)
    features = extract(path)
    assert features.duration == 5.0 and 1 <= features.T < 5
    assert features.provenance["decode"]["truncated"]
    assert "the rest could not be read" in caplog.text


def test_truncated_file_gives_the_seconds_it_has(tmp_path, make_clip):
    path = make_clip(tmp_path / "cut_short.avi", _noise(np.random.default_rng(1)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    features = extract(path)
    assert 2 <= features.T <= 4 and features.provenance["decode"]["frames"] < 125


def test_longer_than_five_minutes_is_not_capped(tmp_path, make_clip):
    # 6 minutes at 2 frames per second, a new shade every 30 s.
    frames = [np.full((*SIZE, 3), 40 + 15 * (i // 60), np.uint8) for i in range(720)]
    features = extract(make_clip(tmp_path / "long.mp4", frames, codec="libx264", rate=2))
    assert features.T == 360
    assert features.motion[30] > 10 and features.motion[31] < 1


def test_a_run_of_read_errors_ends_the_pass():
    report = DecodeReport()
    for _ in range(MAX_CONSECUTIVE_ERRORS - 1):
        assert not report.failed("clip.mp4: skipped a frame", demux=False)
    assert report.failed("clip.mp4: skipped unreadable data", demux=True) and report.truncated
    assert (report.decode_errors, report.demux_errors) == (MAX_CONSECUTIVE_ERRORS - 1, 1)
    assert len(report.messages) == 10  # the log keeps the first few, not one per packet
