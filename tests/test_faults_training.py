"""Resuming a run: a damaged state.pt or changed data and settings are refused in one line."""

from __future__ import annotations

import io
import os
import shutil

import pytest
import torch
from fault_helpers import one_error_line, snapshot

from video2music.commands.train import main as train_main
from video2music.data import muvisync
from video2music.data.fixture import write_fixture

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def argv(data, run, *extra: str) -> list[str]:
    return [
        *("--data", str(data), "--out", str(run), "--size", "debug", "--batch-size", "2", "--warmup", "5"),
        *("--inputs", "scene_offset,motion,emotion", "--no-progress", *extra),
    ]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_fixture(root, {"train": 3, "val": 2}, seconds=(6, 9), seed=4)
    return root


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory):
    """A run folder after one epoch."""
    run = tmp_path_factory.mktemp("finished") / "run"
    assert train_main(argv(data, run, "--epochs", "1")) == 0
    return run


@pytest.fixture
def run(finished, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


def refused(capsys, data, run, *extra: str) -> str:
    before = snapshot(run)
    line = one_error_line(capsys, train_main(argv(data, run, "--epochs", "2", "--resume", *extra)))
    assert snapshot(run) == before
    return line


def edit_state(run, edit) -> None:
    state = torch.load(run / "state.pt", weights_only=True)
    edit(state)
    torch.save(state, run / "state.pt")


def first_weight(state) -> str:
    return next(k for k, v in state["model"].items() if v.ndim == 2)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("optimizer"), "lacks optimizer"),
        (lambda s: s["model"].__setitem__(first_weight(s), torch.zeros(3, 3)), "wrong shapes"),
        (lambda s: s["model"][first_weight(s)].fill_(float("nan")), "NaN or infinite"),
        (lambda s: s["optimizer"]["state"][0].__setitem__("exp_avg", torch.zeros(5)), "optimizer"),
        (lambda s: s["optimizer"].__setitem__("param_groups", []), "optimizer"),
        (lambda s: s.__setitem__("scheduler", [1, 2]), "scheduler"),
        (lambda s: s["rng"][0].__setitem__("numpy", "junk"), "random generators"),
    ],
)
def test_a_damaged_state_is_one_line(data, run, capsys, edit, message):
    edit_state(run, edit)
    line = refused(capsys, data, run)
    assert f"{run / 'state.pt'} is damaged" in line and message in line


def test_resume_refuses_other_data(data, run, tmp_path, capsys):
    other = tmp_path / "other"
    write_fixture(other, {"train": 4, "val": 2}, seconds=(6, 9), seed=9)
    line = refused(capsys, other, run)
    assert f"--data {other} holds other data than the run being resumed" in line


def test_resume_refuses_data_changed_in_place(data, run, tmp_path, capsys):
    changed = tmp_path / "data"
    shutil.copytree(data, changed)
    edit_state(run, lambda s: s["options"].__setitem__("data", str(changed)))
    video = muvisync.read_split_ids(changed, "val")[0]
    path = muvisync.modality_path(changed, "motion", video)
    lines = path.read_text().splitlines()
    lines[0] = "0 1.5"
    path.write_text("\n".join(lines) + "\n")
    assert "holds other data than the run being resumed" in refused(capsys, changed, run)


def test_resume_accepts_the_same_data_packed(data, run, tmp_path, capsys):
    packed = muvisync.pack(data, tmp_path / "data.npz")
    assert train_main(argv(packed, run, "--epochs", "2", "--resume")) == 0
    assert "best validation loss" in capsys.readouterr().out


def test_resume_refuses_another_clip(data, run, capsys):
    assert "--clip 0.5 differs from the run being resumed (1.0)" in refused(
        capsys, data, run, "--clip", "0.5"
    )


def test_a_state_of_random_bytes_gives_no_unsafe_advice(data, run, capsys):
    (run / "state.pt").write_bytes(os.urandom(2048))
    line = refused(capsys, data, run)
    assert "state.pt is damaged and cannot be resumed" in line and "weights_only" not in line


def test_a_refused_run_leaves_no_run_folder(data, tmp_path, capsys):
    # Data errors are found before the run folder is made (they used to leave an empty one).
    no_val = tmp_path / "no-val"
    shutil.copytree(data, no_val)
    (no_val / muvisync.SPLIT_DIR / "val.txt").unlink()
    run = tmp_path / "deep" / "run"
    line = one_error_line(capsys, train_main(argv(no_val, run, "--epochs", "1")))
    assert "val" in line and not (tmp_path / "deep").exists()


def test_overlapping_splits_are_refused_as_dataset_check_reports_them(data, tmp_path, capsys):
    shared = tmp_path / "shared"
    shutil.copytree(data, shared)
    train_ids = muvisync.read_split_ids(shared, "train")
    muvisync.write_split(shared, "test", train_ids[:1], overwrite=True)
    run = tmp_path / "run"
    line = one_error_line(capsys, train_main(argv(shared, run, "--epochs", "1")))
    assert f"video {train_ids[0]!r} is in both the train and the test split" in line
    assert "dataset check" in line and not run.exists()


def test_a_full_disk_is_one_line_and_leaves_no_run_folder(data, tmp_path, capsys, monkeypatch):
    import errno

    from video2music.training import loop

    def full(path, overwrite=False):  # the first file a run writes is options.json
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(loop, "atomic_output", full)
    run = tmp_path / "run"
    line = one_error_line(capsys, train_main(argv(data, run, "--epochs", "1")))
    assert f"cannot write {run / 'options.json'} (No space left on device)" in line
    assert not run.exists()


def test_a_disk_that_fills_while_a_checkpoint_is_written_is_one_line(data, tmp_path, capsys, monkeypatch):
    import errno

    from video2music.model import checkpoint

    class Full(io.BytesIO):
        def write(self, data) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def full(path, mode="r", *args, **kwargs):  # every checkpoint the run writes, as it writes it
        return Full() if "w" in mode else open(path, mode, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "open", full, raising=False)
    run = tmp_path / "run"
    line = one_error_line(capsys, train_main(argv(data, run, "--epochs", "1")))
    assert f"cannot write {run / 'best.pt'} (No space left on device)" in line
    assert not (run / "best.pt").exists() and not list(run.glob(".*best*"))  # no half-written file


def test_missing_data_is_refused_before_torch_loads(tmp_path):
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from video2music.commands.train import main\n"
        f"code = main(['--data', {str(tmp_path / 'nowhere')!r}, '--out', {str(tmp_path / 'run')!r}])\n"
        "print(code, 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["2", "False"], done.stderr
    assert done.stderr.startswith(f"error: --data {tmp_path / 'nowhere'} does not exist")
    assert not (tmp_path / "run").exists()
