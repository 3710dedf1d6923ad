"""Faults while writing: a full disk, read-only and forbidden folders, folders in the way, and
SIGINT/SIGTERM at each stage of a real generate.py run.

Every case must end with exit status 2 (130 for a signal), one line on stderr, no traceback, and
the output folder byte for byte as it was before the run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fault_helpers import alive, children

from video2music.audio import synth
from video2music.commands.generate import main as generate_main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "testvideo.mp4"  # 24 s: its WAV alone is 4.2 MB
FADES = ROOT / "examples" / "fades.mp4"  # 10 s


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under ``folder``, hidden ones included."""
    if not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): None if path.is_dir() else path.read_bytes()
        for path in sorted(folder.rglob("*"))
    }


@contextlib.contextmanager
def mounted_tmpfs(where: Path, options: str):
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_leaves_the_folder_as_it_was(tmp_path, capsys):
    with mounted_tmpfs(tmp_path / "small", "size=1m") as out:
        (out / "keep.txt").write_text("the user's own file\n")
        before = snapshot(out)
        assert generate_main(["--video", str(SAMPLE), "--out", str(out), "--weights", "debug"]) == 2
        line = one_error_line(capsys)
        assert "No space left on device" in line and str(out / "testvideo.wav") in line
        assert snapshot(out) == before


def test_the_music_command_on_a_full_disk_leaves_nothing(tmp_path, capsys):
    from video2music.commands.music import main as music_main

    with mounted_tmpfs(tmp_path / "small", "size=1m") as out:
        before = snapshot(out)
        assert (
            music_main(["--chords", "C Am F G", "--seconds", "30", "--out", str(out / "sub" / "song")]) == 2
        )
        line = one_error_line(capsys)
        assert "song.wav (No space left on device)" in line
        assert snapshot(out) == before  # also the folder it made for the set is gone


@pytest.mark.slow
def test_a_batch_onto_a_full_disk_goes_on_with_the_next_video(tmp_path, capsys, caplog):
    with mounted_tmpfs(tmp_path / "small", "size=1m") as out:
        before = snapshot(out)
        code = generate_main(
            ["--video", str(SAMPLE), str(FADES), "--out", str(out), "--weights", "debug", "--no-video"]
        )
        assert code == 2
        assert "Traceback" not in capsys.readouterr().err + caplog.text
        for video in (SAMPLE, FADES):  # both were tried: the first failure did not stop the batch
            assert f"{video}: cannot write {out / video.stem}.wav (No space left on device)" in caplog.text
        assert snapshot(out) == before


def test_a_read_only_folder_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("the video was read although the output folder is read-only")

    monkeypatch.setattr("video2music.pipeline.Video2Music.extract_features", must_not_run)
    with mounted_tmpfs(tmp_path / "ro", "ro,size=1m") as out:
        before = snapshot(out)
        assert generate_main(["--video", str(FADES), "--out", str(out / "sub"), "--weights", "debug"]) == 2
        assert "is not writable" in one_error_line(capsys)
        assert snapshot(out) == before


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs sysfs")
def test_a_forbidden_folder_is_one_line(capsys):
    before = sorted(os.listdir("/sys/kernel"))
    code = generate_main(["--video", str(FADES), "--out", "/sys/kernel", "--weights", "debug", "--no-video"])
    assert code == 2
    line = one_error_line(capsys)
    assert "/sys/kernel" in line and ("not writable" in line or "cannot write" in line)
    assert sorted(os.listdir("/sys/kernel")) == before


def test_existing_outputs_and_clashing_names_are_refused_before_any_video_is_read(
    tmp_path, capsys, monkeypatch
):
    def must_not_run(*args, **kwargs):
        raise AssertionError("a video was read although the outputs were refused")

    monkeypatch.setattr("video2music.pipeline.Video2Music.extract_features", must_not_run)
    out = tmp_path / "out"
    out.mkdir()
    (out / "fades.json").write_text("an earlier result")
    before = snapshot(tmp_path)
    assert generate_main(["--video", str(FADES), "--out", str(out), "--weights", "debug"]) == 2
    assert "fades.json already exists; pass --overwrite" in one_error_line(capsys)
    assert snapshot(tmp_path) == before
    # Two videos named alike in two folders would write one set: refused, with or without --overwrite.
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "clip.mp4").write_bytes(FADES.read_bytes())
    before = snapshot(out)
    videos = [str(tmp_path / "a" / "clip.mp4"), str(tmp_path / "b" / "clip.mp4")]
    assert generate_main(["--video", *videos, "--out", str(out), "--weights", "debug", "--overwrite"]) == 2
    assert "two videos would both write" in one_error_line(capsys)
    assert snapshot(out) == before


