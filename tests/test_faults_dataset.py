"""Damaged packs and the gaps of ``dataset check``: each is reported, never a traceback."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from fault_helpers import one_error_line, snapshot

from video2music.commands.dataset import main as dataset_main
from video2music.commands.train import main as train_main
from video2music.data import muvisync
from video2music.data.fixture import write_fixture

TRAIN = ["--out", "RUN", "--size", "debug", "--epochs", "1", "--inputs", "scene_offset,motion,emotion"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("muvisync")
    write_fixture(root, {"train": 3, "val": 2, "test": 2}, seconds=(8, 12), seed=5)
    return root


@pytest.fixture(scope="module")
def packed(dataset, tmp_path_factory):
    return muvisync.pack(dataset, tmp_path_factory.mktemp("pack") / "data.npz")


def copy(path, tmp_path):
    target = tmp_path / path.name
    (shutil.copytree if path.is_dir() else shutil.copy)(path, target)
    return target


def train_args(data, tmp_path) -> list[str]:
    return [
        "--data",
        str(data),
        *(str(tmp_path / "run") if a == "RUN" else a for a in TRAIN),
        "--no-progress",
    ]


def damage(packed, tmp_path, how: str):
    broken = copy(packed, tmp_path)
    data = bytearray(broken.read_bytes())
    if how == "truncated":
        del data[len(data) // 2 :]
    else:  # one flipped byte inside the arrays: the zip's CRC no longer matches
        data[len(data) // 2] ^= 0xFF
    broken.write_bytes(bytes(data))
    return broken


@pytest.mark.parametrize("how", ["truncated", "crc"])
def test_a_damaged_pack_is_one_line_in_check_and_train(packed, tmp_path, capsys, how):
    broken = damage(packed, tmp_path, how)
    before = snapshot(tmp_path)
    for command, args in ((dataset_main, ["check", str(broken)]), (train_main, train_args(broken, tmp_path))):
        line = one_error_line(capsys, command(args))
        assert str(broken) in line and "damaged" in line and "pack" in line
    assert snapshot(tmp_path) == before


def problems(capsys, status: int) -> tuple[str, str]:
    captured = capsys.readouterr()
    assert status == 2 and "Traceback" not in captured.err
    assert captured.err.strip().splitlines()[-1].startswith("error: ")
    return captured.out, captured.err


def test_check_reports_a_video_in_two_splits(dataset, tmp_path, capsys):
    root = copy(dataset, tmp_path)
    shared = muvisync.read_split_ids(root, "train")[0]
    muvisync.write_split(root, "test", [*muvisync.read_split_ids(root, "test"), shared], overwrite=True)
    _, err = problems(capsys, dataset_main(["check", str(root)]))
    assert f"video {shared!r} is in both the test and the train split" in err
    pack = muvisync.pack(root, tmp_path / "overlap.npz")
    _, err = problems(capsys, dataset_main(["check", str(pack)]))
    assert f"video {shared!r} is in both the test and the train split" in err


@pytest.mark.parametrize("field", ["loudness", "note_density", "scene_offset"])
def test_check_reports_values_that_overflow_when_stored(dataset, tmp_path, capsys, field):
    root = copy(dataset, tmp_path)
    video = muvisync.read_split_ids(root, "val")[0]
    path = muvisync.modality_path(root, field, video)
    lines = path.read_text().splitlines()
    lines[1] = "1 1e308" if field != "scene_offset" else "1 1e30"
    path.write_text("\n".join(lines) + "\n")
    _, err = problems(capsys, dataset_main(["check", str(root)]))
    assert f"{path}:2:" in err
    with pytest.raises(muvisync.DatasetError):
        muvisync.pack(root, tmp_path / "never.npz")  # the folder and its pack now agree


def test_check_reports_overflowing_semantic_features(tmp_path, capsys):
    root = tmp_path / "data"
    write_fixture(root, {"train": 2, "val": 1}, seconds=(4, 6), seed=2, semantic=True)
    video = muvisync.read_split_ids(root, "val")[0]
    path = muvisync.semantic_path(root, video)
    array = np.load(path).astype(np.float64)
    array[1, 3] = 1e308
    np.save(path, array)
    _, err = problems(capsys, dataset_main(["check", str(root)]))
    assert f"{path}: non-finite values in 1 seconds" in err


def test_an_empty_split_file_does_not_stop_the_check(dataset, tmp_path, capsys):
    root = copy(dataset, tmp_path)
    muvisync.split_path(root, "test").write_text("")
    out, err = problems(capsys, dataset_main(["check", str(root)]))
    assert "train: 3 videos" in out and "val: 2 videos" in out
    assert "split 'test' is empty" in err and "error: 1 problems" in err


@pytest.mark.parametrize("packed_form", [False, True])
def test_check_reports_a_split_that_train_needs(dataset, tmp_path, capsys, packed_form):
    root = copy(dataset, tmp_path)
    muvisync.split_path(root, "val").unlink()
    data = muvisync.pack(root, tmp_path / "no_val.npz") if packed_form else root
    out, err = problems(capsys, dataset_main(["check", str(data)]))
    assert "train: 3 videos" in out and "test: 2 videos" in out
    assert "no 'val' split, which train.py needs" in err
    assert dataset_main(["check", str(data), "--split", "train", "--split", "test"]) == 0


@pytest.mark.parametrize("field", ["emotion", "motion", "scene_offset", "loudness", "note_density", "chords"])
def test_an_empty_lab_file_is_a_problem_not_a_traceback(dataset, tmp_path, capsys, field):
    root = copy(dataset, tmp_path)
    video = muvisync.read_split_ids(root, "train")[0]
    if field == "chords":
        path = muvisync.chord_path(root, video)
    else:
        path = muvisync.modality_path(root, field, video)
    path.write_text("")
    _, err = problems(capsys, dataset_main(["check", str(root)]))
    assert str(path) in err and ("no seconds" in err or "empty" in err)
    assert train_main(train_args(root, tmp_path)) == 2
    err = capsys.readouterr().err  # the error, then the problem
    assert err.startswith("error: ") and "Traceback" not in err and str(path) in err
    assert not (tmp_path / "run").exists()
