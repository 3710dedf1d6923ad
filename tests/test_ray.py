"""Batches on a Ray cluster (--ray): the same results as a local run, a killed worker costs a
retry and not a video, Ctrl-C leaves nothing half-written and no process behind, and without Ray
or a cluster one line says what to do.

One local cluster (2 CPUs, no dashboard) serves the runs made in this process, which join it as
``--ray auto`` does in a process already connected to Ray; the Ctrl-C test's command starts its
own, as ``--ray auto`` does on a machine without a cluster.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import mido
import numpy as np
import pytest
from fault_helpers import alive, children, one_error_line

from video2music.commands.features import main as features_main
from video2music.commands.generate import main as generate_main

ROOT = Path(__file__).resolve().parents[1]
TASK_TITLE = b"ray::_run_kept"  # what a Ray worker calls itself while it runs one of our tasks


@pytest.fixture(scope="session")
def ray_module():
    try:
        import ray
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("Ray is not installed; bash setup.sh --dev installs it")
        pytest.skip("Ray is not installed (pip install -e '.[ray]')")
    return ray


@pytest.fixture(scope="module")
def ray_cluster(ray_module):
    """A local cluster for this module's tests, stopped before the rest of the suite runs."""
    on_term = signal.getsignal(signal.SIGTERM)
    ray_module.init(
        address="local", num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False
    )
    yield
    ray_module.shutdown()
    signal.signal(signal.SIGTERM, on_term)  # Ray leaves its own behind


def _videos(folder: Path, examples_dir: Path, names: dict[str, str]) -> Path:
    """``folder`` holding copies of the sample videos (new name -> sample)."""
    folder.mkdir()
    for name, sample in names.items():
        shutil.copy(examples_dir / sample, folder / name)
    return folder


def _summary(err: str, out: Path) -> list[str]:
    """The end-of-batch lines of a features run, with its output folder's name left out."""
    lines = [line for line in err.splitlines() if line.startswith("error:") or " extracted, " in line]
    return [line.replace(str(out), "OUT") for line in lines]


