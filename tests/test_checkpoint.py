"""Our checkpoint format: atomic save, safe load, clear refusals; and loading published pickles."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from video2music.model import AMTConfig, RegressionConfig, VideoRegression
from video2music.model.checkpoint import load_any, load_checkpoint, save_checkpoint
from video2music.model.transformer import AffectiveMultimodalTransformer
from video2music.theory import vocab
from video2music.utils.errors import UserError

torch.set_num_threads(1)  # small models: a thread pool mostly waits when the 2 cores are shared
REFERENCE = Path(__file__).parent / "data" / "reference"


@pytest.fixture
def amt() -> AffectiveMultimodalTransformer:
    torch.manual_seed(0)
    return AffectiveMultimodalTransformer(
        AMTConfig.debug(inputs=("scene_offset", "motion", "emotion"))
    ).eval()


def test_round_trip_keeps_weights_config_inputs_and_metadata(tmp_path, amt):
    path = tmp_path / "amt.pt"
    save_checkpoint(path, amt, train_meta={"epochs": 3, "val_loss": 1.25, "data": "muvisync"})
    loaded = load_checkpoint(path, kind="amt")
    assert loaded.kind == "amt" and loaded.config == amt.config
    assert loaded.inputs == ("scene_offset", "motion", "emotion")
    assert loaded.meta["train_meta"] == {"epochs": 3, "val_loss": 1.25, "data": "muvisync"}
    assert loaded.meta["vocab_version"] == vocab.VOCAB_VERSION
    assert not loaded.model.training
    video, chords = torch.rand(1, 9, 8), torch.tensor([[1, 5, 9]])
    with torch.inference_mode():
        torch.testing.assert_close(
            loaded.model(chords, video, torch.tensor([1.0])), amt(chords, video, torch.tensor([1.0]))
        )
    # The file is plain data: it loads without running any pickled code.
    assert torch.load(path, weights_only=True)["format"] == "video2music-checkpoint"


def test_regression_round_trip(tmp_path):
    model = VideoRegression(RegressionConfig.debug())
    save_checkpoint(tmp_path / "reg.pt", model)
    loaded = load_any(tmp_path / "reg.pt")
    assert loaded.kind == "regression" and loaded.config == model.config
    torch.testing.assert_close(loaded.model.head.weight, model.head.weight)


def test_save_does_not_overwrite_unless_asked_and_leaves_no_partial_file(tmp_path, amt):
    path = tmp_path / "amt.pt"
    save_checkpoint(path, amt)
    with pytest.raises(UserError, match="already exists"):
        save_checkpoint(path, amt, overwrite=False)
    with pytest.raises(TypeError, match="JSON"):
        save_checkpoint(tmp_path / "other.pt", amt, train_meta={"bad": object()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["amt.pt"]


def test_truncated_file_is_refused(tmp_path, amt):
    path = tmp_path / "amt.pt"
    save_checkpoint(path, amt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="truncated"):
        load_checkpoint(path)


def test_foreign_files_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(UserError, match="not a PyTorch checkpoint: it is a text file"):
        load_any(text)
    other = tmp_path / "other.pt"
    torch.save({"layer.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(UserError, match="neither a published Video2Music"):
        load_any(other)
    torch.save([1, 2, 3], other)
    with pytest.raises(UserError, match="neither a video2music checkpoint"):
        load_any(other)
    with pytest.raises(UserError, match="does not exist"):
        load_any(tmp_path / "missing.pt")


def test_model_of_the_wrong_kind_is_refused(tmp_path):
    save_checkpoint(tmp_path / "reg.pt", VideoRegression(RegressionConfig.debug()))
    with pytest.raises(UserError, match="regression checkpoint, not a amt"):
        load_checkpoint(tmp_path / "reg.pt", kind="amt")
    with pytest.raises(UserError, match="not a amt"):
        load_any(REFERENCE / "tiny_regression_state.pt", kind="amt")


def test_vocabulary_mismatch_and_damaged_weights_are_refused(tmp_path, amt):
    path = tmp_path / "amt.pt"
    save_checkpoint(path, amt)
    payload = torch.load(path, weights_only=True)
    torch.save({**payload, "vocab_version": "other-vocab"}, path)
    with pytest.raises(UserError, match="other-vocab"):
        load_checkpoint(path)
    state = dict(payload["state_dict"])
    state["out.weight"] = torch.zeros(3, 3)
    torch.save({**payload, "state_dict": state}, path)
    with pytest.raises(UserError, match="out.weight"):
        load_checkpoint(path)


def test_published_pickle_is_told_apart_and_imported(tmp_path):
    path = tmp_path / "best_loss_weights.pickle"
    shutil.copy(REFERENCE / "tiny_amt_state.pt", path)
    with pytest.raises(UserError, match="use load_any"):
        load_checkpoint(path)
    loaded = load_any(path)
    assert loaded.kind == "amt" and loaded.config.d_model == 64
    assert "published" in loaded.meta["source"]
