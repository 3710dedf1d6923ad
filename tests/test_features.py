"""Video features on the real example clips: timeline length, cuts, motion, emotion, files, bad input."""

from __future__ import annotations

import math

import av
import numpy as np
import pytest

from video2music.commands.features import main
from video2music.features import VideoFeatures, extract
from video2music.theory.vocab import EMOTIONS
from video2music.utils.errors import UserError

# The two hard cuts of testvideo.mp4, checked by eye on a contact sheet of the frames around each
# detection (black -> leaf on a rock at 1.001 s, leaf -> black at 6.006 s). The detector also
# reports 13.146 s (a fade in from black starts) and 23.056 s (the end of a fade out); the fade in
# of the deer shot (~6-8 s) and the dissolve to the bricks (~18-20 s) are gradual and not reported,
# as with scenedetect.detect on full frames (tests/test_features_scenes.py).
TESTVIDEO_HARD_CUTS = (1.001, 6.006)
TESTVIDEO_CUTS = (1.001, 6.006, 13.146467, 23.056367)


@pytest.fixture(scope="module")
def testvideo(examples_dir) -> VideoFeatures:
    return extract(examples_dir / "testvideo.mp4")


@pytest.fixture(scope="module")
def fades(examples_dir) -> VideoFeatures:
    return extract(examples_dir / "fades.mp4")


