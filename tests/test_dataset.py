"""Training windows: crops, tiling, padding and masks, and batched results equal unbatched ones."""

import numpy as np
import pytest
import torch

from video2music.data.fixture import fixture_video
from video2music.data.windows import WindowDataset, collate
from video2music.model.regression import RegressionConfig, VideoRegression
from video2music.model.transformer import AffectiveMultimodalTransformer, AMTConfig
from video2music.theory import vocab
from video2music.training.tasks import amt_forward, regression_forward

INPUTS = ("scene_offset", "motion", "emotion")


@pytest.fixture(scope="module")
def videos():
    rng = np.random.default_rng(7)
    return [fixture_video(f"v{i}", n, rng) for i, n in enumerate((50, 9, 23, 1))]


def test_random_crops_are_in_range_and_reproducible(videos):
    data = WindowDataset(videos, INPUTS, window=16, random_crop=True, seed=5)
    assert len(data) == 3  # the one-second video has nothing to predict
    starts = []
    for epoch in range(6):
        data.set_epoch(epoch)
        window = data[0]
        assert len(window.chords) == 16 and window.video.shape == (16, 8)
        start = next(s for s in range(50 - 15) if np.array_equal(videos[0].chords[s : s + 16], window.chords))
        np.testing.assert_allclose(window.video[:, 0].numpy(), videos[0].scene_offset[start : start + 16] + 1)
        starts.append(int(window.video[0, 1] * 1000))
        again = WindowDataset(videos, INPUTS, window=16, random_crop=True, seed=5)
        again.set_epoch(epoch)
        assert torch.equal(again[0].video, window.video)
        assert len(data[1].chords) == 9  # shorter than the window: whole
    assert len(set(starts)) > 1  # crops move between epochs


def test_fixed_windows_tile_every_second_once(videos):
    data = WindowDataset(videos, INPUTS, window=16)
    tiles = [data[i] for i in range(len(data))]
    assert [len(t.chords) for t in tiles] == [16, 16, 16, 2, 9, 16, 7]
    np.testing.assert_array_equal(torch.cat([t.chords for t in tiles[:4]]).numpy(), videos[0].chords)
    assert tiles[0].mode == float(videos[0].mode_bit)


def test_collate_pads_with_pad_and_masks(videos):
    data = WindowDataset(videos, INPUTS, window=16)
    batch = collate([data[4], data[0], data[6]])  # 9, 16 and 7 seconds
    assert batch.chords.shape == (3, 16) and batch.video.shape == (3, 16, 8)
    assert batch.mask.sum(1).tolist() == [9, 16, 7]
    assert (batch.chords[0, 9:] == vocab.PAD_ID).all() and (batch.chords[0, :9] < vocab.NUM_CHORDS).all()
    assert batch.video[2, 7:].abs().sum() == 0 and batch.emotion[2, 7:].abs().sum() == 0
    assert batch.seconds == 32


def test_batched_results_equal_one_at_a_time(videos):
    torch.manual_seed(0)
    data = WindowDataset(videos, INPUTS, window=16)
    windows = [data[4], data[0], data[6]]
    batch = collate(windows)
    amt = AffectiveMultimodalTransformer(AMTConfig.debug(inputs=INPUTS)).eval()
    regression = VideoRegression(RegressionConfig.debug(inputs=INPUTS)).eval()
    with torch.no_grad():
        logits, targets, emotion = amt_forward(amt, batch)
        prediction, target = regression_forward(regression, batch)
        for row, window in enumerate(windows):
            single = collate([window])
            n = len(window.chords)
            alone, alone_targets, _ = amt_forward(amt, single)
            torch.testing.assert_close(logits[row, : n - 1], alone[0], atol=1e-5, rtol=1e-5)
            assert torch.equal(targets[row, : n - 1], alone_targets[0])
            assert (targets[row, n - 1 :] == vocab.PAD_ID).all()
            torch.testing.assert_close(emotion[row, : n - 1], window.emotion[1:])
            alone_prediction, alone_target = regression_forward(regression, single)
            torch.testing.assert_close(prediction[row, :n], alone_prediction[0], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(target[row, :n], alone_target[0])
