"""Damaged or foreign checkpoints and bad devices: one line before any work, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from fault_helpers import one_error_line

from video2music.commands.evaluate import main as evaluate_main
from video2music.commands.generate import main as generate_main
from video2music.commands.train import main as train_main
from video2music.data.fixture import write_fixture
from video2music.model.checkpoint import load_any
from video2music.utils.errors import UserError

DEBUG = Path(__file__).resolve().parents[1] / "saved_models" / "debug" / "amt.pt"


@pytest.fixture
def generate(tmp_path, examples_dir, capsys):
    """Run generate.py on a short real video into tmp_path/out; returns its one error line."""

    def run(*args: str) -> str:
        out = tmp_path / "out"
        argv = ["--video", str(examples_dir / "fades.mp4"), "--out", str(out), "--no-video", *args]
        line = one_error_line(capsys, generate_main(argv))
        assert not out.exists() or list(out.iterdir()) == []
        return line

    return run


def edited_checkpoint(tmp_path, edit) -> Path:
    checkpoint = torch.load(DEBUG, weights_only=True)
    edit(checkpoint)
    path = tmp_path / "edited.pt"
    torch.save(checkpoint, path)
    return path


@pytest.mark.parametrize("field", ["d_model", "dropout", "max_len"])
def test_a_config_value_of_the_wrong_type_is_refused_at_load(tmp_path, generate, field):
    path = edited_checkpoint(tmp_path, lambda c: c["config"].__setitem__(field, "abc"))
    line = generate("--weights", str(path))
    assert f"{path} has a damaged config" in line


def test_nan_weights_are_refused_at_load_not_mid_decode(tmp_path, generate):
    def poison(checkpoint):
        name = next(k for k, v in checkpoint["state_dict"].items() if v.is_floating_point())
        checkpoint["state_dict"][name][0] = float("nan")

    path = edited_checkpoint(tmp_path, poison)
    line = generate("--weights", str(path))
    assert f"{path} has NaN or infinite weights" in line
    with pytest.raises(UserError, match="NaN or infinite"):
        load_any(path)


def test_random_bytes_as_weights_give_no_unsafe_advice(tmp_path, generate):
    path = tmp_path / "noise.pt"
    path.write_bytes(os.urandom(4096))
    line = generate("--weights", str(path))
    assert f"{path} is not a PyTorch checkpoint" in line
    assert "weights_only" not in line and "False" not in line


def test_a_text_file_named_pt_is_called_a_text_file(tmp_path, generate):
    path = tmp_path / "notes.pt"
    path.write_text("these are my notes, not weights\n")
    assert f"{path} is not a PyTorch checkpoint: it is a text file" in generate("--weights", str(path))


def test_a_truncated_checkpoint_is_called_damaged(tmp_path, generate):
    path = tmp_path / "cut.pt"
    path.write_bytes(DEBUG.read_bytes()[:5000])
    assert f"{path} is a damaged PyTorch checkpoint" in generate("--weights", str(path))


def test_a_checkpoint_holding_code_objects_is_refused_without_unsafe_advice(tmp_path, generate):
    path = tmp_path / "objects.pt"
    torch.save({"model": torch.nn.Linear(2, 2)}, path)  # a pickled module: loading it would run code
    line = generate("--weights", str(path))
    assert f"{path} holds Python objects" in line and "weights_only" not in line


def test_an_unknown_device_is_one_line_in_generate_train_and_evaluate(tmp_path, generate, capsys):
    assert "--device foo is not a device" in generate("--device", "foo")
    assert "--device cuda:7" in generate("--device", "cuda:7")
    data = tmp_path / "data"
    write_fixture(data, {"train": 2, "val": 1}, seconds=(4, 6))
    run = tmp_path / "run"
    argv = [
        "--data",
        str(data),
        "--out",
        str(run),
        "--size",
        "debug",
        "--inputs",
        "scene_offset,motion,emotion",
    ]
    line = one_error_line(capsys, train_main([*argv, "--device", "foo", "--no-progress"]))
    assert "--device foo is not a device" in line and not run.exists()
    status = evaluate_main(["--checkpoint", str(DEBUG), "--data", str(data), "--device", "foo"])
    assert "--device foo is not a device" in one_error_line(capsys, status)