def test_a_bad_soundfont_from_any_source_is_refused_before_any_video_is_read(tmp_path, capsys, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("a video was read although the soundfont is unusable")

    monkeypatch.setattr("video2music.pipeline.Video2Music.extract_features", must_not_run)
    truncated = tmp_path / "cut.sf2"  # the first 4 KB of a real soundfont, as a broken download leaves it
    if synth.DEBIAN_SOUNDFONT.is_file():
        with synth.DEBIAN_SOUNDFONT.open("rb") as whole:
            truncated.write_bytes(whole.read(4096))
    out = tmp_path / "out"
    args = ["--video", str(FADES), "--out", str(out), "--weights", "debug"]
    monkeypatch.setenv(synth.ENV_SOUNDFONT, str(tmp_path / "missing.sf2"))
    assert generate_main(args) == 2
    assert f"from {synth.ENV_SOUNDFONT}) does not exist" in one_error_line(capsys)
    if synth.DEBIAN_SOUNDFONT.is_file():
        monkeypatch.setenv(synth.ENV_SOUNDFONT, str(truncated))
        assert generate_main(args) == 2
        assert "is truncated" in one_error_line(capsys)
    assert not out.exists()


def test_an_output_name_that_is_a_folder_is_refused_even_with_overwrite(tmp_path, capsys):
    (tmp_path / "fades.wav").mkdir()
    before = snapshot(tmp_path)
    args = ["--video", str(FADES), "--out", str(tmp_path), "--weights", "debug", "--overwrite"]
    assert generate_main(args) == 2
    assert "fades.wav is a folder" in one_error_line(capsys)
    assert snapshot(tmp_path) == before


@pytest.mark.slow
def test_a_folder_that_appears_during_the_run_is_one_line(tmp_path, capsys, monkeypatch):
    """IsADirectoryError at the final rename: the old set stays and nothing new is left."""
    out = tmp_path / "out"
    assert generate_main(["--video", str(FADES), "--out", str(out), "--weights", "debug", "--no-video"]) == 0
    capsys.readouterr()
    before = snapshot(out)
    render = synth.render_wav

    def render_then_block(midi, path, *args, **kwargs):
        render(midi, path, *args, **kwargs)
        (out / "fades.json").unlink()
        (out / "fades.json").mkdir()  # something else puts a folder where the JSON goes

    monkeypatch.setattr(synth, "render_wav", render_then_block)
    args = ["--video", str(FADES), "--out", str(out), "--weights", "debug", "--no-video", "--overwrite"]
    assert generate_main([*args, "--seed", "7"]) == 2
    line = one_error_line(capsys)
    assert "fades.json" in line and "Is a directory" in line
    expected = {name: data for name, data in before.items() if name != "fades.json"} | {"fades.json": None}
    assert snapshot(out) == expected


def test_disk_full_simulated_anywhere_in_the_render(tmp_path, capsys, monkeypatch):
    """Without a tmpfs: the WAV write itself fails with ENOSPC half way."""
    import errno

    def full(midi, path, *args, **kwargs):
        Path(path).write_bytes(b"RIFF" + bytes(100))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(synth, "render_wav", full)
    (tmp_path / "fades.mid").write_bytes(b"an old MIDI file")
    before = snapshot(tmp_path)
    assert (
        generate_main(["--video", str(FADES), "--out", str(tmp_path), "--weights", "debug", "--overwrite"])
        == 2
    )
    assert "fades.wav (No space left on device)" in one_error_line(capsys)
    assert snapshot(tmp_path) == before


# --- signals at each stage of a real run ----------------------------------------------------------


def long_clip(path: Path, seconds: int, write_clip) -> Path:
    """A small clip of flat colour scenes, long enough that rendering and muxing take a while."""
    rng = np.random.default_rng(1)
    frames = []
    for index in range(seconds * 4):
        if index % 20 == 0:
            colour = rng.integers(0, 255, 3, dtype=np.uint8)
        frame = np.empty((48, 64, 3), np.uint8)
        frame[:] = colour
        frames.append(frame)
    return write_clip(path, frames, rate=4)


@pytest.fixture(scope="module")
def old_set(tmp_path_factory, make_clip) -> tuple[Path, Path]:
    """A long clip and a folder holding a complete earlier result (seed 0) for it."""
    folder = tmp_path_factory.mktemp("signals")
    video = long_clip(folder / "long.mp4", 240, make_clip)
    out = folder / "old"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "generate.py"),
            "--video",
            str(video),
            "--out",
            str(out),
            "--weights",
            "debug",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return video, out


def _stage(pid: int, video: Path, out: Path) -> str | None:
    """What the process is doing, read from outside: which file it has open or has staged."""
    staging = [p for p in out.iterdir() if p.is_dir() and p.name.startswith(".")]
    if staging:
        with contextlib.suppress(OSError):  # the run may remove it meanwhile
            suffixes = {p.suffix for p in staging[0].iterdir()}
            # Only while a stage is surely in progress: once a later file or the old set's folder
            # ("old", no suffix) shows, the run is about to commit and a signal may come too late.
            if ".json" in suffixes or "" in suffixes:
                return None
            return "mux" if ".mp4" in suffixes else "render" if ".wav" in suffixes else None
    # The video is decoded by the command or by the child it forks for that (video2music.utils.forked).
    if any(_has_open(process, video) for process in [pid, *children(pid)]):
        return "features"
    return None


