"""MuVi-Sync files: round trips, packing, and every kind of bad file reported with file:line."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from video2music.commands.dataset import main as dataset_main
from video2music.data import muvisync
from video2music.data.fixture import PROGRESSIONS, fixture_video, write_fixture
from video2music.data.muvisync import DatasetError, MuViSyncVideo
from video2music.theory import vocab
from video2music.utils.errors import UserError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("muvisync")
    splits = write_fixture(root, {"train": 4, "val": 2, "test": 2}, seconds=(10, 16), seed=3, semantic=True)
    return root, splits


def fresh_copy(dataset, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(dataset[0], root)
    return root


def assert_same_video(a: MuViSyncVideo, b: MuViSyncVideo, semantic: bool = True) -> None:
    assert a.video_id == b.video_id and a.key == b.key
    np.testing.assert_array_equal(a.chords, b.chords)
    np.testing.assert_array_equal(a.scene_offset, b.scene_offset)
    np.testing.assert_allclose(a.emotion, b.emotion, atol=1e-6)
    np.testing.assert_allclose(a.motion, b.motion, atol=1e-4)
    np.testing.assert_allclose(a.loudness, b.loudness, atol=1e-6)
    np.testing.assert_allclose(a.note_density, b.note_density, atol=1e-4)
    if semantic:
        np.testing.assert_array_equal(a.semantic, b.semantic)


def test_write_then_read_gives_the_same_video(tmp_path):
    video = fixture_video("clip-1", 25, np.random.default_rng(0), semantic=True)
    muvisync.write_video(tmp_path, video)
    text = muvisync.chord_path(tmp_path, "clip-1").read_text().splitlines()
    assert text[0] in ("key C major", "key A minor")
    assert text[1].split()[0] == "0" and vocab.parse_chord(text[1].split()[1]) == video.chords[0]
    assert (
        muvisync.modality_path(tmp_path, "emotion", "clip-1")
        .read_text()
        .startswith("time exciting_prob fearful_prob tense_prob sad_prob relaxing_prob neutral_prob\n0 ")
    )
    assert_same_video(muvisync.read_video(tmp_path, "clip-1"), video)
    assert muvisync.read_video(tmp_path, "clip-1", semantic=False).semantic is None


def test_fixture_has_the_promised_structure(dataset):
    root, splits = dataset
    assert {k: len(v) for k, v in splits.items()} == {"train": 4, "val": 2, "test": 2}
    for video in muvisync.read_split(root, "train"):
        mode = "minor" if video.mode_bit else "major"
        assert (video.emotion.max(axis=1) >= 0.8).all()
        for t in range(video.T):
            emotion = vocab.EMOTIONS[int(video.emotion[t].argmax())]
            allowed = PROGRESSIONS[mode, emotion]
            assert vocab.chord_label(int(video.chords[t])) in allowed
            if emotion != "neutral":
                assert vocab.chord_quality(int(video.chords[t])) in vocab.AFFECTIVE_QUALITIES[emotion]
        cuts = np.flatnonzero(video.scene_offset == 0)[1:]
        assert len(cuts) and (video.motion[cuts] > 50).all()


def test_pack_round_trip_and_index(dataset, tmp_path):
    root, splits = dataset
    out = muvisync.pack(root, tmp_path / "packed.npz")
    index = json.loads((tmp_path / "packed.json").read_text())
    assert index["splits"] == {k: splits[k] for k in sorted(splits)} and index["semantic"] is True
    for split in splits:
        for a, b in zip(muvisync.read_split(root, split), muvisync.load_split(out, split), strict=True):
            assert_same_video(a, b)
    with pytest.raises(UserError, match="already exists"):
        muvisync.pack(root, out)
    with pytest.raises(UserError, match="no split 'nope'"):
        muvisync.load_split(out, "nope")


def test_packed_file_is_validated_again(dataset, tmp_path):
    out = muvisync.pack(dataset[0], tmp_path / "packed.npz", splits=["train"])
    with np.load(out) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["loudness"][3] = np.nan
    arrays["chords"][5] = 200
    np.savez(out, **arrays)
    with pytest.raises(DatasetError) as caught:
        muvisync.load_split(out, "train")
    assert any("second 3: loudness is not a finite number" in p for p in caught.value.problems)
    assert any("chord id 200" in p for p in caught.value.problems)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a packed MuVi-Sync dataset"):
        muvisync.load_split(tmp_path / "junk.npz", "train")


def _replace_line(path: Path, line_no: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[line_no - 1] = text
    path.write_text("\n".join(lines) + "\n")


def test_every_bad_file_is_reported_with_file_and_line(dataset, tmp_path):
    root = fresh_copy(dataset, tmp_path)
    a, b, c, d = dataset[1]["train"]
    chords_a = muvisync.chord_path(root, a)
    _replace_line(chords_a, 4, "2 Q:weird")
    _replace_line(chords_a, 1, "key D major")
    emotion_b = muvisync.modality_path(root, "emotion", b)
    _replace_line(emotion_b, 3, "1 nan 0.1 0.1 0.1 0.1 0.1")
    _replace_line(emotion_b, 5, "3 0.9 0.9 0.0 0.0 0.0 0.0")
    motion_c = muvisync.modality_path(root, "motion", c)
    motion_c.write_text("".join(motion_c.read_text().splitlines(keepends=True)[:-2]))  # two seconds short
    _replace_line(muvisync.modality_path(root, "scene_offset", c), 2, "1 0.5")
    muvisync.modality_path(root, "loudness", d).unlink()
    _replace_line(muvisync.modality_path(root, "note_density", d), 3, "7 2.0")
    _replace_line(muvisync.modality_path(root, "note_density", d), 1, "0 1.0 2.0")

    with pytest.raises(DatasetError) as caught:
        muvisync.read_split(root, "train")
    problems = caught.value.problems
    text = "\n".join(problems)
    assert f"{chords_a}:4: chord 'Q:weird' is not in the vocabulary" in text
    assert f"{chords_a}:1: key 'D major'" in text
    assert f"{emotion_b}:3: emotion is not a finite number" in text
    assert f"{emotion_b}:5: emotion probabilities sum to 1.8000" in text
    assert f"{motion_c}: " in text and "seconds but" in text
    assert (
        f"{muvisync.modality_path(root, 'scene_offset', c)}:2: scene offset 0.5 is not a whole number" in text
    )
    assert f"{muvisync.modality_path(root, 'loudness', d)}: missing" in text
    assert f"{muvisync.modality_path(root, 'note_density', d)}:1: expected a time and 1 value(s)" in text
    assert f"{muvisync.modality_path(root, 'note_density', d)}:3: time '7' where 2 was expected" in text
    assert len(problems) == 9
    assert str(caught.value).startswith(
        f"split 'train' of {root} has invalid files; fix them and rerun (9 problems)"
    )
    assert isinstance(caught.value, UserError)


def test_long_problem_lists_are_summarised_but_kept(dataset, tmp_path):
    root = fresh_copy(dataset, tmp_path)
    for video_id in dataset[1]["train"]:
        path = muvisync.modality_path(root, "loudness", video_id)
        path.write_text("".join(f"{t} -1.0\n" for t in range(len(path.read_text().splitlines()))))
    with pytest.raises(DatasetError) as caught:
        muvisync.read_split(root, "train")
    error = caught.value
    assert len(error.problems) > DatasetError.SHOWN
    message = str(error).splitlines()
    assert len(message) == DatasetError.SHOWN + 2
    assert message[-1] == (
        f"  ... and {len(error.problems) - DatasetError.SHOWN} more "
        "(python -m video2music.commands.dataset check lists them all)"
    )


def test_check_command_lists_every_problem(dataset, tmp_path, capsys):
    root = fresh_copy(dataset, tmp_path)
    for video_id in dataset[1]["train"] + dataset[1]["val"]:
        _replace_line(muvisync.modality_path(root, "motion", video_id), 2, "1 300")
    assert dataset_main(["check", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("motion 300 is outside 0-255") == 6 and "error: 6 problems" in err
    assert dataset_main(["check", str(dataset[0])]) == 0
    assert "train: 4 videos" in capsys.readouterr().out


def test_check_command_reads_the_splits_a_pack_holds(dataset, tmp_path, capsys):
    packed = muvisync.pack(dataset[0], tmp_path / "train_only.npz", ["train"])
    assert muvisync.available_splits(packed) == ["train"]
    assert dataset_main(["check", str(packed), "--split", "train"]) == 0
    out = capsys.readouterr().out
    assert "train: 4 videos" in out and "val" not in out
    assert dataset_main(["check", str(packed)]) == 2  # without --split, the val split train.py needs


def test_missing_folder_split_and_semantic(dataset, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        muvisync.read_split(tmp_path / "nowhere", "train")
    with pytest.raises(UserError, match="does not exist"):
        muvisync.load_split(tmp_path / "nowhere.npz", "train")
    root = fresh_copy(dataset, tmp_path)
    with pytest.raises(UserError, match="no split 'dev'.*available splits: test, train, val"):
        muvisync.read_split(root, "dev")
    muvisync.split_path(root, "train").write_text("\n\n")
    with pytest.raises(UserError, match="split 'train' is empty"):
        muvisync.read_split(root, "train")
    muvisync.split_path(root, "train").write_text("001\n001\n../x\n")
    with pytest.raises(DatasetError, match="listed twice"):
        muvisync.read_split(root, "train")
    val = dataset[1]["val"]
    muvisync.semantic_path(root, val[0]).unlink()
    assert muvisync.read_split(root, "val")[1].semantic is None  # auto: not every video has it
    with pytest.raises(DatasetError, match=f"{val[0]}.npy: missing"):
        muvisync.read_split(root, "val", semantic=True)


def test_writer_refuses_bad_videos_and_overwrites(tmp_path):
    video = fixture_video("v1", 12, np.random.default_rng(1))
    muvisync.write_video(tmp_path, video)
    with pytest.raises(UserError, match="already exists"):
        muvisync.write_video(tmp_path, video)
    muvisync.write_video(tmp_path, video, overwrite=True)
    video.emotion[2, 0] = np.inf
    video.motion = video.motion[:-1]
    with pytest.raises(DatasetError) as caught:
        muvisync.write_video(tmp_path / "other", video)
    assert any("motion has shape (11,)" in p for p in caught.value.problems)
    assert any("second 2: emotion is not a finite number" in p for p in caught.value.problems)
    assert not (tmp_path / "other").exists()
    with pytest.raises(UserError, match="distinct, non-empty video ids"):
        muvisync.write_split(tmp_path, "train", [])


def test_reads_what_the_feature_extractor_writes(tmp_path):
    from video2music.features import extract

    features = extract(EXAMPLES / "fades.mp4", backend="basic")
    rng = np.random.default_rng(0)
    video = fixture_video("fades", features.T, rng)
    muvisync.write_video(tmp_path, video)
    features.to_muvisync(tmp_path, "fades", overwrite=True)
    read = muvisync.read_video(tmp_path, "fades")
    np.testing.assert_allclose(read.emotion, features.emotion, atol=1e-4)
    np.testing.assert_allclose(read.motion, features.motion, atol=1e-4)
    np.testing.assert_array_equal(read.scene_offset, features.scene_offset)
    np.testing.assert_array_equal(read.chords, video.chords)
