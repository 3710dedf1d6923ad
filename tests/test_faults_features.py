"""The features CLI: a damaged .npz in --out is extracted again; Ctrl-C stops a parallel batch."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_helpers import alive, children

from video2music.commands.features import main
from video2music.features.video_features import VideoFeatures

ROOT = Path(__file__).resolve().parents[1]


def test_a_damaged_npz_is_not_counted_as_done(examples_dir, tmp_path, capsys):
    video = examples_dir / "fades.mp4"
    out = tmp_path / "out"
    assert main([str(video), "--out", str(out), "--muvisync"]) == 0
    npz = out / "fades.npz"
    good = VideoFeatures.load(npz)
    npz.write_bytes(npz.read_bytes()[:300])  # cut off, as by a full disk or a copy stopped half way
    capsys.readouterr()
    assert main([str(video), "--out", str(out), "--muvisync"]) == 0
    err = capsys.readouterr().err
    assert "1 extracted, 0 skipped" in err and "Traceback" not in err
    again = VideoFeatures.load(npz)
    assert again.T == good.T and (again.emotion == good.emotion).all()


def _workers(pid: int) -> list[int]:
    """The pool workers among the children of ``pid`` (not multiprocessing's resource tracker)."""
    return [c for c in children(pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


@pytest.mark.slow
def test_ctrl_c_stops_a_parallel_batch_promptly(examples_dir, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(8):
        shutil.copy(examples_dir / "testvideo.mp4", videos / f"clip{i}.mp4")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "video2music.features", str(videos), "--out", str(out), "--jobs", "2"]
    # Its own session, so that the Ctrl-C below reaches it and its workers as a terminal's would.
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        # A finished file, not the hidden temporary one a video is being written to.
        while not list(out.glob("clip*.npz")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        workers = _workers(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)
        interrupted = time.monotonic()
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - interrupted
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err, err
    assert took < 5, f"{took:.1f} s from Ctrl-C to exit"
    done = sorted(p.name for p in out.glob("clip*.npz"))
    assert 1 <= len(done) <= 3, done  # at most the videos already being extracted finished
    assert sorted(p.name for p in out.iterdir()) == done  # no temporary files left
    assert len(workers) == 2 and not any(alive(pid) for pid in workers)
    for name in done:
        assert VideoFeatures.load(out / name).T == 24


def test_a_missing_video_makes_no_output_folder(tmp_path, capsys):
    out = tmp_path / "features"
    assert main([str(tmp_path / "missing.mp4"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'missing.mp4'} does not exist" in err and "failed:" not in err
    assert not out.exists()


def test_a_full_disk_is_named_as_such(examples_dir, tmp_path, capsys, monkeypatch):
    import errno

    from video2music.features import video_features

    def full(path, overwrite=False):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(video_features, "atomic_output", full)
    out = tmp_path / "features"
    assert main([str(examples_dir / "fades.mp4"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: {examples_dir / 'fades.mp4'}: cannot write {out / 'fades.npz'} (No space left" in err
    assert "unexpected" not in err and "OSError" not in err