def _has_open(pid: int, path: Path) -> bool:
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) == str(path):
                    return True
    return False


def _signalled_in(process: subprocess.Popen, video: Path, out: Path, stage: str, signum: int) -> bool:
    """Send ``signum`` to the run if it is still in ``stage``, looked at again while it is paused:
    between a first look and the signal, a loaded machine can let the run finish (CI saw a signal
    meant for the mux reach a run that had already exited 0). Whether it was sent."""
    process.send_signal(signal.SIGSTOP)
    try:
        _wait_stopped(process.pid)
        still = _stage(process.pid, video.resolve(), out) == stage
        if still:
            process.send_signal(signum)  # delivered as the run goes on
        return still
    finally:
        process.send_signal(signal.SIGCONT)


def _wait_stopped(pid: int) -> None:
    """Wait (a second at most) until every thread of ``pid`` has stopped: SIGSTOP takes effect
    a moment after it is sent."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):  # the run has ended: nothing to wait for
            states = [
                (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
                for task in Path(f"/proc/{pid}/task").iterdir()
            ]
            if all(state in "TtZX" for state in states):
                return
        time.sleep(0.001)


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["features", "render", "mux"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_at_each_stage_leaves_the_old_set_whole(old_set, tmp_path, stage, signum):
    video, old = old_set
    out = tmp_path / "out"
    out.mkdir()
    for path in old.iterdir():
        (out / path.name).write_bytes(path.read_bytes())
    before = snapshot(out)
    command = [sys.executable, str(ROOT / "generate.py"), "--video", str(video), "--out", str(out)]
    process = subprocess.Popen(
        [*command, "--weights", "debug", "--overwrite", "--seed", "7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    while process.poll() is None and time.monotonic() < deadline:
        if _stage(process.pid, video.resolve(), out) == stage and _signalled_in(
            process, video, out, stage, signum
        ):
            forked = children(process.pid)
            break
        time.sleep(0.002)
    else:
        process.kill()
        pytest.fail(f"the run finished or stalled before the {stage} stage was seen")
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err.strip().splitlines() == ["interrupted"], err
    assert snapshot(out) == before
    assert not [child for child in forked if alive(child)]


@pytest.mark.slow
def test_ctrl_c_while_a_child_decodes_stops_both(old_set, tmp_path):
    video, _ = old_set
    out = tmp_path / "out"
    command = [sys.executable, str(ROOT / "generate.py"), "--video", str(video), "--out", str(out)]
    # Its own session, so that the Ctrl-C below reaches the command and its child as a terminal's would.
    process = subprocess.Popen(
        [*command, "--weights", "debug"], stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        forked = [child for child in children(process.pid) if _has_open(child, video.resolve())]
        if forked:
            break
        time.sleep(0.002)
    else:
        pytest.fail("no child process decoded the video")
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.strip().splitlines() == ["interrupted"], err
    assert not [child for child in forked if alive(child)]
    assert not out.exists() or not list(out.iterdir())


STAGING_RUN = """
import os, signal, sys, time
from video2music.output.writer import plan_music, staged
with staged(plan_music(sys.argv[1], video=False, soundfont=None, overwrite=False)) as paths:
    paths["midi"].write_text("half written")
    print("staging", flush=True)
    if sys.argv[2] == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(120)
"""


def _staging_folders(out: Path) -> set[str]:
    return {p.name for p in out.iterdir() if p.is_dir() and p.name.startswith(".")}


def test_a_killed_runs_staging_folder_is_cleared_by_the_next_run_a_live_ones_kept(tmp_path):
    from video2music.commands.music import main as music_main

    out = tmp_path / "out"
    killed = subprocess.run(
        [sys.executable, "-c", STAGING_RUN, str(out / "killed"), "killed"], capture_output=True, timeout=60
    )
    assert killed.returncode == -signal.SIGKILL
    left = _staging_folders(out)
    assert len(left) == 1  # SIGKILL gives a run no chance to clean up
    live = subprocess.Popen(
        [sys.executable, "-c", STAGING_RUN, str(out / "live"), "live"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert live.stdout.readline().strip() == "staging"
        working = _staging_folders(out) - left
        assert music_main(["--chords", "C G", "--seconds", "4", "--out", str(out / "next")]) == 0
        assert _staging_folders(out) == working  # the dead run's is gone, the live one's kept
        assert (out / "next.mid").is_file() and not (out / "killed.mid").exists()
    finally:
        live.kill()
        live.wait(timeout=30)
