"""The transformer, the regression, the video input and the loss on their own."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from video2music.model import (
    AffectiveMultimodalTransformer,
    AMTConfig,
    RegressionConfig,
    VideoRegression,
    affective_targets,
    amt_loss,
    build_video_input,
    postprocess,
)
from video2music.theory import vocab
from video2music.utils.errors import UserError

torch.set_num_threads(1)  # small models: a thread pool mostly waits when the 2 cores are shared


@dataclass
class Features:
    semantic: np.ndarray | None
    scene_offset: np.ndarray
    motion: np.ndarray
    emotion: np.ndarray


def _features(seconds: int = 6, semantic: bool = True) -> Features:
    rng = np.random.default_rng(0)
    emotion = rng.random((seconds, 6)).astype(np.float32)
    return Features(
        semantic=rng.standard_normal((seconds, 768)).astype(np.float32) if semantic else None,
        scene_offset=np.array([0, 1, 2, 0, 1, 2][:seconds], dtype=np.int64),
        motion=rng.random(seconds).astype(np.float32) * 50,
        emotion=emotion / emotion.sum(1, keepdims=True),
    )


def test_video_input_order_offset_and_subsets():
    features = _features()
    full = build_video_input(features, ("emotion", "semantic", "motion", "scene_offset"))
    assert full.shape == (1, 6, 776) and full.dtype == torch.float32
    np.testing.assert_allclose(full[0, :, :768], features.semantic)
    np.testing.assert_allclose(full[0, :, 768], features.scene_offset + 1)
    np.testing.assert_allclose(full[0, :, 769], features.motion, rtol=1e-6)
    np.testing.assert_allclose(full[0, :, 770:], features.emotion, rtol=1e-6)
    basic = build_video_input(_features(semantic=False), ("scene_offset", "motion", "emotion"))
    assert basic.shape == (1, 6, 8)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"semantic": None}, "needs CLIP features; run with --features clip"),
        ({"motion": np.full(6, np.inf, dtype=np.float32)}, "NaN or infinite"),
        ({"emotion": np.zeros((6, 5))}, r"expected \(T, 6\)"),
        ({"motion": np.zeros(5)}, "disagree"),
    ],
)
def test_video_input_refuses_bad_features(change, message):
    features = _features()
    for name, value in change.items():
        setattr(features, name, value)
    with pytest.raises(UserError, match=message):
        build_video_input(features, ("semantic", "scene_offset", "motion", "emotion"))


def test_empty_video_is_refused():
    with pytest.raises(UserError, match="T = 0"):
        build_video_input(_features(seconds=0), ("motion", "emotion"))


def test_config_validation_and_debug_size():
    assert AMTConfig.debug().video_dim == 776 and AMTConfig(inputs=("emotion",)).video_dim == 6
    assert AMTConfig(inputs=("emotion", "motion")).inputs == ("motion", "emotion")
    with pytest.raises(UserError, match="unknown model inputs"):
        AMTConfig(inputs=("audio",))
    with pytest.raises(UserError, match="divisible"):
        AMTConfig(d_model=30, n_heads=4)
    assert AMTConfig.from_dict(AMTConfig.debug().to_dict()) == AMTConfig.debug()


def test_forward_shapes_and_length_limit():
    model = AffectiveMultimodalTransformer(AMTConfig.debug()).eval()
    logits = model(torch.tensor([[1, 2, 3]] * 2), torch.rand(2, 4, 776), torch.tensor([0.0, 1.0]))
    assert logits.shape == (2, 3, vocab.VOCAB_SIZE)
    with pytest.raises(UserError, match="window of 300"):
        model(torch.ones(1, 301, dtype=torch.long), torch.rand(1, 10, 776), torch.tensor([0.0]))
    with pytest.raises(UserError, match="8 dims"):
        model(torch.ones(1, 3, dtype=torch.long), torch.rand(1, 4, 8), torch.tensor([0.0]))


def test_padding_masks_leave_real_positions_unchanged():
    torch.manual_seed(0)
    model = AffectiveMultimodalTransformer(AMTConfig.debug()).eval()
    video, chords = torch.rand(1, 7, 776), torch.randint(0, 157, (1, 6))
    with torch.inference_mode():
        alone = model(chords, video, torch.tensor([1.0]))
        padded_video = torch.cat([video, torch.rand(1, 5, 776)], dim=1)
        padded_chords = torch.cat([chords, torch.full((1, 5), vocab.PAD_ID)], dim=1)
        video_mask = torch.arange(12)[None] < 7
        padded = model(padded_chords, padded_video, torch.tensor([1.0]), video_mask[:, :11], video_mask)
        unmasked = model(padded_chords, padded_video, torch.tensor([1.0]))
    torch.testing.assert_close(padded[:, :6], alone, atol=1e-5, rtol=0)
    assert not torch.allclose(unmasked[:, :6], alone, atol=1e-3)  # the masks matter


def test_loss_definition():
    logits = torch.randn(2, 5, vocab.VOCAB_SIZE, requires_grad=True)
    targets = torch.randint(1, 157, (2, 5))
    targets[1, 3:] = vocab.PAD_ID
    emotion = torch.softmax(torch.randn(2, 5, 6), -1)
    loss = amt_loss(logits, targets, emotion, lam=0.4)
    valid = targets != vocab.PAD_ID
    ce = torch.nn.functional.cross_entropy(logits[valid], targets[valid])
    soft = emotion[valid] @ torch.from_numpy(vocab.affective_target_matrix())
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits[valid], soft)
    torch.testing.assert_close(loss, 0.4 * ce + 0.6 * bce)
    loss.backward()
    assert logits.grad[1, 3:].abs().sum() == 0  # padded positions get no gradient
    sad = torch.zeros(6)
    sad[vocab.EMOTIONS.index("sad")] = 1.0
    assert (
        affective_targets(sad)[vocab.parse_chord("Am")] == 1
        and affective_targets(sad)[vocab.parse_chord("C")] == 0
    )


def test_regression_shapes_and_postprocess():
    model = VideoRegression(RegressionConfig.debug(inputs=("motion", "emotion")))
    assert model(torch.rand(2, 9, 7)).shape == (2, 9, 2)
    density, loudness = postprocess(torch.tensor([[-3.0, -0.2], [12.5, 0.3], [55.0, 1.7]]))
    np.testing.assert_allclose(density, [0.0, 12.5, 40.0])
    np.testing.assert_allclose(loudness, [0.0, 0.3, 1.0], rtol=1e-6)
    with pytest.raises(UserError, match="takes 7"):
        model(torch.rand(1, 3, 776))
