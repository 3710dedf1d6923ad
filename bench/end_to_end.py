"""Wall time of generate.py on the 24 s 720p sample with the built-in features, by stage.

    .venv/bin/python bench/end_to_end.py [--video examples/testvideo.mp4] [--weights default]

Two measurements in one run: the whole command as a user runs it (a fresh process, imports
included), and the façade's stages in this process. The baseline for the ratios is the clip's
own duration (real time) and one plain decoding pass over the video (the least any tool that
watches every frame must spend). Target: the command under 15 s on 2 cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=ROOT / "examples" / "testvideo.mp4")
    parser.add_argument("--weights", default="default")
    args = parser.parse_args()

    from video2music import Video2Music
    from video2music.features import extract, probe
    from video2music.writer import write_result

    duration = probe(args.video).duration
    decode = plain_decode_seconds(args.video)

    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "generate.py"),
                "--video",
                str(args.video),
                "--out",
                out,
                "--weights",
                args.weights,
                "--features",
                "basic",
            ],
            check=True,
            capture_output=True,
        )
        command = time.perf_counter() - started

    v2m = Video2Music.from_pretrained(args.weights)
    stages: dict[str, float] = {}
    started = time.perf_counter()
    features = extract(args.video, backend="basic")
    stages["features"] = time.perf_counter() - started
    result = v2m.generate(args.video, features=features, seed=0)
    with tempfile.TemporaryDirectory() as out:
        write_result(result, out)  # adds its stages to result.timings
    stages.update({k: v for k, v in result.timings.items() if k != "features"})
    in_process = sum(stages.values())

    print(f"video: {args.video.name}, {duration:.1f} s; model: {args.weights}; features: basic")
    print(f"one plain decoding pass: {decode:.2f} s")
    print(
        f"generate.py, whole command: {command:.2f} s  ({duration / command:.1f}x real time, "
        f"{command / decode:.1f}x one decoding pass; target < 15 s)"
    )
    print(f"stages in process: {in_process:.2f} s")
    for name, seconds in stages.items():
        print(f"  {name:<10} {seconds:6.2f} s  {100 * seconds / in_process:5.1f} %")
    print(f"imports and start-up (command minus stages): {command - in_process:.2f} s")


if __name__ == "__main__":
    main()