def _stream_duration(path) -> tuple[float, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return float(stream.duration * stream.time_base), float(stream.average_rate)


def test_one_second_per_started_second(testvideo, fades, examples_dir):
    for features, name in ((testvideo, "testvideo.mp4"), (fades, "fades.mp4")):
        duration, fps = _stream_duration(examples_dir / name)
        assert features.duration == pytest.approx(duration)
        # testvideo lasts 24.023 s but its last frame starts at 23.99 s: the 0.023 s after 24.0
        # hold no frame to sample, so T counts the seconds in which a frame starts.
        assert math.ceil(duration - 1 / fps) == features.T
    assert fades.T == math.ceil(fades.duration) == 10
    assert testvideo.T == 24
    for features in (testvideo, fades):
        assert features.emotion.shape == (features.T, 6) and features.motion.shape == (features.T,)
        assert features.semantic is None and features.backend == "basic"
        assert features.inputs == {"scene_offset", "motion", "emotion"}


def test_delayed_start_clip_has_one_second(examples_dir):
    features = extract(examples_dir / "delayed_start.mp4")
    assert features.T == 1 == math.ceil(features.duration)
    # The stream starts 1.075 s into the container; times are measured from there.
    assert features.provenance["first_sample_time"] == 0.0
    assert features.motion.tolist() == [0.0] and features.scene_offset.tolist() == [0]


def test_hard_cuts_are_found_and_restart_the_scene_offset(testvideo):
    assert testvideo.scene_cuts == pytest.approx(TESTVIDEO_CUTS, abs=1e-3)
    for cut in TESTVIDEO_HARD_CUTS:
        assert testvideo.scene_offset[int(cut)] == 0  # the frame at the cut is the sample of that second
    # Second t is in the scene its sample (the first frame at or after t) shows.
    expected = [0, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert testvideo.scene_offset.tolist() == expected


def test_motion_is_zero_at_the_start_and_high_at_cuts(testvideo, fades):
    for features in (testvideo, fades):
        assert features.motion[0] == 0
        assert np.all((features.motion >= 0) & (features.motion <= 255))
    # The frames at 1.001 s and 6.006 s are the samples of seconds 1 and 6 and start new shots.
    at_cuts = testvideo.motion[[1, 6]]
    within_shots = np.delete(testvideo.motion, [0, 1, 6])
    assert at_cuts.min() > 50 and at_cuts.min() > 10 * within_shots.max()


def test_emotion_rows_are_probabilities_and_deterministic(testvideo, fades, examples_dir):
    for features in (testvideo, fades):
        np.testing.assert_allclose(features.emotion.sum(axis=1), 1.0, atol=1e-5)
        assert np.all(features.emotion >= 0)
    again = extract(examples_dir / "fades.mp4")
    np.testing.assert_array_equal(again.emotion, fades.emotion)
    np.testing.assert_array_equal(again.motion, fades.motion)


def test_basic_emotion_follows_light_and_pace(testvideo):
    """Black seconds read as less positive than the bright, colourful leaf shot."""
    exciting, sad, relaxing = (EMOTIONS.index(name) for name in ("exciting", "sad", "relaxing"))
    positive = testvideo.emotion[:, exciting] + testvideo.emotion[:, relaxing]
    assert positive[2:5].mean() > positive[12] + 0.1  # leaf shot vs the black before the cut at 13 s
    assert testvideo.emotion[12, sad] > testvideo.emotion[3, sad]


def test_provenance_names_the_backend_and_libraries(testvideo):
    provenance = testvideo.provenance
    assert provenance["codec"] == "h264" and provenance["rotation"] == 0
    assert provenance["decode"]["frames"] == 720 and provenance["decode"]["decode_errors"] == 0
    assert {"av", "scenedetect", "opencv", "numpy"} <= set(provenance["libraries"])


def test_npz_round_trip(testvideo, tmp_path):
    path = testvideo.save(tmp_path / "features.npz")
    loaded = VideoFeatures.load(path)
    for name in ("emotion", "motion", "scene_offset"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(testvideo, name))
    assert loaded.semantic is None and loaded.scene_cuts == testvideo.scene_cuts
    assert (loaded.duration, loaded.fps, loaded.backend) == (testvideo.duration, testvideo.fps, "basic")
    assert loaded.provenance == testvideo.provenance
    with pytest.raises(UserError, match="already exists"):
        testvideo.save(path)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a video features file"):
        VideoFeatures.load(tmp_path / "junk.npz")


def test_muvisync_layout(testvideo, tmp_path):
    paths = testvideo.to_muvisync(tmp_path, "clip01")
    assert set(paths) == {"emotion", "motion", "scene_offset"}
    emotion = (tmp_path / "vevo_emotion/6c_l14p/all/clip01.lab").read_text().splitlines()
    assert emotion[0] == "time exciting_prob fearful_prob tense_prob sad_prob relaxing_prob neutral_prob"
    assert len(emotion) == testvideo.T + 1
    rows = np.array([[float(x) for x in line.split()] for line in emotion[1:]])
    assert rows[:, 0].tolist() == list(range(testvideo.T))
    np.testing.assert_allclose(rows[:, 1:], testvideo.emotion, atol=1e-4)
    motion = (tmp_path / "vevo_motion/all/clip01.lab").read_text().splitlines()
    assert motion[1] == f"1 {testvideo.motion[1]:.4f}"
    offsets = (tmp_path / "vevo_scene_offset/all/clip01.lab").read_text().splitlines()
    assert [line.split() for line in offsets[:3]] == [["0", "0"], ["1", "0"], ["2", "1"]]
    assert not (tmp_path / "vevo_semantic").exists()
    with pytest.raises(UserError, match="already exists"):
        testvideo.to_muvisync(tmp_path, "clip01")


def _audio_only(path):
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def _bad_inputs(tmp_path) -> dict:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    empty = tmp_path / "empty.mp4"
    empty.touch()
    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    return {
        "does not exist": tmp_path / "missing.mp4",
        "not a readable video": text,
        "is empty": empty,
        "is a folder": folder,
        "has no video stream": _audio_only(tmp_path / "sound.wav"),
    }


def test_bad_inputs_raise_one_line_user_errors(tmp_path):
    for message, path in _bad_inputs(tmp_path).items():
        with pytest.raises(UserError, match=message) as caught:
            extract(path)
        assert "\n" not in str(caught.value)
    with pytest.raises(UserError, match="unknown features backend"):
        extract(tmp_path / "sound.wav", backend="resnet")


def test_cli_batch_reports_failures_and_goes_on(examples_dir, tmp_path, capsys):
    (tmp_path / "bad").mkdir()
    bad = _bad_inputs(tmp_path / "bad")  # the folder.mp4 folder is searched, holding no videos
    out = tmp_path / "out" / "features"  # a missing output folder is created
    videos = [examples_dir / "fades.mp4", examples_dir / "delayed_start.mp4"]
    argv = [*map(str, videos), *(str(p) for p in bad.values()), "--out", str(out), "--muvisync"]
    assert main([*argv, "--jobs", "2"]) == 2
    err = capsys.readouterr().err
    assert "2 extracted, 0 skipped (done before), 4 failed" in err
    for name in ("missing.mp4", "notes.mp4", "empty.mp4", "sound.wav"):
        assert f"error: {bad['does not exist'].parent / name}" in err
    assert "Traceback" not in err
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == [
        "delayed_start.npz",
        "fades.npz",
        "vevo_emotion/6c_l14p/all/delayed_start.lab",
        "vevo_emotion/6c_l14p/all/fades.lab",
        "vevo_motion/all/delayed_start.lab",
        "vevo_motion/all/fades.lab",
        "vevo_scene_offset/all/delayed_start.lab",
        "vevo_scene_offset/all/fades.lab",
    ]
    fades = VideoFeatures.load(out / "fades.npz")
    assert fades.T == 10 and fades.backend == "basic"

    # Done videos are skipped (files untouched) unless --overwrite.
    stamp = (out / "fades.npz").stat().st_mtime_ns
    assert main([str(videos[0]), "--out", str(out)]) == 0
    assert "0 extracted, 1 skipped" in capsys.readouterr().err
    assert (out / "fades.npz").stat().st_mtime_ns == stamp
    assert main([str(videos[0]), "--out", str(out), "--muvisync", "--overwrite"]) == 0
    assert "1 extracted, 0 skipped" in capsys.readouterr().err
    assert (out / "fades.npz").stat().st_mtime_ns != stamp


def test_cli_usage_errors_exit_2_before_any_work(examples_dir, tmp_path, capsys):
    video = str(examples_dir / "fades.mp4")
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    clip_folder = tmp_path / "clip"
    clip_folder.mkdir()
    cases = {
        "is a file; give a folder": [video, "--out", str(not_a_folder)],
        "--jobs must be at least 1": [video, "--out", str(tmp_path / "o"), "--jobs", "0"],
        "no config.json": [
            video,
            "--out",
            str(tmp_path / "o"),
            "--backend",
            "clip",
            "--clip-model",
            str(clip_folder),
        ],
        "no videos to process": [str(clip_folder), "--out", str(tmp_path / "o")],
        "would both be saved as fades.npz": [
            video,
            str(tmp_path / "fades.mp4"),
            "--out",
            str(tmp_path / "o"),
        ],
    }
    for message, argv in cases.items():
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
