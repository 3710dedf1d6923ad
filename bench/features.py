"""Benchmark: one-pass feature extraction (basic backend) against the reference's three passes.

The baseline reads the video three times, as the Video2Music feature scripts do: a pass that
keeps the 1-fps frames (first frame at or after each second, as RGB), a second pass with OpenCV
for motion (every frame converted, the difference taken at each second boundary), and
PySceneDetect's own ``detect()`` with an AdaptiveDetector for the scenes. One plain decoding pass
(PyAV, no pixel conversion) is timed too, as the floor any approach pays. Runs alternate and the
best of ``--repeat`` is kept; the ratio and real-time factors come from the same run.

    .venv/bin/python bench/features.py [--video examples/testvideo.mp4] [--repeat 3]

For the memory check, ``--make-long OUT.mp4 [--minutes 20]`` writes a long 1080p video instead:
the example encoded once at 1920x1080 (x264, ultrafast) and its packets repeated with shifted
timestamps (each copy starts on a keyframe, so the stream stays valid). Then measure with
``/usr/bin/time -v .venv/bin/python -m video2music.features OUT.mp4 --out DIR``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import av
import cv2
import numpy as np
from scenedetect import AdaptiveDetector, detect

from video2music.features import extract

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "testvideo.mp4"


def one_fps_frames(path: Path) -> list[np.ndarray]:
    """Pass 1: the first frame at or after each whole second, as RGB."""
    samples = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time >= len(samples):
                samples.append(frame.to_ndarray(format="rgb24"))
    return samples


def motion_pass(path: Path) -> list[float]:
    """Pass 2: OpenCV reads every frame; mean absolute difference across each second boundary."""
    capture = cv2.VideoCapture(str(path))
    motion, previous, second = [0.0], None, 1
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        now = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if previous is not None and now >= second:
            motion.append(float(cv2.absdiff(frame, previous).mean()))
            second += 1
        previous = frame
    capture.release()
    return motion


def three_passes(path: Path) -> tuple[int, list[float]]:
    samples = one_fps_frames(path)
    motion_pass(path)
    scenes = detect(str(path), AdaptiveDetector(), start_in_scene=True)
    return len(samples), [start.seconds for start, _ in scenes[1:]]


def plain_decode(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def make_long(source: Path, out: Path, minutes: float) -> None:
    """Write ``minutes`` of ``source`` looped at 1920x1080 to ``out`` (see the module docstring)."""
    unit = out.with_name(f"{out.stem}.unit.mp4")
    with av.open(str(source)) as src, av.open(str(unit), "w") as dst:
        rate = src.streams.video[0].average_rate
        stream = dst.add_stream("libx264", rate=rate, options={"preset": "ultrafast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        for index, frame in enumerate(src.decode(video=0)):
            scaled = frame.reformat(1920, 1080, "yuv420p")
            scaled.pts, scaled.time_base = index, 1 / rate  # constant rate, numbered from 0
            dst.mux(stream.encode(scaled))
        dst.mux(stream.encode())
    with av.open(str(unit)) as src, av.open(str(out), "w") as dst:
        in_stream = src.streams.video[0]
        stream = dst.add_stream_from_template(in_stream)
        packets = [packet for packet in src.demux(in_stream) if packet.dts is not None]
        span = max(p.pts + p.duration for p in packets) - min(p.dts for p in packets)
        copies = max(1, round(minutes * 60 / float(span * in_stream.time_base)))
        for copy in range(copies):
            for packet in packets:
                packet.pts += span if copy else 0
                packet.dts += span if copy else 0
                packet.stream = stream
                dst.mux(packet)
    unit.unlink()
    print(f"wrote {out}: {copies} copies of {source.name} at 1920x1080")


def best_time(fn, path: Path, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(path)
        times.append(time.perf_counter() - start)
    return result, min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=EXAMPLE)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--make-long", type=Path, metavar="OUT.mp4", help="write a long 1080p video and stop")
    parser.add_argument("--minutes", type=float, default=20.0, help="length for --make-long (default 20)")
    args = parser.parse_args()
    if args.make_long:
        make_long(args.video, args.make_long, args.minutes)
        return
    cv2.setNumThreads(2)

    extract(args.video)  # warm-up: imports, codec and scaler set-up
    features, ours = best_time(extract, args.video, args.repeat)
    (seconds, cuts), baseline = best_time(three_passes, args.video, args.repeat)
    _, floor = best_time(plain_decode, args.video, args.repeat)
    # Both must describe the same video before their speeds are compared.
    assert seconds == features.T, (seconds, features.T)
    assert np.allclose(cuts, features.scene_cuts, atol=1e-3), (cuts, features.scene_cuts)

    duration = features.duration
    print(f"video: {args.video.name}, {duration:.1f} s, best of {args.repeat}")
    print(f"three passes (reference):   {baseline:6.2f} s  ({duration / baseline:5.1f}x real time)")
    print(f"one pass (extract, basic):  {ours:6.2f} s  ({duration / ours:5.1f}x real time)")
    print(f"plain decode, no features:  {floor:6.2f} s  ({duration / floor:5.1f}x real time)")
    print(f"speed-up over the three passes: {baseline / ours:.2f}x (target >= 2.5x)")
    print(f"real-time factor: {duration / ours:.1f}x (target >= 15x)")
    print(f"one pass costs {ours / floor:.2f}x a plain decode")


if __name__ == "__main__":
    main()