def test_features_on_ray_equal_a_local_run(ray_cluster, examples_dir, tmp_path, capsys):
    videos = _videos(tmp_path / "videos", examples_dir, {"a.mp4": "testvideo.mp4", "b.mp4": "fades.mp4"})
    (videos / "broken.mp4").write_bytes(b"not a video")
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert features_main([str(videos), "--out", str(local)]) == 2
    local_summary = _summary(capsys.readouterr().err, local)
    assert features_main([str(videos), "--out", str(on_ray), "--ray", "auto"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # The broken video gets its one line in the same summary, and the others go on.
    assert _summary(err, on_ray) == local_summary
    assert local_summary[0] == "2 extracted, 0 skipped (done before), 1 failed -> OUT"
    assert len(local_summary) == 2 and str(videos / "broken.mp4") in local_summary[1]
    assert sorted(p.name for p in on_ray.iterdir()) == ["a.npz", "b.npz"]
    for name in ("a.npz", "b.npz"):
        with np.load(local / name) as ours, np.load(on_ray / name) as theirs:
            assert ours.files == theirs.files
            for key in ours.files:  # the arrays and the meta (backend, cuts, provenance)
                assert np.array_equal(ours[key], theirs[key]), key


def _notes(path: Path) -> int:
    return sum(
        msg.type == "note_on" and msg.velocity > 0 for track in mido.MidiFile(path).tracks for msg in track
    )


def _peak(path: Path) -> int:
    with wave.open(str(path)) as wav:
        return int(np.abs(np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")).max())


@pytest.mark.slow
def test_generate_on_ray_writes_the_same_midi_and_wav(ray_cluster, examples_dir, tmp_path, capsys):
    videos = _videos(tmp_path / "videos", examples_dir, {"a.mp4": "fades.mp4", "b.mp4": "delayed_start.mp4"})
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    common = ["--video", str(videos), "--seed", "5", "--no-video", "--no-lead-sheet"]
    assert generate_main([*common, "--out", str(local)]) == 0
    assert generate_main([*common, "--out", str(on_ray), "--ray", "auto"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert sorted(p.name for p in on_ray.iterdir()) == sorted(p.name for p in local.iterdir())
    for stem in ("a", "b"):
        midi = on_ray / f"{stem}.mid"
        assert midi.read_bytes() == (local / f"{stem}.mid").read_bytes()
        assert _notes(midi) > 0
        wav = on_ray / f"{stem}.wav"
        assert _peak(wav) > 1000  # not silent
        # Byte for byte: a Ray worker renders as this process does.
        assert wav.read_bytes() == (local / f"{stem}.wav").read_bytes()


def _kill_the_first_task(killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first Ray worker seen running one of our tasks; its pid goes into ``killed``."""
    while not stop.is_set():
        for entry in Path("/proc").iterdir():
            try:
                title = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
            except OSError:  # gone meanwhile
                continue
            if title.startswith(TASK_TITLE):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
                return
        time.sleep(0.01)


def test_a_worker_killed_mid_batch_costs_a_retry(ray_cluster, examples_dir, tmp_path, capsys):
    names = {f"clip{i}.mp4": "testvideo.mp4" for i in range(3)}
    videos = _videos(tmp_path / "videos", examples_dir, names)
    out = tmp_path / "out"
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_the_first_task, args=(killed, stop), daemon=True)
    killer.start()
    try:
        status = features_main([str(videos), "--out", str(out), "--ray", "auto"])
    finally:
        stop.set()
        killer.join()
    err = capsys.readouterr().err
    assert len(killed) == 1 and not alive(killed[0]), "no task was seen running"
    assert status == 0, err
    assert "3 extracted, 0 skipped (done before), 0 failed" in err
    # The killed task ran again: every video is there, whole, and nothing else (no temporary file).
    assert sorted(p.name for p in out.iterdir()) == ["clip0.npz", "clip1.npz", "clip2.npz"]
    with np.load(out / "clip0.npz") as first:
        for name in ("clip1.npz", "clip2.npz"):
            with np.load(out / name) as other:
                assert all(np.array_equal(first[key], other[key]) for key in first.files if key != "meta")


def _tree(pid: int) -> set[int]:
    """``pid``'s descendants that live now."""
    found, todo = set(), [pid]
    while todo:
        for child in children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


@pytest.mark.slow
def test_ctrl_c_cancels_a_ray_batch_and_leaves_no_partial_outputs(ray_module, examples_dir, tmp_path):
    videos = _videos(tmp_path / "videos", examples_dir, {f"clip{i}.mp4": "testvideo.mp4" for i in range(4)})
    out = tmp_path / "out"
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, str(ROOT / "generate.py"), "--video", str(videos), "--out", str(out)]
    # Its own session, so that the Ctrl-C below reaches it as a terminal's would.
    proc = subprocess.Popen(
        [*command, "--ray", "auto"], env=env, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 180
        # Interrupted while a video's files are being written in its staging folder.
        while (
            not (staging := list(out.glob(".clip*"))) and time.monotonic() < deadline and proc.poll() is None
        ):
            time.sleep(0.02)
        assert staging, "no video got as far as writing its files"
        started = _tree(proc.pid)  # the cluster it started: Ray's servers and workers
        titles = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in started if alive(pid)]
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err, err
    # Nothing half-written: no staging folder, and a video has its whole set or nothing (the
    # output folder itself goes when nothing was finished in it).
    written = {p.name for p in out.iterdir()} if out.exists() else set()
    assert [name for name in written if name.startswith(".")] == []
    for stem in {name.split(".")[0].removesuffix("_with_music") for name in written}:
        whole = {f"{stem}{suffix}" for suffix in (".mid", ".wav", ".json", ".musicxml", "_with_music.mp4")}
        assert whole <= written, stem
    # The cluster it started stopped with it.
    assert any(title.startswith(TASK_TITLE) for title in titles), titles
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in started)


def test_auto_joins_the_cluster_ray_address_names(ray_module, ray_cluster, examples_dir, tmp_path):
    address = ray_module.get_runtime_context().gcs_address
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "video2music.features", str(examples_dir), "--out", str(out), "--ray", "auto"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "RAY_ADDRESS": address},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "3 extracted, 0 skipped (done before), 0 failed" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["delayed_start.npz", "fades.npz", "testvideo.npz"]
    # It ran as a job of this cluster (the cluster's job table, which Ray keeps private), and
    # leaving it did not stop the cluster.
    from ray._private.state import jobs

    assert any(job["Entrypoint"].endswith("--ray auto") for job in jobs()), jobs()
    assert ray_module.cluster_resources().get("CPU") == 2


def test_without_ray_the_option_says_how_to_install_it(examples_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # an import of ray fails, as where it is not installed
    video, out = str(examples_dir / "fades.mp4"), tmp_path / "out"
    for main in (features_main, generate_main):
        args = [video, "--out", str(out)] if main is features_main else ["--video", video, "--out", str(out)]
        line = one_error_line(capsys, main([*args, "--ray", "auto"]))
        assert "pip install -e '.[ray]'" in line
    assert not out.exists()


def test_a_cluster_that_does_not_answer_is_one_line(ray_module, examples_dir, tmp_path):
    # In a fresh process: one connected to a cluster already (this one) keeps it.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "video2music.features",
            str(examples_dir / "fades.mp4"),
            "--out",
            str(tmp_path),
        ]
        + ["--ray", "127.0.0.1:1"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: cannot reach the Ray cluster at 127.0.0.1:1 (Connection refused); start it with ray start "
        "--head, or give --ray auto for a cluster on this machine"
    ]
    assert list(tmp_path.iterdir()) == []
