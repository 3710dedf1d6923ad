"""Fixtures of general use across the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """The real sample videos: testvideo.mp4 (24 s, hard cuts), fades.mp4 (10 s), delayed_start.mp4."""
    return REPO / "examples"


def write_clip(
    path: Path,
    frames: list,
    *,
    codec: str = "mpeg4",
    rate: int = 25,
    times: list[float] | None = None,
    sar=None,
    rotation: int | None = None,
) -> Path:
    """Encode RGB uint8 frames (H, W, 3) into a real video file with PyAV.

    ``times`` gives each frame's presentation time in seconds (variable frame rate); ``sar`` the
    sample aspect ratio; ``rotation`` the display-matrix rotation (degrees counter-clockwise).
    """
    from fractions import Fraction

    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if times is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if sar is not None:
            stream.codec_context.sample_aspect_ratio = Fraction(sar)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if times is not None:
                frame.pts, frame.time_base = round(times[i] * 1000), Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


@pytest.fixture(scope="session")
def make_clip():
    """The :func:`write_clip` helper, for tests that generate odd-format videos into tmp_path."""
    return write_clip


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module: several test processes share two cores, and one thread
    each is many times faster than two."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
