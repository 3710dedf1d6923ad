"""Training on the synthetic fixture: overfitting, exact resume, divergence, checkpoints, torchrun."""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from video2music.commands.evaluate import main as evaluate_main
from video2music.commands.train import main as train_main
from video2music.data import muvisync
from video2music.data.fixture import write_fixture
from video2music.model.checkpoint import load_checkpoint
from video2music.training.loop import TrainingError, TrainOptions, train
from video2music.training.tasks import evaluate_split
from video2music.utils.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ("scene_offset", "motion", "emotion")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("fixture")
    write_fixture(root, {"train": 8, "val": 3, "test": 3}, seconds=(20, 30), seed=1)
    return root


def tiny(data, out, **changes) -> TrainOptions:
    base = TrainOptions(
        data=str(data),
        out=str(out),
        size="debug",
        epochs=3,
        batch_size=3,
        warmup=10,
        lr=5e-3,
        inputs=INPUTS,
        progress=False,
    )
    return replace(base, **changes)


@pytest.mark.slow
def test_tiny_model_overfits_the_fixture(data, tmp_path):
    # Validate on the training videos themselves, so best.pt is the most overfitted model: copies
    # under other ids, as train.py refuses a video listed in two splits.
    overfit = tmp_path / "data"
    shutil.copytree(data, overfit)
    copies = [replace(v, video_id=f"again-{v.video_id}") for v in muvisync.read_split(overfit, "train")]
    for video in copies:
        muvisync.write_video(overfit, video)
    muvisync.write_split(overfit, "val", [v.video_id for v in copies], overwrite=True)
    result = train(tiny(overfit, tmp_path / "run", epochs=60, batch_size=4, lr=1e-2, d_model=64, dropout=0.0))
    history = result["history"]
    # The affective BCE term keeps the loss above 0: it pulls every fitting chord up, not one.
    assert history[-1]["train_loss"] < 0.3 < 2.0 < history[0]["train_loss"]
    checkpoint = load_checkpoint(tmp_path / "run" / "best.pt")
    assert checkpoint.meta["train_meta"]["epoch"] >= 50
    metrics = evaluate_split(checkpoint, muvisync.read_split(overfit, "train"))
    assert metrics["hits@1"] >= 0.95 and metrics["hits@5"] == 1.0
    assert metrics["emotion_correspondence"] >= 0.95


def test_a_short_run_warms_up_within_its_steps_and_learns(data, tmp_path):
    # 8 train videos in batches of 3: 3 steps an epoch, 9 in all. The reference's 4000-step
    # warm-up kept such a run near a rate of 0 (the README's demo learnt nothing); now it takes a
    # quarter of the run, and the peak stays the reference's.
    from video2music.training.loop import warmup_steps
    from video2music.training.options import REFERENCE_WARMUP

    options = tiny(data, tmp_path / "run", warmup=None, lr=None)
    assert warmup_steps(options, 9) == 3 and warmup_steps(options, 10**6) == REFERENCE_WARMUP
    assert warmup_steps(replace(options, warmup=50), 9) == 50  # as given
    history = train(options)["history"]
    peak = 32**-0.5 * REFERENCE_WARMUP**-0.5  # the debug model's d_model is 32
    # The rate after step s (LambdaLR counts from 0): peak * sqrt(3 / (s + 1)) past the warm-up.
    assert [row["lr"] for row in history] == pytest.approx([peak * (3 / (s + 1)) ** 0.5 for s in (3, 6, 9)])
    assert history[-1]["val_loss"] < history[0]["val_loss"] - 0.1
    state = torch.load(tmp_path / "run" / "state.pt", weights_only=True)
    assert state["warmup_steps"] == 3
    # Resumed for longer, the run keeps the schedule it began with.
    longer = train(replace(options, epochs=4, resume=True))["history"]
    assert longer[-1]["lr"] == pytest.approx(peak * (3 / 13) ** 0.5)


