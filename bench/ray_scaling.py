"""Benchmark: a batch on a local Ray cluster of 2 worker processes against one of 1.

A folder of ``--clips`` copies of the sample video is extracted (the features command) or scored
(generate.py, ``--command generate``, without the video with music) with ``--ray auto`` on a
local cluster started in this process with 1 and then 2 CPUs, so 1 or 2 tasks run at once; the
same batch run locally in this process (``--jobs 1``, no Ray) is the baseline beside them. Each
run is timed from the command's start to its summary, on a cluster already started (starting one
is timed apart); the runs alternate and the medians of ``--repeat`` are compared.

    .venv/bin/python bench/ray_scaling.py [--clips 8] [--repeat 3] [--command features|generate]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import ray

from video2music.commands.features import main as features_main
from video2music.commands.generate import main as generate_main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "testvideo.mp4"


def run_batch(command: str, videos: Path, out: Path, ray_address: str | None) -> float:
    """Seconds the command took on the batch; it must succeed."""
    shutil.rmtree(out, ignore_errors=True)
    if command == "features":
        argv = [str(videos), "--out", str(out)]
        main = features_main
    else:
        argv = ["--video", str(videos), "--out", str(out), "--no-video", "--no-lead-sheet"]
        main = generate_main
    argv += ["--ray", ray_address] if ray_address else []
    started = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()) as err:  # the bar and the summary
        status = main(argv)
    took = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{command} failed:\n{err.getvalue()}")
    return took


def on_cluster(cpus: int, command: str, videos: Path, out: Path, starts: list[float]) -> float:
    started = time.perf_counter()
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, logging_level=logging.ERROR)
    starts.append(time.perf_counter() - started)
    try:
        return run_batch(command, videos, out, "auto")
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=8, help="copies of the sample video (default 8)")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each (default 3)")
    parser.add_argument("--command", choices=("features", "generate"), default="features")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        videos = Path(tmp) / "videos"
        videos.mkdir()
        for i in range(args.clips):
            shutil.copy(EXAMPLE, videos / f"clip{i}.mp4")
        out = Path(tmp) / "out"
        times: dict[str, list[float]] = {"local": [], "ray1": [], "ray2": []}
        starts: list[float] = []
        loads = [os.getloadavg()[0]]
        for _ in range(args.repeat):
            times["local"].append(run_batch(args.command, videos, out, None))
            times["ray1"].append(on_cluster(1, args.command, videos, out, starts))
            times["ray2"].append(on_cluster(2, args.command, videos, out, starts))
            loads.append(os.getloadavg()[0])
    median = {name: statistics.median(values) for name, values in times.items()}
    cores = os.cpu_count()
    print(f"{args.command} of {args.clips} x {EXAMPLE.name} ({args.repeat} runs each, {cores} cores)")
    print(f"load average while running: {min(loads):.1f} to {max(loads):.1f}")
    print(f"starting a local cluster: {statistics.median(starts):.1f} s (median), not counted below")
    for name, label in (("local", "local, --jobs 1"), ("ray1", "Ray, 1 worker"), ("ray2", "Ray, 2 workers")):
        runs = ", ".join(f"{t:.1f}" for t in times[name])
        print(f"{label:16s} {median[name]:6.2f} s   ({runs})")
    print(f"speed-up of 2 Ray workers over 1: {median['ray1'] / median['ray2']:.2f}x")
    print(f"Ray, 1 worker against the local run: {median['ray1'] / median['local']:.2f}x the time")


if __name__ == "__main__":
    main()
