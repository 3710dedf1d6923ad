"""audio.biquads: FFmpeg's biquad as a recursive filter over blocks, against scipy's sosfilt."""

from __future__ import annotations

import numpy as np
import pytest

from video2music.audio.biquads import Biquads
from video2music.audio.loudness import k_weighting
from video2music.audio.master import dc_blocker

RATE = 44100


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_a_cascade_over_blocks_of_any_length_is_the_difference_equation_over_the_whole(channels):
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(channels)
    samples = rng.normal(0, 0.3, (3 * RATE + 17, channels)) + 0.01  # with an offset
    sections = k_weighting(RATE)
    expected = signal.sosfilt(np.array([[*b, *a] for b, a in sections]), samples, axis=0)
    filters = Biquads(sections, RATE)
    sizes = [1, 5, 4096, 70000, 0, RATE]  # state carries across every block, an empty one too
    edges = np.cumsum([0, *sizes, len(samples)])
    blocks = [
        filters(samples[first:last])
        for first, last in zip(edges, edges[1:], strict=False)
        if first < len(samples)
    ]
    got = np.concatenate(blocks)
    assert got.shape == samples.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, atol=1e-10)
    assert np.abs(got - samples).max() > 0.1  # it did filter


def test_the_dc_blocker_takes_an_offset_out_within_a_second():
    out = dc_blocker(RATE)(np.full((RATE, 2), 0.25, np.float32))
    assert out[0, 0] == pytest.approx(0.25) and np.abs(out[-1]).max() < 1e-6