def test_resume_after_an_interruption_continues_exactly(data, tmp_path, monkeypatch):
    whole = train(tiny(data, tmp_path / "whole"))["history"]

    # Interrupt the second run in the middle of epoch 3 (after 2 epochs of 3 steps and one more).
    calls = {"n": 0}
    clip = torch.nn.utils.clip_grad_norm_

    def interrupting_clip(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return clip(*args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", interrupting_clip)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(data, tmp_path / "resumed"))
    monkeypatch.undo()
    assert len(json.loads((tmp_path / "resumed" / "log.json").read_text())) == 2

    resumed = train(tiny(data, tmp_path / "resumed", resume=True))["history"]
    assert resumed == whole  # every logged number, epoch 3 included, is identical
    assert (tmp_path / "resumed" / "log.csv").read_text() == (tmp_path / "whole" / "log.csv").read_text()

    with pytest.raises(TrainingError, match="--batch-size 2 differs"):
        train(tiny(data, tmp_path / "resumed", resume=True, batch_size=2))
    with pytest.raises(TrainingError, match="model options"):
        train(tiny(data, tmp_path / "resumed", resume=True, d_model=64))
    with pytest.raises(TrainingError, match="already holds a run"):
        train(tiny(data, tmp_path / "resumed"))
    with pytest.raises(TrainingError, match="cannot resume"):
        train(tiny(data, tmp_path / "fresh", resume=True))


def test_corrupt_checkpoints_are_rejected(data, tmp_path, capsys):
    run = tmp_path / "run"
    train(tiny(data, run, epochs=1, save_every=1))
    assert load_checkpoint(run / "epoch_0001.pt").kind == "amt"
    best = run / "best.pt"
    best.write_bytes(best.read_bytes()[: best.stat().st_size // 2])
    with pytest.raises(UserError):
        load_checkpoint(best)
    assert evaluate_main(["--checkpoint", str(best), "--data", str(data), "--no-progress"]) == 2
    assert "error:" in capsys.readouterr().err
    state = run / "state.pt"
    state.write_bytes(b"\x00" * 100)
    with pytest.raises(TrainingError, match="state.pt is damaged"):
        train(tiny(data, run, epochs=2, resume=True))
    train(tiny(data, run, epochs=1, overwrite=True))  # starting over removes the old run's files
    assert load_checkpoint(best).kind == "amt" and not (run / "epoch_0001.pt").exists()


def test_divergence_stops_without_saving(data, tmp_path):
    with pytest.raises(TrainingError, match="training diverged: the loss is not finite at epoch 1"):
        train(tiny(data, tmp_path / "run", lr=1e30, warmup=1))
    assert not (tmp_path / "run" / "best.pt").exists() and not (tmp_path / "run" / "state.pt").exists()


def test_regression_and_the_command_line(data, tmp_path, capsys):
    out = tmp_path / "reg"
    args = [
        "--data",
        str(data),
        "--out",
        str(out),
        "--task",
        "regression",
        "--size",
        "debug",
        "--epochs",
        "4",
    ]
    args += [
        "--lr",
        "0.02",
        "--warmup",
        "2",
        "--inputs",
        ",".join(INPUTS),
        "--no-progress",
        "--batch-size",
        "4",
    ]
    assert train_main(args) == 0
    assert "best validation loss" in capsys.readouterr().out
    log = json.loads((out / "log.json").read_text())
    assert [row["epoch"] for row in log] == [1, 2, 3, 4]
    assert log[-1]["val_loss"] < log[0]["val_loss"]
    header = (out / "log.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["epoch", "train_loss", "lr"] and "val_note_density_rmse" in header
    assert load_checkpoint(out / "best.pt").kind == "regression"

    packed = muvisync.pack(data, tmp_path / "data.npz")
    metrics_file = tmp_path / "metrics.json"
    command = ["--checkpoint", str(out / "best.pt"), "--data", str(packed), "--split", "val", "--no-progress"]
    assert evaluate_main(command + ["--json", str(metrics_file)]) == 0
    metrics = json.loads(metrics_file.read_text())["models"][str(out / "best.pt")]
    best = min(log, key=lambda row: row["val_loss"])
    assert metrics["note_density_rmse"] == pytest.approx(best["val_note_density_rmse"], rel=1e-5)

    assert train_main(["--data", str(tmp_path / "missing"), "--out", str(out / "x"), "--no-progress"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_semantic_inputs_need_semantic_files(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        train_main(["--data", str(data), "--out", str(out), "--inputs", "semantic,motion", "--no-progress"])
        == 2
    )
    err = capsys.readouterr().err
    assert "has no semantic (CLIP) features" in err and "--inputs scene_offset,motion,emotion" in err
    assert not (out / "state.pt").exists()


@pytest.mark.slow
def test_torchrun_two_cpu_processes(data, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # --standalone: a free port of its own, so a second run on the machine does not collide.
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += [str(ROOT / "train.py")]
    command += ["--data", str(data), "--out", str(out), "--size", "debug", "--epochs", "1", "--warmup", "5"]
    command += ["--inputs", ",".join(INPUTS), "--no-progress", "--batch-size", "2"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("best validation loss") == 1  # only rank 0 reports and writes
    checkpoint = load_checkpoint(out / "best.pt")
    log = json.loads((out / "log.json").read_text())
    assert checkpoint.meta["train_meta"]["epoch"] == 1 and len(log) == 1
    val_seconds = sum(v.T - 1 for v in muvisync.read_split(data, "val"))
    assert log[0]["val_targets"] == val_seconds  # both processes' shares of val were summed
    single = evaluate_split(checkpoint, muvisync.read_split(data, "val"))
    assert single["loss"] == pytest.approx(log[0]["val_loss"], rel=1e-5)
