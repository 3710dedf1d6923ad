"""Wall time of generate.py on the 24 s 720p sample with the built-in features, by stage.

    .venv/bin/python bench/end_to_end.py [--video examples/testvideo.mp4] [--weights default]

Measured in one run: the whole command as a user runs it (a fresh process); in fresh processes,
the interpreter's start and the imports generate.py needs (``python -X importtime`` lists them
module by module); in this process, loading the model and the façade's stages. The baselines
for the ratios are the clip's own duration (real time) and one plain decoding pass over the
video (the least any tool that watches every frame must spend). The stages are timed one after
another; the command overlaps some of them in child processes (``video2music/utils/forked.py``), and
the script prints what that saves (net of the checks and exit the stages leave out). Target (issue
25): the command within 2.5 s on a quiet 2-core machine. Timings measured in fresh processes are medians
of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parent.parent


def plain_decode_seconds(video: Path) -> float:
    started = time.perf_counter()
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            pass
    return time.perf_counter() - started


def fresh_process_seconds(*argv: str) -> float:
    """Wall time of ``python *argv`` in a new interpreter, as a user's command starts."""
    started = time.perf_counter()
    subprocess.run([sys.executable, *argv], check=True, capture_output=True)
    return time.perf_counter() - started


def median_seconds(repeats: int, fn: Callable[..., float], *args: str) -> float:
    return statistics.median(fn(*args) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=ROOT / "examples" / "testvideo.mp4")
    parser.add_argument("--weights", default="default")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as out:
        command = median_seconds(
            args.repeats,
            fresh_process_seconds,
            str(ROOT / "generate.py"),
            *("--video", str(args.video), "--out", out, "--weights", args.weights),
            *("--features", "basic", "--overwrite"),
        )
    interpreter = median_seconds(args.repeats, fresh_process_seconds, "-c", "pass")
    imports = median_seconds(
        args.repeats,
        fresh_process_seconds,
        "-c",
        "import video2music.commands.generate, video2music.pipeline",
    )

    from video2music import Video2Music
    from video2music.features import extract, probe
    from video2music.output.writer import write_result

    duration = probe(args.video).duration
    decode = plain_decode_seconds(args.video)
    started = time.perf_counter()
    v2m = Video2Music.from_pretrained(args.weights)
    stages = {"imports": imports - interpreter, "model loading": time.perf_counter() - started}
    started = time.perf_counter()
    features = extract(args.video, backend="basic")
    stages["features"] = time.perf_counter() - started
    result = v2m.generate(args.video, features=features, seed=0)
    with tempfile.TemporaryDirectory() as out:
        # From a worker thread, which forks no children: each file's own cost, one after another.
        writing = threading.Thread(target=write_result, args=(result, out))  # adds to result.timings
        writing.start()
        writing.join()
    stages.update({k: v for k, v in result.timings.items() if k != "features"})

    print(f"video: {args.video.name}, {duration:.1f} s; model: {args.weights}; features: basic")
    print(f"one plain decoding pass: {decode:.2f} s")
    print(
        f"generate.py, whole command: {command:.2f} s (median of {args.repeats})  "
        f"{duration / command:.1f}x real time, {command / decode:.1f}x one decoding pass; "
        "target <= 2.5 s on a quiet machine"
    )
    work = interpreter + sum(stages.values())
    print(f"its stages one after another, in this process: {work:.2f} s, as share of the command")
    print(f"  {'interpreter start':<18} {interpreter:6.2f} s  {100 * interpreter / command:5.1f} %")
    for name, seconds in stages.items():
        print(f"  {name:<18} {seconds:6.2f} s  {100 * seconds / command:5.1f} %")
    print(
        f"  the command runs the features beside the imports and the lead sheet beside the render "
        f"(forked children): {work - command:+.2f} s saved, net of its checks and exit"
    )


if __name__ == "__main__":
    main()
